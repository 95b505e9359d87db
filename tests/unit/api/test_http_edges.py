"""Edges of the HTTP surface an audit found: `/api` without its slash, HTML from werkzeug's
own responses, the field a by-e-mail 404 names, and an empty `?cursor=`."""

from __future__ import annotations

import re

import pytest

from forumdb_services.api.errors import same_host_location

from .conftest import Forum

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@pytest.mark.parametrize("path", ["/api", "/api/"])
def test_api_root_with_and_without_its_slash(json_forum: Forum, path: str) -> None:
    for service in ("users", "threads", "posts"):
        response = json_forum.client(service).get(path)
        assert response.status_code == 200
        assert response.mimetype == "text/plain"
        assert response.get_data(as_text=True) == "API ready to receive requests"


def test_api_root_refuses_other_methods_in_json(json_forum: Forum) -> None:
    response = json_forum.users.post("/api")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def _paths(rule: str) -> list[str]:
    """A concrete path of a route, and the variants werkzeug may redirect or refuse."""
    path = re.sub(r"<[^>]+>", "1", rule)
    variants = [path, path.rstrip("/") + "/", path.replace("/", "//", 2)]
    if path != "/":
        variants.append(path.rstrip("/"))
    return variants


def test_no_route_answers_html(json_forum: Forum) -> None:
    for service, app in json_forum.apps.items():
        client = json_forum.client(service)
        rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint != "static"]
        for rule in [*rules, "/nope", "/api/nope/"]:
            for path in _paths(rule):
                for method in METHODS:
                    response = client.open(path, method=method)
                    where = f"{service}: {method} {path} -> {response.status_code}"
                    assert response.mimetype != "text/html", where
                    if response.status_code >= 300 and response.get_data():
                        assert response.mimetype == "application/json", where
                        assert response.get_json()["error"]["code"], where


def test_a_redirect_names_where_to_go_in_json(json_forum: Forum) -> None:
    response = json_forum.users.get("/api//users")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/api/users")
    error = response.get_json()["error"]
    assert error["code"] == "permanent_redirect"
    assert "/api/users" in error["message"]


def test_unknown_email_names_the_email_field(forum: Forum) -> None:
    response = forum.users.get("/api/users/by-email/nobody@x.y")
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["field"] == "email"
    assert "nobody@x.y" in error["message"]
    # An unknown id still names the id.
    assert forum.users.get("/api/users/424242").get_json()["error"]["field"] == "id"


def test_an_empty_cursor_is_the_first_page(forum: Forum) -> None:
    for name in ("finn", "jake", "bmo"):
        forum.user(name)
    first = forum.users.get("/api/users", query_string={"limit": 2})
    empty = forum.users.get("/api/users", query_string={"limit": 2, "cursor": ""})
    assert empty.status_code == 200, empty.get_data(as_text=True)
    assert empty.get_json() == first.get_json()
    assert empty.headers["X-Next-Cursor"] == first.headers["X-Next-Cursor"]
    thread = forum.thread(first.get_json()[0]["id"])
    for client, path in (
        (forum.threads, "/api/threads"),
        (forum.posts, f"/api/posts/in-thread/{thread['id']}"),
        (forum.posts, "/api/posts"),
    ):
        assert client.get(path, query_string={"cursor": ""}).status_code == 200, path


def test_a_malformed_cursor_is_still_refused(forum: Forum) -> None:
    for cursor in ("%%", "x", " "):
        response = forum.users.get("/api/users", query_string={"cursor": cursor})
        assert response.status_code == 400, cursor
        assert response.get_json()["error"]["field"] == "cursor"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8443", "[::1]:1"])
def test_a_redirect_stays_on_this_host_whatever_the_host_header(
    json_forum: Forum, host: str
) -> None:
    for path, target in [
        ("/api//users", "/api/users"),
        ("/api//users?limit=2", "/api/users?limit=2"),
    ]:
        response = json_forum.users.get(path, headers={"Host": host})
        assert response.status_code == 308
        assert response.headers["Location"] == target
        assert host not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("location", "relative"),
    [
        ("http://evil.example/api/users", "/api/users"),
        ("https://evil.example//evil.example/x?a=1", "/evil.example/x?a=1"),
        ("//evil.example/api/users", "/api/users"),
        ("/api/users?limit=2", "/api/users?limit=2"),
    ],
)
def test_same_host_location(location: str, relative: str) -> None:
    assert same_host_location(location) == relative
