"""restore-drill's exit codes against the harness's moto server: configuration errors (a
missing source table, a backup vault that is not there) exit 3 with a clear message, and a
drill table that cannot be deleted makes the JSON report's top-level "ok" false."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from forumctl.main import cli

SOURCES = ["forum-Posts", "forum-Threads", "forum-Users"]


def _forumctl(*args: str) -> tuple[int, Any, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    out = result.stdout
    return result.exit_code, json.loads(out) if out.startswith("{") else out, result.stderr


@pytest.fixture
def tables(aws: Any) -> Any:
    code, _, err = _forumctl("tables", "create")
    assert code == 0, err
    return aws


def test_a_missing_source_table_exits_3(tables: Any) -> None:
    code, doc, err = _forumctl("restore-drill", "-o", "json", "--table-prefix", "nope-")

    assert code == 3, (doc, err)
    assert doc["exitCode"] == 3
    assert "nope-Users" in doc["error"] or "nope-" in doc["error"]
    assert "does not exist" in doc["error"]
    assert "does not exist" in err


def test_a_missing_backup_vault_exits_3(tables: Any) -> None:
    code, doc, err = _forumctl(
        "restore-drill",
        *("-o", "json", "--method", "recovery-point", "--backup-vault", "no-such-vault"),
    )

    assert code == 3, (doc, err)
    assert doc["exitCode"] == 3
    assert "backup vault no-such-vault does not exist" in doc["error"]


def test_a_table_that_cannot_be_deleted_makes_ok_false(tables: Any) -> None:
    boto3.client("dynamodb").update_continuous_backups(
        TableName="forum-Users",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    tables.control.set_fault(
        service="dynamodb", operation="DeleteTable", fail_next=1000, fail_kind="error"
    )
    try:
        code, report, err = _forumctl(
            "restore-drill",
            *("-o", "json", "--table", "users", "--method", "pitr", "--poll-interval", "0.1"),
            *("--timeout", "1"),
        )
    finally:
        tables.control.clear_faults()

    assert code == 3, (report, err)
    assert report["ok"] is False
    (row,) = report["tables"]
    assert row["cleanedUp"] is False
    assert "left behind" in err
    boto3.client("dynamodb").delete_table(TableName=row["target"])
