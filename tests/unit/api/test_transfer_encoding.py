"""Transfer-Encoding as RFC 9112 has it: coding names are case-insensitive (a DELETE whose
chunked body holds a `version` is conditional whatever the case of "chunked"), and a request
with both Content-Length and Transfer-Encoding is refused (6.1: "ought to be handled as an
error"; two parties could frame it differently)."""

from __future__ import annotations

import json
from io import BytesIO

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from .conftest import Forum


def chunked_environ(method: str, path: str, body: bytes, headers: dict[str, str]) -> Request:
    """A request as a WSGI server that passes a chunked body through hands it over: no
    CONTENT_LENGTH, the body read to its end (werkzeug's test client always adds one)."""
    environ = EnvironBuilder(
        path=path,
        method=method,
        input_stream=BytesIO(body),
        content_type="application/json",
        headers=headers,
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    return Request(environ)  # as it is: an environ dict would be rebuilt with a length


@pytest.mark.parametrize("coding", ["chunked", "Chunked", "CHUNKED", "gzip, chunked"])
def test_a_chunked_delete_body_version_is_honoured_in_any_case(forum: Forum, coding: str) -> None:
    user = forum.user()
    body = json.dumps({"version": user["version"] + 5}).encode()
    response = forum.users.open(
        chunked_environ("DELETE", f"/api/users/{user['id']}", body, {"Transfer-Encoding": coding})
    )
    assert response.status_code == 409, response.get_data(as_text=True)
    assert forum.users.get(f"/api/users/{user['id']}").status_code == 200


@pytest.mark.parametrize("method", ["post", "delete"])
def test_content_length_with_transfer_encoding_is_refused(forum: Forum, method: str) -> None:
    user = forum.user()
    path = "/api/users" if method == "post" else f"/api/users/{user['id']}"
    body = json.dumps({"username": "x"} if method == "post" else {"version": 1}).encode()
    response = getattr(forum.users, method)(
        path,
        data=body,
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked", "Content-Length": str(len(body))},
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["field"] == "Transfer-Encoding"
    assert forum.users.get(f"/api/users/{user['id']}").status_code == 200
