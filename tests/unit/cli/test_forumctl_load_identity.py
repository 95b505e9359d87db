"""The loader keeps one item per record: a post whose thread changed in the source replaces
its old item instead of adding a second post with the same id (seed, migrate, restore)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_DIR, forumctl, scan_all


def post_ids(client: Any) -> Counter[str]:
    return Counter(p["postId"]["N"] for p in scan_all(client, "forum-Posts"))


def threads_of(client: Any) -> dict[str, str]:
    return {p["postId"]["N"]: p["threadId"]["N"] for p in scan_all(client, "forum-Posts")}


@pytest.fixture
def ddb_mode(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("STORAGE_MODE", "dynamodb")
    forumctl("tables", "create")
    return dynamodb


def test_seed_with_other_threads_moves_posts_instead_of_duplicating(ddb_mode: Any) -> None:
    forumctl("seed", "--users", "5", "--threads", "5", "--posts", "20")
    before = threads_of(ddb_mode)
    out = forumctl("seed", "--users", "5", "--threads", "10", "--posts", "20", "-o", "json").json
    assert out["ok"] is True
    posts = next(t for t in out["tables"] if t["table"] == "forum-Posts")
    after = threads_of(ddb_mode)
    moved = sum(1 for pid, tid in after.items() if before[pid] != tid)
    assert moved > 0  # the test means something: some posts changed thread
    assert posts["removed"] == moved
    ids = post_ids(ddb_mode)
    assert sorted(ids, key=int) == [str(i) for i in range(1, 21)]
    assert set(ids.values()) == {1}
    # and a third run changes nothing
    again = forumctl("seed", "--users", "5", "--threads", "10", "--posts", "20", "-o", "json")
    posts = next(t for t in again.json["tables"] if t["table"] == "forum-Posts")
    assert (posts["written"], posts["removed"], posts["unchanged"]) == (0, 0, 20)


def test_dry_run_says_what_it_would_remove_and_removes_nothing(ddb_mode: Any) -> None:
    forumctl("seed", "--users", "5", "--threads", "5", "--posts", "20")
    before = scan_all(ddb_mode, "forum-Posts")
    out = forumctl(
        "seed", "--users", "5", "--threads", "5", "--posts", "20", "--seed", "2", "--dry-run",
        "-o", "json",
    ).json  # fmt: skip
    posts = next(t for t in out["tables"] if t["table"] == "forum-Posts")
    assert posts["wouldRemove"] > 0
    assert "removed" not in posts
    assert len(scan_all(ddb_mode, "forum-Posts")) == len(before) == 20
    human = forumctl(
        "seed", "--users", "5", "--threads", "5", "--posts", "20", "--seed", "2", "--dry-run"
    )
    assert "remove" in human.stdout  # the column (its header may wrap)


def test_migrate_after_a_post_was_inserted_mid_file(dynamodb: Any, tmp_path: Path) -> None:
    forumctl("tables", "create")
    src = tmp_path / "data"
    for kind in ("users", "threads", "posts"):
        (src / kind).mkdir(parents=True)
        (src / kind / "db.json").write_text((SAMPLE_DIR / kind / "db.json").read_text())
    forumctl("migrate", "--from", str(src))
    before = threads_of(dynamodb)
    doc = json.loads((src / "posts" / "db.json").read_text())
    # Posts without ids take their position: a post inserted first shifts every id by one.
    doc["posts"].insert(0, {"thread": 2, "text": "first!", "user": 1})
    (src / "posts" / "db.json").write_text(json.dumps(doc))
    out = forumctl("migrate", "--from", str(src), "--only", "posts", "-o", "json").json
    assert out["ok"] is True
    ids = post_ids(dynamodb)
    assert set(ids.values()) == {1}, ids
    assert len(ids) == len(doc["posts"])
    expected = {str(i + 1): str(p["thread"]) for i, p in enumerate(doc["posts"])}
    assert threads_of(dynamodb) == expected
    moved = sum(1 for pid, tid in before.items() if expected[pid] != tid)
    assert moved > 0
    assert out["tables"][0]["removed"] == moved


def test_a_second_run_cleans_duplicates_left_by_earlier_versions(ddb_mode: Any) -> None:
    forumctl("seed", "--users", "5", "--threads", "5", "--posts", "20")
    # what the loader used to leave: post 3 in its thread and a copy in thread 99
    post = next(p for p in scan_all(ddb_mode, "forum-Posts") if p["postId"]["N"] == "3")
    ddb_mode.put_item(TableName="forum-Posts", Item={**post, "threadId": {"N": "99"}})
    out = forumctl("seed", "--users", "5", "--threads", "5", "--posts", "20", "-o", "json").json
    posts = next(t for t in out["tables"] if t["table"] == "forum-Posts")
    assert (posts["written"], posts["removed"]) == (0, 1)
    assert post_ids(ddb_mode)["3"] == 1
    assert threads_of(ddb_mode)["3"] == post["threadId"]["N"]


def test_restore_force_moves_posts_back(ddb_mode: Any, tmp_path: Path) -> None:
    forumctl("seed", "--users", "5", "--threads", "5", "--posts", "20")
    original = threads_of(ddb_mode)
    backup = tmp_path / "b.jsonl"
    forumctl("backup", "--out", str(backup))
    forumctl("seed", "--users", "5", "--threads", "10", "--posts", "20")
    assert threads_of(ddb_mode) != original
    out = forumctl("restore", "--from", str(backup), "--force", "-o", "json").json
    assert out["ok"] is True
    posts = next(t for t in out["tables"] if t["table"] == "forum-Posts")
    assert posts["removed"] > 0
    assert threads_of(ddb_mode) == original
    assert set(post_ids(ddb_mode).values()) == {1}


def test_a_source_with_one_post_id_in_two_threads_is_refused(ddb_mode: Any) -> None:
    from forumctl.errors import DataError
    from forumctl.sync import sync_items
    from forumctl.target import resolve_target

    pool = resolve_target().pool()
    items = [
        {"postId": {"N": "1"}, "threadId": {"N": "1"}},
        {"postId": {"N": "1"}, "threadId": {"N": "2"}},
    ]
    with pytest.raises(DataError, match=r"postId 1 .*threadId 1 and 2"):
        sync_items(pool, "forum-Posts", ("postId", "threadId"), items, one_per_hash=True)
