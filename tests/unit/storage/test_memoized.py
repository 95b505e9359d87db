"""`Collection.memoized`: a result is reused only while no write reached the collection,
whoever made the write (this store, another store over the same folder, another process)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from forumdb_services.storage import NOT_KEPT, jsonstore
from forumdb_services.storage.jsonstore import JsonStore


class Counting:
    """A compute function that returns the user's bio and counts its calls."""

    def __init__(self, store: JsonStore, user_id: int) -> None:
        self.store = store
        self.user_id = user_id
        self.calls = 0

    def __call__(self) -> str | None:
        self.calls += 1
        return self.store.users.get(self.user_id).get("bio")


def test_a_result_is_reused_while_nothing_changed(tmp_path: Path) -> None:
    store = JsonStore(tmp_path)
    user = store.users.create({"username": "finn", "bio": "a"})
    compute = Counting(store, user["id"])
    assert store.users.memoized("bio", compute) == "a"
    assert store.users.memoized("bio", compute) == "a"
    assert compute.calls == 1


def test_a_write_through_the_same_store_drops_it(tmp_path: Path) -> None:
    store = JsonStore(tmp_path)
    user = store.users.create({"username": "finn", "bio": "a"})
    compute = Counting(store, user["id"])
    store.users.memoized("bio", compute)
    store.users.update(user["id"], {"bio": "b"})
    assert store.users.memoized("bio", compute) == "b"
    assert compute.calls == 2


def test_a_write_through_another_store_drops_it(tmp_path: Path) -> None:
    # Two stores over one folder share nothing in memory: two workers of one service.
    mine, other = JsonStore(tmp_path), JsonStore(tmp_path)
    user = mine.users.create({"username": "finn", "bio": "a"})
    compute = Counting(mine, user["id"])
    mine.users.memoized("bio", compute)
    other.users.update(user["id"], {"bio": "b"})
    assert mine.users.memoized("bio", compute) == "b"


def test_a_write_by_another_process_drops_it(tmp_path: Path) -> None:
    store = JsonStore(tmp_path)
    user = store.users.create({"username": "finn", "bio": "a"})
    compute = Counting(store, user["id"])
    store.users.memoized("bio", compute)
    script = (
        "import sys; from pathlib import Path\n"
        "from forumdb_services.storage.jsonstore import JsonStore\n"
        "JsonStore(Path(sys.argv[1])).users.update(int(sys.argv[2]), {'bio': 'from afar'})\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), str(user["id"])], check=True, timeout=60
    )
    assert store.users.memoized("bio", compute) == "from afar"


def test_a_compaction_by_another_store_drops_it(tmp_path: Path) -> None:
    mine = JsonStore(tmp_path)
    other = JsonStore(tmp_path, compact_min_bytes=0)  # every write of it compacts
    user = mine.users.create({"username": "finn", "bio": "a"})
    compute = Counting(mine, user["id"])
    mine.users.memoized("bio", compute)
    other.users.update(user["id"], {"bio": "b"})
    # The write was folded into a new db.json: no journal is left to grow.
    assert not list(tmp_path.joinpath("users").glob("journal-*.jsonl"))
    assert mine.users.memoized("bio", compute) == "b"


def test_a_failed_compute_is_not_kept(tmp_path: Path) -> None:
    store = JsonStore(tmp_path)
    calls = []

    def failing() -> None:
        calls.append(1)
        raise LookupError("no")

    for _ in range(2):
        with pytest.raises(LookupError):
            store.users.memoized("x", failing)
    assert len(calls) == 2


def test_the_memo_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonstore, "MEMO_MAX_ENTRIES", 3)
    store = JsonStore(tmp_path)
    store.users.create({"username": "finn"})
    for key in range(10):
        assert store.users.memoized(key, lambda key=key: key * 2) == key * 2
    assert len(store.users._memo) <= 3


def test_a_peek_hands_back_what_is_kept_and_computes_nothing(tmp_path: Path) -> None:
    store = JsonStore(tmp_path)
    user = store.users.create({"username": "finn", "bio": "a"})
    assert store.users.peek_memoized("bio") is NOT_KEPT
    compute = Counting(store, user["id"])
    kept = store.users.memoized("bio", compute)
    assert store.users.peek_memoized("bio") is kept
    assert store.users.peek_memoized("other") is NOT_KEPT
    assert compute.calls == 1


@pytest.mark.parametrize("compacting", [False, True], ids=["appended", "compacted"])
def test_a_peek_after_a_write_elsewhere_is_not_kept(tmp_path: Path, compacting: bool) -> None:
    mine = JsonStore(tmp_path)
    other = JsonStore(tmp_path, compact_min_bytes=0 if compacting else jsonstore.COMPACT_MIN_BYTES)
    user = mine.users.create({"username": "finn", "bio": "a"})
    mine.users.memoized("bio", Counting(mine, user["id"]))
    other.users.update(user["id"], {"bio": "b"})
    assert mine.users.peek_memoized("bio") is NOT_KEPT
    # A peek changes nothing: the next memoized call catches up and computes anew.
    assert mine.users.memoized("bio", Counting(mine, user["id"])) == "b"
    assert mine.users.peek_memoized("bio") == "b"


def test_a_peek_after_a_write_here_is_not_kept(tmp_path: Path) -> None:
    store = JsonStore(tmp_path)
    user = store.users.create({"username": "finn", "bio": "a"})
    store.users.memoized("bio", Counting(store, user["id"]))
    store.users.update(user["id"], {"bio": "b"})
    assert store.users.peek_memoized("bio") is NOT_KEPT


def test_a_peek_never_waits_for_another_thread(tmp_path: Path) -> None:
    store = JsonStore(tmp_path)
    user = store.users.create({"username": "finn", "bio": "a"})
    store.users.memoized("bio", Counting(store, user["id"]))
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with store.users._mutex:  # a read or a write of another thread, under way
            holding.set()
            done.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(30)
        assert store.users.peek_memoized("bio") is NOT_KEPT
    finally:
        done.set()
        thread.join()
    assert store.users.peek_memoized("bio") == "a"
