"""The bridge's edge cache (`edge.py`): a GET answer Flask produced is replayed on the event
loop, byte for byte, while the collection keeps that answer, and never once anybody wrote;
everything it cannot be sure of goes to Flask. granian's side is played by the stand-ins of
test_bridge; `Served.calls` counts the requests that reached the app."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from forumdb.config import SettingsWatcher
from forumdb_services.api import edge as edge_module
from forumdb_services.api.app import create_app
from forumdb_services.api.bridge import WSGIBridge
from forumdb_services.api.guard import RequestLimits
from forumdb_services.api.observability import AccessLineHandler, access_log
from forumdb_services.api.runtime import EXTENSION_KEY, StoreRuntime
from forumdb_services.storage.jsonstore import JsonStore

from .conftest import create_tables, dynamo_watcher, json_watcher
from .test_bridge import Headers, Protocol, scope

Answer = tuple[int, list[tuple[str, str]], bytes]
REQUEST_ID = re.compile(r"[0-9a-f]{32}")


class RawProtocol(Protocol):
    """The answer's headers as the bridge handed them over: a list, in order."""

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        assert self.answer is None, "answered twice"
        self.answer = (status, list(headers), body)  # type: ignore[assignment]


class Served:
    """A users service through the bridge, counting the requests the app itself answered."""

    def __init__(self, bridge: WSGIBridge) -> None:
        self.bridge = bridge
        self.calls: list[str] = []
        app = bridge.app

        def counting(environ: dict[str, Any], start_response: Any) -> Any:
            self.calls.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}")
            return app(environ, start_response)

        bridge.app = counting

    def request(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        host: str | None = None,
        scheme: str = "http",
    ) -> Answer:
        protocol = RawProtocol(body)
        request = scope(method, path, headers, query)
        request.scheme = scheme
        if host is not None:
            request.headers = Headers([("host", host), *(headers or [])])
        asyncio.run(self.bridge.__rsgi__(request, protocol))
        assert protocol.answer is not None
        return protocol.answer  # type: ignore[return-value]

    def get(self, path: str, query: str = "", *headers: tuple[str, str]) -> Answer:
        return self.request("GET", path, query, list(headers))

    def patch(self, path: str, fields: dict[str, Any]) -> Answer:
        body = json.dumps(fields).encode()
        headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
        return self.request("PATCH", path, headers=headers, body=body)


def _served(app: Any) -> Iterator[Served]:
    bridge = WSGIBridge.for_app(app, threads=2, body_timeout=1)
    bridge.__rsgi_init__(asyncio.new_event_loop())
    try:
        yield Served(bridge)
    finally:
        bridge.__rsgi_del__(asyncio.new_event_loop())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def served(data_dir: Path) -> Iterator[Served]:
    limits = RequestLimits(max_header_bytes=2048)
    yield from _served(create_app("users", json_watcher(data_dir), limits=limits))


@pytest.fixture
def user(data_dir: Path) -> dict[str, Any]:
    return JsonStore(data_dir).users.create({"username": "finn", "bio": "a"})


def _edge(served: Served) -> edge_module.EdgeCache:
    assert served.bridge.edge is not None
    return served.bridge.edge


def _kept(served: Served) -> int:
    """How many answers the bridge's edge cache keeps."""
    return len(_edge(served))


def _entries(served: Served) -> dict[Any, Any]:
    """The edge cache's entries by key (each with its `source` and its `replays`)."""
    return dict(_edge(served)._entries)


def _headers(answer: Answer) -> dict[str, str]:
    return {name.lower(): value for name, value in answer[1]}


def _without_request_id(answer: Answer) -> list[tuple[str, str]]:
    return [(n, v) for n, v in answer[1] if n.lower() != "x-request-id"]


def _bio(answer: Answer) -> str:
    return json.loads(answer[2])["bio"]


