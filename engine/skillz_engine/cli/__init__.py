"""The command line: argparse in main, one module per command that needs more than a few lines."""

from __future__ import annotations
