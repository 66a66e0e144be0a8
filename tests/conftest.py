"""Suite-wide setup: Qt offscreen before any Qt import, and the shared sandbox fixtures."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = ["tests.sandbox_fixtures"]
