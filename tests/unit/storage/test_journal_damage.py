"""A damaged JSON-mode journal: only the damaged line is lost, nothing is ever cut off, and
the damage is copied aside, logged and counted."""

from __future__ import annotations

import itertools
import logging
import re
import shutil
from pathlib import Path

import pytest

from forumdb.config import SettingsWatcher
from forumdb_services.storage import _journal
from forumdb_services.storage.jsonstore import JsonStore
from forumdb_services.storage.metrics import journal_damaged_lines

RECORDS = 20


def journal_of(folder: Path) -> Path:
    (journal,) = sorted(folder.glob("journal-*.jsonl"))
    return journal


def damaged_copies(folder: Path) -> list[Path]:
    return sorted(folder.glob("journal-*.jsonl.damaged-*"))


def good_ops(journal: Path) -> list[dict]:
    """The operations a reader finds in the whole file."""
    return _journal.read_tail(journal, 0).ops


@pytest.fixture
def twenty(tmp_path: Path) -> tuple[Path, list[dict]]:
    """A store folder whose users journal holds 20 creates, line n for user n-1."""
    data = tmp_path / "pristine"
    store = JsonStore(data)
    made = [store.users.create({"id": i, "username": f"user-{i:02d}"}) for i in range(RECORDS)]
    return data, made


def copy_of(pristine: Path, tmp_path: Path, name: str) -> Path:
    data = tmp_path / name
    shutil.copytree(pristine, data)
    return data


def change_byte(journal: Path, offset: int, value: int) -> None:
    raw = bytearray(journal.read_bytes())
    assert raw[offset] != value
    raw[offset] = value
    journal.write_bytes(bytes(raw))


def line_span(journal: Path, number: int) -> tuple[int, int]:
    """(offset of the first byte, offset of the newline) of 1-based line `number`."""
    lines = journal.read_bytes().split(b"\n")
    start = sum(len(line) + 1 for line in lines[: number - 1])
    return start, start + len(lines[number - 1])


