"""Per-request observability: a request id, one JSON log line, Prometheus metrics.

Metrics are labelled by the route template (`/api/users/<user_id>`), never the raw path, so
their number stays bounded whatever clients send. Under gunicorn with several workers each
worker has its own counters; prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR,
set up by `forum-service`) lets /metrics answer for all of them together.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid

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


def _request_id() -> str:
    # Keep a caller's id (so one id follows a request across services) if it is sane.
    given = request.headers.get(REQUEST_ID_HEADER, "")
    return given if _CLIENT_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _route() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED_ROUTE


def install_request_observability(app: Flask, service: str) -> None:
    @app.before_request
    def _start() -> None:
        g.request_started = time.perf_counter()
        g.request_id = _request_id()

    @app.after_request
    def _finish(response: Response) -> Response:
        started = g.get("request_started")
        duration = time.perf_counter() - started if started is not None else 0.0
        route = _route()
        method = request.method
        REQUESTS.labels(service, route, method, str(response.status_code)).inc()
        LATENCY.labels(service, route, method).observe(duration)
        request_id = g.get("request_id") or _request_id()
        response.headers[REQUEST_ID_HEADER] = request_id
        generation = g.get("generation")
        access_log.info(
            "%s %s %d",
            method,
            request.path,
            response.status_code,
            extra={
                "method": method,
                "path": request.path,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(duration * 1000, 3),
                "service": service,
                "request_id": request_id,
                # Which gunicorn worker answered, and with which settings generation.
                "pid": os.getpid(),
                "config_generation": generation.number if generation is not None else None,
            },
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
