"""The "Configure backup" wizard (issue 6)."""
