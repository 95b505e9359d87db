"""forumctl and the services' guard items (forumdb.tables.GUARD_ATTR): every path that scans,
counts or copies tables sees records only. Guards come from the services' own DynamoDB store
(a post id and a user's e-mail each have one), plus one left behind by a record deleted
without the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import REGION, SAMPLE_DIR, forumctl, scan_all

from forumctl.clients import ClientPool
from forumctl.codec import item_digest
from forumctl.restore_drill.compare import compare_tables
from forumctl.scan import scan_pages
from forumctl.sync import table_is_empty
from forumdb.tables import KINDS, is_guard_item, table_name
from forumdb_services.storage.dynamodb import DynamoStore

LOGICAL = ("Users", "Threads", "Posts")


def records(client: Any, table: str) -> list[dict[str, Any]]:
    return [it for it in scan_all(client, table) if not is_guard_item(it)]


def guard_items(client: Any, table: str) -> list[dict[str, Any]]:
    return [it for it in scan_all(client, table) if is_guard_item(it)]


@pytest.fixture
def guarded(dynamodb: Any) -> Any:
    """The sample migrated, then records written through the services' store: guards in
    Users and Posts, and one guard whose post was deleted behind the store's back."""
    forumctl("tables", "create")
    forumctl("migrate", "--from", str(SAMPLE_DIR))
    store = DynamoStore({k: table_name(k) for k in KINDS}, region=REGION, client=dynamodb)
    for i in range(3):
        store.users.create({"username": f"g{i}", "email": f"g{i}@ooo.example"})
        store.posts.create({"id": 9000 + i, "thread": 1, "user": 1, "text": f"p{i}"})
    dynamodb.delete_item(
        TableName="forum-Posts", Key={"postId": {"N": "9002"}, "threadId": {"N": "1"}}
    )
    assert len(guard_items(dynamodb, "forum-Users")) == 3
    assert len(guard_items(dynamodb, "forum-Posts")) == 3  # 9002's is left without its post
    return dynamodb


def test_backup_holds_records_only_and_restores_them_exactly(guarded: Any, tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    made = forumctl("backup", "--out", str(out), "-o", "json").json
    counts = {t["kind"]: t["items"] for t in made["tables"]}
    assert counts == {"users": 7, "threads": 3, "posts": 8}
    assert "forumdbGuard" not in out.read_text()
    forumctl("tables", "create", "--table-prefix", "copy-")
    forumctl("restore", "--from", str(out), "--table-prefix", "copy-")
    for logical in LOGICAL:
        original = sorted(item_digest(it) for it in records(guarded, f"forum-{logical}"))
        copied = sorted(item_digest(it) for it in scan_all(guarded, f"copy-{logical}"))
        assert copied == original, logical


def test_a_table_holding_only_guards_is_empty_to_restore(guarded: Any, tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    forumctl("backup", "--out", str(out), "--only", "posts")
    forumctl("tables", "create", "--table-prefix", "copy-")
    pool = ClientPool(REGION)
    for guard in guard_items(guarded, "forum-Posts"):
        guarded.put_item(TableName="copy-Posts", Item=guard)
    assert table_is_empty(pool, "copy-Posts")
    # Without --force: the guards are no data to mix with; the check after the writes
    # compares records only, so it passes.
    run = forumctl("restore", "--from", str(out), "--table-prefix", "copy-", "-o", "json")
    assert run.json["ok"] is True
    assert len(records(guarded, "copy-Posts")) == 8
    assert not table_is_empty(pool, "copy-Posts")


def test_table_is_empty_looks_past_a_page_of_guards(guarded: Any) -> None:
    """DynamoDB counts Limit before the filter: a table whose first items read are guards is
    not empty if a record follows."""
    forumctl("tables", "create", "--table-prefix", "copy-")
    for i in range(250):
        guarded.put_item(
            TableName="copy-Users",
            Item={"userId": {"N": str(-1 - i)}, "forumdbGuard": {"S": "email"}},
        )
    pool = ClientPool(REGION)
    assert table_is_empty(pool, "copy-Users")
    guarded.put_item(TableName="copy-Users", Item={"userId": {"N": "5"}})
    assert not table_is_empty(pool, "copy-Users")


def test_scans_and_counts_skip_guards(guarded: Any) -> None:
    pool = ClientPool(REGION)
    for attributes in (None, ("postId", "threadId")):
        pages = scan_pages(pool, "forum-Posts", segments=2, attributes=attributes)
        seen = [it for page in pages for it in page]
        assert len(seen) == 8
        assert not any(is_guard_item(it) for it in seen)
    run = forumctl(
        "verify", "--exact-counts", "--expect", "users=7", "--expect", "posts=8", "-o", "json",
        expect=None,
    )  # fmt: skip
    checks = {c["name"]: c for c in run.json["checks"]}
    for kind, count in (("users", 7), ("posts", 8)):
        assert checks[f"items/{kind}"]["outcome"] == "pass", checks[f"items/{kind}"]
        assert f"{count} items" in checks[f"items/{kind}"]["detail"]


def test_expect_counts_records_by_scan_even_without_exact_counts(guarded: Any) -> None:
    run = forumctl("verify", "--expect", "users=7", "-o", "json", expect=None)
    check = next(c for c in run.json["checks"] if c["name"] == "items/users")
    assert check["outcome"] == "pass", check
    assert "counted by Scan" in check["detail"]


def test_migrate_again_over_guarded_tables_changes_nothing(guarded: Any) -> None:
    before = {t: scan_all(guarded, f"forum-{t}") for t in LOGICAL}
    run = forumctl("migrate", "--from", str(SAMPLE_DIR), "-o", "json")
    assert run.json["ok"] is True
    assert [t["written"] for t in run.json["tables"]] == [0, 0, 0]
    for logical in LOGICAL:
        after = scan_all(guarded, f"forum-{logical}")
        assert sorted(map(item_digest, after)) == sorted(map(item_digest, before[logical]))


def test_restore_drill_comparison_ignores_guards(guarded: Any, tmp_path: Path) -> None:
    """A guard taken over or released after a restore point carries no timestamp to tell;
    the drill compares records."""
    out = tmp_path / "b.jsonl"
    forumctl("backup", "--out", str(out))
    forumctl("tables", "create", "--table-prefix", "copy-")
    forumctl("restore", "--from", str(out), "--table-prefix", "copy-")
    guarded.put_item(
        TableName="copy-Posts",
        Item={"postId": {"N": "-9003"}, "threadId": {"N": "0"}, "forumdbGuard": {"S": "postId"}},
    )
    pool = ClientPool(REGION)
    for logical, keys, count in (("Users", ("userId",), 7), ("Posts", ("postId", "threadId"), 8)):
        result = compare_tables(pool, f"forum-{logical}", f"copy-{logical}", keys, None)
        assert (result.source_count, result.restored_count) == (count, count), logical
        assert (result.missing, result.different, result.extra) == (0, 0, 0), logical
