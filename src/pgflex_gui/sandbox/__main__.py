"""``python -m pgflex_gui.sandbox``."""

import sys

from pgflex_gui.sandbox.cli import main

sys.exit(main())
