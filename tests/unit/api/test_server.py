"""`forum-service`'s serving stack, configured: granian's settings from ServerOptions, the
gauges of dead workers reaped, and the access line its workers write."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from forumdb.logs import JsonFormatter
from forumdb_services.api.guard import RequestLimits
from forumdb_services.api.observability import AccessLineFormatter, RequestIds, access_log
from forumdb_services.api.server import (
    ServerOptions,
    granian_server,
    log_config,
    reap_dead_workers_gauges,
)


@pytest.fixture(autouse=True)
def _keep_granian_logger() -> None:
    # Building a granian server configures its logger: leave it as it was.
    granian_log = logging.getLogger("_granian")
    saved = (granian_log.handlers[:], granian_log.level, granian_log.propagate)
    yield
    granian_log.handlers[:], granian_log.level, granian_log.propagate = saved


def test_granian_gets_the_options() -> None:
    options = ServerOptions(
        host="127.0.0.1",
        port=8123,
        workers=3,
        threads=5,
        keep_alive=False,
        header_timeout=7.5,
        graceful_timeout=11,
        max_connections=321,
        log_level="warning",
        limits=RequestLimits(body_timeout=4),
    )
    server = granian_server("posts", options)
    assert (server.bind_addr, server.bind_port) == ("127.0.0.1", 8123)
    assert str(server.interface) == "rsgi"
    assert str(server.http) == "1"  # HTTP/1.1 only: no h2c with limits of its own
    assert server.websockets is False
    assert server.workers == 3
    assert server.backpressure == 321
    assert server.http1_settings.header_read_timeout == 7500
    assert server.http1_settings.keep_alive is False
    assert server.workers_kill_timeout == 11
    assert server.respawn_failed_workers is True
    assert server.log_access is False
    assert server.log_config["formatters"] == log_config("warning")["formatters"]
    assert server.log_config["loggers"]["_granian"]["handlers"] == ["stderr"]
    assert server.log_level == "warning"


def test_log_config_writes_json_lines() -> None:
    config = log_config("info")
    assert config["formatters"]["json"]["()"] == "forumdb.logs.JsonFormatter"
    assert config["loggers"]["_granian"]["handlers"] == ["stderr"]
    assert config["handlers"]["stderr"]["stream"] == "ext://sys.stderr"


def test_dead_workers_gauges_are_reaped(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead = int(gone.stdout)
    alive = os.getpid()
    for pid in (dead, alive):
        (tmp_path / f"gauge_livemax_{pid}.db").write_bytes(b"")
        (tmp_path / f"counter_{pid}.db").write_bytes(b"")
    assert reap_dead_workers_gauges(tmp_path) == [dead]
    assert not (tmp_path / f"gauge_livemax_{dead}.db").exists()
    assert (tmp_path / f"gauge_livemax_{alive}.db").exists()
    # A dead worker's counters still count.
    assert (tmp_path / f"counter_{dead}.db").exists()


def test_the_access_line_is_what_the_general_formatter_writes() -> None:
    record = access_log.makeRecord(
        access_log.name,
        logging.INFO,
        __file__,
        0,
        "%s %s %d",
        ("GET", "/api/users/7", 404),
        None,
        extra={
            "method": "GET",
            "path": "/api/users/7",
            "route": "/api/users/<record_id>",
            "status": 404,
            "duration_ms": 0.512,
            "service": "users",
            "request_id": "abc",
            "pid": 42,
            "config_generation": 3,
        },
    )
    fast = json.loads(AccessLineFormatter().format(record))
    general = json.loads(JsonFormatter().format(record))
    assert fast == general
    assert fast["msg"] == "GET /api/users/7 404"


def test_request_ids_are_unique_32_hex_digits() -> None:
    ids = RequestIds()
    made = [ids() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in made)
    assert RequestIds()()[:16] != made[0][:16]  # each process (or fork) its own prefix
