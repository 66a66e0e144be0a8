"""Fixtures shared by the e2e modules (module-scoped: each module gets its own)."""

from tests.e2e.v2_world import box, point, raw, world

__all__ = ["box", "point", "raw", "world"]  # the vaulted backup v2 sandbox world
