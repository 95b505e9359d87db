"""An interrupted drill (SIGTERM, Ctrl-C) deletes its tables, then under -o json prints the
CLI's error document on stdout and exits 128 + the signal (143, 130)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
from conftest import forumctl

from forumctl.restore_drill import run as restore_drill_run
from harness.emulator_support import enable_pitr

USERS = "forum-Users"


@pytest.fixture
def users(dynamodb: Any) -> Any:
    forumctl("tables", "create", "--no-pitr")
    enable_pitr(dynamodb, USERS)  # retried: a new table's PITR comes a few seconds later
    dynamodb.put_item(TableName=USERS, Item={"userId": {"N": "1"}})
    return dynamodb


def _drill(*extra: str) -> Any:
    return forumctl(
        "restore-drill",
        *("--table", "users", "--method", "pitr", "--poll-interval", "0.05", *extra),
        expect=None,
    )


def _sigterm_while_comparing(*_args: Any, **_kwargs: Any) -> Any:
    os.kill(os.getpid(), signal.SIGTERM)  # handled by the drill: raises in this thread
    time.sleep(30)  # never reached in full: the handler interrupts the sleep
    raise AssertionError("SIGTERM did not interrupt the drill")


def test_sigterm_under_json_prints_the_error_document_and_exits_143(
    users: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restore_drill_run, "compare_tables", _sigterm_while_comparing)

    run = _drill("-o", "json")

    assert run.code == 143, (run.stdout, run.stderr)
    doc = run.json
    assert doc["exitCode"] == 143
    assert "interrupted by SIGTERM" in doc["error"]
    assert "drill tables deleted: forum-Users-drill-" in doc["error"]
    assert "deleting the drill tables" in run.stderr
    assert sorted(users.list_tables()["TableNames"]) == ["forum-Posts", "forum-Threads", USERS]


def test_ctrl_c_exits_130_after_cleanup(users: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def _ctrl_c(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(restore_drill_run, "compare_tables", _ctrl_c)

    run = _drill("-o", "json")

    assert run.code == 130
    assert run.json["exitCode"] == 130
    assert "interrupted by SIGINT" in run.json["error"]
    assert sorted(users.list_tables()["TableNames"]) == ["forum-Posts", "forum-Threads", USERS]


def test_sigterm_in_text_mode_says_so_on_stderr(
    users: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restore_drill_run, "compare_tables", _sigterm_while_comparing)

    run = _drill()

    assert run.code == 143
    assert "interrupted by SIGTERM" in run.stderr
    assert "Aborted" not in run.stderr


def test_help_gives_the_interrupt_exit_codes() -> None:
    text = " ".join(forumctl("restore-drill", "--help").stdout.split())
    assert "130 (Ctrl-C) or 143 (SIGTERM)" in text
