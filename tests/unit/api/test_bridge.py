"""The RSGI bridge, with granian's scope and protocol played by stand-ins: the WSGI environ it
builds, bodies read within their deadline and limit, and every answer the app's JSON."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from forumdb_services.api.app import create_app
from forumdb_services.api.bridge import CPU_BOUND_THREADS, WSGIBridge

from .conftest import json_watcher

BODY_TIMEOUT = 0.3


class Headers:
    """granian's RSGIHeaders: items() gives every field, repeated names included."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)


class Protocol:
    """granian's RSGIHTTPProtocol: the body (whole or in chunks) and the answer."""

    def __init__(
        self,
        body: bytes = b"",
        *,
        chunks: list[bytes] | None = None,
        stall: bool = False,
        broken: bool = False,
    ) -> None:
        self.body = body
        self.chunks = list(chunks or [])
        self.stall = stall
        self.broken = broken
        self.awaited = False
        self.answer: tuple[int, dict[str, str], bytes] | None = None

    async def __call__(self) -> bytes:
        self.awaited = True
        if self.stall:
            await asyncio.sleep(3600)
        if self.broken:
            raise RuntimeError("RSGIProtocolError: the client went away")
        return self.body

    def __aiter__(self) -> Protocol:
        self.awaited = True
        return self

    async def __anext__(self) -> bytes:
        if self.stall:
            await asyncio.sleep(3600)
        return self.chunks.pop(0) if self.chunks else b""

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        assert self.answer is None, "answered twice"
        self.answer = (status, {k.lower(): v for k, v in headers}, body)


def scope(
    method: str = "GET",
    path: str = "/api/users",
    headers: list[tuple[str, str]] | None = None,
    query: str = "",
) -> SimpleNamespace:
    return SimpleNamespace(
        proto="http",
        http_version="1.1",
        scheme="http",
        server="127.0.0.1:8080",
        client="10.1.2.3:45678",
        authority=None,
        method=method,
        path=path,
        query_string=query,
        headers=Headers([("host", "svc.test"), *(headers or [])]),
    )


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[WSGIBridge]:
    app = create_app("users", json_watcher(tmp_path / "data", MAX_REQUEST_BYTES=1024))
    made = WSGIBridge.for_app(app, threads=2, body_timeout=BODY_TIMEOUT)
    made.__rsgi_init__(asyncio.new_event_loop())
    yield made
    made.__rsgi_del__(asyncio.new_event_loop())


def serve(bridge: WSGIBridge, request: SimpleNamespace, protocol: Protocol) -> tuple:
    asyncio.run(bridge.__rsgi__(request, protocol))
    assert protocol.answer is not None
    status, headers, body = protocol.answer
    return status, headers, json.loads(body) if body else None


def _post(body: bytes, *extra: tuple[str, str]) -> SimpleNamespace:
    return scope("POST", headers=[("content-type", "application/json"), *extra])


def test_the_environ(bridge: WSGIBridge) -> None:
    environ = bridge.environ(
        scope(
            path="/api/users/zoë",
            query="limit=5",
            headers=[
                ("accept", "text/plain"),
                ("accept", "application/json"),
                ("cookie", "a=1"),
                ("cookie", "b=2"),
                ("content-type", "application/json"),
                ("content-length", "12"),
            ],
        )
    )
    assert environ["REQUEST_METHOD"] == "GET"
    # PEP 3333: bytes as latin-1, which werkzeug decodes back as UTF-8.
    assert environ["PATH_INFO"] == "/api/users/zoë".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "limit=5"
    assert environ["HTTP_ACCEPT"] == "text/plain,application/json"
    assert environ["HTTP_COOKIE"] == "a=1; b=2"
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["CONTENT_LENGTH"] == "12"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert (environ["SERVER_NAME"], environ["SERVER_PORT"]) == ("127.0.0.1", "8080")
    assert environ["REMOTE_ADDR"] == "10.1.2.3"
    assert environ["HTTP_HOST"] == "svc.test"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["wsgi.url_scheme"] == "http"


def test_header_names_with_underscores_are_dropped(bridge: WSGIBridge) -> None:
    environ = bridge.environ(scope(headers=[("x-request-id", "real"), ("x_request_id", "forged")]))
    assert environ["HTTP_X_REQUEST_ID"] == "real"


def test_a_read_and_a_write(bridge: WSGIBridge) -> None:
    status, headers, body = serve(bridge, scope(path="/api/users"), Protocol())
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert "connection" not in headers
    assert isinstance(body, list)

    payload = b'{"username": "bridged"}'
    request = _post(payload, ("content-length", str(len(payload))))
    status, headers, body = serve(bridge, request, Protocol(payload))
    assert status == 201
    assert body["username"] == "bridged"
    assert headers["location"] == f"/api/users/{body['id']}"


