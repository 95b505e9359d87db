"""migrate against the moto server: a generated set killed mid-run and resumed with exact
counts and checksums, then a run that writes nothing; throttling survived."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from forumctl_run import forumctl, spawn

from forumctl.errors import ExitCode
from harness import migrate_resume

# Small enough for the suite (a few seconds); the 50,000-item run of the same scenario is
# bench/migrate_resume_bench.py. Threads outnumber users so that the kill lands inside them.
SIZES = {"users": 500, "threads": 3_000, "posts": 1_500}
TABLES = migrate_resume.TABLES
item_count = migrate_resume.item_count


def seed_json(data: Path, users: int, threads: int, posts: int) -> None:
    forumctl(
        "seed", "--storage-mode", "json", "--data-dir", data,
        "--users", users, "--threads", threads, "--posts", posts,
    )  # fmt: skip


def test_killed_mid_run_resume_exactly_then_write_nothing(aws: Any, tmp_path: Path) -> None:
    ddb = boto3.client("dynamodb")
    run = migrate_resume.kill_and_resume(SIZES, tmp_path / "data", ddb, forumctl, spawn)
    migrate_resume.check(run, SIZES, ddb)


def test_sample_files_twice_against_the_server(aws: Any) -> None:
    sample = Path(__file__).resolve().parents[3] / "examples" / "sample-data"
    forumctl("tables", "create")
    first = forumctl("migrate", "--from", sample, "-o", "json")
    assert [r["written"] for r in first["tables"]] == [4, 3, 6]
    second = forumctl("migrate", "--from", sample, "-o", "json")
    assert [r["written"] for r in second["tables"]] == [0, 0, 0]
    assert second["ok"] is True


def test_injected_throttling_is_survived_without_loss(aws: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed_json(data, 300, 700, 2_000)
    forumctl("tables", "create", "--no-pitr")
    for op in ("BatchWriteItem", "BatchGetItem"):
        aws.control.set_fault(service="dynamodb", operation=op, throttle_rate=0.25, seed=7)
    first = forumctl("migrate", "--from", data, "-o", "json")
    assert first["ok"] is True
    assert [r["written"] for r in first["tables"]] == [300, 700, 2_000]
    stats = aws.control.stats()
    assert "throttle" in str(stats)  # the faults did fire
    # a second, also throttled, run: compares under throttling and writes nothing
    second = forumctl("migrate", "--from", data, "--no-verify", "-o", "json")
    assert [r["written"] for r in second["tables"]] == [0, 0, 0]
    aws.control.clear_faults()
    ddb = boto3.client("dynamodb")
    assert [item_count(ddb, t) for t in TABLES.values()] == [300, 700, 2_000]


def test_throttling_that_never_ends_fails_loudly(aws: Any, tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed_json(data, 30, 0, 0)
    forumctl("tables", "create")
    aws.control.set_fault(service="dynamodb", operation="BatchWriteItem", throttle_rate=1.0)
    out = forumctl(
        "migrate", "--from", data, "--only", "users", "--max-attempts", "2", "-o", "json",
        expect=ExitCode.AWS,
    )  # fmt: skip
    assert "forum-Users" in out["error"]
    assert "unprocessed" in out["error"]
    assert "nothing was dropped silently" in out["error"]
