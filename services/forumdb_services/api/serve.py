"""`forum-service users|threads|posts`: serve one service with gunicorn.

Settings (storage mode, DATA_DIR, tables, region) come from the environment and
FORUMDB_CONFIG_DIR like everywhere else (forumdb.config), and are checked here before gunicorn
binds anything. This module imports neither Flask
nor prometheus_client at the top: PROMETHEUS_MULTIPROC_DIR must be set before
prometheus_client is first imported, and the app is built in each worker after the fork.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click
from gunicorn.app.base import BaseApplication
from pydantic import ValidationError

from forumdb.config import Settings, config_dir_from_env, load_settings
from forumdb.tables import KINDS

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
USAGE_ERROR = 2  # click's exit code for bad arguments; a bad setting is one too


def _source(name: str) -> str:
    config_dir = config_dir_from_env()
    if config_dir is not None and (config_dir / name).is_file():
        return f"file {config_dir / name}"
    return "the environment"


def describe_settings_error(exc: ValidationError) -> str:
    """One line naming each bad variable, its value, where it came from and what is allowed."""
    parts = []
    for err in exc.errors(include_url=False):
        name = ".".join(str(part) for part in err["loc"]) or "settings"
        allowed = err["msg"].removeprefix("Value error, ")
        allowed = allowed[:1].lower() + allowed[1:]
        parts.append(f"{name}={err.get('input')!r} (from {_source(name)}): {allowed}")
    return "; ".join(parts)


def checked_settings() -> Settings:
    """The settings every worker will load, checked in the master before anything is bound:
    a bad value is one line on stderr and exit code 2, not workers dying at boot."""
    try:
        settings = load_settings()
    except ValidationError as exc:
        message = describe_settings_error(exc)
    except ValueError as exc:
        message = str(exc)
    else:
        if settings.log_level.lower() in LOG_LEVELS:
            return settings
        message = (
            f"LOG_LEVEL={settings.log_level!r} (from {_source('LOG_LEVEL')}): "
            f"should be one of {', '.join(LOG_LEVELS)}"
        )
    click.echo(f"forum-service: invalid setting: {message}", err=True)
    raise SystemExit(USAGE_ERROR)


def _logconfig(level: str) -> dict[str, Any]:
    """gunicorn's own logs (start, worker boot and exit) as JSON lines, like ours."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "forumdb.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["stderr"], "propagate": False},
        },
    }


def _worker_exit(_server: Any, worker: Any) -> None:
    # Live gauges of a dead worker must not linger in the multiprocess metrics.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class ServiceApplication(BaseApplication):
    """gunicorn, configured in code, serving `create_app(service)`."""

    def __init__(self, service: str, options: dict[str, Any]) -> None:
        self.service = service
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        # gunicorn >= 25.1 opens a control socket at one fixed path per user ($HOME/.gunicorn):
        # several services on one host would fight over it, and a pod's home may be
        # read-only. Nothing here uses it.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Any:
        from forumdb.logs import configure_logging
        from forumdb_services.api.app import create_app

        configure_logging(load_settings().log_level)
        return create_app(self.service)


def _prepare_multiproc_dir() -> Path | None:
    """A clean PROMETHEUS_MULTIPROC_DIR: the given one emptied of old samples, or a fresh
    temporary folder (returned, for removal at exit)."""
    given = os.environ.get(MULTIPROC_ENV, "").strip()
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
        return None
    created = Path(tempfile.mkdtemp(prefix="forumdb-metrics-"))
    os.environ[MULTIPROC_ENV] = str(created)
    return created


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("service", type=click.Choice(KINDS))
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104 - a service in a pod listens on all interfaces
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port to listen on [default: PORT from the settings, else 8080].",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    envvar="WEB_CONCURRENCY",
    default=2,
    show_default=True,
    help="gunicorn worker processes (env WEB_CONCURRENCY).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Threads per worker (more than 1 uses gunicorn's gthread worker).",
)
@click.option("--timeout", type=click.IntRange(1, 3600), default=30, show_default=True)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default=None,
    help="[default: LOG_LEVEL from the settings, else info]",
)
def main(
    service: str,
    host: str,
    port: int | None,
    workers: int,
    threads: int,
    timeout: int,
    log_level: str | None,
) -> None:
    """Serve the SERVICE API (users, threads or posts) with gunicorn.

    Storage settings come from the environment (STORAGE_MODE, DATA_DIR, TABLE_PREFIX,
    AWS_REGION, ...) or the folder FORUMDB_CONFIG_DIR names.
    """
    settings = checked_settings()
    port = port if port is not None else settings.port
    log_level = log_level or settings.log_level
    created = _prepare_multiproc_dir()
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": timeout,
        "graceful_timeout": 20,
        "proc_name": f"forum-service-{service}",
        "accesslog": None,  # the app logs one JSON line per request itself
        "logconfig_dict": _logconfig(log_level.upper()),
        "loglevel": log_level.lower(),
        "child_exit": _worker_exit,
    }
    try:
        ServiceApplication(service, options).run()
    finally:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
