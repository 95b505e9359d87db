"""The `dev` fixture: a DevCli on a state folder under tmp_path; whatever a test leaves
running is stopped at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from devcli import DevCli


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevCli]:
    cli = DevCli(tmp_path / "state")
    yield cli
    if (cli.state_dir / "state.json").exists():  # the test failed before its own `down`
        cli.run("down", timeout=120)
