"""postgres layer."""
