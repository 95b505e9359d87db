"""Per-request observability: a request id, one JSON log line, Prometheus metrics.

Metrics are labelled by the route template (`/api/users/<user_id>`), never the raw path, so
their number stays bounded whatever clients send. With several worker processes each has its
own counters; prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set up by
`forum-service`) lets /metrics answer for all of them together. Its values are memory-mapped
files: an increment is a write to memory, no system call, and costs what an in-process
counter does (bench/results/request_path.md).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time
from http import HTTPStatus
from typing import Any

import orjson
from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

access_log = logging.getLogger("forumdb.api.access")

REQUEST_ID_HEADER = "X-Request-Id"
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
UNMATCHED_ROUTE = "<unmatched>"

REQUESTS = Counter(
    "forumdb_http_requests_total",
    "HTTP requests answered, by service, route template, method and status",
    ["service", "route", "method", "status"],
)
LATENCY = Histogram(
    "forumdb_http_request_duration_seconds",
    "Time to answer an HTTP request, by service, route template and method",
    ["service", "route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# 1 for the region the process's DynamoDB store uses (0 for one it used before a failover);
# in multiprocess mode, the highest over live workers: during a switch both may read 1.
STORAGE_REGION = Gauge(
    "forumdb_storage_region_info",
    "The AWS region the DynamoDB store uses (1) or used before the last switch (0)",
    ["region"],
    multiprocess_mode="livemax",
)


def report_storage_region(region: str | None, previous: str | None = None) -> None:
    """Record the region in use (None: not DynamoDB mode, nothing to report)."""
    if previous and previous != region:
        STORAGE_REGION.labels(previous).set(0)
    if region:
        STORAGE_REGION.labels(region).set(1)


class RequestIds:
    """Unique request ids, cheaply: a random prefix per process and a counter (uuid4 reads
    the OS's random source on every request). 32 hex digits, like a uuid4's."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(int.from_bytes(os.urandom(4), "big"))

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFFFFFFFFFF:016x}"


_new_request_id = RequestIds()


def request_id_for(environ: dict[str, Any]) -> str:
    """The id of a request: the caller's X-Request-Id if it is sane (so one id follows a
    request across services), else a new one."""
    given = environ.get("HTTP_X_REQUEST_ID")
    if given and _CLIENT_REQUEST_ID.fullmatch(given):
        return given
    return _new_request_id()


def _request_id() -> str:
    return request_id_for(request.environ)


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED_ROUTE


# The fields of an access line, in order (ACCESS_FIELDS of AccessLineFormatter).
ACCESS_FIELDS = (
    "method",
    "path",
    "route",
    "status",
    "duration_ms",
    "service",
    "request_id",
    "pid",
    "config_generation",
)


