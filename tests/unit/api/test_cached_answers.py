"""GET answers kept per state of the collection (`answers.py`): never stale after a write,
whichever worker made it; list pages carry an ETag that If-None-Match turns into a 304."""

from __future__ import annotations

import re
from pathlib import Path

from forumdb.tables import KINDS
from forumdb_services.api.app import create_app
from forumdb_services.storage import open_store

from .conftest import Forum, json_watcher


def _worker(data_dir: Path) -> Forum:
    """One worker's apps: a store of its own over the shared DATA_DIR."""
    store = open_store(json_watcher(data_dir).current())
    return Forum("json", {kind: create_app(kind, json_watcher(data_dir), store) for kind in KINDS})


def test_a_write_by_another_worker_changes_the_answers(tmp_path: Path) -> None:
    first, second = _worker(tmp_path / "data"), _worker(tmp_path / "data")
    user = first.user("finn", bio="a")
    url = f"/api/users/{user['id']}"
    assert first.users.get(url).get_json()["bio"] == "a"
    listed = first.users.get("/api/users")
    assert [u["bio"] for u in listed.get_json()] == ["a"]

    assert second.users.patch(url, json={"bio": "b"}).status_code == 200

    record = first.users.get(url)
    assert record.get_json()["bio"] == "b"
    assert record.headers["ETag"] == '"2"'
    relisted = first.users.get("/api/users")
    assert [u["bio"] for u in relisted.get_json()] == ["b"]
    assert relisted.headers["ETag"] != listed.headers["ETag"]


def test_a_delete_by_another_worker_is_a_404_at_once(tmp_path: Path) -> None:
    first, second = _worker(tmp_path / "data"), _worker(tmp_path / "data")
    user = first.user("finn")
    url = f"/api/users/{user['id']}"
    assert first.users.get(url).status_code == 200
    assert second.users.delete(url).status_code == 204
    gone = first.users.get(url)
    assert gone.status_code == 404
    assert gone.get_json()["error"]["code"] == "not_found"


def test_list_etag_round_trip(forum: Forum) -> None:
    forum.user("finn")
    first = forum.users.get("/api/users")
    etag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]+"', etag)
    again = forum.users.get("/api/users", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    assert again.get_data() == b""
    assert forum.users.get("/api/users", headers={"If-None-Match": "W/" + etag}).status_code == 304

    forum.user("jake")
    changed = forum.users.get("/api/users", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert sorted(u["username"] for u in changed.get_json()) == ["finn", "jake"]


def test_pages_keep_their_links_and_their_own_etags(forum: Forum) -> None:
    for name in ("finn", "jake", "bmo"):
        forum.user(name)
    first = forum.users.get("/api/users?limit=2&x=1")
    cursor = first.headers["X-Next-Cursor"]
    assert first.headers["Link"] == f'</api/users?limit=2&x=1&cursor={cursor}>; rel="next"'
    # The same page asked with other parameters: its Link follows them, from the kept body.
    other = forum.users.get("/api/users?limit=2&y=2")
    assert other.get_data() == first.get_data()
    assert other.headers["Link"] == f'</api/users?limit=2&y=2&cursor={cursor}>; rel="next"'
    second = forum.users.get(f"/api/users?limit=2&cursor={cursor}")
    assert second.headers["ETag"] != first.headers["ETag"]
    assert "Link" not in second.headers


def test_a_cached_record_is_the_bytes_jsonify_writes(json_forum: Forum) -> None:
    user = json_forum.user("finn")
    url = f"/api/users/{user['id']}"
    cold, warm = json_forum.users.get(url), json_forum.users.get(url)
    assert cold.get_data() == warm.get_data() == json_forum.apps["users"].json.encode(user) + b"\n"
    assert warm.headers["Content-Type"] == "application/json"
    assert warm.headers["Content-Length"] == str(len(warm.get_data()))
