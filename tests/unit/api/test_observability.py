"""One JSON log line per request, request ids, and Prometheus metrics by route template."""

from __future__ import annotations

import io
import json
import logging
import os
import re
from collections.abc import Callable, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from forumdb.logs import JsonFormatter
from forumdb_services.api.observability import ACCESS_FIELDS, AccessLineHandler, access_log

from .conftest import Forum


def _access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "forumdb.api.access"]


def test_one_json_line_per_request(json_forum: Forum, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="forumdb.api.access"):
        json_forum.users.get("/api/users/12345", headers={"X-Request-Id": "req-abc.1"})
        json_forum.users.post("/api/users", data="{", content_type="application/json")
    first, second = _access_records(caplog)
    line = JsonFormatter().format(first)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/users/12345"
    assert entry["route"] == "/api/users/<record_id>"
    assert entry["status"] == 404
    assert entry["service"] == "users"
    assert entry["request_id"] == "req-abc.1"
    assert isinstance(entry["duration_ms"], float)
    assert entry["duration_ms"] >= 0
    assert second.status == 400
    assert second.method == "POST"


def test_request_id_is_echoed_or_made(json_forum: Forum) -> None:
    given = json_forum.users.get("/healthz", headers={"X-Request-Id": "trace-42"})
    assert given.headers["X-Request-Id"] == "trace-42"
    made = json_forum.users.get("/healthz")
    other = json_forum.users.get("/healthz")
    assert len(made.headers["X-Request-Id"]) == 32
    assert made.headers["X-Request-Id"] != other.headers["X-Request-Id"]
    # A header that could forge log fields is not taken over.
    forged = json_forum.users.get("/healthz", headers={"X-Request-Id": 'x" evil\\n'})
    assert forged.headers["X-Request-Id"] != 'x" evil\\n'


def _sample_value(client, name: str, labels: dict[str, str]) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_metrics_count_requests_by_route_template(json_forum: Forum) -> None:
    client = json_forum.users
    labels = {
        "service": "users",
        "route": "/api/users/<record_id>",
        "method": "GET",
        "status": "404",
    }
    before = _sample_value(client, "forumdb_http_requests_total", labels)
    for record_id in (11, 12, 13):
        client.get(f"/api/users/{record_id}")
    after = _sample_value(client, "forumdb_http_requests_total", labels)
    assert after - before == 3
    latency = {"service": "users", "route": "/api/users/<record_id>", "method": "GET"}
    assert _sample_value(client, "forumdb_http_request_duration_seconds_count", latency) >= 3


def test_unmatched_paths_share_one_label(json_forum: Forum) -> None:
    client = json_forum.users
    # The method too: other tests send unmatched requests of other methods, and the first
    # sample matching the labels is the one read.
    labels = {"service": "users", "route": "<unmatched>", "method": "GET", "status": "404"}
    before = _sample_value(client, "forumdb_http_requests_total", labels)
    for i in range(4):
        client.get(f"/random/{i}")
    assert _sample_value(client, "forumdb_http_requests_total", labels) - before == 4
    text = client.get("/metrics").get_data(as_text=True)
    assert "/random/" not in text


def test_metrics_content_type(json_forum: Forum) -> None:
    response = json_forum.posts.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "forumdb_http_requests_total" in response.get_data(as_text=True)


@pytest.fixture
def serve_access_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], io.StringIO]]:
    """Sets the access logger up as `forum-service` does (its own handler, alone), into a
    buffer. Called in the test's body: pytest adds its capturing handlers to the logger
    when the test starts."""

    def install() -> io.StringIO:
        stream = io.StringIO()
        monkeypatch.setattr(access_log, "handlers", [AccessLineHandler(stream)])
        monkeypatch.setattr(access_log, "propagate", False)
        return stream

    level = access_log.level
    access_log.setLevel(logging.INFO)
    yield install
    access_log.setLevel(level)


def test_the_served_access_line_holds_every_field(
    json_forum: Forum, serve_access_log: Callable[[], io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = serve_access_log()
    made = []
    monkeypatch.setattr(access_log, "makeRecord", lambda *a, **k: made.append(a))
    json_forum.users.get("/api/users/12345", headers={"X-Request-Id": "req-abc.2"})
    json_forum.users.get("/api/users/by-email/zo%C3%AB@ooo.land")
    assert made == [], "the lines are written without a LogRecord"
    first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert set(first) == {"ts", "level", "logger", "msg", *ACCESS_FIELDS}
    assert first["logger"] == "forumdb.api.access"
    assert first["level"] == "info"
    assert first["msg"] == "GET /api/users/12345 404"
    assert first["route"] == "/api/users/<record_id>"
    assert first["status"] == 404
    assert first["request_id"] == "req-abc.2"
    assert first["pid"] == os.getpid()
    assert first["service"] == "users"
    assert isinstance(first["duration_ms"], float)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert second["path"] == "/api/users/by-email/zoë@ooo.land"


def test_the_served_access_line_is_the_formatters_line(
    serve_access_log: Callable[[], io.StringIO],
) -> None:
    stream = serve_access_log()
    (handler,) = access_log.handlers
    assert isinstance(handler, AccessLineHandler)
    fields = {"method": "GET", "path": "/x\udcff", "route": "<unmatched>", "status": 404}
    handler.write_fields("GET /x 404", fields)
    record = access_log.makeRecord(
        access_log.name, logging.INFO, __file__, 0, "GET /x 404", (), None, extra=fields
    )
    written = json.loads(stream.getvalue())
    general = json.loads(JsonFormatter().format(record))
    assert {k: v for k, v in written.items() if k != "ts"} == {
        **{k: v for k, v in general.items() if k != "ts"},
        **dict.fromkeys(set(ACCESS_FIELDS) - set(fields)),
    }


def test_anything_else_listening_gets_log_records(
    json_forum: Forum,
    serve_access_log: Callable[[], io.StringIO],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = serve_access_log()
    access_log.propagate = True  # as a handler on the root logger, or a test's caplog
    with caplog.at_level(logging.INFO, logger="forumdb.api.access"):
        json_forum.users.get("/healthz")
    records = _access_records(caplog)
    assert records
    assert all(r.status == 200 and r.route == "/healthz" for r in records)
    assert json.loads(stream.getvalue())["route"] == "/healthz"
