"""The restore-as-server wizard (vaulted backup v2)."""
