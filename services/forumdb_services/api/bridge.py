"""The bridge between granian's RSGI interface and the Flask (WSGI) app.

granian runs each worker's HTTP on Rust (hyper, tokio) and hands complete request heads to
this coroutine on the worker's event loop. The bridge reads the body there (awaiting it
costs no thread), within `body_timeout` seconds and at most one byte past the body limit,
and only then runs the app on one of `threads` threads (in JSON mode, store requests on at
most CPU_BOUND_THREADS of them). So a client that trickles its body (or stops sending)
holds no thread: after the deadline it gets a 408 from the app and its connection is
closed. granian's own WSGI interface would block a thread on that body with
no timeout; bench/results/serving.md measures what the bridge costs instead.

What the bridge refuses (a late or short body) reaches the app as a `guard.Rejection`, so
every answer is the app's: the JSON error body, the access line, the metrics.

A GET whose whole answer the app produced before and marked reusable, and that is still
current, is answered on the event loop from the edge cache (`edge.py`): no thread, no
Flask. Everything else goes to the app unchanged.
"""

from __future__ import annotations

import asyncio
import collections
import io
import json
import logging
import queue
import sys
import threading
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.exceptions import BadRequest, RequestTimeout

from forumdb_services.api.edge import EdgeCache, request_key
from forumdb_services.api.guard import REJECTION_KEY, Rejection, RequestGuard
from forumdb_services.api.lameduck import LameDuck
from forumdb_services.api.observability import RECORDER_KEY
from forumdb_services.api.runtime import EXTENSION_KEY, StoreRuntime

log = logging.getLogger("forumdb.api.bridge")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Headers = list[tuple[str, str]]

_CLOSE = ("connection", "close")
# Requests on a JSON-mode store are CPU work, serialised by the GIL and the collection's
# lock: they run on at most this many of a worker's threads, since every further thread
# running one only adds switching between threads (bench/results/http_peer.md).
CPU_BOUND_THREADS = 4
# Paths that never wait for a store's lock (the probes): they keep the worker's other
# threads, so a write stuck on the store's file lock cannot make /healthz wait.
PROBE_PATHS = frozenset({"/", "/api", "/api/", "/healthz", "/readyz", "/metrics"})
# The answer when the app itself fails (it answers every error of its own as JSON).
_INTERNAL_ERROR = json.dumps(
    {"error": {"code": "internal_error", "message": "internal error", "field": None}}
).encode()