@pytest.mark.parametrize(
    ("method", "target"),
    [("GET", "/api/users/{id}"), ("HEAD", "/api/users/{id}"), ("GET", "/api/users")],
)
def test_a_kept_answer_is_the_apps_byte_for_byte(
    served: Served, user: dict[str, Any], method: str, target: str
) -> None:
    path = target.format(id=user["id"])
    flask = served.request(method, path)
    kept = served.request(method, path)
    assert served.calls == [f"{method} {path}"]  # the second never reached the app
    assert kept[0] == flask[0] == 200
    assert kept[2] == flask[2]
    assert (kept[2] == b"") == (method == "HEAD")
    assert _without_request_id(kept) == _without_request_id(flask)
    # The same headers in the same order, the request id in its place, a new one.
    assert [n for n, _ in kept[1]] == [n for n, _ in flask[1]]
    assert REQUEST_ID.fullmatch(_headers(kept)["x-request-id"])
    assert _headers(kept)["x-request-id"] != _headers(flask)["x-request-id"]


def test_a_callers_request_id_is_kept_as_the_app_keeps_it(
    served: Served, user: dict[str, Any]
) -> None:
    path = f"/api/users/{user['id']}"
    served.get(path)
    assert _headers(served.get(path, "", ("x-request-id", "trace-1.a")))["x-request-id"] == (
        "trace-1.a"
    )
    insane = _headers(served.get(path, "", ("x-request-id", "no spaces, please")))
    assert REQUEST_ID.fullmatch(insane["x-request-id"])
    assert served.calls == [f"GET {path}"]


def test_a_write_in_this_worker_is_seen_at_once(served: Served, user: dict[str, Any]) -> None:
    path = f"/api/users/{user['id']}"
    served.get(path), served.get("/api/users")
    assert _bio(served.get(path)) == "a"
    assert len(served.calls) == 2

    assert served.patch(path, {"bio": "b"})[0] == 200
    fresh = served.get(path)
    assert _bio(fresh) == "b"
    assert _headers(fresh)["etag"] == '"2"'
    assert [u["bio"] for u in json.loads(served.get("/api/users")[2])] == ["b"]
    assert len(served.calls) == 5  # the PATCH and both GETs went to the app
    assert _bio(served.get(path)) == "b"
    assert len(served.calls) == 5  # and the new answer is kept in turn


def _write_elsewhere(how: str, data_dir: Path, user_id: int) -> None:
    if how == "another worker":
        JsonStore(data_dir).users.update(user_id, {"bio": "b"})
    elif how == "another worker, compacting":
        JsonStore(data_dir, compact_min_bytes=0).users.update(user_id, {"bio": "b"})
    else:
        script = (
            "import sys; from pathlib import Path\n"
            "from forumdb_services.storage.jsonstore import JsonStore\n"
            "JsonStore(Path(sys.argv[1])).users.update(int(sys.argv[2]), {'bio': 'b'})\n"
        )
        subprocess.run(
            [sys.executable, "-c", script, str(data_dir), str(user_id)], check=True, timeout=60
        )


@pytest.mark.parametrize("how", ["another worker", "another worker, compacting", "a process"])
def test_a_write_by_another_worker_is_seen_at_once(
    served: Served, user: dict[str, Any], data_dir: Path, how: str
) -> None:
    path = f"/api/users/{user['id']}"
    served.get(path), served.get("/api/users")
    assert _bio(served.get(path)) == "a"
    assert [u["bio"] for u in json.loads(served.get("/api/users")[2])] == ["a"]
    assert len(served.calls) == 2

    _write_elsewhere(how, data_dir, user["id"])

    assert _bio(served.get(path)) == "b"
    assert [u["bio"] for u in json.loads(served.get("/api/users")[2])] == ["b"]
    assert len(served.calls) == 4


