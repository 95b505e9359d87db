"""Piped output (stdout not a terminal, as under CliRunner, in a log or through grep): every
command's table keeps whole table names, as restore-drill's already did. rich would assume 80
columns there and cut cells (`forum-Thre…`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_DIR, forumctl

# Long enough that a table of these names cannot fit 80 columns uncut.
PREFIX = "a-deployment-prefix-long-enough-to-overflow-80-columns-"
NAMES = [f"{PREFIX}{t}" for t in ("Users", "Threads", "Posts")]


def _whole(stdout: str, names: list[str] = NAMES) -> None:
    assert "…" not in stdout, stdout
    rows = [line for line in stdout.splitlines() if "│" in line]
    for name in names:
        assert any(name in row for row in rows), f"{name} not whole on one row:\n{stdout}"


@pytest.fixture
def tables(dynamodb: Any) -> Any:
    forumctl("tables", "create", "--table-prefix", PREFIX)
    return dynamodb


def test_migrate_piped_keeps_whole_names(tables: Any) -> None:
    _whole(forumctl("migrate", "--from", str(SAMPLE_DIR), "--table-prefix", PREFIX).stdout)


def test_seed_piped_keeps_whole_names(tables: Any) -> None:
    run = forumctl(
        *("seed", "--storage-mode", "dynamodb", "--table-prefix", PREFIX),
        *("--users", "3", "--threads", "2", "--posts", "4"),
    )
    _whole(run.stdout)


def test_restore_piped_keeps_whole_names(tables: Any, tmp_path: Path) -> None:
    forumctl("migrate", "--from", str(SAMPLE_DIR), "--table-prefix", PREFIX)
    backup = tmp_path / "b.jsonl"
    _whole(forumctl("backup", "--out", str(backup), "--table-prefix", PREFIX).stdout)
    other = "restored-" + PREFIX
    forumctl("tables", "create", "--table-prefix", other)
    restored = forumctl("restore", "--from", str(backup), "--table-prefix", other).stdout
    _whole(restored, [f"{other}{t}" for t in ("Users", "Threads", "Posts")])


def test_tables_list_and_verify_piped_keep_whole_names(tables: Any) -> None:
    _whole(forumctl("tables", "list", "--table-prefix", PREFIX).stdout)
    verified = forumctl("verify", "--table-prefix", PREFIX, expect=None).stdout
    assert "…" not in verified, verified
    assert f"{NAMES[0]}: 0 items" in verified
