"""The comparison of a restore with its source: items deleted from the source after the
restore point are counted (deletedSince), not failed; missing and different items still fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import REGION, forumctl

from forumctl.clients import ClientPool
from forumctl.restore_drill.compare import compare_tables
from forumdb.ids import format_ts

USERS = "forum-Users"
RESTORED = "forum-Users-restored"
T = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _user(user_id: int, bio: str, at: datetime) -> dict[str, Any]:
    return {"userId": {"N": str(user_id)}, "bio": {"S": bio}, "updatedAt": {"S": format_ts(at)}}


@pytest.fixture
def tables(dynamodb: Any) -> Any:
    forumctl("tables", "create", "--no-pitr")
    dynamodb.create_table(
        TableName=RESTORED,
        KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    before = T - timedelta(hours=1)
    for user_id in (1, 2, 3):  # the table at T, in both
        for table in (USERS, RESTORED):
            dynamodb.put_item(TableName=table, Item=_user(user_id, "before", before))
    return dynamodb


def _compare(restore_point: datetime | None) -> Any:
    return compare_tables(ClientPool(REGION), USERS, RESTORED, ("userId",), restore_point)


def test_an_item_deleted_after_the_restore_point_is_counted_not_failed(tables: Any) -> None:
    tables.delete_item(TableName=USERS, Key={"userId": {"N": "3"}})

    result = _compare(T)

    assert result.ok, result.reason()
    assert (result.deleted_since, result.extra, result.missing) == (1, 0, 0)
    assert (result.source_count, result.restored_count) == (2, 3)


def test_latest_restorable_time_counts_deletions_the_same_way(tables: Any) -> None:
    # a latest-restorable-time drill compares against that time (AWS: minutes ago), so an
    # item deleted since is in the restore and gone from the source, as above
    tables.delete_item(TableName=USERS, Key={"userId": {"N": "1"}})
    tables.put_item(TableName=USERS, Item=_user(4, "new", T + timedelta(minutes=1)))

    result = _compare(T)

    assert result.ok, result.reason()
    assert (result.deleted_since, result.changed_since) == (1, 1)


def test_without_a_restore_point_an_unknown_item_is_extra(tables: Any) -> None:
    tables.delete_item(TableName=USERS, Key={"userId": {"N": "3"}})

    result = _compare(None)

    assert not result.ok
    assert (result.extra, result.deleted_since) == (1, 0)


def test_an_item_missing_from_the_restore_still_fails(tables: Any) -> None:
    tables.delete_item(TableName=RESTORED, Key={"userId": {"N": "2"}})
    tables.delete_item(TableName=USERS, Key={"userId": {"N": "3"}})

    result = _compare(T)

    assert not result.ok
    assert (result.missing, result.deleted_since) == (1, 1)
    assert "1 missing" in (result.reason() or "")


def test_an_item_that_differs_though_unchanged_since_still_fails(tables: Any) -> None:
    tables.put_item(TableName=RESTORED, Item=_user(2, "corrupted", T - timedelta(hours=1)))

    result = _compare(T)

    assert not result.ok
    assert result.different == 1
    assert "1 different" in (result.reason() or "")


def test_help_explains_deleted_since() -> None:
    assert "deletedSince" in forumctl("restore-drill", "--help").stdout
