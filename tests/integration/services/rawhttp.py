"""HTTP/1.1 over a bare socket, for what client libraries will not send (a half-open
connection, a head or body cut short, a malformed request line) or hide (whether the
server kept a connection open)."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def request_bytes(
    method: str = "GET",
    target: str = "/healthz",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def read_response(sock: socket.socket, timeout: float = 10.0) -> RawResponse:
    """One response (Content-Length framed, as the services send them)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response head: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed inside a response body")
        rest += chunk
    return RawResponse(int(status_line.split()[1]), headers, rest[:length])


def exchange(port: int, raw: bytes, timeout: float = 10.0) -> RawResponse:
    """Sends `raw` on a new connection and reads one response."""
    with connect(port, timeout) as sock:
        sock.sendall(raw)
        return read_response(sock, timeout)


def closed_by_peer(sock: socket.socket, within: float) -> bool:
    """Whether the server closes the connection (EOF or reset) within `within` seconds,
    reading and discarding anything it sends first."""
    deadline = time.monotonic() + within
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True


def still_open(sock: socket.socket) -> bool:
    """Whether the server has neither closed nor reset the connection (nothing to read)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)
