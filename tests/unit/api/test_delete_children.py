"""Deleting a user or a thread that threads or posts still name is a 409 `has_children`
naming them, in both storage modes: a delete never leaves records that point at nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from forumdb_services.api import resources
from forumdb_services.api.app import create_app

from .conftest import Forum, json_watcher


def _error(response) -> dict:
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "has_children"
    return error


def test_a_thread_with_posts_is_not_deleted(forum: Forum) -> None:
    user = forum.user()
    thread = forum.thread(user["id"])
    post = forum.post(thread["id"], user["id"])
    url = f"/api/threads/{thread['id']}"
    error = _error(forum.threads.delete(url))
    assert f"threads {thread['id']} still has posts" in error["message"]
    assert error["details"][0]["kind"] == "posts"
    assert error["details"][0]["ids"] == [post["id"]]
    assert forum.threads.get(url).status_code == 200
    # Once its posts are gone, it goes.
    assert forum.posts.delete(f"/api/posts/{post['id']}").status_code == 204
    assert forum.threads.delete(url).status_code == 204
    assert forum.threads.get(url).status_code == 404


def test_a_user_with_threads_or_posts_is_not_deleted(forum: Forum) -> None:
    author, other = forum.user("finn"), forum.user("jake")
    thread = forum.thread(author["id"])
    post = forum.post(thread["id"], other["id"])
    author_url, other_url = f"/api/users/{author['id']}", f"/api/users/{other['id']}"

    error = _error(forum.users.delete(author_url))
    assert [(d["kind"], d["ids"]) for d in error["details"]] == [("threads", [thread["id"]])]
    error = _error(forum.users.delete(other_url))
    assert [(d["kind"], d["ids"]) for d in error["details"]] == [("posts", [post["id"]])]
    assert forum.users.get(author_url).status_code == 200
    assert forum.users.get(other_url).status_code == 200

    assert forum.posts.delete(f"/api/posts/{post['id']}").status_code == 204
    assert forum.users.delete(other_url).status_code == 204
    assert forum.threads.delete(f"/api/threads/{thread['id']}").status_code == 204
    assert forum.users.delete(author_url).status_code == 204


def test_the_threads_of_a_user_are_found_past_the_first_page(
    forum: Forum, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Threads has no index by author: the check reads them page by page.
    monkeypatch.setattr(resources, "SCAN_PAGE_SIZE", 1)
    author, other = forum.user("finn"), forum.user("jake")
    for i in range(3):
        forum.thread(other["id"], title=f"t{i}")
    mine = forum.thread(author["id"])
    error = _error(forum.users.delete(f"/api/users/{author['id']}"))
    assert error["details"][0]["ids"] == [mine["id"]]


def test_without_reference_checks_the_delete_is_not_checked(tmp_path: Path) -> None:
    # The chart's JSON mode: each service holds only its own folder and cannot see children.
    app = create_app("threads", json_watcher(tmp_path, CHECK_REFERENCES="false"))
    client = app.test_client()
    made = client.post("/api/threads", json={"title": "t", "createdBy": 1}).get_json()
    assert client.delete(f"/api/threads/{made['id']}").status_code == 204


def test_a_missing_parent_is_404_even_with_orphans(tmp_path: Path) -> None:
    # Posts of a thread that is not there (written without reference checks, or by a tool).
    unchecked = create_app("posts", json_watcher(tmp_path, CHECK_REFERENCES="false"))
    orphan = {"thread": 4242, "user": 1, "text": "left over"}
    assert unchecked.test_client().post("/api/posts", json=orphan).status_code == 201
    threads = create_app("threads", json_watcher(tmp_path)).test_client()
    response = threads.delete("/api/threads/4242")
    assert response.status_code == 404, response.get_json()