def test_a_delete_elsewhere_is_a_404_at_once(
    served: Served, user: dict[str, Any], data_dir: Path
) -> None:
    path = f"/api/users/{user['id']}"
    served.get(path), served.get(path)
    assert len(served.calls) == 1
    JsonStore(data_dir).users.delete(user["id"])
    gone = served.get(path)
    assert gone[0] == 404
    assert json.loads(gone[2])["error"]["code"] == "not_found"


def test_if_none_match_is_a_304_as_the_app_answers_it(served: Served, user: dict[str, Any]) -> None:
    path = f"/api/users/{user['id']}"
    served.get(path)
    flask_304 = served.get(path, "", ("if-none-match", '"1"'))
    kept_304 = served.get(path, "", ("if-none-match", '"1"'))
    weak_304 = served.get(path, "", ("if-none-match", 'W/"1", "7"'))
    other = served.get(path, "", ("if-none-match", '"7"'))
    assert served.calls == [f"GET {path}"] * 2  # the 200, then the first 304
    for answer in (flask_304, kept_304, weak_304):
        assert answer[0] == 304
        assert answer[2] == b""
        assert _without_request_id(answer) == _without_request_id(flask_304) == [("ETag", '"1"')]
    assert other[0] == 200
    assert _bio(other) == "a"

    served.patch(path, {"bio": "b"})
    changed = served.get(path, "", ("if-none-match", '"1"'))
    assert changed[0] == 200
    assert _bio(changed) == "b"


def test_a_list_page_304(served: Served, user: dict[str, Any]) -> None:
    etag = _headers(served.get("/api/users"))["etag"]
    assert served.get("/api/users", "", ("if-none-match", etag))[0] == 304
    assert served.get("/api/users", "", ("if-none-match", etag))[0] == 304
    assert len(served.calls) == 2


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ([("authorization", "Bearer abc")], b""),
        ([("cookie", "session=1")], b""),
        ([("upgrade", "websocket")], b""),
        ([("content-type", "application/json"), ("content-length", "2")], b"{}"),
        ([("transfer-encoding", "chunked")], b""),
    ],
    ids=["authorization", "cookie", "upgrade", "a body", "a chunked body"],
)
def test_requests_with_credentials_or_a_body_go_to_the_app(
    served: Served, user: dict[str, Any], headers: list[tuple[str, str]], body: bytes
) -> None:
    path = f"/api/users/{user['id']}"
    # Nothing is kept from them...
    for _ in range(2):
        assert served.request("GET", path, headers=headers, body=body)[0] == 200
    assert _kept(served) == 0
    served.get(path), served.get(path)
    assert len(served.calls) == 3
    # ... nor are they answered from what is kept, nor do they replace it.
    (entry,) = _entries(served).values()
    replays = dict(entry.replays)
    assert list(replays) == [False]  # the 200
    for _ in range(2):
        assert served.request("GET", path, headers=headers, body=body)[0] == 200
    assert len(served.calls) == 5
    assert list(_entries(served).values()) == [entry]
    assert entry.replays.keys() == replays.keys()
    assert all(entry.replays[k] is replay for k, replay in replays.items())


def test_what_is_not_marked_goes_to_the_app(served: Served, user: dict[str, Any]) -> None:
    requests = [
        ("/api/users", "email=finn@example.com"),  # a lookup, not a kept page
        (f"/api/users/{user['id'] + 1}", ""),  # a 404
        ("/api/users/by-email/finn@example.com", ""),
        ("/api/users", "limit=0"),  # a 400
        ("/healthz", ""),
        ("/metrics", ""),
    ]
    for path, query in requests * 2:
        served.get(path, query)
    assert len(served.calls) == 2 * len(requests)
    assert _kept(served) == 0


def test_a_head_the_guard_refuses_is_refused(served: Served, user: dict[str, Any]) -> None:
    path = f"/api/users/{user['id']}"
    served.get(path), served.get(path)
    assert len(served.calls) == 1
    refused = served.get(path, "", ("x-padding", "x" * 3000))
    assert refused[0] == 431
    assert json.loads(refused[2])["error"]["code"] == "header_fields_too_large"
    assert len(served.calls) == 2


