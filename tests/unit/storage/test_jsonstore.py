"""What only the JSON backend has: the sample-format files, the journal, compaction, several
store instances (processes) on one folder, damaged files."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forumdb.config import Settings
from forumdb_services.storage import (
    StoreUnavailable,
    VersionConflict,
    open_store,
)
from forumdb_services.storage.jsonstore import JsonStore

SAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sample-data"


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("*.md"))
    return data


def journals(folder: Path) -> list[Path]:
    return sorted(folder.glob("journal-*.jsonl"))


def test_open_store_picks_the_json_backend(sample_dir: Path) -> None:
    store = open_store(Settings(STORAGE_MODE="json", DATA_DIR=str(sample_dir)))
    assert isinstance(store, JsonStore)
    assert store.users.get(1)["username"] == "marceline"


def test_sample_records_with_string_ids_are_normalised(tmp_path: Path) -> None:
    folder = tmp_path / "threads"
    folder.mkdir()
    (folder / "db.json").write_text(
        json.dumps({"threads": [{"id": "2", "title": "t", "createdBy": "4"}]})
    )
    thread = JsonStore(tmp_path).threads.get(2)
    assert (thread["id"], thread["createdBy"], thread["version"]) == (2, 4, 1)


def test_a_write_appends_instead_of_rewriting_db_json(sample_dir: Path) -> None:
    snapshot = sample_dir / "users" / "db.json"
    before = snapshot.read_bytes()
    store = JsonStore(sample_dir)
    created = store.users.create({"username": "bmo"})
    store.users.update(1, {"bio": "queen"})
    assert snapshot.read_bytes() == before
    (journal,) = journals(sample_dir / "users")
    assert len(journal.read_bytes().splitlines()) == 2
    reopened = JsonStore(sample_dir)
    assert reopened.users.get(created["id"]) == created
    assert reopened.users.get(1)["bio"] == "queen"


def test_instances_on_one_folder_see_each_others_writes(tmp_path: Path) -> None:
    one, two = JsonStore(tmp_path), JsonStore(tmp_path)
    user = one.users.create({"username": "finn"})
    assert two.users.get(user["id"]) == user
    two.users.update(user["id"], {"bio": "hero"})
    with pytest.raises(VersionConflict):
        one.users.update(user["id"], {"bio": "stale"}, expected_version=1)
    assert one.users.get(user["id"])["bio"] == "hero"
    one.users.delete(user["id"])
    assert two.users.list().items == []


def test_compaction_folds_the_journal_into_db_json(tmp_path: Path) -> None:
    store = JsonStore(tmp_path, compact_min_bytes=2_000)
    watcher = JsonStore(tmp_path)  # loaded before the compactions, must follow them
    assert watcher.users.list().items == []
    made = [store.users.create({"username": f"u{i}", "extra": {"n": i}}) for i in range(60)]
    for user in made[:10]:
        store.users.delete(user["id"])
    folder = tmp_path / "users"
    doc = json.loads((folder / "db.json").read_text())
    assert doc["forumdb"]["snapshot"], "db.json was rewritten by a compaction"
    assert all(isinstance(u["id"], int) for u in doc["users"]), "still the sample's shape"
    assert len(journals(folder)) <= 1, "the folded journal is removed"
    expected = sorted(made[10:], key=lambda u: u["id"])
    assert watcher.users.list(limit=100).items == expected
    assert JsonStore(tmp_path).users.list(limit=100).items == expected
    assert not list(folder.glob("*.tmp"))


def test_a_torn_last_line_is_ignored_then_cut_off(tmp_path: Path) -> None:
    store = JsonStore(tmp_path)
    kept = [store.users.create({"username": f"u{i}"}) for i in range(3)]
    (journal,) = journals(tmp_path / "users")
    with journal.open("ab") as f:
        f.write(b'0badc0de {"put":{"id":99,"username":"half')  # a writer killed mid-line
    assert JsonStore(tmp_path).users.list().items == kept
    later = JsonStore(tmp_path).users.create({"username": "after"})
    assert JsonStore(tmp_path).users.list().items == [*kept, later]
    assert b"half" not in journal.read_bytes()


def test_a_line_with_a_bad_checksum_is_skipped_alone(tmp_path: Path) -> None:
    store = JsonStore(tmp_path)
    first = store.users.create({"username": "first"})
    store.users.create({"username": "second"})
    third = store.users.create({"username": "third"})
    (journal,) = journals(tmp_path / "users")
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(lines[0] + lines[1].replace(b"second", b"secont") + lines[2])
    assert JsonStore(tmp_path).users.list().items == [first, third]


def test_a_replaced_db_json_does_not_replay_the_old_journal(sample_dir: Path) -> None:
    JsonStore(sample_dir).users.update(1, {"bio": "from the old journal"})
    (sample_dir / "users" / "db.json").write_text(
        json.dumps({"users": [{"id": 1, "username": "new"}]})
    )
    user = JsonStore(sample_dir).users.get(1)
    assert user["username"] == "new"
    assert "bio" not in user


def test_a_corrupt_db_json_is_unavailable_with_its_path(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    (folder / "db.json").write_text('{"posts": [')
    store = JsonStore(tmp_path)
    with pytest.raises(StoreUnavailable, match=r"posts.*db\.json"):
        store.posts.list()
    health = store.posts.health()
    assert not health.ok
    assert "db.json" in health.detail


def test_health_creates_a_missing_kind_folder(tmp_path: Path) -> None:
    health = JsonStore(tmp_path / "fresh").threads.health()
    assert health.ok, health.detail
    assert (tmp_path / "fresh" / "threads").is_dir()


def test_health_fails_where_the_folder_cannot_exist(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    health = JsonStore(blocker).users.health()
    assert not health.ok
    assert str(blocker) in health.detail


def test_large_ids_from_new_id_survive_a_reload(tmp_path: Path) -> None:
    store = JsonStore(tmp_path, compact_min_bytes=0)
    created = store.posts.create({"thread": 1, "text": "x"})
    assert created["id"] > 2**40
    assert JsonStore(tmp_path).posts.get(created["id"]) == created


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**40), 10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF) | st.characters()),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = st.dictionaries(
    st.sampled_from(["bio", "email", "createdAt", "updatedAt", "extra", "createdBy", "user"]),
    JSON_VALUES | st.integers(-2, 2**53) | st.just("2025-01-01T00:00:00.000000Z"),
    max_size=4,
)


@given(kind=st.sampled_from(["users", "threads", "posts"]), fields=FIELDS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_what_the_store_accepts_it_loads_again(kind: str, fields: dict) -> None:
    """A record the store takes survives a compaction and a fresh load unchanged: the checks
    on write are at least those of loading a db.json (a write must never make the store
    unloadable)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = JsonStore(Path(tmp), compact_min_bytes=0)
        record = {**fields, "thread": 1} if kind == "posts" else fields
        try:
            created = store.collection(kind).create(record)
        except ValueError:
            return
        assert list((Path(tmp) / kind).glob("journal-*.jsonl")) == [], "compacted"
        assert JsonStore(Path(tmp)).collection(kind).get(created["id"]) == created
