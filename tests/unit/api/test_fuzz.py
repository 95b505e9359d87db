"""Property: whatever a client sends, no service answers 5xx, and every 4xx is a JSON error.

At least 1,000 generated requests per service: wrong types, missing and unknown fields, huge
strings, bad JSON and raw bytes, odd content types, unknown and out-of-range ids, bad
cursors and limits, bad If-Match headers, every method. JSON mode, small store.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forumdb.config import SettingsWatcher
from forumdb.ids import MAX_ID
from forumdb_services.api.app import create_app
from forumdb_services.storage import open_store
from forumdb_services.storage.base import encode_cursor

EXAMPLES_PER_SERVICE = 1000

ROUTES: dict[str, list[str]] = {
    "users": ["/api/users", "/api/users/{id}", "/api/users/by-email/{text}"],
    "threads": ["/api/threads", "/api/threads/{id}"],
    "posts": [
        "/api/posts",
        "/api/posts/{id}",
        "/api/posts/in-thread/{id}",
        "/api/posts/by-user/{id}",
    ],
}
COMMON_ROUTES = ["/", "/api/", "/healthz", "/readyz", "/metrics", "/api/{text}", "/{text}"]
FIELDS = [
    "id",
    "username",
    "name",
    "bio",
    "email",
    "title",
    "createdBy",
    "thread",
    "user",
    "text",
    "version",
    "createdAt",
    "updatedAt",
    "entity",
    "userId",
    "",
]
KNOWN_IDS = [1, 2]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["", " ", "x" * 70_000, "a@b.co", "\x00", "\u202e", "💥" * 100]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Objects shaped like the real bodies, with wrong or edge-case values.
record_like = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6)
raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"{",
            b"[]",
            b"null",
            b'{"a": NaN}',
            b'{"id": 1e999}',
            b"\xff\xfe",
            b"[" * 5000,
            b'{"username": "' + b"9" * 5000 + b'"}',
        ]
    ),
)

path_ids = st.one_of(
    st.sampled_from([str(i) for i in KNOWN_IDS]),
    st.integers(min_value=-5, max_value=10).map(str),
    st.integers(min_value=MAX_ID - 2, max_value=2**66).map(str),
    st.sampled_from(["0", "1e3", "1.0", "٣", "null", "..", "%00", " 1", "0x10", "+1"]),
    st.text(min_size=1, max_size=30),
)
cursors = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            encode_cursor("elsewhere", {"id": 1}),
            encode_cursor("users", {"id": "x"}),
            "e30",  # base64 of {}
            "A" * 3000,
        ]
    ),
    st.binary(max_size=30).map(lambda b: b.hex()),
)
query_values = st.one_of(st.text(max_size=12), st.integers(-5, 5000).map(str), cursors)
queries = st.dictionaries(
    st.sampled_from(["limit", "cursor", "email", "foo"]), query_values, max_size=3
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/merge-patch+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        None,
    ]
)
if_match = st.one_of(
    st.none(),
    st.sampled_from(
        ['"1"', '"2"', "*", 'W/"1"', '"0"', "garbage", '"1", "2"', '"' + "9" * 30 + '"']
    ),
    st.text(alphabet=string.printable.strip(), max_size=12),
)
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])


@st.composite
def requests(draw: st.DrawFn, service: str) -> dict[str, Any]:
    template = draw(st.sampled_from(ROUTES[service] + COMMON_ROUTES))
    path = template.format(
        id=quote(draw(path_ids), safe=""), text=quote(draw(st.text(max_size=20)), safe="")
    )
    kwargs: dict[str, Any] = {"method": draw(methods), "query_string": draw(queries)}
    body = draw(st.one_of(st.none(), record_like, json_values, raw_bodies))
    if body is not None:
        if isinstance(body, bytes):
            kwargs["data"] = body
        else:
            import json

            kwargs["data"] = json.dumps(body)
        kwargs["content_type"] = draw(content_types)
    headers = {}
    tag = draw(if_match)
    if tag is not None:
        headers["If-Match"] = tag
    kwargs["headers"] = headers
    return {"path": path, **kwargs}


def _seeded_app(service: str, data_dir: Path):
    watcher = SettingsWatcher(STORAGE_MODE="json", DATA_DIR=str(data_dir))
    store = open_store(watcher.current())
    for user_id in KNOWN_IDS:
        store.users.create(
            {"id": user_id, "username": f"user{user_id}", "email": f"u{user_id}@x.io"}
        )
        store.threads.create({"id": user_id, "title": f"thread {user_id}", "createdBy": user_id})
        store.posts.create({"id": user_id, "thread": 1, "user": user_id, "text": "hello"})
    return create_app(service, watcher, store)


@pytest.mark.parametrize("service", ["users", "threads", "posts"])
def test_no_request_gets_a_5xx(service: str, tmp_path: Path) -> None:
    client = _seeded_app(service, tmp_path / "data").test_client()
    sent: list[int] = []

    @settings(
        max_examples=EXAMPLES_PER_SERVICE,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests(service))
    def check(request: dict[str, Any]) -> None:
        sent.append(1)
        response = client.open(**request)
        assert response.status_code < 500, (request, response.get_data(as_text=True)[:500])
        if response.status_code >= 400 and request["method"] != "HEAD":
            error = response.get_json()["error"]
            assert error["code"]
            assert error["message"]

    check()
    assert len(sent) >= EXAMPLES_PER_SERVICE
