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