def test_a_non_ascii_path_is_routed(bridge: WSGIBridge) -> None:
    status, _, body = serve(bridge, scope(path="/api/users/by-email/zoë@ooo.land"), Protocol())
    assert status == 404
    assert "zoë@ooo.land" in body["error"]["message"]


def test_a_stalled_body_is_a_408_and_the_connection_closes(bridge: WSGIBridge) -> None:
    request = _post(b"", ("content-length", "100"))
    status, headers, body = serve(bridge, request, Protocol(stall=True))
    assert status == 408
    assert body["error"]["code"] == "request_timeout"
    assert f"{BODY_TIMEOUT:g} s" in body["error"]["message"]
    assert headers["connection"] == "close"


def test_a_body_over_the_limit_is_refused_unread(bridge: WSGIBridge) -> None:
    protocol = Protocol(b"x" * 2000)
    status, headers, body = serve(bridge, _post(b"", ("content-length", "2000")), protocol)
    assert status == 413
    assert body["error"]["code"] == "payload_too_large"
    assert headers["connection"] == "close"
    assert not protocol.awaited


def test_chunked_bodies(bridge: WSGIBridge) -> None:
    chunked = ("transfer-encoding", "chunked")
    small = Protocol(chunks=[b'{"username": ', b'"chunky"}'])
    status, headers, body = serve(bridge, _post(b"", chunked), small)
    assert status == 201
    assert body["username"] == "chunky"
    assert "connection" not in headers

    large = Protocol(chunks=[b"x" * 700, b"x" * 700, b"x" * 700])
    status, headers, body = serve(bridge, _post(b"", chunked), large)
    assert status == 413
    assert headers["connection"] == "close"
    assert large.chunks == [b"x" * 700]  # reading stopped past the limit

    status, headers, body = serve(bridge, _post(b"", chunked), Protocol(stall=True))
    assert status == 408
    assert headers["connection"] == "close"


def test_a_body_cut_short_is_a_400(bridge: WSGIBridge) -> None:
    status, headers, body = serve(
        bridge, _post(b"", ("content-length", "50")), Protocol(broken=True)
    )
    assert status == 400
    assert "ended early" in body["error"]["message"]
    assert headers["connection"] == "close"


def test_an_app_that_fails_outside_its_handlers_is_a_json_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("boom")

    bridge = WSGIBridge(broken_app, threads=1, body_timeout=1, max_body_bytes=lambda: 1024)
    bridge.__rsgi_init__(asyncio.new_event_loop())
    try:
        status, headers, body = serve(bridge, scope(), Protocol())
    finally:
        bridge.__rsgi_del__(asyncio.new_event_loop())
    assert status == 500
    assert headers["content-type"] == "application/json"
    assert body["error"]["code"] == "internal_error"
    assert "boom" in caplog.text


def _thread_echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """An app that answers with the name of the thread that ran it, and its path."""
    start_response("200 OK", [("content-type", "application/json")])
    name = threading.current_thread().name
    return [json.dumps({"thread": name, "path": environ["PATH_INFO"]}).encode()]


async def _serve_all(bridge: WSGIBridge, paths: list[str]) -> list[dict[str, Any]]:
    protocols = [Protocol() for _ in paths]
    await asyncio.gather(
        *(bridge.__rsgi__(scope(path=p), proto) for p, proto in zip(paths, protocols, strict=True))
    )
    answers = []
    for protocol in protocols:
        assert protocol.answer is not None
        answers.append(json.loads(protocol.answer[2]))
    return answers


@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "dynamodb"])
def test_store_requests_of_json_mode_run_on_a_few_threads_probes_on_the_others(
    json_mode: bool,
) -> None:
    bridge = WSGIBridge(
        _thread_echo,
        threads=16,
        body_timeout=1,
        max_body_bytes=lambda: 1024,
        cpu_bound=lambda: json_mode,
    )
    bridge.__rsgi_init__(asyncio.new_event_loop())
    try:
        paths = [f"/api/users/{i}" for i in range(300)] + ["/healthz", "/readyz"] * 20
        answers = asyncio.run(_serve_all(bridge, paths))
    finally:
        bridge.__rsgi_del__(asyncio.new_event_loop())
    # Every request got its own answer, however the answers were batched back to the loop.
    assert [a["path"] for a in answers] == paths
    store = {a["thread"] for a in answers if a["path"].startswith("/api/")}
    probes = {a["thread"] for a in answers if not a["path"].startswith("/api/")}
    assert all(name.startswith("forumdb-request-") for name in probes)
    if json_mode:
        assert all(name.startswith("forumdb-store-") for name in store)
        assert len(store) <= CPU_BOUND_THREADS
    else:
        assert all(name.startswith("forumdb-request-") for name in store)
