"""The one error of the dev stack: what failed, where its log is, what to do."""

from __future__ import annotations

from pathlib import Path


class DevStackError(Exception):
    """A step of `forumctl dev up|down|status` failed; `log` names the log to read."""

    def __init__(self, message: str, *, log: Path | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.log = log
        self.hint = hint

    def __str__(self) -> str:
        parts = [self.message]
        if self.log is not None:
            parts.append(f"  log: {self.log}")
        if self.hint:
            parts.append(f"  hint: {self.hint}")
        return "\n".join(parts)
