"""migrate refuses a source file in which two records share an id (exit 4, before writing):
a reader keyed by id would keep one and drop the other without a word."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_DIR, forumctl, scan_all

from forumctl import sources
from forumctl.errors import ExitCode
from forumdb.legacy import duplicate_ids


def data_dir(tmp_path: Path, **overrides: list[dict[str, Any]]) -> Path:
    src = tmp_path / "data"
    for kind in ("users", "threads", "posts"):
        (src / kind).mkdir(parents=True)
        if kind in overrides:
            text = json.dumps({kind: overrides[kind]})
        else:
            text = (SAMPLE_DIR / kind / "db.json").read_text()
        (src / kind / "db.json").write_text(text)
    return src


@pytest.mark.parametrize("through_store", [True, False])
def test_two_users_with_one_id_are_refused_before_writing(
    dynamodb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, through_store: bool
) -> None:
    if not through_store:
        monkeypatch.setattr(sources, "_jsonstore_available", lambda: False)
    forumctl("tables", "create")
    users = [
        {"id": 1, "username": "a", "name": "A", "bio": ""},
        {"id": 2, "username": "b", "name": "B", "bio": ""},
        {"id": 1, "username": "c", "name": "C", "bio": ""},
    ]
    src = data_dir(tmp_path, users=users)
    run = forumctl("migrate", "--from", str(src), expect=ExitCode.DATA)
    assert str(src / "users" / "db.json") in run.stderr
    assert "id 1 at users[0], users[2]" in run.stderr
    for name in ("forum-Users", "forum-Threads", "forum-Posts"):
        assert scan_all(dynamodb, name) == []


def test_a_post_id_that_clashes_with_a_position_is_refused(dynamodb: Any, tmp_path: Path) -> None:
    forumctl("tables", "create")
    # the second post has no id: it takes its position, 2, which the first one claims
    posts = [{"id": 2, "thread": 1, "text": "x", "user": 1}, {"thread": 1, "text": "y", "user": 1}]
    src = data_dir(tmp_path, posts=posts)
    run = forumctl("migrate", "--from", str(src), "-o", "json", expect=ExitCode.DATA)
    assert "id 2 at posts[0], posts[1]" in run.json["error"]
    assert scan_all(dynamodb, "forum-Users") == []  # users come first and are not written


def test_duplicate_ids_lists_every_position() -> None:
    doc = {"threads": [{"id": 3}, {"id": "3"}, {"id": 4}, {"id": 3.0}]}
    assert duplicate_ids("threads", doc) == {3: [0, 1, 3]}
    assert duplicate_ids("threads", {"threads": [{"id": 1}, {"id": 2}]}) == {}
