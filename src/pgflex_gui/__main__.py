"""Entry point: ``pgflex-gui`` and ``python -m pgflex_gui``."""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    """Run the desktop app; returns the process exit code."""
    multiprocessing.freeze_support()  # keystore's keyring probe uses spawn
    from pgflex_gui.app import run

    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
