"""A results file keeps every run: the new one as its first section, the earlier ones below."""

from __future__ import annotations

import time
from pathlib import Path


def with_history(new: str, old: str) -> str:
    """`new` (a title, a blank line, the run) as the file's first section under the time it
    was written, the sections of `old` (same title) kept below it."""
    title, _, body = new.partition("\n\n")
    _, _, earlier = old.partition("\n\n")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return f"{title}\n\n## {stamp}\n\n{body.rstrip()}\n\n{earlier}".rstrip() + "\n"


def write_with_history(path: Path, report: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(with_history(report, path.read_text() if path.exists() else ""))
