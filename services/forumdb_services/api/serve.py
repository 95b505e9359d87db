"""`forum-service users|threads|posts`: serve one service (granian, see `server`).

Settings (storage mode, DATA_DIR, tables, region) come from the environment and
FORUMDB_CONFIG_DIR like everywhere else (forumdb.config), and are checked here before
anything is bound; the serving options (workers, timeouts, limits) come from the command
line, which the chart writes from its `services.server` values. This module imports neither
Flask nor prometheus_client at the top: PROMETHEUS_MULTIPROC_DIR must be set before
prometheus_client is first imported, and the app is built in each worker after the fork.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from forumdb.config import Settings, config_dir_from_env, load_settings
from forumdb.tables import KINDS
from forumdb_services.api.guard import RequestLimits
from forumdb_services.api.server import MULTIPROC_ENV, ServerOptions, serve

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


def server_options(**given: Any) -> ServerOptions:
    """ServerOptions from the command line; a bad value is a usage error naming its option."""
    limit_names = set(RequestLimits.model_fields)
    limits = {k: given.pop(k) for k in list(given) if k in limit_names}
    try:
        return ServerOptions(**given, limits=RequestLimits(**limits))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        option = "--" + str(err["loc"][-1]).replace("_", "-")  # fields are named as options
        message = f"{err['msg']} (got {err.get('input')!r})"
        raise click.BadParameter(message, param_hint=option) from None


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("service", type=click.Choice(KINDS))
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")  # noqa: S104 - a service in a pod listens on all interfaces
@click.option(
    "--port",
    type=int,
    default=None,
    help="Port to listen on [default: PORT from the settings, else 8080].",
)
@click.option(
    "--workers",
    type=int,
    envvar="WEB_CONCURRENCY",
    default=2,
    show_default=True,
    help="Worker processes (env WEB_CONCURRENCY).",
)
@click.option(
    "--threads",
    type=int,
    default=32,
    show_default=True,
    help="Threads per worker that run requests (a request takes one once its body is in; "
    "in JSON mode at most 4 of them run store requests at once).",
)
@click.option(
    "--keep-alive/--no-keep-alive",
    default=True,
    show_default=True,
    help="Serve several requests per connection.",
)
@click.option(
    "--header-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds a connection has to deliver a request head; also the idle timeout of a "
    "kept-alive connection.",
)
@click.option(
    "--body-timeout",
    type=float,
    default=20.0,
    show_default=True,
    help="Seconds a request has to deliver its body once its head arrived (then 408).",
)
@click.option(
    "--graceful-timeout",
    type=int,
    default=20,
    show_default=True,
    help="Seconds a stopping worker gets to finish its requests before it is killed.",
)
@click.option(
    "--max-request-line",
    type=int,
    default=8190,
    show_default=True,
    help="Bytes of the request line (longer: 414).",
)
@click.option(
    "--max-header-bytes",
    type=int,
    default=32768,
    show_default=True,
    help="Bytes of all header fields (more: 431).",
)
@click.option(
    "--max-headers",
    type=int,
    default=64,
    show_default=True,
    help="Header fields of a request (more: 431; at most 100).",
)
@click.option(
    "--max-connections",
    type=int,
    default=2048,
    show_default=True,
    help="Connections one worker holds at once; more wait in the listen backlog.",
)
@click.option(
    "--drain-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Once this file exists, every answer says `Connection: close`, so clients leave "
    "before the stop (the chart's preStop hook creates it). Removed at start.",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default=None,
    help="[default: LOG_LEVEL from the settings, else info]",
)
def main(service: str, port: int | None, log_level: str | None, **options: Any) -> None:
    """Serve the SERVICE API (users, threads or posts) with granian.

    Storage settings come from the environment (STORAGE_MODE, DATA_DIR, TABLE_PREFIX,
    AWS_REGION, ...) or the folder FORUMDB_CONFIG_DIR names.
    """
    settings = checked_settings()
    chosen = server_options(
        port=port if port is not None else settings.port,
        log_level=(log_level or settings.log_level).lower(),
        **options,
    )
    created = _prepare_multiproc_dir()
    try:
        run_server(service, chosen)
    finally:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)


def run_server(service: str, options: ServerOptions) -> None:
    """Serves until SIGTERM or SIGINT (a seam for tests of the command line)."""
    if options.drain_file is not None:
        # left by an earlier container of this pod (a restart keeps its emptyDir /tmp)
        options.drain_file.unlink(missing_ok=True)
    serve(service, options)
