"""forumctl entry point (stub: its issue fills in migrate, seed, backup, restore, verify)."""

from __future__ import annotations

import sys


def main() -> None:
    sys.stderr.write("forumctl: not built yet\n")
    sys.exit(2)
