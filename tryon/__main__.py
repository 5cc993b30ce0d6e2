"""Entry point for `python -m tryon`."""

import sys

from tryon.cli import main

sys.exit(main())
