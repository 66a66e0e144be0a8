"""Fixtures shared by the e2e modules (module-scoped: each module gets its own)."""

from tests.e2e.v2_world import box, raw, world

__all__ = ["box", "raw", "world"]  # the vaulted backup v2 sandbox world
