"""The restore wizard (issue 7): from a recovery point to databases on a server."""
