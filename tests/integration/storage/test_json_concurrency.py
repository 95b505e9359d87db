"""The JSON store under real concurrency: many writer processes on one folder, threads in
one process, and writers killed with SIGKILL in the middle of a stream of writes.

Writers are forked, as gunicorn forks its workers: separate processes with their own
in-memory views, without paying a Python start-up per writer (16 start-ups cost more than
the writes on a loaded 2-core machine).
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from forumdb_services.storage import VersionConflict
from forumdb_services.storage.jsonstore import JsonStore

FORK = multiprocessing.get_context("fork")
WRITERS = 16
CREATES = 30
INCREMENTS = 10
# Small enough that compactions happen while the others write.
COMPACT_MIN_BYTES = 20_000


def writer(
    data: Path,
    name: str,
    acks: Path,
    creates: int | None,
    increments: int = 0,
    compact_min_bytes: int = COMPACT_MIN_BYTES,
) -> None:
    """Waits for data/go, then creates users tagged with `name` (forever if `creates` is
    None), appending `ack <id>` to `acks` only after `create` returned; after each of the
    first `increments` creates, adds 1 to the counter thread (id 1) with read, update on
    the version read, and a retry on VersionConflict. Ends with `done <increments>
    <conflicts>`."""
    store = JsonStore(data, compact_min_bytes=compact_min_bytes)
    out = os.open(acks, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    while not (data / "go").exists():
        time.sleep(0.002)
    conflicts = 0
    seq = 0
    while creates is None or seq < creates:
        created = store.users.create({"username": f"{name}-{seq}", "writer": name})
        os.write(out, f"ack {created['id']}\n".encode())  # unbuffered: survives SIGKILL
        if seq < increments:
            while True:
                counter = store.threads.get(1)
                try:
                    store.threads.update(
                        1, {"n": counter["n"] + 1}, expected_version=counter["version"]
                    )
                    break
                except VersionConflict:
                    conflicts += 1
        seq += 1
    os.write(out, f"done {min(increments, seq)} {conflicts}\n".encode())


def read_acks(path: Path) -> tuple[list[int], list[str]]:
    lines = path.read_text().splitlines() if path.exists() else []
    acked = [int(line.split()[1]) for line in lines if line.startswith("ack ")]
    return acked, [line for line in lines if line.startswith("done ")]


def test_sixteen_writer_processes_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    JsonStore(data).threads.create({"id": 1, "title": "counter", "n": 0})
    procs = [
        FORK.Process(
            target=writer, args=(data, f"w{i}", tmp_path / f"acks{i}", CREATES, INCREMENTS)
        )
        for i in range(WRITERS)
    ]
    for proc in procs:
        proc.start()
    (data / "go").touch()
    acked: list[int] = []
    conflicts = 0
    for i, proc in enumerate(procs):
        proc.join(timeout=120)
        assert proc.exitcode == 0, f"writer w{i} failed"
        ids, done = read_acks(tmp_path / f"acks{i}")
        acked += ids
        assert done[0].split()[:2] == ["done", str(INCREMENTS)]
        conflicts += int(done[0].split()[2])

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
        acks = tmp_path / f"acks{round_}"
        proc = FORK.Process(
            target=writer, args=(data, f"r{round_}", acks, None, 0, compact_min_bytes)
        )
        proc.start()
        target = rng.randint(50, 250)
        deadline = time.monotonic() + 60
        while len(read_acks(acks)[0]) < target:
            assert time.monotonic() < deadline, "the writer stalled"
            assert proc.is_alive(), "the writer died on its own"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=30)
        assert proc.exitcode == -signal.SIGKILL
        acked += read_acks(acks)[0]

        store = JsonStore(data)
        stored = {u["id"] for u in store.users.list(limit=1000).items}
        missing = set(acked) - stored
        assert not missing, f"round {round_}: acknowledged writes lost: {sorted(missing)[:5]}"
        # Unacknowledged but stored: at most the one write in flight at each kill.
        unacked = [store.users.get(i)["writer"] for i in stored - set(acked)]
        assert max(collections.Counter(unacked).values(), default=0) <= 1, unacked
        after = store.users.create({"username": f"after-{round_}"})
        acked.append(after["id"])
    assert JsonStore(data).users.health().ok


def damage_a_middle_line(folder: Path) -> int | None:
    """Replace one byte inside the payload of the middle complete line of the users journal,
    in place, while the writers append; the id of the user that line created (None if the
    journal was too short to pick from)."""
    journals = sorted(folder.glob("journal-*.jsonl"))
    if not journals:
        return None
    raw = journals[0].read_bytes()
    lines = raw.split(b"\n")[:-1]  # the last element is after the last newline
    if len(lines) < 3:
        return None
    middle = len(lines) // 2
    start = sum(len(line) + 1 for line in lines[:middle])
    record = json.loads(lines[middle][9:])["put"]
    target = start + lines[middle].index(record["username"].encode())
    fd = os.open(journals[0], os.O_WRONLY)
    try:
        os.pwrite(fd, b"#", target)
    finally:
        os.close(fd)
    return int(record["id"])


@pytest.mark.parametrize("compact_min_bytes", [4 * 1024 * 1024, COMPACT_MIN_BYTES])
def test_a_line_damaged_under_writers_costs_only_that_line(
    tmp_path: Path, compact_min_bytes: int
) -> None:
    """Four writers create users as fast as they can; a byte in the middle of the journal
    is damaged under them; they write on, then are killed with SIGKILL. Every acknowledged
    write but the damaged line's is in the store, and the store takes writes again."""
    data = tmp_path / "data"
    data.mkdir()
    procs = [
        FORK.Process(
            target=writer,
            args=(data, f"w{i}", tmp_path / f"acks{i}", None, 0, compact_min_bytes),
        )
        for i in range(4)
    ]
    for proc in procs:
        proc.start()
    (data / "go").touch()

    def acked() -> list[int]:
        return [i for n in range(len(procs)) for i in read_acks(tmp_path / f"acks{n}")[0]]

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 60
        while len(acked()) < count:
            assert time.monotonic() < deadline, "the writers stalled"
            assert all(p.is_alive() for p in procs), "a writer died on its own"
            time.sleep(0.005)

    damaged: int | None = None
    target = 150
    while damaged is None:
        wait_for(target)
        damaged = damage_a_middle_line(data / "users")
        target += 20
    wait_for(len(acked()) + 150)
    for proc in procs:
        os.kill(proc.pid, signal.SIGKILL)
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == -signal.SIGKILL
    sent = acked()

    store = JsonStore(data)
    stored = {u["id"] for u in store.users.list(limit=1000).items}
    lost = set(sent) - stored - {damaged}
    assert not lost, f"acknowledged writes lost besides the damaged line: {sorted(lost)[:5]}"
    if compact_min_bytes > 1024 * 1024:  # no compaction: the damage is still on disk
        assert damaged not in stored, "the damaged line was really damaged"
        assert list((data / "users").glob("journal-*.jsonl.damaged-*")), "a copy was kept"
    after = store.users.create({"username": "after"})
    assert JsonStore(data).users.get(after["id"]) == after
    assert JsonStore(data).users.health().ok
