"""Point-in-time drills with the harness's PITR model (forumdb_emulator.pitr): a restore to T
gives the table as of T, so writes after T are absent from the drill table."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import forumctl

from forumdb.ids import format_ts
from harness.emulator_support import enable_pitr

USERS = "forum-Users"


def _user(user_id: int, bio: str) -> dict[str, Any]:
    # as the services write it: updatedAt says when the record last changed
    return {
        "userId": {"N": str(user_id)},
        "email": {"S": f"u{user_id}@example.org"},
        "bio": {"S": bio},
        "updatedAt": {"S": format_ts(datetime.now(UTC))},
    }


def _moment() -> datetime:
    """A time strictly between the writes before and after it (clock readings differ)."""
    time.sleep(0.02)
    moment = datetime.now(UTC)
    time.sleep(0.02)
    return moment


@pytest.fixture
def users(dynamodb: Any) -> Any:
    forumctl("tables", "create", "--no-pitr")  # PITR on Users only, below
    enable_pitr(dynamodb, USERS)  # retried: a new table's PITR comes a few seconds later
    for user_id in (1, 2, 3):
        dynamodb.put_item(TableName=USERS, Item=_user(user_id, "before"))
    return dynamodb


def _scan(dynamodb: Any, table: str) -> dict[str, dict[str, Any]]:
    return {i["userId"]["N"]: i for i in dynamodb.scan(TableName=table)["Items"]}


def _pitr_drill_of_users(moment: datetime, *extra: str) -> Any:
    """`restore-drill -o json` of the users table to `moment` by point-in-time recovery."""
    return forumctl(
        *("restore-drill", "-o", "json", "--table", "users", "--method", "pitr"),
        *("--point-in-time", moment.isoformat(), "--poll-interval", "0.05", *extra),
    )


def test_drill_to_a_time_leaves_out_what_was_written_after_it(users: Any) -> None:
    moment = _moment()
    users.put_item(TableName=USERS, Item=_user(4, "after"))
    users.put_item(TableName=USERS, Item=_user(1, "edited after"))
    report = _pitr_drill_of_users(moment, "--keep").json
    (row,) = report["tables"]
    assert row["ok"] is True, row
    assert row["restorePoint"].startswith(moment.strftime("%Y-%m-%dT%H:%M:%S"))
    assert row["comparison"]["changedSince"] == 2  # user 4 created, user 1 edited after T
    assert (row["sourceCount"], row["restoredCount"]) == (4, 3)
    restored = _scan(users, row["target"])
    assert sorted(restored) == ["1", "2", "3"]  # the write after T is absent
    assert restored["1"]["bio"] == {"S": "before"}  # the edit after T is undone
    users.delete_table(TableName=row["target"])


def test_restore_to_a_time_brings_back_an_item_deleted_after_it(users: Any) -> None:
    moment = _moment()
    users.delete_item(TableName=USERS, Key={"userId": {"N": "2"}})
    users.batch_write_item(RequestItems={USERS: [{"PutRequest": {"Item": _user(5, "after")}}]})
    users.restore_table_to_point_in_time(
        SourceTableName=USERS, TargetTableName="as-of-t", RestoreDateTime=moment
    )
    assert sorted(_scan(users, "as-of-t")) == ["1", "2", "3"]
    latest = users.restore_table_to_point_in_time(
        SourceTableName=USERS, TargetTableName="latest", UseLatestRestorableTime=True
    )["TableDescription"]
    assert sorted(_scan(users, "latest")) == ["1", "3", "5"]
    assert latest["RestoreSummary"]["RestoreDateTime"] > moment


def test_a_deletion_after_the_restore_point_is_counted_not_failed(users: Any) -> None:
    # The item existed at T, so the restore to T rightly has it: deletedSince, not extra.
    moment = _moment()
    users.delete_item(TableName=USERS, Key={"userId": {"N": "3"}})
    run = _pitr_drill_of_users(moment)
    (row,) = run.json["tables"]
    assert row["ok"] is True, row
    assert row["comparison"]["extra"] == 0
    assert row["comparison"]["deletedSince"] == 1
    assert (row["sourceCount"], row["restoredCount"]) == (2, 3)


def test_restore_needs_pitr_on_and_a_time_inside_the_window(users: Any) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="InvalidRestoreTimeException"):
        users.restore_table_to_point_in_time(
            SourceTableName=USERS, TargetTableName="too-early", RestoreDateTime=datetime(2001, 1, 1)
        )
    users.update_continuous_backups(
        TableName=USERS, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    with pytest.raises(ClientError, match="PointInTimeRecoveryUnavailableException"):
        users.restore_table_to_point_in_time(
            SourceTableName=USERS, TargetTableName="off", UseLatestRestorableTime=True
        )


def test_only_tables_with_pitr_keep_a_change_log(users: Any) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from forumdb_emulator.pitr import change_log

    users.put_item(TableName="forum-Threads", Item={"threadId": {"N": "1"}})
    tables = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables
    assert change_log(tables["forum-Threads"]) == []
    logged = change_log(tables[USERS])
    assert [c.key for c in logged] == [{"userId": {"N": str(i)}} for i in (1, 2, 3)]
    assert all(c.before is None for c in logged)  # each was a new item
