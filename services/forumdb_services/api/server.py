"""The serving stack of `forum-service`: granian's WSGI server in front of the Flask app.

Chosen on measurement (bench/results/serving.md): granian's HTTP layer is Rust (hyper on
tokio), so idle, half-open and slow connections cost a socket and a buffer, never a Python
thread; keep-alive works; and it answers several times the requests per second of gunicorn's
workers on the same two cores. granian talks RSGI to the bridge (`bridge.py`), which reads
each request's body within `body_timeout` on the worker's event loop and then runs the Flask
app on one of `threads` threads.

What hyper's settings cover here:
- `header_timeout`: a connection must deliver a whole request head within it, the first
  one and every later one on a kept-alive connection: so it is also the idle timeout of
  kept-alive connections, and a half-open connection is closed after it.
- `max_connections`: connections one worker holds at once (granian's backpressure); more
  wait in the listen backlog.
- A graceful stop: on SIGTERM the workers stop accepting, finish the requests in flight
  (answering them with `Connection: close`) and close idle connections; a worker still busy
  after `graceful_timeout` seconds is killed. Before that, once `drain_file` exists (the
  pod's preStop hook makes it), every answer closes its connection (lameduck.py), so no
  client is left sending on an idle connection when SIGTERM closes it.

This module imports neither Flask nor prometheus_client at the top: the workers build the
app after PROMETHEUS_MULTIPROC_DIR is set, each in its own process.
"""

from __future__ import annotations

import os
import re
import sys
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from forumdb_services.api.guard import RequestLimits

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# hyper's read buffer: a request head larger than this is refused by hyper itself (431,
# empty body). It stays well above RequestLimits' largest settings, so that every head
# within a few times the configured limits reaches the guard and gets the JSON answer.
HYPER_BUFFER_BYTES = 8192 + 4096 * 100
LISTEN_BACKLOG = 2048
# Files of prometheus_client's multiprocess mode that belong to one process's live gauges.
_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w*_(\d+)\.db")


class ServerOptions(BaseModel):
    """Everything `forum-service` hands to granian, checked before anything is bound."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "0.0.0.0"  # noqa: S104 - a service in a pod listens on all interfaces
    port: int = Field(8080, ge=1, le=65535)
    workers: int = Field(2, ge=1, le=64)
    threads: int = Field(32, ge=1, le=1024)
    keep_alive: bool = True
    header_timeout: float = Field(30.0, ge=1, le=60)
    graceful_timeout: int = Field(20, ge=1, le=1800)
    max_connections: int = Field(2048, ge=16, le=65536)
    log_level: str = "info"
    # Its existence puts the workers in lame-duck mode (lameduck.py); the preStop hook makes it.
    drain_file: Path | None = None
    limits: RequestLimits = RequestLimits()


def log_config(level: str) -> dict[str, Any]:
    """granian's own logs (start, workers, errors) as JSON lines on stderr, like ours."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "forumdb.logs.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {
            "_granian": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "granian.access": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }


def reap_dead_workers_gauges(folder: Path) -> list[int]:
    """Drops the live gauges of worker processes that are gone (a respawned worker's
    predecessor): granian has no hook when a worker exits, so each new worker does it.
    Returns the pids reaped."""
    from prometheus_client import multiprocess

    reaped = []
    for path in folder.glob("gauge_live*.db"):
        match = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(folder))
            reaped.append(pid)
        except PermissionError:
            continue  # alive, someone else's
    return reaped


def build_worker_app(service: str, options: ServerOptions) -> Any:
    """The app one worker serves (RSGI): runs in the worker process, after the fork."""
    from forumdb.logs import configure_logging
    from forumdb_services.api.app import create_app
    from forumdb_services.api.bridge import WSGIBridge
    from forumdb_services.api.observability import AccessLineHandler, access_log

    configure_logging(options.log_level.upper())  # --log-level, else LOG_LEVEL
    # The access logger writes through its own handler: its lines are the same JSON, made
    # from the request's fields without a LogRecord (a third of the general path's cost).
    access_log.handlers[:] = [AccessLineHandler(sys.stderr)]
    access_log.propagate = False
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        reap_dead_workers_gauges(Path(folder))
    app = create_app(service, limits=options.limits)
    return WSGIBridge.for_app(
        app,
        threads=options.threads,
        body_timeout=options.limits.body_timeout,
        drain_file=options.drain_file,
    )


def granian_server(service: str, options: ServerOptions) -> Any:
    """granian's multi-process server, configured; `.serve(...)` runs it (see serve())."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server import Server

    return Server(
        target=f"forumdb_services.api.app:{service}",  # for granian's logs; see serve()
        address=options.host,
        port=options.port,
        interface=Interfaces.RSGI,
        workers=options.workers,
        http=HTTPModes.http1,
        websockets=False,
        backlog=LISTEN_BACKLOG,
        backpressure=options.max_connections,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(options.header_timeout * 1000),
            keep_alive=options.keep_alive,
            max_buffer_size=HYPER_BUFFER_BYTES,
        ),
        log_level=LogLevels(options.log_level.lower()),
        log_dictconfig=log_config(options.log_level),
        log_access=False,  # the app writes one JSON line per request itself
        respawn_failed_workers=True,
        workers_kill_timeout=options.graceful_timeout,
    )


def serve(service: str, options: ServerOptions) -> None:
    """Serves `service` until SIGTERM or SIGINT (then stops gracefully)."""
    server = granian_server(service, options)
    server.serve(target_loader=partial(build_worker_app, service, options), wrap_loader=False)
