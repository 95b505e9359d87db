"""Step-by-step progress of `forumctl dev up|down` on stderr (rich): a spinner while a step
runs, then a tick and its duration, or a cross with why it failed and where its log is."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

from forumctl.dev.errors import DevStackError


class Progress:
    """Soft wrap: no line breaks inside messages, so paths and hints stay copyable."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False, soft_wrap=True)

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
        self.console.print(
            f"[green]✓[/] {escape(title)} [dim]({time.monotonic() - started:.1f}s)[/]"
        )

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]![/] {escape(text)}")