def _settle(future: asyncio.Future[Any], result: Any, error: Exception | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class _Inbox:
    """The answers of the app threads for one event loop, settled in batches: one wakeup of
    the loop (a write to its self-pipe) carries every answer that arrived meanwhile, instead
    of one wakeup per request."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._answers: collections.deque[tuple[asyncio.Future[Any], Any, Exception | None]] = (
            collections.deque()
        )
        self._scheduled = False

    def put(self, future: asyncio.Future[Any], result: Any, error: Exception | None) -> None:
        """On an app thread. The answer is queued before the flag is read, and the loop
        clears the flag before it takes answers: none is left behind without a wakeup."""
        self._answers.append((future, result, error))
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon_threadsafe(self._settle_all)

    def _settle_all(self) -> None:
        self._scheduled = False
        while self._answers:
            _settle(*self._answers.popleft())


class AppThreads:
    """Threads that run the app for the event loop: a request's environ goes in a queue, its
    answer comes back through the loop's inbox. What `loop.run_in_executor` does, at a third
    of the CPU per request (no concurrent.futures.Future chained to an asyncio one)."""

    _STOP = None

    def __init__(
        self, count: int, run: Callable[[dict[str, Any]], Any], name: str = "request"
    ) -> None:
        self._run = run
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Inbox] = (
            weakref.WeakKeyDictionary()
        )
        self._threads = [
            threading.Thread(target=self._serve, name=f"forumdb-{name}-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, environ: dict[str, Any]) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        inbox = self._inboxes.get(loop)
        if inbox is None:  # on the loop's thread: no other thread adds this loop's inbox
            inbox = self._inboxes[loop] = _Inbox(loop)
        future = loop.create_future()
        self._queue.put((inbox, future, environ))
        return future

    def _serve(self) -> None:
        while (job := self._queue.get()) is not self._STOP:
            inbox, future, environ = job
            try:
                result, error = self._run(environ), None
            except Exception as exc:
                result, error = None, exc
            inbox.put(future, result, error)

    def stop(self) -> None:
        """Lets every thread finish its request and end."""
        for _ in self._threads:
            self._queue.put(self._STOP)
        for thread in self._threads:
            thread.join()


def _split_host_port(address: str, default_port: str) -> tuple[str, str]:
    host, sep, port = address.rpartition(":")
    return (host, port) if sep else (address, default_port)


def _wsgi_str(text: str) -> str:
    # PEP 3333: environ strings carry bytes as latin-1; granian decoded the path as UTF-8.
    return text if text.isascii() else text.encode("utf-8", "surrogateescape").decode("latin-1")


class WSGIBridge:
    """An RSGI application serving a WSGI one (see the module's docstring)."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        threads: int,
        body_timeout: float,
        max_body_bytes: Callable[[], int],
        cpu_bound: Callable[[], bool] = lambda: False,
        edge: EdgeCache | None = None,
        lame_duck: LameDuck | None = None,
    ) -> None:
        self.app = app
        self.edge = edge
        self.lame_duck = lame_duck or LameDuck(None)
        self.body_timeout = body_timeout
        self._max_body_bytes = max_body_bytes
        self._cpu_bound = cpu_bound
        self._threads = threads
        self._pool: AppThreads | None = None
        self._cpu_pool: AppThreads | None = None
        self._base_environ: dict[str, Any] = {
            "SCRIPT_NAME": "",
            "SERVER_SOFTWARE": "granian",
            "wsgi.version": (1, 0),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            # The body is complete and its length known: werkzeug may read it to its end.
            "wsgi.input_terminated": True,
        }

    @classmethod
    def for_app(
        cls,
        app: Flask,
        *,
        threads: int,
        body_timeout: float,
        drain_file: Path | None = None,
    ) -> WSGIBridge:
        """The bridge to one of our apps, with its body limit (MAX_REQUEST_BYTES) and its
        storage mode, both of which may change with the settings, its edge cache, and the
        drain file that puts it in lame-duck mode (lameduck.py)."""
        runtime: StoreRuntime = app.extensions[EXTENSION_KEY]
        guard = app.wsgi_app
        if not isinstance(guard, RequestGuard):
            raise TypeError(f"{app.name}: the app's WSGI callable is not its RequestGuard")
        return cls(
            guard,
            threads=threads,
            body_timeout=body_timeout,
            max_body_bytes=lambda: runtime.settings.max_request_bytes,
            cpu_bound=lambda: runtime.settings.storage_mode == "json",
            edge=EdgeCache(runtime, app.extensions[RECORDER_KEY], guard.limits),
            lame_duck=LameDuck(drain_file),
        )

    # granian calls these in the worker, around serving (its RSGI lifecycle hooks).
    def __rsgi_init__(self, _loop: asyncio.AbstractEventLoop) -> None:
        self._pool = AppThreads(self._threads, self._call)
        self._cpu_pool = AppThreads(min(self._threads, CPU_BOUND_THREADS), self._call, "store")

    def __rsgi_del__(self, _loop: asyncio.AbstractEventLoop) -> None:
        for pool in (self._pool, self._cpu_pool):
            if pool is not None:
                pool.stop()
        self._pool = self._cpu_pool = None

    def environ(self, scope: Any) -> dict[str, Any]:
        """The WSGI environ of an RSGI scope (headers joined as RFC 9110 allows)."""
        environ = dict(self._base_environ)
        server_name, server_port = _split_host_port(scope.server, "80")
        environ["SERVER_NAME"] = server_name
        environ["SERVER_PORT"] = server_port
        environ["REMOTE_ADDR"] = _split_host_port(scope.client, "")[0]
        environ["REQUEST_METHOD"] = scope.method
        environ["PATH_INFO"] = _wsgi_str(scope.path)
        environ["QUERY_STRING"] = scope.query_string
        environ["SERVER_PROTOCOL"] = f"HTTP/{scope.http_version}"
        environ["wsgi.url_scheme"] = scope.scheme
        for name, value in scope.headers.items():
            if "_" in name:
                # `X_Id` would read as `X-Id` in the environ: a header a proxy let through
                # could pass for one it filtered. Dropped, as gunicorn and nginx do.
                continue
            if name == "content-type":
                key = "CONTENT_TYPE"
            elif name == "content-length":
                key = "CONTENT_LENGTH"
            else:
                key = "HTTP_" + name.upper().replace("-", "_")
            if key in environ:
                value = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + value
            environ[key] = value
        if "HTTP_HOST" not in environ and scope.authority:
            environ["HTTP_HOST"] = scope.authority
        return environ

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            return  # websockets are off in granian's settings
        environ = self.environ(scope)
        edge = self.edge
        key = request_key(environ)
        if edge is not None and edge.known(key):
            kept = None
            try:
                kept = edge.answer(key, environ)
            except Exception:
                log.exception("the edge cache failed; the app answers instead")
            if kept is not None:
                if self.lame_duck.on():
                    kept.headers.append(_CLOSE)  # this replay's own list (edge.answer)
                protocol.response_bytes(kept.status, kept.headers, kept.body)
                edge.record(kept)
                return
        close = False
        if "CONTENT_LENGTH" in environ or "HTTP_TRANSFER_ENCODING" in environ:
            body, close = await self._body(environ, protocol)
        else:
            body = b""
        environ["wsgi.input"] = io.BytesIO(body)
        pool = self._pool
        if self._cpu_bound() and environ["PATH_INFO"] not in PROBE_PATHS:
            pool = self._cpu_pool
        assert pool is not None, "granian calls __rsgi_init__ before serving"
        try:
            status, headers, payload = await pool.submit(environ)
        except Exception:
            log.exception("the app failed outside its own error handling")
            status, headers, payload = 500, [("content-type", "application/json")], _INTERNAL_ERROR
            close = True
        if not close and edge is not None and status in (200, 304):
            try:
                edge.keep(key, environ, status, headers, payload)  # keeps a copy
            except Exception:  # the app's answer is sent all the same, and only it
                log.exception(
                    "keeping an answer in the edge cache failed",
                    extra={"path": environ["PATH_INFO"]},
                )
        if (close or self.lame_duck.on()) and not any(
            name.lower() == "connection" for name, _ in headers
        ):
            headers.append(_CLOSE)
        protocol.response_bytes(status, headers, payload)

    async def _body(self, environ: dict[str, Any], protocol: Any) -> tuple[bytes, bool]:
        """The request body, and whether the connection must close after the answer (the
        body was left unread). A body over the limit is not read: the app answers 413."""
        declared = environ.get("CONTENT_LENGTH")
        limit = self._max_body_bytes()
        if declared is not None:
            length = int(declared)  # hyper refused any other Content-Length
            if length == 0:
                return b"", False
            if length > limit:
                return b"", True
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await (protocol() if declared is not None else _read_up_to(protocol, limit))
        except TimeoutError:
            message = f"the request body did not arrive within {self.body_timeout:g} s"
            environ[REJECTION_KEY] = Rejection(RequestTimeout(message), close=True)
            return b"", True
        except Exception as exc:  # granian's RSGIProtocolError: the client went away
            environ[REJECTION_KEY] = Rejection(
                BadRequest(f"the request body ended early: {exc}"), close=True
            )
            return b"", True
        if declared is not None:
            return body, False
        environ["CONTENT_LENGTH"] = str(len(body))  # the app answers 413 past the limit
        del environ["HTTP_TRANSFER_ENCODING"]
        return body, len(body) > limit  # the rest of a body over the limit is left unread

    def _call(self, environ: dict[str, Any]) -> tuple[int, Headers, bytes]:
        """Runs the WSGI app on a pool thread; its status, headers and whole body."""
        started: list[Any] = []

        def start_response(status: str, headers: Headers, _exc_info: Any = None) -> None:
            started[:] = [int(status.split(" ", 1)[0]), headers]

        result = self.app(environ, start_response)
        try:
            payload = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return started[0], list(started[1]), payload


async def _read_up_to(protocol: Any, limit: int) -> bytes:
    """A body of unknown length (chunked), read until its end or one byte past `limit`."""
    chunks = []
    size = 0
    async for chunk in protocol:
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)
