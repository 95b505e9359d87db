"""The text report piped (stdout not a terminal, as under CliRunner): nothing is cut to 80
columns, so the drill table names and restore points are whole."""

from __future__ import annotations

from typing import Any

from conftest import forumctl

USERS = "forum-Users"


def test_piped_text_report_is_not_truncated(dynamodb: Any) -> None:
    forumctl("tables", "create")
    dynamodb.put_item(TableName=USERS, Item={"userId": {"N": "1"}})

    run = forumctl(
        "restore-drill",
        *("--table", "users", "--method", "pitr", "--poll-interval", "0.05"),
    )

    table_lines = [line for line in run.stdout.splitlines() if "forum-Users-drill-" in line]
    assert table_lines, run.stdout
    row = next(line for line in table_lines if "│" in line)
    assert "…" not in run.stdout
    assert "-pitr" in row  # the whole drill table name, on one line
    assert "ok" in row
    assert len(row) > 80