class AccessLineFormatter(logging.Formatter):
    """The JSON line forumdb.logs.JsonFormatter writes for an access record (the same fields
    and values; written by orjson, so without the spaces), made for that record alone: known
    fields, the timestamp text reused within a second. `forum-service` puts it on the access
    logger (AccessLineHandler); it costs a third of the general formatter, on every request."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def line(
        self, created: float, msecs: float, level: str, name: str, msg: str, fields: dict[str, Any]
    ) -> str:
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        out = {
            "ts": f"{self._second_text}.{int(msecs):03d}Z",
            "level": level,
            "logger": name,
            "msg": msg,
        }
        for field_name in ACCESS_FIELDS:
            out[field_name] = fields.get(field_name)
        try:
            return orjson.dumps(out).decode()
        except orjson.JSONEncodeError:  # a path with a lone surrogate: escaped, as json does
            return json.dumps(out)

    def format(self, record: logging.LogRecord) -> str:
        return self.line(
            record.created,
            record.msecs,
            record.levelname.lower(),
            record.name,
            record.getMessage(),
            record.__dict__,
        )


class AccessLineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The access logger's handler in `forum-service`: AccessLineFormatter's lines, which
    the app hands over as fields (`write_fields`), without the LogRecord and the logging
    machinery a line costs otherwise (half the cost of the line). Records logged the usual
    way are written too, the same way."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self.line_formatter = AccessLineFormatter()
        self.setFormatter(self.line_formatter)

    def write_fields(self, msg: str, fields: dict[str, Any]) -> None:
        now = time.time()
        msecs = (now - int(now)) * 1000
        text = self.line_formatter.line(now, msecs, "info", access_log.name, msg, fields)
        try:
            with self.lock:  # type: ignore[union-attr]
                self.stream.write(text + self.terminator)
                self.stream.flush()
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": msg, "name": access_log.name}))


def _fast_access_handler() -> AccessLineHandler | None:
    """The access logger's own handler when it is the only place its lines go (as
    `forum-service` sets it up); None when anything else listens (a test's caplog)."""
    handlers = access_log.handlers
    if (
        len(handlers) == 1
        and not access_log.propagate
        and not access_log.filters
        and type(handlers[0]) is AccessLineHandler
        and not handlers[0].filters
        and handlers[0].level <= logging.INFO
    ):
        return handlers[0]
    return None


# Every label takes few values, whatever clients send: a method outside this set counts as
# "other", a status outside the registered codes as its class ("4xx") or "other". (Each label
# set is a time series held for good: 500 invented methods grew /metrics from 38 KB to 1 MB.)
METHOD_LABELS = {m: m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")}
OTHER_LABEL = "other"
_STATUS_CODES = frozenset(int(s) for s in HTTPStatus)


def status_label(status: int) -> str:
    if status in _STATUS_CODES:
        return str(status)
    return f"{status // 100}xx" if 100 <= status <= 599 else OTHER_LABEL


class _MetricChildren:
    """prometheus_client's labelled children, looked up once per label set: `labels()`
    takes a lock and builds a tuple on every call."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[tuple[str, str], Any] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        method = METHOD_LABELS.get(method, OTHER_LABEL)  # bounded before it keys the cache
        counter = self._requests.get((route, method, status))
        if counter is None:
            counter = REQUESTS.labels(self.service, route, method, status_label(status))
            self._requests[(route, method, status)] = counter
        counter.inc()
        histogram = self._latency.get((route, method))
        if histogram is None:
            histogram = LATENCY.labels(self.service, route, method)
            self._latency[(route, method)] = histogram
        histogram.observe(seconds)


# Where the app keeps its RequestRecorder (app.extensions), for answers made outside Flask.
RECORDER_KEY = "forumdb.observability"


class RequestRecorder:
    """The metrics and the access line of one answered request: Flask's after_request hook
    and the bridge's edge cache (`edge.py`) both record through it, so a request counts and
    logs the same whoever answered it."""

    def __init__(self, service: str) -> None:
        self.service = service
        self._metrics = _MetricChildren(service)

    def record(
        self,
        *,
        method: str,
        path: str,
        route: str,
        status: int,
        duration: float,
        request_id: str,
        generation: int | None,
    ) -> None:
        self._metrics.observe(route, method, status, duration)
        if not access_log.isEnabledFor(logging.INFO):
            return
        fields = {
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": round(duration * 1000, 3),
            "service": self.service,
            "request_id": request_id,
            # Which worker process answered, and with which settings generation.
            "pid": os.getpid(),
            "config_generation": generation,
        }
        handler = _fast_access_handler()
        if handler is not None:
            handler.write_fields(f"{method} {path} {status}", fields)
            return
        # makeRecord, not info(): the caller's file and line are not logged, and finding
        # them walks the stack.
        record = access_log.makeRecord(
            access_log.name,
            logging.INFO,
            __file__,
            0,
            "%s %s %d",
            (method, path, status),
            None,
            extra=fields,
        )
        access_log.handle(record)


def install_request_observability(app: Flask, service: str) -> None:
    recorder = app.extensions[RECORDER_KEY] = RequestRecorder(service)

    @app.before_request
    def _start() -> None:
        ctx_g = g._get_current_object()  # one lookup through the proxy, not one per use
        ctx_g.request_started = time.perf_counter()
        ctx_g.request_id = _request_id()

    @app.after_request
    def _finish(response: Response) -> Response:
        req = request._get_current_object()
        ctx_g = g._get_current_object()
        started = ctx_g.get("request_started")
        duration = time.perf_counter() - started if started is not None else 0.0
        request_id = ctx_g.get("request_id") or _request_id()
        response.headers[REQUEST_ID_HEADER] = request_id
        generation = ctx_g.get("generation")
        recorder.record(
            method=req.method,
            path=req.path,
            route=_route(),
            status=response.status_code,
            duration=duration,
            request_id=request_id,
            generation=generation.number if generation is not None else None,
        )
        return response


def metrics_response() -> Response:
    """The Prometheus exposition of this process, or of every worker in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        body = generate_latest(REGISTRY)
    return Response(body, content_type=CONTENT_TYPE_LATEST)
