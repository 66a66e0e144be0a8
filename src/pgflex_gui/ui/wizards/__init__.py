"""Wizards: each has a Qt-free flow, pages that bind widgets, and the QWizard."""
