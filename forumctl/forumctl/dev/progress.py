"""Step-by-step progress of `forumctl dev up|down` on stderr (rich): a spinner while a step
runs, then a tick and its duration, or a cross with why it failed and where its log is. The
durations are kept, for the total `dev up` prints and its -o json document."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape

from forumctl.dev.errors import DevStackError


@dataclass(frozen=True)
class StepTime:
    step: str
    seconds: float


class Progress:
    """Soft wrap: no line breaks inside messages, so paths and hints stay copyable."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)
        self.started = time.monotonic()
        self.steps: list[StepTime] = []  # the steps done, in order, with their durations

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            with self.console.status(escape(title)):
                yield
        except DevStackError as exc:
            self.console.print(f"[red]✗[/] {escape(title)}: {escape(exc.message)}")
            if exc.log is not None:
                self.console.print(f"    log: {escape(str(exc.log))}")
            if exc.hint:
                self.console.print(f"    hint: {escape(exc.hint)}")
            exc.reported = True  # type: ignore[attr-defined]
            raise
        except Exception as exc:
            self.console.print(f"[red]✗[/] {escape(title)}: {escape(repr(exc))}")
            raise
        seconds = time.monotonic() - started
        self.steps.append(StepTime(title, round(seconds, 1)))
        self.console.print(f"[green]✓[/] {escape(title)} [dim]({seconds:.1f}s)[/]")

    @property
    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def total(self, what: str) -> None:
        """One closing line: the whole time, and where most of it went."""
        slowest = sorted(self.steps, key=lambda s: s.seconds, reverse=True)[:3]
        where = ", ".join(f"{escape(s.step)} {s.seconds:.1f}s" for s in slowest)
        self.console.print(
            f"[green]✓[/] {escape(what)} in {self.elapsed:.1f}s"
            + (f" [dim](slowest: {where})[/]" if where else "")
        )

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]![/] {escape(text)}")