def test_one_damaged_byte_loses_only_its_line(
    twenty: tuple[Path, list[dict]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pristine, made = twenty
    data = copy_of(pristine, tmp_path, "data")
    folder = data / "users"
    journal = journal_of(folder)
    start, _ = line_span(journal, 5)
    damaged_bytes_offset = journal.read_bytes().index(b"user-04", start)
    change_byte(journal, damaged_bytes_offset, ord("X"))
    damaged_file = journal.read_bytes()
    counted = journal_damaged_lines("users")

    with caplog.at_level(logging.ERROR, logger="forumdb.storage.json"):
        served = JsonStore(data).users.list(limit=100).items
    assert served == [r for r in made if r["id"] != 4], "only the damaged line's record is lost"

    (copy,) = damaged_copies(folder)
    assert copy.read_bytes() == damaged_file, "the damaged journal is kept as it was"
    assert copy.name == f"{journal.name}.damaged-{start}"
    (logged,) = [r for r in caplog.records if "damaged line" in r.getMessage()]
    assert str(journal) in logged.getMessage()
    assert "line 5" in logged.getMessage()
    assert (logged.path, logged.line) == (str(journal), 5)  # type: ignore[attr-defined]
    assert journal_damaged_lines("users") == counted + 1

    later = JsonStore(data).users.create({"id": 99, "username": "later"})
    on_disk = [op["put"] for op in good_ops(journal)]
    assert on_disk == [r for r in made if r["id"] != 4] + [later], "no good line was cut off"
    assert journal.read_bytes().startswith(damaged_file), "the damaged line itself stays too"
    assert JsonStore(data).users.list(limit=100).items == [
        *(r for r in made if r["id"] != 4),
        later,
    ]


def test_any_single_byte_of_a_line_costs_at_most_that_line(
    twenty: tuple[Path, list[dict]], tmp_path: Path
) -> None:
    """Bytes of line 5 replaced in turn (its checksum, the separator, payload bytes from
    start to end, its newline): the other 19 records are served and stay on disk after a
    write, and a damaged newline loses nothing at all."""
    pristine, made = twenty
    source = journal_of(pristine / "users")
    original = source.read_bytes()
    start, newline = line_span(source, 5)
    offsets = sorted({*range(start, start + 10), *range(start, newline, 7), newline - 1, newline})
    others = [r for r in made if r["id"] != 4]
    for n, (offset, value) in enumerate(itertools.product(offsets, b"\nx")):
        if original[offset] == value:
            continue
        folder = tmp_path / f"case{n}" / "users"
        folder.mkdir(parents=True)
        journal = folder / source.name
        journal.write_bytes(original[:offset] + bytes([value]) + original[offset + 1 :])
        where = f"byte {offset - start} of line 5 set to {bytes([value])!r}"
        served = JsonStore(folder.parent).users.list(limit=100).items
        assert served in (others, made), where
        if offset == newline:
            assert served == made, f"{where}: a damaged newline loses no record"
        JsonStore(folder.parent).users.create({"id": 99, "username": "later"})
        stored = {op["put"]["id"] for op in good_ops(journal)}
        assert stored >= {r["id"] for r in others} | {99}, where


def test_a_lost_final_newline_keeps_the_last_record(
    twenty: tuple[Path, list[dict]], tmp_path: Path
) -> None:
    pristine, made = twenty
    data = copy_of(pristine, tmp_path, "data")
    journal = journal_of(data / "users")
    change_byte(journal, journal.stat().st_size - 1, ord("#"))
    assert JsonStore(data).users.list(limit=100).items == made
    later = JsonStore(data).users.create({"id": 99, "username": "later"})
    assert JsonStore(data).users.list(limit=100).items == [*made, later]
    assert [op["put"]["id"] for op in good_ops(journal)] == [*range(RECORDS), 99]


def test_a_whole_last_line_without_its_newline_is_kept(tmp_path: Path) -> None:
    """A writer killed after all but the newline of its line: the operation is whole, so the
    next writer keeps it and adds the newline instead of cutting it off."""
    store = JsonStore(tmp_path)
    first = store.users.create({"id": 1, "username": "first"})
    journal = journal_of(tmp_path / "users")
    whole = _journal.encode_op({"put": {**first, "id": 2, "username": "no newline"}})
    with journal.open("ab") as f:
        f.write(whole[:-1])
    assert [u["id"] for u in JsonStore(tmp_path).users.list().items] == [1, 2]
    JsonStore(tmp_path).users.create({"id": 3, "username": "third"})
    assert whole in journal.read_bytes(), "completed, not cut off"
    assert [u["id"] for u in JsonStore(tmp_path).users.list().items] == [1, 2, 3]
    assert damaged_copies(tmp_path / "users") == []


def test_damage_is_copied_and_counted_once_across_processes(
    twenty: tuple[Path, list[dict]], tmp_path: Path
) -> None:
    pristine, _ = twenty
    data = copy_of(pristine, tmp_path, "data")
    journal = journal_of(data / "users")
    start, _ = line_span(journal, 5)
    change_byte(journal, start + 20, ord("?"))
    counted = journal_damaged_lines("users")
    stores = [JsonStore(data) for _ in range(3)]
    for store in stores:
        assert len(store.users.list(limit=100).items) == RECORDS - 1
    assert len(damaged_copies(data / "users")) == 1
    assert journal_damaged_lines("users") == counted + 1


def test_compaction_keeps_the_good_records_and_the_copy(
    twenty: tuple[Path, list[dict]], tmp_path: Path
) -> None:
    pristine, made = twenty
    data = copy_of(pristine, tmp_path, "data")
    folder = data / "users"
    journal = journal_of(folder)
    start, _ = line_span(journal, 5)
    change_byte(journal, start + 30, ord("?"))
    store = JsonStore(data, compact_min_bytes=0)
    later = store.users.create({"id": 99, "username": "later"})
    assert not journal.exists(), "compacted"
    expected = [*(r for r in made if r["id"] != 4), later]
    assert JsonStore(data).users.list(limit=100).items == expected
    (copy,) = damaged_copies(folder)
    assert any(op["put"]["id"] == 3 for op in good_ops(copy))


def test_the_damage_count_reaches_metrics(
    twenty: tuple[Path, list[dict]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forumdb_services.api.app import create_app

    pristine, _ = twenty
    data = copy_of(pristine, tmp_path, "data")
    journal = journal_of(data / "users")
    start, _ = line_span(journal, 5)
    change_byte(journal, start + 20, ord("?"))
    for name in ("PROMETHEUS_MULTIPROC_DIR", "FORUMDB_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    app = create_app("users", SettingsWatcher(STORAGE_MODE="json", DATA_DIR=str(data)))
    client = app.test_client()

    def exposed() -> float:
        text = client.get("/metrics").get_data(as_text=True)
        match = re.search(
            r'^forumdb_storage_journal_damaged_lines_total\{kind="users"\} (\S+)$', text, re.M
        )
        assert match, "the counter is on /metrics"
        return float(match.group(1))

    before = exposed()
    response = client.get("/api/users?limit=100")
    assert response.status_code == 200
    assert len(response.get_json()) == RECORDS - 1
    assert exposed() == before + 1