def test_the_host_is_part_of_the_key(served: Served, user: dict[str, Any]) -> None:
    # Flask binds its URL adapter to the Host header: one it cannot encode is a 400.
    path = f"/api/users/{user['id']}"
    served.get(path), served.get(path)
    assert len(served.calls) == 1
    for _ in range(2):
        refused = served.request("GET", path, host="a" * 300)
        assert refused[0] == 400
        assert json.loads(refused[2])["error"]["code"] == "bad_request"
    assert len(served.calls) == 3


def test_the_query_is_part_of_the_key(served: Served, data_dir: Path) -> None:
    users = JsonStore(data_dir).users
    for name in ("ann", "bob", "cy"):
        users.create({"username": name})

    def names(answer: Answer) -> list[str]:
        assert answer[0] == 200
        return [record["username"] for record in json.loads(answer[2])]

    first = served.get("/api/users", "limit=1")
    assert names(served.get("/api/users", "limit=1")) == ["ann"]
    assert len(served.calls) == 1  # kept
    cursor = _headers(first)["x-next-cursor"]
    for _ in range(2):  # each one the app's, then kept in turn
        assert names(served.get("/api/users", "limit=2")) == ["ann", "bob"]
        assert names(served.get("/api/users", f"limit=1&cursor={cursor}")) == ["bob"]
        assert names(served.get("/api/users", f"cursor={cursor}")) == ["bob", "cy"]
        assert names(served.get("/api/users")) == ["ann", "bob", "cy"]
        assert names(served.get("/api/users", "limit=1")) == ["ann"]
    assert len(served.calls) == 5
    assert _kept(served) == 5


@pytest.mark.parametrize("first", ["GET", "HEAD"])
def test_the_method_is_part_of_the_key(served: Served, user: dict[str, Any], first: str) -> None:
    path = f"/api/users/{user['id']}"
    other = "HEAD" if first == "GET" else "GET"
    answers: dict[str, list[Answer]] = {"GET": [], "HEAD": []}
    for method in (first, other, first, other):
        answers[method].append(served.request(method, path))
    assert served.calls == [f"{first} {path}", f"{other} {path}"]  # then both kept
    gets, heads = answers["GET"], answers["HEAD"]
    body = gets[0][2]
    assert json.loads(body)["username"] == "finn"
    for answer in gets + heads:
        assert answer[0] == 200
        assert _headers(answer)["content-length"] == str(len(body))
    assert [get[2] for get in gets] == [body, body]
    assert [head[2] for head in heads] == [b"", b""]


def test_the_scheme_is_part_of_the_key(served: Served, user: dict[str, Any]) -> None:
    # Flask binds its URL adapter to the scheme (as to the host): an answer over one is not
    # taken for an answer over the other, though no kept answer differs by it today.
    path = f"/api/users/{user['id']}"
    for scheme in ("http", "https", "http", "https"):
        assert served.request("GET", path, scheme=scheme)[0] == 200
    assert len(served.calls) == 2
    assert sorted(key[4] for key in _entries(served)) == ["http", "https"]


def test_a_long_host_or_an_odd_query_is_answered_but_not_kept(
    served: Served, user: dict[str, Any]
) -> None:
    path = f"/api/users/{user['id']}"
    long_host = ".".join(["a" * 63] * 5)  # 319 characters, a name Flask takes
    requests = [
        (path, "", long_host),
        (path, "x=" + "y" * 300, None),  # a parameter the view does not read, long
        (path, "x=1", None),  # or short
        (path, "limit=1", None),  # a record takes none
        ("/api/users", "limit=2&x=1", None),
        ("/api/users", "limit=2&limit=2", None),  # once each
        ("/api/users", "li%6Dit=2", None),  # as spelled
        ("/api/users", "limit=2&" + "&" * 300, None),  # long
    ]
    for target, query, host in requests * 2:
        assert served.request("GET", target, query, host=host)[0] == 200
    assert len(served.calls) == 2 * len(requests)
    assert _kept(served) == 0
    # The parameters a list reads are kept, an empty cursor too.
    for _ in range(2):
        assert served.get("/api/users", "limit=2&cursor=")[0] == 200
        assert served.request("GET", path, host=".".join(["a" * 63] * 4))[0] == 200  # 255
    assert len(served.calls) == 2 * len(requests) + 2
    assert _kept(served) == 2


