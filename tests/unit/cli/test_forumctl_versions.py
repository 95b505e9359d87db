"""Versions only grow: an item that migrate/seed/restore overwrites with other content gets
the table's version + 1 (clients' ETags and If-Match stay sound); unchanged content is left
alone whatever its version; a restore into empty tables keeps the backup's versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_DIR, forumctl, scan_all

from forumdb.config import load_settings
from forumdb_services.storage import open_store


def user(client: Any, uid: int, table: str = "forum-Users") -> dict[str, Any]:
    return client.get_item(TableName=table, Key={"userId": {"N": str(uid)}}, ConsistentRead=True)[
        "Item"
    ]


def api_update(kind: str, record_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    """A change as the services make it (version + 1, updatedAt now)."""
    store = open_store(load_settings(storage_mode="dynamodb"))
    try:
        return store.collection(kind).update(record_id, changes)
    finally:
        store.close()


def tables(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["table"]: t for t in out["tables"]}


@pytest.fixture
def migrated(dynamodb: Any) -> Any:
    forumctl("tables", "create")
    forumctl("migrate", "--from", str(SAMPLE_DIR))
    return dynamodb


def test_migrate_over_an_api_change_raises_the_version(migrated: Any) -> None:
    original = user(migrated, 1)
    assert original["version"] == {"N": "1"}
    assert api_update("users", 1, {"name": "changed"})["version"] == 2
    assert api_update("users", 1, {"bio": "again"})["version"] == 3
    out = forumctl("migrate", "--from", str(SAMPLE_DIR), "--only", "users", "-o", "json").json
    assert out["ok"] is True
    assert tables(out)["forum-Users"]["written"] == 1
    restored = user(migrated, 1)
    assert restored["version"] == {"N": "4"}  # not back to 1
    assert {k: v for k, v in restored.items() if k != "version"} == {
        k: v for k, v in original.items() if k != "version"
    }
    # a second run finds nothing to do and keeps version 4
    again = forumctl("migrate", "--from", str(SAMPLE_DIR), "--only", "users", "-o", "json").json
    assert (tables(again)["forum-Users"]["written"], again["ok"]) == (0, True)
    assert user(migrated, 1)["version"] == {"N": "4"}


def test_content_changed_back_is_unchanged_and_keeps_its_version(migrated: Any) -> None:
    name = user(migrated, 2)["name"]["S"]
    api_update("users", 2, {"name": "other"})
    api_update("users", 2, {"name": name})  # version 3, the file's content again (bar updatedAt)
    migrated.update_item(
        TableName="forum-Users",
        Key={"userId": {"N": "2"}},
        UpdateExpression="SET updatedAt = createdAt",
    )
    out = forumctl("migrate", "--from", str(SAMPLE_DIR), "--only", "users", "-o", "json").json
    assert tables(out)["forum-Users"]["written"] == 0
    assert tables(out)["forum-Users"]["unchanged"] == 4
    assert user(migrated, 2)["version"] == {"N": "3"}


def test_seed_moving_a_post_continues_its_version(dynamodb: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("STORAGE_MODE", "dynamodb")
    forumctl("tables", "create")
    forumctl("seed", "--users", "5", "--threads", "5", "--posts", "20")
    bumped = {p["postId"]["N"]: p for p in scan_all(dynamodb, "forum-Posts")}
    for post in bumped.values():  # as if every post had been edited once
        dynamodb.put_item(TableName="forum-Posts", Item={**post, "version": {"N": "2"}})
    forumctl("seed", "--users", "5", "--threads", "10", "--posts", "20")
    after = {p["postId"]["N"]: p for p in scan_all(dynamodb, "forum-Posts")}
    moved = [pid for pid in after if after[pid]["threadId"] != bumped[pid]["threadId"]]
    assert moved
    for pid, post in after.items():
        changed = pid in moved or post["text"] != bumped[pid]["text"]
        assert post["version"] == {"N": "3" if changed else "2"}, pid


def test_restore_force_over_changed_items_raises_their_versions(
    migrated: Any, tmp_path: Path
) -> None:
    backup = tmp_path / "b.jsonl"
    forumctl("backup", "--out", str(backup))
    api_update("users", 3, {"name": "after the backup"})  # version 2
    out = forumctl("restore", "--from", str(backup), "--force", "-o", "json").json
    assert out["ok"] is True
    assert tables(out)["forum-Users"]["written"] == 1
    restored = user(migrated, 3)
    assert restored["name"] != {"S": "after the backup"}
    assert restored["version"] == {"N": "3"}


def test_restore_into_empty_tables_keeps_the_backups_versions(
    migrated: Any, tmp_path: Path
) -> None:
    api_update("users", 4, {"name": "edited"})
    api_update("users", 4, {"name": "edited twice"})
    backup = tmp_path / "b.jsonl"
    forumctl("backup", "--out", str(backup))
    forumctl("tables", "create", "--table-prefix", "copy-")
    forumctl("restore", "--from", str(backup), "--table-prefix", "copy-")
    assert user(migrated, 4, "copy-Users") == user(migrated, 4)
    assert user(migrated, 4, "copy-Users")["version"] == {"N": "3"}
