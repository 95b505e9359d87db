"""The request guard: what it measures of a request head, and its refusals answered by the
app as the JSON error body (logged and counted like any other error)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from forumdb_services.api.app import create_app
from forumdb_services.api.guard import (
    RequestLimits,
    head_rejection,
    header_size,
    request_line_length,
)

from .conftest import Forum, json_watcher


def test_request_line_length_counts_method_target_and_version() -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/users",
        "QUERY_STRING": "limit=5",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    assert request_line_length(environ) == len("GET /api/users?limit=5 HTTP/1.1")
    del environ["QUERY_STRING"]
    assert request_line_length(environ) == len("GET /api/users HTTP/1.1")


def test_header_size_counts_fields_as_sent() -> None:
    environ = {
        "HTTP_HOST": "example.test",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": "2",
        "PATH_INFO": "/not-a-header",
        "wsgi.input": object(),
    }
    fields, size = header_size(environ)
    assert fields == 3
    sent = "HOST: example.test\r\nCONTENT_TYPE: application/json\r\nCONTENT_LENGTH: 2\r\n"
    assert size == len(sent)


@pytest.mark.parametrize(
    ("environ", "status"),
    [
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/" + "a" * 300}, 414),
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/", **{f"HTTP_X{i}": "1" for i in range(9)}}, 431),
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_X": "v" * 1100}, 431),
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_X": "v" * 900}, None),
    ],
)
def test_head_rejection_at_the_limits(environ: dict, status: int | None) -> None:
    limits = RequestLimits(max_request_line=256, max_header_bytes=1024, max_headers=8)
    rejection = head_rejection(environ, limits)
    assert (rejection.error.code if rejection else None) == status


@pytest.mark.parametrize(
    ("kwargs", "status", "code", "limit"),
    [
        ({"path": "/api/users?q=" + "a" * 9000}, 414, "uri_too_long", "8190"),
        (
            {"path": "/api/users", "headers": {f"X-F{i}": "1" for i in range(70)}},
            431,
            "header_fields_too_large",
            "64",
        ),
        (
            {"path": "/api/users", "headers": {"X-Big": "v" * 40_000}},
            431,
            "header_fields_too_large",
            "32768",
        ),
    ],
)
def test_refusals_are_json_errors_logged_and_counted(
    json_forum: Forum,
    caplog: pytest.LogCaptureFixture,
    kwargs: dict,
    status: int,
    code: str,
    limit: str,
) -> None:
    with caplog.at_level(logging.INFO, logger="forumdb.api.access"):
        response = json_forum.users.get(**kwargs)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    assert limit in error["message"]
    assert response.headers["X-Request-Id"]
    (line,) = [r for r in caplog.records if r.name == "forumdb.api.access"]
    assert line.status == status
    metrics = json_forum.users.get("/metrics").get_data(as_text=True)
    assert f'status="{status}"' in metrics


def test_limits_are_the_apps_own(tmp_path: Path) -> None:
    app = create_app(
        "users", json_watcher(tmp_path / "data"), limits=RequestLimits(max_request_line=300)
    )
    client = app.test_client()
    assert client.get("/api/users?q=" + "a" * 200).status_code == 200
    assert client.get("/api/users?q=" + "a" * 400).status_code == 414
