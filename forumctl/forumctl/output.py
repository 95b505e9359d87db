"""Results for humans (rich tables on stdout, progress bars on stderr) or for machines
(`--output json`: one JSON document on stdout, nothing else there)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

# Where the running command's Output is kept (click's per-invocation meta), so that the
# command runner (main.py) can report a failure as JSON when -o json was asked for.
OUTPUT_META_KEY = "forumctl.output"


class Output:
    def __init__(self, mode: str = "text", *, progress: bool | None = None) -> None:
        self.mode = mode
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            ctx.meta[OUTPUT_META_KEY] = self
        self.out = Console(file=sys.stdout, soft_wrap=True)
        self.err = Console(file=sys.stderr, soft_wrap=True)
        # Bars only where someone watches: a terminal on stderr, unless told otherwise.
        self.show_progress = self.err.is_terminal if progress is None else progress
        self.emitted = False  # stdout holds the result: an error must not add a second one

    @property
    def json(self) -> bool:
        return self.mode == "json"

    def emit(self, data: Any, human: Callable[[Console], None] | None = None) -> None:
        self.emitted = True
        if self.json:
            sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
            sys.stdout.flush()
        elif human is not None:
            human(self.out)
        else:
            self.out.print_json(data=data, default=str)

    def error(self, message: str, hint: str | None, code: int) -> None:
        """A failure: in JSON mode stdout's one document, unless a result is there already."""
        if self.json and not self.emitted:
            self.emitted = True
            doc = {"error": message, "hint": hint, "exitCode": code}
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
            sys.stdout.flush()

    def note(self, message: str) -> None:
        """A human remark on stderr (never pollutes --output json)."""
        self.err.print(message, highlight=False)

    @contextmanager
    def progress(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        """Yields `advance(n)`; thread-safe (rich's Progress locks internally)."""
        if not self.show_progress:
            yield lambda n: None
            return
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.err,
            transient=False,
        )
        with bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)


def table(title: str, columns: Sequence[str] | None, rows: Sequence[Sequence[Any]]) -> Table:
    """A table for humans; `columns=None` for two-column "name  value" lists, which need no
    header row (the names say what each value is)."""
    t = Table(title=title, title_justify="left", show_header=columns is not None)
    for c in columns or ("", ""):
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    return t


def print_table(console: Console, grid: Table) -> None:
    """Print a table whole. On a terminal it fits the terminal; piped (a log, a file, grep),
    rich would assume 80 columns and cut every cell to fit (`forum-Thre…`), so it gets a
    console on the same file as wide as the table needs (rich caps print(width=) at the
    console's width, hence a console of its own)."""
    if console.is_terminal:
        console.print(grid)
        return
    width = Measurement.get(console, console.options.update_width(100_000), grid).maximum
    wide = Console(
        file=console.file,
        width=max(console.width, width),
        color_system=console.color_system,
        no_color=console.no_color,
        soft_wrap=True,
    )
    wide.print(grid)
