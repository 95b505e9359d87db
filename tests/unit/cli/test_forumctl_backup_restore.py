"""backup -> restore keeps every DynamoDB type exactly; damaged backups are refused before
anything is written; non-empty targets need --force."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_DIR, forumctl, scan_all

from forumctl.codec import item_digest
from forumctl.errors import ExitCode

ODD_USER = {
    "userId": {"N": "99"},
    "email": {"S": "odd@example.org"},
    "avatar": {"B": b"\x89PNG\x00\xff"},
    "tags": {"SS": ["a", "b"]},
    "scores": {"NS": ["1", "2.5", "-0.125"]},
    "keys": {"BS": [b"\x00", b"\x01\x02"]},
    "prefs": {"M": {"dark": {"BOOL": True}, "nothing": {"NULL": True}, "n": {"N": "1e3"}}},
    "history": {"L": [{"S": "x"}, {"N": "12345678901234567890123"}, {"L": []}]},
}


def canonical(items: list[dict[str, Any]]) -> list[bytes]:
    return sorted(item_digest(it) for it in items)


@pytest.fixture
def loaded(dynamodb: Any) -> Any:
    forumctl("tables", "create")
    forumctl("migrate", "--from", str(SAMPLE_DIR))
    dynamodb.put_item(TableName="forum-Users", Item=ODD_USER)
    return dynamodb


@pytest.mark.parametrize("name", ["backup.jsonl", "backup.jsonl.gz"])
def test_backup_then_restore_into_fresh_tables_is_identical(
    loaded: Any, tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    made = forumctl("backup", "--out", str(out), "-o", "json").json
    assert [t["items"] for t in made["tables"]] == [5, 3, 6]
    forumctl("tables", "create", "--table-prefix", "copy-")
    restored = forumctl("restore", "--from", str(out), "--table-prefix", "copy-", "-o", "json").json
    assert restored["ok"] is True
    assert [t["written"] for t in restored["tables"]] == [5, 3, 6]
    for logical in ("Users", "Threads", "Posts"):
        original = scan_all(loaded, f"forum-{logical}")
        copy = scan_all(loaded, f"copy-{logical}")
        assert canonical(copy) == canonical(original), logical
    odd = loaded.get_item(TableName="copy-Users", Key={"userId": {"N": "99"}})["Item"]
    assert odd["avatar"] == {"B": b"\x89PNG\x00\xff"}
    assert sorted(odd["keys"]["BS"]) == [b"\x00", b"\x01\x02"]
    assert odd["history"]["L"][1] == {"N": "12345678901234567890123"}


def test_backup_file_is_the_documented_format(loaded: Any, tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    forumctl("backup", "--out", str(out), "--only", "users")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["type"] == "header"
    assert (lines[0]["format"], lines[0]["version"]) == ("forumdb-backup", 1)
    assert lines[1] == {
        "type": "table",
        "kind": "users",
        "name": "forum-Users",
        "keySchema": [{"AttributeName": "userId", "KeyType": "HASH"}],
    }
    items = [line["item"] for line in lines if line["type"] == "item"]
    assert len(items) == 5
    odd = next(it for it in items if it["userId"] == {"N": "99"})
    assert odd["avatar"] == {"B": "iVBORwD/"}
    assert lines[-2]["type"] == "table-end"
    assert lines[-2]["count"] == 5
    assert len(lines[-2]["checksum"]) == 64
    assert lines[-1] == {
        "type": "end",
        "tables": {"users": {"count": 5, "checksum": lines[-2]["checksum"]}},
    }


def _tamper(path: Path, how: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    if how == "truncated":
        lines = lines[:-1]
    elif how == "changed-item":
        i = next(i for i, line in enumerate(lines) if '"userId":{"N":"1"}' in line)
        lines[i] = lines[i].replace('"N":"1"', '"N":"7"', 1)
    elif how == "not-json":
        lines[3] = "{oops\n"
    elif how == "version":
        lines[0] = lines[0].replace('"version":1', '"version":2')
    path.write_text("".join(lines))


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("truncated", "truncated"),
        ("changed-item", "damaged"),
        ("not-json", "not JSON"),
        ("version", "format version 2"),
    ],
)
def test_a_damaged_backup_is_refused_before_writing(
    loaded: Any, tmp_path: Path, how: str, message: str
) -> None:
    out = tmp_path / "b.jsonl"
    forumctl("backup", "--out", str(out))
    _tamper(out, how)
    forumctl("tables", "create", "--table-prefix", "copy-")
    run = forumctl("restore", "--from", str(out), "--table-prefix", "copy-", expect=ExitCode.DATA)
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    for logical in ("Users", "Threads", "Posts"):
        assert scan_all(loaded, f"copy-{logical}") == []


def test_restore_refuses_non_empty_tables_unless_forced(loaded: Any, tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl.gz"
    forumctl("backup", "--out", str(out))
    with gzip.open(out) as fh:
        assert fh.readline().startswith(b'{"type":"header"')
    run = forumctl("restore", "--from", str(out), expect=ExitCode.AWS)
    assert "forum-Users" in run.stderr
    assert "not empty" in run.stderr
    assert "--force" in run.stderr
    loaded.delete_item(TableName="forum-Users", Key={"userId": {"N": "99"}})
    forced = forumctl("restore", "--from", str(out), "--force", "-o", "json").json
    assert [t["written"] for t in forced["tables"]] == [1, 0, 0]
    assert forced["ok"] is True


def test_dry_runs_write_nothing(loaded: Any, tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    dry = forumctl("backup", "--out", str(out), "--dry-run", "-o", "json").json
    assert dry["dryRun"] is True
    assert not out.exists()
    forumctl("backup", "--out", str(out))
    forumctl("tables", "create", "--table-prefix", "copy-")
    plan = forumctl(
        "restore", "--from", str(out), "--table-prefix", "copy-", "--dry-run", "-o", "json"
    ).json
    assert [t["wouldWrite"] for t in plan["tables"]] == [5, 3, 6]
    assert scan_all(loaded, "copy-Users") == []


def test_backup_onto_an_existing_file_is_a_usage_problem(loaded: Any, tmp_path: Path) -> None:
    # The file is not bad data (exit 4): the request needs --force or another --out (exit 2).
    out = tmp_path / "b.jsonl"
    out.write_text("precious")
    run = forumctl("backup", "--out", str(out), expect=ExitCode.USAGE)
    assert f"--out {out} exists" in run.stderr
    assert "--force" in run.stderr
    assert out.read_text() == "precious"
    doc = forumctl("backup", "--out", str(out), "-o", "json", expect=ExitCode.USAGE).json
    assert doc["exitCode"] == ExitCode.USAGE
    forumctl("backup", "--out", str(out), "--force")
    assert json.loads(out.read_text().splitlines()[0])["type"] == "header"  # replaced
