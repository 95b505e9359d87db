"""forum-operator entry point (stub until the operator issue lands)."""

from __future__ import annotations

import sys


def main() -> None:
    sys.stderr.write("forum-operator: not built yet\n")
    sys.exit(2)
