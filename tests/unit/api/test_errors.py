"""Every error path: a JSON body `{"error": {"code", "message", "field"}}` naming what is
wrong, with the right status; never a 500 for bad input.

Errors found before the store is touched (malformed bodies, ids, headers, limits, content
types, schema validation) are checked in JSON mode only; those that involve the store
(unknown ids and references, cursors, conflicts, failures) in both modes."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from forumdb.config import SettingsWatcher
from forumdb.ids import MAX_ID
from forumdb_services.api.app import create_app
from forumdb_services.api.runtime import EXTENSION_KEY, StoreRuntime
from forumdb_services.storage import Health, StoreUnavailable
from forumdb_services.storage.base import encode_cursor

from .conftest import Forum
from .stubs import StubStore


def assert_error(response, status: int, code: str, field: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert isinstance(error["message"], str)
    assert error["message"]
    if field and field not in {"body", "id"}:
        assert field in error["message"]
    return error


# --- 400: malformed requests -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{bad", "not valid JSON"),
        (b"", "empty"),
        (b"   ", "empty"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b'{"username": NaN}', "not valid JSON"),
        (b'{"username": Infinity}', "not valid JSON"),
        (b'{"id": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b"\xff\xfe\xfa", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "body"),
    ],
)
def test_malformed_json_body(json_forum: Forum, raw: bytes, fragment: str) -> None:
    response = json_forum.users.post("/api/users", data=raw, content_type="application/json")
    if len(raw) > 64 * 1024:
        assert_error(response, 413, "payload_too_large", "body")
        return
    error = assert_error(response, 400, "bad_request", "body")
    assert fragment in error["message"]


def test_deeply_nested_json_within_size_limit(json_forum: Forum) -> None:
    raw = b'{"username": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    response = json_forum.users.post("/api/users", data=raw, content_type="application/json")
    assert response.status_code in (400, 422)
    assert "error" in response.get_json()


@pytest.mark.parametrize("raw_id", ["abc", "0", "-1", "1.5", "1e3", str(MAX_ID + 1), "9" * 40, "٣"])
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_bad_ids_in_path(json_forum: Forum, raw_id: str, method: str) -> None:
    response = getattr(json_forum.users, method)(f"/api/users/{raw_id}", json={"username": "x"})
    error = assert_error(response, 400, "bad_request", "id")
    assert "integer" in error["message"]


def test_bad_reference_ids_in_path(json_forum: Forum) -> None:
    assert_error(json_forum.posts.get("/api/posts/in-thread/x"), 400, "bad_request", "threadId")
    assert_error(json_forum.posts.get("/api/posts/by-user/0"), 400, "bad_request", "userId")


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "abc", "1.5", "", "9999999999"])
def test_bad_limit(json_forum: Forum, limit: str) -> None:
    error = assert_error(
        json_forum.users.get("/api/users", query_string={"limit": limit}),
        400,
        "bad_request",
        "limit",
    )
    assert "1 to 1000" in error["message"]


@pytest.mark.parametrize("limit", ["1", "1000"])
def test_limit_bounds_accepted(json_forum: Forum, limit: str) -> None:
    assert json_forum.users.get("/api/users", query_string={"limit": limit}).status_code == 200


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        "x" * 5000,
        "eyJmb28iOiAxfQ",  # base64 of {"foo": 1}: decodes, but is no cursor of ours
        "AAAA",
        encode_cursor("some-other-list", {"id": 1}),
    ],
)
def test_bad_cursor(forum: Forum, cursor: str) -> None:
    forum.user("finn")
    response = forum.users.get("/api/users", query_string={"cursor": cursor})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "cursor"


def test_cursor_of_another_list_is_rejected(forum: Forum) -> None:
    for i in range(3):
        forum.user(f"u{i}")
    cursor = forum.users.get("/api/users?limit=1").headers["X-Next-Cursor"]
    jake = forum.user("jake")
    for i in range(2):
        forum.thread(jake["id"], f"t{i}")
    response = forum.threads.get("/api/threads", query_string={"cursor": cursor})
    assert_error(response, 400, "invalid_cursor", "cursor")


@pytest.mark.parametrize("header", ['"abc"', '"1", "2"', '"0"', "W/", f'"{MAX_ID + 1}"'])
def test_bad_if_match(json_forum: Forum, header: str) -> None:
    user = json_forum.user("finn")
    response = json_forum.users.patch(
        f"/api/users/{user['id']}", json={"bio": "x"}, headers={"If-Match": header}
    )
    assert_error(response, 400, "bad_request", "If-Match")


def test_if_match_and_body_version_must_agree(forum: Forum) -> None:
    user = forum.user("finn")
    response = forum.users.patch(
        f"/api/users/{user['id']}", json={"bio": "x", "version": 1}, headers={"If-Match": '"2"'}
    )
    assert_error(response, 400, "bad_request", "version")


@pytest.mark.parametrize("email", ["nope", "x" * 300 + "@a.io"])
def test_bad_email_lookup(json_forum: Forum, email: str) -> None:
    assert_error(json_forum.users.get(f"/api/users/by-email/{email}"), 400, "bad_request", "email")
    response = json_forum.users.get("/api/users", query_string={"email": email})
    assert_error(response, 400, "bad_request", "email")


# --- 404 / 405 ---------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["users", "threads", "posts"])
def test_unknown_ids(forum: Forum, service: str) -> None:
    client = forum.client(service)
    url = f"/api/{service}/424242"
    bodies = {"users": {"username": "x"}, "threads": {"title": "x"}, "posts": {"text": "x"}}
    for response in (
        client.get(url),
        client.put(url, json=bodies[service]),
        client.patch(url, json=bodies[service]),
        client.delete(url),
    ):
        error = assert_error(response, 404, "not_found", "id")
        assert "424242" in error["message"]


def test_unknown_route(json_forum: Forum) -> None:
    error = assert_error(json_forum.users.get("/api/nothing/here"), 404, "not_found", None)
    assert "/api/nothing/here" in error["message"]


@pytest.mark.parametrize(
    ("service", "method", "url", "allowed"),
    [
        ("users", "delete", "/api/users", {"GET", "POST"}),
        ("users", "post", "/api/users/1", {"GET", "PUT", "PATCH", "DELETE"}),
        ("threads", "put", "/api/threads", {"GET", "POST"}),
        ("posts", "post", "/api/posts/in-thread/1", {"GET"}),
        ("posts", "delete", "/healthz", {"GET"}),
    ],
)
def test_method_not_allowed(
    json_forum: Forum, service: str, method: str, url: str, allowed: set[str]
) -> None:
    response = getattr(json_forum.client(service), method)(url)
    error = assert_error(response, 405, "method_not_allowed", None)
    assert method.upper() in error["message"]
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


# --- 413 / 415 ---------------------------------------------------------------------------


def test_body_too_large(json_forum: Forum) -> None:
    raw = '{"username": "' + "x" * (70 * 1024) + '"}'
    response = json_forum.users.post("/api/users", data=raw, content_type="application/json")
    error = assert_error(response, 413, "payload_too_large", "body")
    assert "65536" in error["message"]


def test_body_limit_comes_from_settings(tmp_path) -> None:
    watcher = SettingsWatcher(STORAGE_MODE="json", DATA_DIR=str(tmp_path), MAX_REQUEST_BYTES=2048)
    client = create_app("users", watcher).test_client()
    response = client.post("/api/users", json={"username": "u", "bio": "b" * 3000})
    assert_error(response, 413, "payload_too_large", "body")
    assert client.post("/api/users", json={"username": "u", "bio": "b" * 1000}).status_code == 201


def test_chunked_body_too_large(json_forum: Forum) -> None:
    from io import BytesIO

    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    raw = ('{"username": "' + "x" * (70 * 1024) + '"}').encode()
    environ = EnvironBuilder(
        path="/api/users",
        method="POST",
        input_stream=BytesIO(raw),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
    ).get_environ()
    # A WSGI server that passes a chunked body through: no Content-Length (werkzeug's test
    # client adds one, and both together are refused as ambiguous), the body read to its end.
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    response = json_forum.users.open(Request(environ))  # a dict would get a length again
    assert_error(response, 413, "payload_too_large", "body")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
def test_wrong_content_type(json_forum: Forum, content_type: str | None) -> None:
    kwargs: dict[str, Any] = {"data": '{"username": "x"}'}
    if content_type:
        kwargs["content_type"] = content_type
    error = assert_error(
        json_forum.users.post("/api/users", **kwargs), 415, "unsupported_media_type", "Content-Type"
    )
    assert "application/json" in error["message"]


def test_json_suffix_content_types_accepted(json_forum: Forum) -> None:
    user = json_forum.user("finn")
    response = json_forum.users.patch(
        f"/api/users/{user['id']}",
        data='{"bio": "x"}',
        content_type="application/merge-patch+json; charset=utf-8",
    )
    assert response.status_code == 200


# --- 422: bodies that parse but do not validate ------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "username"),
        ({"username": 7}, "username"),
        ({"username": True}, "username"),
        ({"username": None}, "username"),
        ({"username": ["a"]}, "username"),
        ({"username": ""}, "username"),
        ({"username": "   "}, "username"),
        ({"username": "x" * 65}, "username"),
        ({"username": "ok", "bio": "b" * 2001}, "bio"),
        ({"username": "ok", "name": {"first": "x"}}, "name"),
        ({"username": "ok", "email": "not-an-email"}, "email"),
        ({"username": "ok", "email": "a@b.c" + "c" * 260}, "email"),
        ({"username": "ok", "id": 0}, "id"),
        ({"username": "ok", "id": -5}, "id"),
        ({"username": "ok", "id": "5"}, "id"),
        ({"username": "ok", "id": 5.0}, "id"),
        ({"username": "ok", "id": MAX_ID + 1}, "id"),
        ({"username": "ok", "nickname": "x"}, "nickname"),
        ({"username": "ok", "createdAt": "2020-01-01"}, "createdAt"),
        ({"username": "ok", "version": 3}, "version"),
    ],
)
def test_user_create_validation(json_forum: Forum, body: dict[str, Any], field: str) -> None:
    error = assert_error(
        json_forum.users.post("/api/users", json=body), 422, "validation_error", field
    )
    assert any(d["field"] == field for d in error["details"])


def test_all_bad_fields_are_named(json_forum: Forum) -> None:
    response = json_forum.users.post("/api/users", json={"username": 1, "bio": 2, "extra": 3})
    error = assert_error(response, 422, "validation_error", "username")
    assert {d["field"] for d in error["details"]} == {"username", "bio", "extra"}
    assert "unknown or read-only" in error["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"createdBy": 1}, "title"),
        ({"title": "t"}, "createdBy"),
        ({"title": "t" * 301, "createdBy": 1}, "title"),
        ({"title": "t", "createdBy": "1"}, "createdBy"),
        ({"title": "t", "createdBy": True}, "createdBy"),
    ],
)
def test_thread_create_validation(json_forum: Forum, body: dict[str, Any], field: str) -> None:
    assert_error(json_forum.threads.post("/api/threads", json=body), 422, "validation_error", field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": 1, "text": "x"}, "thread"),
        ({"thread": 1, "text": "x"}, "user"),
        ({"thread": 1, "user": 1}, "text"),
        ({"thread": 1, "user": 1, "text": "x" * 10_001}, "text"),
        ({"thread": [1], "user": 1, "text": "x"}, "thread"),
    ],
)
def test_post_create_validation(json_forum: Forum, body: dict[str, Any], field: str) -> None:
    assert_error(json_forum.posts.post("/api/posts", json=body), 422, "validation_error", field)


def test_references_must_exist(forum: Forum) -> None:
    error = assert_error(
        forum.threads.post("/api/threads", json={"title": "t", "createdBy": 777}),
        422,
        "unknown_reference",
        "createdBy",
    )
    assert "users 777" in error["message"]
    jake = forum.user("jake")
    thread = forum.thread(jake["id"])
    assert_error(
        forum.posts.post("/api/posts", json={"thread": 888, "user": jake["id"], "text": "x"}),
        422,
        "unknown_reference",
        "thread",
    )
    assert_error(
        forum.posts.post("/api/posts", json={"thread": thread["id"], "user": 999, "text": "x"}),
        422,
        "unknown_reference",
        "user",
    )


def test_update_validation(forum: Forum) -> None:
    jake = forum.user("jake")
    thread = forum.thread(jake["id"])
    post = forum.post(thread["id"], jake["id"])
    users_url, threads_url = f"/api/users/{jake['id']}", f"/api/threads/{thread['id']}"
    posts_url = f"/api/posts/{post['id']}"
    cases = [
        (forum.users.patch(users_url, json={"username": None}), "username"),
        (forum.users.patch(users_url, json={}), "body"),
        (forum.users.patch(users_url, json={"version": 0, "bio": "x"}), "version"),
        (forum.users.put(users_url, json={"bio": "x"}), "username"),
        (forum.threads.put(threads_url, json={"title": None}), "title"),
        (forum.posts.patch(posts_url, json={"text": None}), "text"),
        (forum.posts.put(posts_url, json={"text": ""}), "text"),
    ]
    for response, field in cases:
        assert_error(response, 422, "validation_error", field)
    # Read-only fields with another value than the record's (test_read_only_fields.py).
    read_only = [
        (forum.users.patch(users_url, json={"id": jake["id"] + 1}), "id"),
        (forum.threads.patch(threads_url, json={"createdBy": jake["id"] + 1}), "createdBy"),
        (forum.posts.patch(posts_url, json={"thread": thread["id"] + 1}), "thread"),
    ]
    for response, field in read_only:
        assert_error(response, 400, "read_only_field", field)
    # Nothing was changed by any of them.
    assert forum.users.get(users_url).get_json()["version"] == 1
    assert forum.posts.get(posts_url).get_json() == post


def test_delete_body_is_validated(forum: Forum) -> None:
    user = forum.user("finn")
    url = f"/api/users/{user['id']}"
    assert_error(forum.users.delete(url, json={"version": "1"}), 422, "validation_error", "version")
    assert_error(forum.users.delete(url, json={"force": True}), 422, "validation_error", "force")
    assert_error(
        forum.users.delete(url, data="{", content_type="application/json"),
        400,
        "bad_request",
        "body",
    )
    assert forum.users.get(url).status_code == 200


# --- 503 and 500 -------------------------------------------------------------------------


def test_store_unavailable_is_503() -> None:
    store = StubStore(error=StoreUnavailable("table forum-Users in eu-west-1: connection refused"))
    client = create_app("users", SettingsWatcher(), store).test_client()
    response = client.get("/api/users/1")
    error = assert_error(response, 503, "store_unavailable", None)
    # The cause is in the log only (test_error_privacy.py); the client gets the request id.
    assert "forum-Users" not in error["message"]
    assert error["requestId"] == response.headers["X-Request-Id"]
    assert response.headers["Retry-After"] == "1"


def test_store_that_cannot_open_is_503() -> None:
    def broken_opener(_settings):
        raise OSError("permission denied: /data")

    app = create_app("users", SettingsWatcher())
    app.extensions[EXTENSION_KEY] = StoreRuntime(SettingsWatcher(), opener=broken_opener)
    client = app.test_client()
    error = assert_error(client.get("/api/users"), 503, "store_unavailable", None)
    assert "permission denied" not in error["message"]
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["status"] == "unavailable"


def test_unhealthy_store_fails_readiness() -> None:
    store = StubStore(health=Health(False, "data folder /data is not writable"))
    client = create_app("users", SettingsWatcher(), store).test_client()
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["users"]["ok"] is False
    assert "/data" not in body["checks"]["users"]["detail"]  # in the log only


def test_a_bug_is_a_json_500_with_the_traceback_logged(caplog: pytest.LogCaptureFixture) -> None:
    store = StubStore(error=ZeroDivisionError("a real bug"))
    client = create_app("users", SettingsWatcher(), store).test_client()
    with caplog.at_level(logging.ERROR, logger="forumdb.api"):
        response = client.get("/api/users/1")
    error = assert_error(response, 500, "internal_error", None)
    assert "a real bug" not in error["message"]  # internals stay in the log
    logged = [r for r in caplog.records if r.exc_info]
    assert logged
    assert "a real bug" in caplog.text
