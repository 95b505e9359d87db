"""Fuzzing forumctl's readers, the gate before migrate and restore write anything: 1,000
cases each of random and structured damage. A reader either refuses (DataError: exit 4, one
error document, nothing written) or gives items DynamoDB takes; never any other exception
(a traceback). Random damage to a backup is either harmless (the items read are the items
written) or refused. The CLI-level properties (what is accepted round-trips, what is refused
leaves the tables untouched) run against the emulator with fewer cases."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import forumctl, scan_all
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_forumctl_crafted_input import write_backup

from forumctl.backup_format import read_section, scan_file
from forumctl.codec import from_json_item, item_digest, to_json_item
from forumctl.errors import DataError, ExitCode
from forumctl.item_checks import ItemChecker
from forumctl.sources import read_records, records_to_items, source_file
from forumdb.tables import KINDS

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)

USERS = [
    {"userId": {"N": str(i)}, "username": {"S": f"u{i}"}, "email": {"S": f"u{i}@ooo.example"}}
    for i in (1, 2)
]
THREADS = [
    {
        "threadId": {"N": "1"},
        "entity": {"S": "thread"},
        "createdAt": {"S": "2026-01-01T00:00:00Z"},
        "tags": {"SS": ["a", "b"]},
    }
]
POSTS = [
    {
        "postId": {"N": str(i)},
        "threadId": {"N": "1"},
        "userId": {"N": "1"},
        "createdAt": {"S": f"2026-01-01T00:00:0{i}Z"},
        "text": {"S": "héllo ✓"},
        "meta": {"M": {"n": {"N": "1.5"}, "l": {"L": [{"NULL": True}, {"BOOL": False}]}}},
    }
    for i in (1, 2, 3)
]
SECTIONS = {"users": USERS, "threads": THREADS, "posts": POSTS}
ORIGINAL = Counter(item_digest(from_json_item(it)) for items in SECTIONS.values() for it in items)


def read_backup(path: Path) -> Counter[bytes] | None:
    """The items a restore would write (their digests), or None if the file is refused."""
    try:
        _, sections = scan_file(path)
        found: Counter[bytes] = Counter()
        for section in sections:
            checker = ItemChecker(section.kind)
            for item in read_section(path, section):
                checker.check(to_json_item(item))
                found[item_digest(item)] += 1
        return found
    except DataError:
        return None


def valid_backup(folder: Path) -> Path:
    return write_backup(folder / "b.jsonl", SECTIONS)


# -- restore's reader -------------------------------------------------------------------------

byte_damage = st.lists(
    st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)),
    min_size=1,
    max_size=4,
)
line_damage = st.tuples(
    st.sampled_from(["delete", "duplicate", "swap", "truncate"]),
    st.integers(min_value=0),
    st.integers(min_value=0),
)


@FUZZ
@given(damage=st.one_of(byte_damage, line_damage))
def test_random_damage_to_a_backup_is_harmless_or_refused(damage: Any) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = valid_backup(Path(d))
        raw = bytearray(path.read_bytes())
        if isinstance(damage, list):
            for position, value in damage:
                raw[position % len(raw)] = value
        else:
            how, i, j = damage
            lines = bytes(raw).splitlines(keepends=True)
            i, j = i % len(lines), j % len(lines)
            if how == "delete":
                del lines[i]
            elif how == "duplicate":
                lines.insert(i, lines[i])
            elif how == "swap":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines = [*lines[:i], lines[i][: j % max(1, len(lines[i]))]]
            raw = bytearray(b"".join(lines))
        path.write_bytes(bytes(raw))
        found = read_backup(path)
        assert found is None or found == ORIGINAL


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["", "-1", "1e999", "\ud800", "1" * 45, "AA==", "!"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)  # fmt: skip
attribute_values = st.one_of(
    json_values,
    st.builds(
        lambda tag, value: {tag: value},
        st.sampled_from(["S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL", "X"]),
        json_values,
    ),
)


@FUZZ
@given(
    kind=st.sampled_from(KINDS),
    position=st.integers(min_value=0),
    name=st.sampled_from(
        ["userId", "postId", "threadId", "email", "createdAt", "entity", "text", "forumdbGuard"]
    ),
    value=attribute_values,
)
def test_crafted_items_with_matching_checksums_pass_only_when_storable(
    kind: str, position: int, name: str, value: Any
) -> None:
    """The checksums are made to match (a crafted file, not damage): what the reader takes
    must still be an item DynamoDB and the services take."""
    items = [dict(it) for it in SECTIONS[kind]]
    items[position % len(items)][name] = value
    with tempfile.TemporaryDirectory() as d:
        path = write_backup(Path(d) / "b.jsonl", {kind: items})
        found = read_backup(path)
        if found is not None:
            assert sum(found.values()) == len(items)


# -- migrate's reader -------------------------------------------------------------------------

record_values = st.one_of(
    json_values,
    st.integers(min_value=-(10**45), max_value=10**45),
    st.sampled_from(["²", "1", " 7 ", "12345678901234567890"]),
)
records = st.dictionaries(
    st.sampled_from(
        ["id", "thread", "user", "version", "createdAt", "updatedAt", "email", "subject",
         "title", "text", "userId", "threadId", "postId", "entity", "bio"]
    ),
    record_values,
    max_size=6,
)  # fmt: skip


def read_folder(folder: Path, kind: str) -> list[dict[str, Any]] | None:
    try:
        recs = read_records(folder, kind)  # type: ignore[arg-type]
        return records_to_items(source_file(folder, kind), kind, recs)  # type: ignore[arg-type]
    except DataError:
        return None


@FUZZ
@given(kind=st.sampled_from(KINDS), rows=st.lists(records, max_size=4))
def test_structured_records_are_refused_or_storable(kind: str, rows: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / kind).mkdir()
        (folder / kind / "db.json").write_text(json.dumps({kind: rows}))
        items = read_folder(folder, kind)
        if items is not None:
            assert len(items) == len(rows)
            checker = ItemChecker(kind)  # type: ignore[arg-type]
            for item in items:
                checker.check(to_json_item(item))


SAMPLE_TEXT = json.dumps(
    {"users": [{"id": 1, "email": "a@ooo.example"}, {"id": 2, "name": "b", "version": 3}]}
).encode()


@FUZZ
@given(damage=byte_damage)
def test_random_damage_to_a_db_json_is_refused_or_read(damage: list[tuple[int, int]]) -> None:
    raw = bytearray(SAMPLE_TEXT)
    for position, value in damage:
        raw[position % len(raw)] = value
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "users").mkdir()
        (folder / "users" / "db.json").write_bytes(bytes(raw))
        read_folder(folder, "users")  # DataError or items; anything else fails the test


# -- the CLI: accepted round-trips, refused writes nothing ----------------------------------

CLI = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)


@pytest.fixture
def emulator_tables(dynamodb: Any) -> Any:
    forumctl("tables", "create")
    return dynamodb


def clear(client: Any) -> None:
    for logical, keys in (("Users", ("userId",)), ("Posts", ("postId", "threadId"))):
        for item in scan_all(client, f"forum-{logical}"):
            client.delete_item(
                TableName=f"forum-{logical}", Key={k: item[k] for k in keys}
            )  # fmt: skip


@CLI
@given(
    name=st.sampled_from(["bio", "email", "userId", "tags", "deep"]),
    value=attribute_values,
)
def test_restore_of_a_crafted_backup_round_trips_or_writes_nothing(
    emulator_tables: Any, name: str, value: Any
) -> None:
    client = emulator_tables
    clear(client)
    users = [dict(USERS[0]), {**USERS[1], name: value}]
    posts = [dict(p) for p in POSTS]
    with tempfile.TemporaryDirectory() as d:
        path = write_backup(Path(d) / "b.jsonl", {"users": users, "posts": posts})
        run = forumctl("restore", "--from", str(path), "-o", "json", expect=None)
        held = Counter(
            item_digest(it) for t in ("Users", "Posts") for it in scan_all(client, f"forum-{t}")
        )
        if run.code == ExitCode.DATA:
            assert "error" in run.json
            assert held == Counter()
            return
        assert run.code == 0, run.stdout + run.stderr
        want = Counter(item_digest(from_json_item(it)) for it in [*users, *posts])
        assert held == want


@CLI
@given(row=records)
def test_migrate_of_crafted_records_round_trips_or_writes_nothing(
    emulator_tables: Any, row: dict[str, Any]
) -> None:
    client = emulator_tables
    clear(client)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        for kind in KINDS:
            (folder / kind).mkdir()
            (folder / kind / "db.json").write_text(json.dumps({kind: []}))
        (folder / "users" / "db.json").write_text(json.dumps({"users": [{"id": 3}, row]}))
        run = forumctl("migrate", "--from", str(folder), "-o", "json", expect=None)
        held = scan_all(client, "forum-Users")
        if run.code == ExitCode.DATA:
            assert "error" in run.json
            assert held == []
            return
        assert run.code == 0, run.stdout + run.stderr
        items = records_to_items(
            source_file(folder, "users"), "users", read_records(folder, "users")
        )
        assert Counter(map(item_digest, held)) == Counter(map(item_digest, items))
