"""The sandbox ARM service: an HTTPS stand-in for Azure Resource Manager and Entra ID tokens."""
