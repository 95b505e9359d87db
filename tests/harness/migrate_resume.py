"""The migrate kill-and-resume scenario, shared by its small test (tests/integration/cli) and
its 50,000-item benchmark (bench/migrate_resume_bench.py).

Seed a JSON data folder, start `forumctl migrate` as a process, SIGKILL it once the second
table (threads) has items, then resume: the resumed run must account for every item exactly
(written + unchanged == source, checksums equal, nothing missing or different), and a third
run must write nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TABLES = {"users": "forum-Users", "threads": "forum-Threads", "posts": "forum-Posts"}

Forumctl = Callable[..., Any]
Spawn = Callable[..., "subprocess.Popen[str]"]


@dataclass
class ResumeRun:
    """What the scenario saw: items per table when killed, the resumed and the third run's
    JSON documents, and seconds per phase."""

    partial: dict[str, int]
    resumed: dict[str, Any]
    again: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)


def item_count(ddb: Any, table: str) -> int:
    return ddb.describe_table(TableName=table)["Table"]["ItemCount"]


def kill_and_resume(
    sizes: dict[str, int], data: Path, ddb: Any, forumctl: Forumctl, spawn: Spawn
) -> ResumeRun:
    """Runs the scenario against the tables `forumctl` reaches; asserts nothing itself."""
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    forumctl(
        "seed", "--storage-mode", "json", "--data-dir", data,
        "--users", sizes["users"], "--threads", sizes["threads"], "--posts", sizes["posts"],
    )  # fmt: skip
    # migrate is under test; PITR's change log is not
    forumctl("tables", "create", "--no-pitr")
    seconds["seed"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    proc = spawn("migrate", "--from", data, "--no-verify")
    # Killed once it is inside the second table: users written, threads partly, posts not.
    while proc.poll() is None and item_count(ddb, TABLES["threads"]) == 0:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    if proc.returncode != -signal.SIGKILL:
        raise AssertionError(f"migrate finished (exit {proc.returncode}) before it was killed")
    partial = {kind: item_count(ddb, table) for kind, table in TABLES.items()}
    seconds["until killed"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    resumed = forumctl("migrate", "--from", data, "-o", "json")
    seconds["resume with verify"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = forumctl("migrate", "--from", data, "--no-verify", "-o", "json")
    seconds["third run (compare only)"] = time.perf_counter() - t0
    return ResumeRun(partial, resumed, again, seconds)


def check(run: ResumeRun, sizes: dict[str, int], ddb: Any) -> None:
    """Every item accounted for exactly once; the third run wrote nothing."""
    assert 0 < run.partial["threads"] < sizes["threads"], run.partial
    assert run.partial["posts"] < sizes["posts"], run.partial
    assert run.resumed["ok"] is True
    rows = {r["table"]: r for r in run.resumed["tables"]}
    for kind, table in TABLES.items():
        row = rows[table]
        assert row["sourceItems"] == sizes[kind]
        assert row["written"] + row["unchanged"] == sizes[kind]
        assert row["verify"]["tableCount"] == sizes[kind]
        assert row["verify"]["tableChecksum"] == row["sourceChecksum"]
        assert (row["verify"]["missing"], row["verify"]["different"]) == (0, 0)
        assert item_count(ddb, table) == sizes[kind]
    # what the killed run had written was compared, not written again
    assert rows[TABLES["users"]]["unchanged"] == run.partial["users"]
    assert rows[TABLES["threads"]]["unchanged"] == run.partial["threads"]

    assert [r["written"] for r in run.again["tables"]] == [0, 0, 0]
    assert [r["unchanged"] for r in run.again["tables"]] == [sizes[k] for k in TABLES]
    assert [r["sourceChecksum"] for r in run.again["tables"]] == [
        rows[t]["sourceChecksum"] for t in TABLES.values()
    ]
