"""pgflex-gui: protect Azure PostgreSQL flexible servers with Azure Backup, and restore them."""

__version__ = "0.1.0"
