"""Panels the main window composes: details, jobs, log, coverage."""