def test_the_bound_counts_keys_and_headers(served: Served, data_dir: Path) -> None:
    users = JsonStore(data_dir).users
    for name in ("ann", "bob"):
        users.create({"username": name})
    edge = _edge(served)
    short_host, long_host = "svc.test", ".".join(["b" * 63] * 3)
    answer = served.request("GET", "/api/users", "limit=1", host=short_host)
    one = edge.kept_bytes
    headers = sum(len(name) + len(value) for name, value in answer[1])
    assert "link" in _headers(answer)  # a header that repeats the query
    key = sum(map(len, ("GET", "/api/users", "limit=1", short_host, "http")))
    assert one >= len(answer[2]) + headers + key
    served.request("GET", "/api/users", "limit=1", host=long_host)
    assert len(served.calls) == 2
    assert edge.kept_bytes == 2 * one + len(long_host) - len(short_host)


def test_what_is_kept_stays_bounded(
    served: Served, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = JsonStore(data_dir).users
    # Records of one size: ids of as many digits.
    ids = [users.create({"id": 100 + i, "username": f"u{i}"})["id"] for i in range(6)]
    paths = [f"/api/users/{record_id}" for record_id in ids]
    edge = _edge(served)
    body = len(served.get(paths[0])[2])
    one = edge.kept_bytes  # an entry: its body, key and headers
    assert (len(edge), one > body) == (1, True)
    served.get(paths[0], "", ("if-none-match", '"1"'))  # the 304 counts too
    assert len(edge) == 1
    with_304 = edge.kept_bytes
    assert with_304 > one

    monkeypatch.setattr(edge_module, "MAX_ENTRIES", 3)
    for path in paths:
        served.get(path)
        assert 1 <= len(edge) <= 3
    monkeypatch.setattr(edge_module, "MAX_BYTES", 2 * one)
    for path in paths:
        served.get(path)
        assert 1 <= len(edge) <= 2
        assert edge.kept_bytes == len(edge) * one

    # A newer answer replaces the old one: its bytes are counted once.
    served.patch(paths[-1], {"bio": "x" * 10})
    longer = len(served.get(paths[-1])[2])
    assert longer > body
    assert edge.kept_bytes <= 2 * one
    (entry,) = _entries(served).values()  # the other went to make room
    assert entry.source.path == paths[-1]
    assert edge.kept_bytes - one in range(longer - body, longer - body + 3)  # Content-Length


def test_the_least_recently_used_go_first(
    served: Served, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = JsonStore(data_dir).users
    a, b, c = (f"/api/users/{users.create({'username': n})['id']}" for n in ("ann", "bob", "cy"))
    monkeypatch.setattr(edge_module, "MAX_ENTRIES", 2)
    for path in (a, b, a, c, a, b):  # c pushes b out, not a (used since)
        served.get(path)
    assert served.calls == [f"GET {path}" for path in (a, b, c, b)]
    assert [entry.source.path for entry in _entries(served).values()] == [a, b]


def test_an_answer_past_the_byte_bound_is_not_kept(
    served: Served, user: dict[str, Any], data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = f"/api/users/{user['id']}"
    other = f"/api/users/{JsonStore(data_dir).users.create({'username': 'finx', 'bio': 'b'})['id']}"
    edge = _edge(served)
    served.get(path)
    one = edge.kept_bytes
    edge._entries.clear()
    edge._bytes = 0

    monkeypatch.setattr(edge_module, "MAX_BYTES", one - 1)
    served.get(path), served.get(path)
    assert len(served.calls) == 3
    assert (len(edge), edge.kept_bytes) == (0, 0)

    # Room for the 200 alone: its 304 is not added (and the 200 stays).
    monkeypatch.setattr(edge_module, "MAX_BYTES", one)
    served.get(path), served.get(path)
    assert len(served.calls) == 4
    for _ in range(2):
        assert served.get(path, "", ("if-none-match", '"1"'))[0] == 304
    assert len(served.calls) == 6
    assert edge.kept_bytes == one
    (entry,) = _entries(served).values()
    assert entry.replays.keys() == {False}

    # Room for two 200s: a 304 added to one pushes the other out.
    monkeypatch.setattr(edge_module, "MAX_BYTES", 2 * one)
    served.get(other), served.get(path)
    assert len(edge) == 2
    served.get(path, "", ("if-none-match", '"1"'))
    assert edge.kept_bytes <= 2 * one
    (entry,) = _entries(served).values()
    assert (entry.source.path, entry.replays.keys()) == (path, {False, True})


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    """The access logger as forum-service sets it up, writing to a buffer."""
    stream = io.StringIO()
    saved = access_log.handlers[:], access_log.propagate, access_log.level
    access_log.handlers[:] = [AccessLineHandler(stream)]
    access_log.propagate = False
    access_log.setLevel("INFO")
    try:
        yield stream
    finally:
        access_log.handlers[:], access_log.propagate = saved[0], saved[1]
        access_log.setLevel(saved[2])


def _requests_total(route: str, status: str) -> float:
    labels = {"service": "users", "route": route, "method": "GET", "status": status}
    return REGISTRY.get_sample_value("forumdb_http_requests_total", labels) or 0.0


def _latency_count(route: str) -> float:
    labels = {"service": "users", "route": route, "method": "GET"}
    return REGISTRY.get_sample_value("forumdb_http_request_duration_seconds_count", labels) or 0.0


def test_a_kept_answer_is_logged_and_counted(
    served: Served, user: dict[str, Any], access_lines: io.StringIO
) -> None:
    route = "/api/users/<record_id>"
    path = f"/api/users/{user['id']}"
    served.get(path)
    counted, timed = _requests_total(route, "200"), _latency_count(route)
    not_modified = _requests_total(route, "304")
    before = len(access_lines.getvalue().splitlines())

    kept = served.get(path, "", ("x-request-id", "kept-1"))
    served.get(path, "", ("if-none-match", '"1"'))
    served.get(path, "", ("if-none-match", '"1"'))
    assert len(served.calls) == 2

    assert _requests_total(route, "200") == counted + 1
    assert _requests_total(route, "304") == not_modified + 2
    assert _latency_count(route) == timed + 3
    lines = [json.loads(line) for line in access_lines.getvalue().splitlines()[before:]]
    assert len(lines) == 3
    line = lines[0]
    assert line["msg"] == f"GET {path} 200"
    assert {k: line[k] for k in ("method", "path", "route", "status", "service")} == {
        "method": "GET",
        "path": path,
        "route": route,
        "status": 200,
        "service": "users",
    }
    assert line["request_id"] == _headers(kept)["x-request-id"] == "kept-1"
    assert line["config_generation"] == 0
    assert line["duration_ms"] >= 0
    assert [entry["status"] for entry in lines[1:]] == [304, 304]


@pytest.mark.usefixtures("mocked_aws")
def test_dynamodb_mode_keeps_nothing() -> None:
    create_tables()
    for served in _served(create_app("users", dynamo_watcher())):
        made = served.request(
            "POST",
            "/api/users",
            headers=[("content-type", "application/json"), ("content-length", "20")],
            body=b'{"username": "finn"}',
        )
        path = f"/api/users/{json.loads(made[2])['id']}"
        for _ in range(3):
            assert served.get(path)[0] == 200
        assert served.calls.count(f"GET {path}") == 3
        assert _kept(served) == 0


def test_a_new_settings_generation_goes_to_the_app(tmp_path: Path) -> None:
    config, second = _two_stores(tmp_path)
    for served in _served(create_app("users", SettingsWatcher(config, interval=0))):
        served.get("/api/users/7"), served.get("/api/users")
        assert _bio(served.get("/api/users/7")) == "first"
        assert len(served.calls) == 2
        (config / "DATA_DIR").write_text(str(second))
        assert _bio(served.get("/api/users/7")) == "second"  # the app switches stores
        # An answer kept from the first store is not replayed on the second (keeping the
        # first answer of the second dropped them all).
        assert [u["bio"] for u in json.loads(served.get("/api/users")[2])] == ["second"]
        assert _bio(served.get("/api/users/7")) == "second"
        assert _bio(served.get("/api/users/7")) == "second"
        assert len(served.calls) == 4


def _two_stores(tmp_path: Path) -> tuple[Path, Path]:
    """A settings folder on the first of two stores; the folder, and the second store."""
    config = tmp_path / "config"
    config.mkdir()
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, bio in ((first, "first"), (second, "second")):
        JsonStore(folder).users.create({"id": 7, "username": "finn", "bio": bio})
    (config / "STORAGE_MODE").write_text("json")
    (config / "DATA_DIR").write_text(str(first))
    return config, second


def test_a_new_generation_drops_what_the_old_store_kept(tmp_path: Path) -> None:
    config, second = _two_stores(tmp_path)
    for served in _served(create_app("users", SettingsWatcher(config, interval=0))):
        served.get("/api/users/7"), served.get("/api/users"), served.get("/api/users", "limit=1")
        assert _kept(served) == 3
        old = next(iter(_entries(served).values())).source.generation
        (config / "DATA_DIR").write_text(str(second))
        # An answer nobody kept: the first kept of the new store drops the old store's.
        assert json.loads(served.get("/api/users", "limit=2")[2])[0]["bio"] == "second"
        (entry,) = _entries(served).values()
        assert entry.source.generation is not old
        assert entry.source.path == "/api/users"


def test_an_answer_of_a_replaced_store_is_not_kept(tmp_path: Path) -> None:
    config, second = _two_stores(tmp_path)
    app = create_app("users", SettingsWatcher(config, interval=0))
    runtime: StoreRuntime = app.extensions[EXTENSION_KEY]
    for served in _served(app):
        flask = served.bridge.app

        def switching(environ: dict[str, Any], start_response: Any, flask: Any = flask) -> Any:
            # The settings change while the app answers: a later request opens the new store
            # before this answer reaches the edge cache.
            answer = flask(environ, start_response)
            (config / "DATA_DIR").write_text(str(second))
            runtime.acquire().release()
            return answer

        served.bridge.app = switching
        assert _bio(served.get("/api/users/7")) == "first"
        assert _kept(served) == 0
        served.bridge.app = flask
        assert _bio(served.get("/api/users/7")) == "second"
        assert _bio(served.get("/api/users/7")) == "second"
        assert served.calls == ["GET /api/users/7"] * 2
        assert _kept(served) == 1


def test_a_failing_keep_leaves_the_apps_answer(
    served: Served,
    user: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def keep(*_args: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(_edge(served), "keep", keep)
    path = f"/api/users/{user['id']}"
    with caplog.at_level("ERROR", logger="forumdb.api.bridge"):
        answers = [served.get(path), served.get(path)]
    assert [(status, _bio((status, headers, body))) for status, headers, body in answers] == [
        (200, "a"),
        (200, "a"),
    ]
    assert len(served.calls) == 2
    assert _kept(served) == 0
    failures = [r for r in caplog.records if "edge cache failed" in r.getMessage()]
    assert len(failures) == 2
    assert all(r.exc_info is not None and "boom" in str(r.exc_info[1]) for r in failures)
