"""`python -m bot`: the command line (see bot/cli.py)."""

import sys

from bot.cli import entry

sys.exit(entry())
