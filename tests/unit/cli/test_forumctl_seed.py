"""seed: deterministic sample data, in JSON files or in DynamoDB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import forumctl, scan_all

from forumctl.errors import ExitCode
from forumdb.config import load_settings
from forumdb_services.storage import open_store

SIZES = ("--users", "7", "--threads", "11", "--posts", "40")


def test_seed_json_is_deterministic_and_readable_by_the_json_store(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    forumctl("seed", *SIZES, "--storage-mode", "json", "--data-dir", str(a))
    forumctl("seed", *SIZES, "--storage-mode", "json", "--data-dir", str(b))
    for kind in ("users", "threads", "posts"):
        assert (a / kind / "db.json").read_bytes() == (b / kind / "db.json").read_bytes()
    posts = json.loads((a / "posts" / "db.json").read_text())["posts"]
    assert [p["id"] for p in posts] == list(range(1, 41))
    assert all(1 <= p["thread"] <= 11 and 1 <= p["user"] <= 7 for p in posts)
    store = open_store(load_settings(storage_mode="json", data_dir=a))
    try:
        assert len(store.users.list(limit=100).items) == 7
        assert store.threads.get(11)["createdBy"] in range(1, 8)
    finally:
        store.close()


def test_seed_json_needs_force_to_replace_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    forumctl("seed", *SIZES, "--storage-mode", "json", "--data-dir", str(tmp_path / "d"))
    run = forumctl(
        "seed", "--storage-mode", "json", "--data-dir", str(tmp_path / "d"), expect=ExitCode.USAGE
    )
    assert "exists" in run.stderr
    assert "--force" in run.stderr
    forumctl(
        "seed",
        "--seed",
        "5",
        "--storage-mode",
        "json",
        "--data-dir",
        str(tmp_path / "d"),
        "--force",
    )
    dry = forumctl(
        "seed",
        "--storage-mode",
        "json",
        "--data-dir",
        str(tmp_path / "e"),
        "--dry-run",
        "-o",
        "json",
    ).json
    assert dry["dryRun"] is True
    assert not (tmp_path / "e").exists()


def test_seed_seed_changes_the_content(tmp_path: Path) -> None:
    forumctl("seed", *SIZES, "--storage-mode", "json", "--data-dir", str(tmp_path / "a"))
    forumctl(
        "seed", *SIZES, "--seed", "7", "--storage-mode", "json", "--data-dir", str(tmp_path / "b")
    )
    a = (tmp_path / "a" / "posts" / "db.json").read_text()
    assert a != (tmp_path / "b" / "posts" / "db.json").read_text()


def test_seed_dynamodb_twice_writes_once(dynamodb: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("STORAGE_MODE", "dynamodb")
    forumctl("tables", "create")
    dry = forumctl("seed", *SIZES, "--dry-run", "-o", "json").json
    assert [t["wouldWrite"] for t in dry["tables"]] == [7, 11, 40]
    assert scan_all(dynamodb, "forum-Posts") == []
    first = forumctl("seed", *SIZES, "-o", "json").json
    assert [t["written"] for t in first["tables"]] == [7, 11, 40]
    assert first["ok"] is True
    second = forumctl("seed", *SIZES, "-o", "json").json
    assert [t["written"] for t in second["tables"]] == [0, 0, 0]
    assert len(scan_all(dynamodb, "forum-Posts")) == 40


@pytest.mark.parametrize(
    ("sizes", "needs"),
    [
        (("--users", "0", "--threads", "10"), "--threads 10 needs --users 1"),
        (("--threads", "0", "--posts", "10"), "--posts 10 needs --threads 1"),
        (("--users", "0", "--threads", "3", "--posts", "0"), "every thread names its author"),
        (("--users", "0", "--threads", "0", "--posts", "5"), "every post names its thread"),
    ],
)
def test_seed_refuses_records_that_would_refer_to_nothing(
    tmp_path: Path, sizes: tuple[str, ...], needs: str
) -> None:
    run = forumctl(
        "seed", *sizes, "--storage-mode", "json", "--data-dir", str(tmp_path), expect=ExitCode.USAGE
    )
    assert needs in run.stderr
    assert not any(tmp_path.iterdir())  # nothing written


def test_seed_of_users_only_or_nothing_is_fine(tmp_path: Path) -> None:
    forumctl(
        "seed", "--users", "3", "--threads", "0", "--posts", "0",
        "--storage-mode", "json", "--data-dir", str(tmp_path / "a"),
    )  # fmt: skip
    assert len(json.loads((tmp_path / "a" / "users" / "db.json").read_text())["users"]) == 3
    forumctl(
        "seed", "--users", "0", "--threads", "0", "--posts", "0",
        "--storage-mode", "json", "--data-dir", str(tmp_path / "b"),
    )  # fmt: skip


def test_sample_generators_refuse_references_to_nothing() -> None:
    from forumctl import sample

    with pytest.raises(ValueError, match="threads would refer to users"):
        list(sample.threads(2, 0, seed=1))
    with pytest.raises(ValueError, match="posts would refer to threads and users"):
        list(sample.posts(2, 0, 0, seed=1))
    assert list(sample.posts(0, 0, 0, seed=1)) == []


def _journal_only_store(folder: Path) -> None:
    """A data folder as a running service leaves it before any compaction: records only in
    the journal, no db.json."""
    store = open_store(load_settings(storage_mode="json", data_dir=folder))
    try:
        store.users.create({"name": "kept", "email": "kept@example.com"})
    finally:
        store.close()
    assert not (folder / "users" / "db.json").exists()
    assert list((folder / "users").glob("journal-*.jsonl"))


def test_seed_json_refuses_a_store_that_holds_records_only_in_its_journal(tmp_path: Path) -> None:
    data = tmp_path / "d"
    _journal_only_store(data)
    before = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    run = forumctl(
        "seed", *SIZES, "--storage-mode", "json", "--data-dir", str(data), expect=ExitCode.USAGE
    )
    assert "journal-" in run.stderr
    assert "--force" in run.stderr
    after = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    assert after == before  # nothing written, not even the kinds without records


def test_seed_json_force_keeps_the_replaced_journal_beside_the_new_data(tmp_path: Path) -> None:
    data = tmp_path / "d"
    _journal_only_store(data)
    forumctl("seed", *SIZES, "--storage-mode", "json", "--data-dir", str(data), "--force")
    kept = list((data / "users").glob("journal-*.jsonl.replaced-*"))
    assert len(kept) == 1
    assert b"kept@example.com" in kept[0].read_bytes()
    store = open_store(load_settings(storage_mode="json", data_dir=data))
    try:
        assert len(store.users.list(limit=100).items) == 7  # the seeded users, not the old one
    finally:
        store.close()


def test_seed_json_waits_for_the_stores_writer_lock(tmp_path: Path) -> None:
    """A service writing holds the store's lock (.lock, flock): seed replaces nothing under it."""
    import fcntl
    import os
    import threading

    data = tmp_path / "d"
    (data / "users").mkdir(parents=True)
    fd = os.open(data / "users" / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    done = threading.Event()

    def seed() -> None:
        forumctl("seed", *SIZES, "--storage-mode", "json", "--data-dir", str(data))
        done.set()

    worker = threading.Thread(target=seed)
    worker.start()
    try:
        assert not done.wait(1.0)
        assert not (data / "users" / "db.json").exists()
    finally:
        os.close(fd)  # releases the lock
    worker.join(60)
    assert done.is_set()
    assert (data / "users" / "db.json").exists()
