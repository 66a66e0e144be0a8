"""A faithful local Azure: ARM over HTTPS, Azurite for blobs, real PostgreSQL clusters.

This package imports nothing from the rest of pgflex_gui: the app talks to it only over
HTTPS through the real Azure SDKs, exactly as it talks to Azure.
"""
