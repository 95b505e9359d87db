"""Crafted input to migrate and restore (issue: "no bad file gets past the door"): each is
refused with exit 4, one JSON error document under -o json naming the file, the record and
the field, and the tables exactly as they were."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_DIR, forumctl, scan_all

from forumctl.backup_format import End, Header, TableEnd, TableStart, dump_line
from forumctl.codec import TableChecksum, from_json_item, item_digest
from forumctl.errors import ExitCode

LOGICAL = ("Users", "Threads", "Posts")


def snapshot(client: Any, prefix: str = "forum-") -> dict[str, list[bytes]]:
    return {t: sorted(map(item_digest, scan_all(client, f"{prefix}{t}"))) for t in LOGICAL}


@pytest.fixture
def tables(dynamodb: Any) -> Any:
    """The sample migrated: what a refused run must leave exactly as it is."""
    forumctl("tables", "create")
    forumctl("migrate", "--from", str(SAMPLE_DIR))
    return dynamodb


def refused(*args: str) -> dict[str, Any]:
    run = forumctl(*args, "-o", "json", expect=ExitCode.DATA)
    doc = run.json  # one JSON document, no traceback
    assert doc["exitCode"] == 4
    assert "Traceback" not in run.stdout + run.stderr
    return doc


# -- migrate ----------------------------------------------------------------------------------

MIGRATE_CASES = {
    # kind, the bad record added to the sample, what the error must name
    "version not a number": ("users", {"id": 50, "version": "abc"}, "version"),
    "stray userId re-keys": ("users", {"id": 900, "userId": 901}, "userId"),
    "stray threadId moves a post": ("posts", {"id": 50, "thread": 1, "threadId": 2}, "threadId"),
    "stray entity": ("threads", {"id": 50, "title": "t", "entity": "x"}, "entity"),
    "superscript id": ("users", {"id": "\u00b2"}, "id"),
    "id of 40 digits": ("users", {"id": 10**40}, "id"),
    "id past the legacy dates": ("users", {"id": 300000000000}, "createdAt"),
    "5 MB string": ("users", {"id": 50, "bio": "x" * 5_000_000}, "409,600"),
    "42-digit number": ("users", {"id": 50, "score": 10**41 + 1}, "38 significant digits"),
}


def bad_folder(tmp_path: Path, kind: str, record: dict[str, Any]) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE_DIR, folder, ignore=shutil.ignore_patterns("journal-*"))
    path = folder / kind / "db.json"
    doc = json.loads(path.read_text())
    doc[kind].append(record)
    path.write_text(json.dumps(doc))
    return folder


@pytest.mark.parametrize("case", list(MIGRATE_CASES))
def test_migrate_refuses_a_crafted_record_and_writes_nothing(
    tables: Any, tmp_path: Path, case: str
) -> None:
    kind, record, named = MIGRATE_CASES[case]
    before = snapshot(tables)
    folder = bad_folder(tmp_path, kind, record)
    forumctl("tables", "create", "--table-prefix", "fresh-")
    doc = refused("migrate", "--from", str(folder), "--table-prefix", "fresh-")
    assert named in doc["error"]
    assert f"{kind}" in doc["error"]
    assert str(folder / kind) in doc["error"] or str(folder) in doc["error"]
    assert all(not v for v in snapshot(tables, "fresh-").values())
    refused("migrate", "--from", str(folder))
    assert snapshot(tables) == before


@pytest.mark.parametrize(
    "text",
    [
        '{"users": [{"id": 1, "bio": NaN}]}',
        '{"users": [{"id": 1, "bio": "\\ud800"}]}',
        '{"users": [{"id": 1, "bio": ' + "[" * 5000 + "]" * 5000 + "}]}",
    ],
    ids=["nan", "lone-surrogate", "nesting"],
)
def test_migrate_refuses_values_json_or_dynamodb_cannot_carry(
    tables: Any, tmp_path: Path, text: str
) -> None:
    before = snapshot(tables)
    folder = bad_folder(tmp_path, "users", {"id": 77})
    (folder / "users" / "db.json").write_text(text)
    doc = refused("migrate", "--from", str(folder))
    assert "users" in doc["error"]
    assert snapshot(tables) == before


# -- restore ----------------------------------------------------------------------------------

USER = {"userId": {"N": "1"}, "username": {"S": "a"}, "email": {"S": "a@ooo.example"}}
POSTS = [{"postId": {"N": str(i)}, "threadId": {"N": "1"}, "text": {"S": f"p{i}"}} for i in (1, 2)]


def write_backup(
    path: Path,
    sections: dict[str, list[dict[str, Any]]],
    *,
    end: dict[str, Any] | None = None,
    drop_section: str | None = None,
) -> Path:
    """A backup file with these items, its table-end lines and end line computed from them
    (unless `end` replaces the end line's tables, or `drop_section` removes a section and
    keeps its end line entry)."""
    lines = [dump_line(Header(createdAt="2026-01-01T00:00:00Z", tool="test", source={}))]
    totals: dict[str, Any] = {}
    for kind, items in sections.items():
        checksum = TableChecksum()
        for item in items:
            try:
                checksum.add_digest(item_digest(from_json_item(item)))
            except Exception:  # an item the reader must refuse: any checksum will do
                checksum.add_digest(b"\0" * 32)
        totals[kind] = {"count": len(items), "checksum": checksum.hexdigest}
        if kind == drop_section:
            continue
        lines.append(dump_line(TableStart(kind=kind, name=f"forum-{kind}", keySchema=[])))
        lines += [json.dumps({"type": "item", "item": it}) + "\n" for it in items]
        lines.append(dump_line(TableEnd(kind=kind, count=len(items), checksum=checksum.hexdigest)))
    lines.append(dump_line(End(tables=end if end is not None else totals)))
    path.write_text("".join(lines))
    return path


def test_a_well_formed_crafted_backup_restores(tables: Any, tmp_path: Path) -> None:
    path = write_backup(tmp_path / "b.jsonl", {"users": [USER], "posts": POSTS})
    forumctl("tables", "create", "--table-prefix", "copy-")
    forumctl("restore", "--from", str(path), "--table-prefix", "copy-")
    assert len(scan_all(tables, "copy-Posts")) == 2


def user_with(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"sections": {"users": [{**USER, **attrs}]}}


RESTORE_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "section removed, end line kept": (
        {"sections": {"users": [USER], "posts": POSTS}, "drop_section": "posts"},
        "no section for",
    ),
    "end line counts disagree": (
        {
            "sections": {"users": [USER]},
            "end": {"users": {"count": 7, "checksum": "0" * 64}},
        },
        "end line",
    ),
    "one post id in two threads": (
        {"sections": {"posts": [*POSTS, {**POSTS[0], "threadId": {"N": "2"}}]}},
        "post 1 is in thread 1 and again in thread 2",
    ),
    "one item twice": ({"sections": {"users": [USER, USER]}}, "a second item"),
    "number that is no number": (
        user_with({"score": {"N": "abc"}}),
        "score",
    ),
    "number DynamoDB cannot hold": (
        user_with({"score": {"N": "1" * 42}}),
        "38 significant digits",
    ),
    "string that is a number": (user_with({"bio": {"S": 5}}), "bio"),
    "empty set": (user_with({"tags": {"SS": []}}), "tags"),
    "set with duplicates": (user_with({"tags": {"SS": ["a", "a"]}}), "tags"),
    "bad base64": (user_with({"pic": {"B": "!!"}}), "pic"),
    "map that is no map": (user_with({"prefs": {"M": 5}}), "prefs"),
    "NULL false": (user_with({"gone": {"NULL": False}}), "gone"),
    "two type tags": (user_with({"x": {"S": "a", "N": "1"}}), "x"),
    "key missing": ({"sections": {"users": [{"username": {"S": "a"}}]}}, "userId"),
    "key of the wrong type": ({"sections": {"users": [{"userId": {"S": "1"}}]}}, "userId"),
    "negative key (a guard)": ({"sections": {"users": [{"userId": {"N": "-5"}}]}}, "userId"),
    "guard item": (
        {"sections": {"users": [{"userId": {"N": "5"}, "forumdbGuard": {"S": "email"}}]}},
        "forumdbGuard",
    ),
    "index key of the wrong type": (user_with({"email": {"N": "5"}}), "EmailIndex"),
    "empty index key": (user_with({"email": {"S": ""}}), "EmailIndex"),
    "lone surrogate": (user_with({"bio": {"S": "\ud800"}}), "surrogate"),
    "item over 400 KB": (user_with({"bio": {"S": "x" * 500_000}}), "409,600"),
    "nested 40 levels": (
        user_with({"deep": json.loads('{"L": [' * 40 + "]}" * 40)}),
        "32 levels",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(RESTORE_CASES))
def test_restore_refuses_a_crafted_backup_and_writes_nothing(
    tables: Any, tmp_path: Path, case: str
) -> None:
    spec, named = RESTORE_CASES[case]
    path = tmp_path / "b.jsonl"
    write_backup(path, spec["sections"], end=spec.get("end"), drop_section=spec.get("drop_section"))
    forumctl("tables", "create", "--table-prefix", "copy-")
    doc = refused("restore", "--from", str(path), "--table-prefix", "copy-")
    assert named in doc["error"], doc["error"]
    assert str(path) in doc["error"]
    assert all(not v for v in snapshot(tables, "copy-").values())
    before = snapshot(tables)
    refused("restore", "--from", str(path), "--force")
    assert snapshot(tables) == before
