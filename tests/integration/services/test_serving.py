"""The real `forum-service` as a production web tier: idle, half-open and slow clients do
not starve it, keep-alive is used, SIGTERM drains what is in flight, and the errors the
server side produces are the project's JSON error body.

One worker with two request threads throughout: a connection that held a thread would show
at once."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from harness.procs import wait_for

from . import rawhttp
from .conftest import ServiceProcess, ServiceRunner

REPO = Path(__file__).resolve().parents[3]
HEADER_TIMEOUT = 3
# Long enough for 200 connections to be opened and the service used meanwhile on a loaded
# machine, before the head timeout closes them.
IDLE_HEADER_TIMEOUT = 10
BODY_TIMEOUT = 2


def _serving_args(header_timeout: int = HEADER_TIMEOUT) -> tuple[str, ...]:
    return (
        *("--threads", "2"),
        *("--header-timeout", str(header_timeout)),
        *("--body-timeout", str(BODY_TIMEOUT)),
        *("--graceful-timeout", "10"),
    )


pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(REPO / "examples" / "sample-data", target)
    return target


def _start_users(runner: ServiceRunner, data_dir: Path, **serving: int) -> ServiceProcess:
    env = {"STORAGE_MODE": "json", "DATA_DIR": str(data_dir)}
    return runner.start("users", env, workers=1, args=_serving_args(**serving))


@pytest.fixture
def users(service_runner: ServiceRunner, data_dir: Path) -> ServiceProcess:
    return _start_users(service_runner, data_dir)


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    with ExitStack() as stack:
        stack.callback(lambda: [s.close() for s in opened])
        yield opened


def _service_answers(users: ServiceProcess, tag: str) -> None:
    """/healthz, a read and a write, each on a fresh connection."""
    assert requests.get(f"{users.url}/healthz", timeout=5).json()["status"] == "ok"
    listed = requests.get(f"{users.url}/api/users", timeout=5)
    assert listed.status_code == 200
    assert "finn" in {u["username"] for u in listed.json()}
    made = requests.post(f"{users.url}/api/users", json={"username": tag}, timeout=5)
    assert made.status_code == 201, made.text


def test_idle_and_half_open_connections_do_not_starve_the_service(
    service_runner: ServiceRunner, data_dir: Path, sockets: list[socket.socket]
) -> None:
    users = _start_users(service_runner, data_dir, header_timeout=IDLE_HEADER_TIMEOUT)
    partial_head = b"GET /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n"
    for i in range(200):
        sock = rawhttp.connect(users.port)
        if i % 2:
            sock.sendall(partial_head)
        sockets.append(sock)

    for round_ in range(3):
        _service_answers(users, f"busy{round_}")
    # The 200 were really held open meanwhile, not dropped to make room.
    assert all(rawhttp.still_open(s) for s in sockets)

    # The head timeout closes every one of them.
    for sock in sockets:
        assert rawhttp.closed_by_peer(sock, within=IDLE_HEADER_TIMEOUT + 10)
    _service_answers(users, "after")


def test_keep_alive_serves_many_requests_on_one_connection(users: ServiceProcess) -> None:
    ids = []
    with rawhttp.connect(users.port) as sock:
        for i in range(40):
            if i % 4 == 3:
                raw = rawhttp.request_bytes(
                    "POST",
                    "/api/users",
                    {"Content-Type": "application/json", "X-Request-Id": f"ka-{i}"},
                    b'{"username": "ka%d"}' % i,
                )
            else:
                path = ("/healthz", "/api/users", "/api/users/2")[i % 4]
                raw = rawhttp.request_bytes("GET", path, {"X-Request-Id": f"ka-{i}"})
            sock.sendall(raw)
            response = rawhttp.read_response(sock)
            assert response.status in (200, 201), response
            assert response.headers.get("connection", "").lower() != "close"
            ids.append(response.headers["x-request-id"])
        assert rawhttp.still_open(sock)
        # An idle kept-alive connection is closed after the head timeout.
        assert rawhttp.closed_by_peer(sock, within=HEADER_TIMEOUT + 10)
    assert ids == [f"ka-{i}" for i in range(40)]
    logged = {e["request_id"] for e in users.access_lines()}
    assert set(ids) <= logged


def test_a_stalled_body_gets_408_and_its_connection_closed(
    users: ServiceProcess, sockets: list[socket.socket]
) -> None:
    head = (
        b"POST /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    for _ in range(20):
        sock = rawhttp.connect(users.port)
        sock.sendall(head + b'{"username": "sl')
        sockets.append(sock)
    # Twenty bodies in the air, two request threads: none of them is held.
    _service_answers(users, "beside-stalled")
    for sock in sockets:
        response = rawhttp.read_response(sock, timeout=BODY_TIMEOUT + 10)
        assert response.status == 408
        assert response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert error["code"] == "request_timeout"
        assert f"{BODY_TIMEOUT} s" in error["message"]
        assert response.headers["connection"] == "close"
        assert rawhttp.closed_by_peer(sock, within=5)
    statuses = [e["status"] for e in users.access_lines() if e["method"] == "POST"]
    assert statuses.count(408) == 20


def test_sigterm_drains_a_request_in_flight(
    service_runner: ServiceRunner, users: ServiceProcess, data_dir: Path
) -> None:
    body = b'{"username": "drained", "bio": "sent across a SIGTERM"}'
    with rawhttp.connect(users.port) as busy, rawhttp.connect(users.port) as idle:
        idle.sendall(rawhttp.request_bytes("GET", "/healthz"))
        assert rawhttp.read_response(idle).status == 200
        raw = rawhttp.request_bytes(
            "POST", "/api/users", {"Content-Type": "application/json"}, body
        )
        busy.sendall(raw[:-10])  # the request is in flight: its body is not all there

        os.kill(users.process.pid, signal.SIGTERM)  # what the kubelet sends: PID 1 only
        wait_for(
            lambda: "Shutting down granian" in users.logs(), timeout=10, what="shutdown to start"
        )
        busy.sendall(raw[-10:])
        response = rawhttp.read_response(busy)
        assert response.status == 201, response
        assert response.json()["username"] == "drained"
        assert response.headers["connection"] == "close"  # the client goes elsewhere next
        assert rawhttp.closed_by_peer(idle, within=5)
    assert users.process.wait(timeout=20) == 0

    # The answered write is on disk: a new process reads it.
    again = service_runner.start(
        "users", {"STORAGE_MODE": "json", "DATA_DIR": str(data_dir)}, workers=1
    )
    found = requests.get(f"{again.url}/api/users/{response.json()['id']}", timeout=5)
    assert found.status_code == 200
    assert found.json()["bio"] == "sent across a SIGTERM"


def test_once_the_drain_file_exists_every_answer_closes_its_connection(
    service_runner: ServiceRunner, data_dir: Path, tmp_path: Path
) -> None:
    """Lame-duck mode (the pod's preStop hook makes the file): a client on a kept-alive
    connection is told to leave at its next answer, from the app or from the edge cache, so
    none is left sending on an idle connection when SIGTERM closes it. A file left by an
    earlier container is removed at start."""
    drain = tmp_path / "draining"
    drain.touch()
    env = {"STORAGE_MODE": "json", "DATA_DIR": str(data_dir)}
    users = service_runner.start(
        "users", env, workers=1, args=(*_serving_args(), "--drain-file", str(drain))
    )
    assert not drain.exists()
    paths = ("/api/users", "/api/users", "/healthz", "/api/users/2")  # the 2nd: edge cache
    with rawhttp.connect(users.port) as sock:
        for path in paths:
            sock.sendall(rawhttp.request_bytes("GET", path))
            response = rawhttp.read_response(sock)
            assert response.status == 200, response
            assert response.headers.get("connection", "").lower() != "close", path
        drain.touch()
        # Looked for at most every half second: an answer meanwhile may still keep it open.
        deadline = time.monotonic() + 5
        while True:
            sock.sendall(rawhttp.request_bytes("GET", "/api/users"))
            response = rawhttp.read_response(sock)
            assert response.status == 200, response
            if response.headers.get("connection", "").lower() == "close":
                break
            assert time.monotonic() < deadline, "no Connection: close 5 s after the file"
            time.sleep(0.1)
        assert rawhttp.closed_by_peer(sock, within=5)
    for path in paths:  # every later answer, kept or not, closes its connection too
        with rawhttp.connect(users.port) as sock:
            sock.sendall(rawhttp.request_bytes("GET", path))
            response = rawhttp.read_response(sock)
            assert response.status == 200, response
            assert response.headers["connection"] == "close", path
            assert rawhttp.closed_by_peer(sock, within=5)
    made = requests.post(f"{users.url}/api/users", json={"username": "lameduck"}, timeout=5)
    assert made.status_code == 201, made.text
    assert made.headers["connection"] == "close"


def _long_headers(count: int, size: int) -> dict[str, str]:
    return {f"X-Filler-{i}": "v" * size for i in range(count)}


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        pytest.param(
            rawhttp.request_bytes("GET", "/api/users?q=" + "a" * 9000),
            414,
            "uri_too_long",
            id="long-request-line",
        ),
        pytest.param(
            rawhttp.request_bytes("GET", "/api/users", _long_headers(70, 4)),
            431,
            "header_fields_too_large",
            id="too-many-header-fields",
        ),
        pytest.param(
            rawhttp.request_bytes("GET", "/api/users", _long_headers(8, 5000)),
            431,
            "header_fields_too_large",
            id="header-fields-too-large",
        ),
        pytest.param(
            rawhttp.request_bytes("BREW", "/api/users"),
            405,
            "method_not_allowed",
            id="unknown-method",
        ),
        pytest.param(
            rawhttp.request_bytes(
                "POST",
                "/api/users",
                {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            )
            + b"11800\r\n"
            + b"x" * 0x11800
            + b"\r\n0\r\n\r\n",
            413,
            "payload_too_large",
            id="chunked-body-too-large",
        ),
    ],
)
def test_errors_of_the_server_side_are_json(
    users: ServiceProcess, raw: bytes, status: int, code: str
) -> None:
    response = rawhttp.exchange(users.port, raw)
    assert response.status == status, response
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert response.headers["x-request-id"]
    logged = [e for e in users.access_lines() if e["status"] == status]
    assert logged, "the refusal is in the access log"


def test_a_redirect_never_names_the_hosts_header(users: ServiceProcess) -> None:
    raw = b"GET /api//users HTTP/1.1\r\nHost: evil.example\r\n\r\n"
    response = rawhttp.exchange(users.port, raw)
    assert response.status == 308
    assert response.headers["location"] == "/api/users"
    assert "evil.example" not in response.body.decode()
    assert response.json()["error"]["code"] == "permanent_redirect"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        pytest.param(b"GET /api/users HTTP/1.1\r\nHost: x\r\nNo colon\r\n\r\n", 400, id="header"),
        pytest.param(b"G\x01T /api/users HTTP/1.1\r\nHost: x\r\n\r\n", 400, id="method-byte"),
        pytest.param(b"GET /api/users HTTP/9.9\r\nHost: x\r\n\r\n", 400, id="version"),
        pytest.param(b"hello\r\n\r\n", 400, id="not-http"),
        pytest.param(
            rawhttp.request_bytes("GET", "/api/users", _long_headers(120, 1)), 431, id="fields"
        ),
    ],
)
def test_what_hyper_refuses_itself_is_a_bare_status(
    users: ServiceProcess, raw: bytes, status: int
) -> None:
    """Bytes that are not an HTTP request never reach the app: hyper answers the status with
    no body at all (no HTML, nothing a browser could render) and closes the connection.
    Every limit of the app's own (414, 431 above) sits below hyper's."""
    with rawhttp.connect(users.port) as sock:
        sock.sendall(raw)
        response = rawhttp.read_response(sock)
        assert response.status == status
        assert response.body == b""
        assert "content-type" not in response.headers
        assert rawhttp.closed_by_peer(sock, within=5)
    _service_answers(users, "after-garbage")
