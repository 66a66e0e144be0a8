"""Pure rules and values: no Qt, no Azure SDK, no I/O."""
