"""azure layer."""
