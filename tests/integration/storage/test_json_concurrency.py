"""The JSON store under real concurrency: many writer processes on one folder, threads in
one process, and writers killed with SIGKILL in the middle of a stream of writes."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from forumdb.storage.jsonstore import JsonStore

WRITER = Path(__file__).with_name("json_writer.py")
WRITERS = 16
CREATES = 20
INCREMENTS = 5
# Small enough that compactions happen while the others write.
COMPACT_MIN_BYTES = 20_000


def start_writer(data: Path, name: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(data), "--name", name, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def acked_ids(output: str) -> list[int]:
    return [int(line.split()[1]) for line in output.splitlines() if line.startswith("ack ")]


def test_sixteen_writer_processes_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    JsonStore(data).threads.create({"id": 1, "title": "counter", "n": 0})
    extra = [
        "--creates",
        str(CREATES),
        "--increments",
        str(INCREMENTS),
        "--compact-min-bytes",
        str(COMPACT_MIN_BYTES),
    ]
    procs = [start_writer(data, f"w{i}", *extra) for i in range(WRITERS)]
    (data / "go").touch()
    acked: list[int] = []
    conflicts = 0
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        acked += acked_ids(out)
        done = out.splitlines()[-1].split()
        assert done[:2] == ["done", str(INCREMENTS)]
        conflicts += int(done[2])

    users = JsonStore(data).users.list(limit=1000).items
    assert len(acked) == len(set(acked)) == WRITERS * CREATES, "every create got its own id"
    assert sorted(u["id"] for u in users) == sorted(acked), "nothing lost, nothing extra"
    per_writer = collections.Counter(u["writer"] for u in users)
    assert per_writer == {f"w{i}": CREATES for i in range(WRITERS)}
    counter = JsonStore(data).threads.get(1)
    assert counter["n"] == WRITERS * INCREMENTS, f"lost updates ({conflicts} conflicts seen)"
    assert counter["version"] == 1 + WRITERS * INCREMENTS
    assert (data / "users" / "db.json").exists(), "compactions ran during the writes"


def test_threads_of_two_instances_share_one_folder(tmp_path: Path) -> None:
    stores = [JsonStore(tmp_path), JsonStore(tmp_path)]
    made: list[int] = []
    lock = threading.Lock()

    def write(store: JsonStore, n: int) -> None:
        for i in range(25):
            rec = store.posts.create({"thread": n, "user": i, "text": f"{n}-{i}"})
            with lock:
                made.append(rec["id"])

    threads = [threading.Thread(target=write, args=(stores[n % 2], n)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = JsonStore(tmp_path).posts.list(limit=1000).items
    assert sorted(p["id"] for p in items) == sorted(made)
    assert len(made) == len(set(made)) == 200


@pytest.mark.parametrize("compact_min_bytes", [4 * 1024 * 1024, 3_000])
def test_sigkill_mid_stream_keeps_every_acknowledged_write(
    tmp_path: Path, compact_min_bytes: int
) -> None:
    """Three rounds: a writer creates as fast as it can and is killed after a random number
    of acknowledgements (with a small compaction threshold, often mid-compaction); the store
    must load with every acknowledged record, and take writes again."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "go").touch()
    rng = random.Random(2)
    acked: list[int] = []
    for round_ in range(3):
        proc = start_writer(
            data,
            f"r{round_}",
            "--forever",
            "--compact-min-bytes",
            str(compact_min_bytes),
        )
        assert proc.stdout is not None
        target = rng.randint(50, 250)
        got = 0
        for line in proc.stdout:
            if line.startswith("ack "):
                acked.append(int(line.split()[1]))
                got += 1
                if got >= target:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
        rest, _ = proc.communicate(timeout=30)
        acked += acked_ids(rest)  # acks printed before the kill landed
        assert proc.returncode == -signal.SIGKILL

        store = JsonStore(data)
        stored = {u["id"] for u in store.users.list(limit=1000).items}
        missing = set(acked) - stored
        assert not missing, f"round {round_}: acknowledged writes lost: {sorted(missing)[:5]}"
        # At most the one write in flight at the kill is there unacknowledged.
        assert len(stored - set(acked)) <= 1
        after = store.users.create({"username": f"after-{round_}"})
        acked.append(after["id"])
    assert JsonStore(data).users.health().ok
