"""The classic forum sample's routes and responses, on its own db.json files.

JSON mode serves the sample files as they are; DynamoDB mode serves the same records after a
migration (forumdb.legacy's normalisation, as `forumctl migrate` does). Either way every
record answers with the sample's fields and values unchanged, plus forumdb's own
(`createdAt`, `updatedAt`, `version`, and `id` for posts, which the sample leaves out).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forumdb.legacy import normalize_document
from forumdb_services.storage import open_store

from .conftest import SAMPLE_DATA, Forum, create_tables, dynamo_watcher, forum_of, json_watcher

ADDED = {"createdAt", "updatedAt", "version"}


def _sample(kind: str) -> list[dict]:
    return json.loads((SAMPLE_DATA / kind / "db.json").read_text())[kind]


USERS, THREADS, POSTS = _sample("users"), _sample("threads"), _sample("posts")


def _strip(record: dict, sample_fields: dict) -> dict:
    """The record with only the sample's fields, after checking what else it carries."""
    extra = set(record) - set(sample_fields)
    assert extra <= ADDED | {"id"}, extra
    return {k: record[k] for k in sample_fields}


@pytest.fixture
def sample_forum(mode: str, sample_dir: Path, request: pytest.FixtureRequest) -> Forum:
    if mode == "json":
        return forum_of(mode, lambda: json_watcher(sample_dir))
    request.getfixturevalue("mocked_aws")
    create_tables()
    store = open_store(dynamo_watcher().current())
    for kind in ("users", "threads", "posts"):
        doc = json.loads((sample_dir / kind / "db.json").read_text())
        for record in normalize_document(kind, doc):
            store.collection(kind).create(record)
    return forum_of(mode, dynamo_watcher)


def test_sample_files_are_served_unchanged_in_json_mode(sample_dir: Path) -> None:
    before = {p: p.read_bytes() for p in sample_dir.rglob("db.json")}
    forum = forum_of("json", lambda: json_watcher(sample_dir))
    assert forum.users.get("/api/users").status_code == 200
    assert forum.posts.get("/api/posts/in-thread/1").status_code == 200
    assert {p: p.read_bytes() for p in sample_dir.rglob("db.json")} == before


def test_get_users(sample_forum: Forum) -> None:
    response = sample_forum.users.get("/api/users")
    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body, list)
    if sample_forum.mode == "dynamodb":
        # A Scan returns items in hash order, not file order; the records are the same.
        body = sorted(body, key=lambda u: u["id"])
    assert [_strip(u, s) for u, s in zip(body, USERS, strict=True)] == USERS
    assert all(u["version"] == 1 for u in body)


def test_get_user(sample_forum: Forum) -> None:
    for user in USERS:
        response = sample_forum.users.get(f"/api/users/{user['id']}")
        assert response.status_code == 200
        assert _strip(response.get_json(), user) == user


def test_get_threads_newest_first(sample_forum: Forum) -> None:
    body = sample_forum.threads.get("/api/threads").get_json()
    # Sample records get timestamps in file order, so newest-first is the file reversed.
    assert [_strip(t, s) for t, s in zip(body, reversed(THREADS), strict=True)] == THREADS[::-1]


def test_get_thread(sample_forum: Forum) -> None:
    for thread in THREADS:
        response = sample_forum.threads.get(f"/api/threads/{thread['id']}")
        assert response.status_code == 200
        assert _strip(response.get_json(), thread) == thread


def test_posts_in_thread(sample_forum: Forum) -> None:
    for thread_id in (1, 2, 3):
        expected = [p for p in POSTS if p["thread"] == thread_id]
        body = sample_forum.posts.get(f"/api/posts/in-thread/{thread_id}").get_json()
        assert [_strip(p, s) for p, s in zip(body, expected, strict=True)] == expected
        # A post's id is its 1-based position in the sample file.
        assert [p["id"] for p in body] == [POSTS.index(s) + 1 for s in expected]


def test_posts_by_user_newest_first(sample_forum: Forum) -> None:
    for user_id in (1, 2, 3, 4):
        expected = [p for p in POSTS if p["user"] == user_id][::-1]
        body = sample_forum.posts.get(f"/api/posts/by-user/{user_id}").get_json()
        assert [_strip(p, s) for p, s in zip(body, expected, strict=True)] == expected


def test_sample_data_can_be_extended(sample_forum: Forum) -> None:
    made = sample_forum.post(thread=2, user=4, text="I'll bring snacks")
    in_thread = sample_forum.posts.get("/api/posts/in-thread/2").get_json()
    assert in_thread[-1] == made
    assert [p["text"] for p in in_thread[:3]] == [p["text"] for p in POSTS if p["thread"] == 2]
    assert sample_forum.posts.get(f"/api/posts/{made['id']}").get_json() == made
