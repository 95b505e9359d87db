"""The services' serving settings: the chart's `services.server` values become the options of
the image's `forum-service` (the same stack in both), the pod drains within its grace period,
and values the server would refuse are refused by helm first."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from chartkit import SERVICE_NAMES, named
from click.testing import CliRunner

from forumdb_services.api import serve
from forumdb_services.api.guard import RequestLimits
from forumdb_services.api.server import ServerOptions

DRAIN_FILE = Path("/tmp/forum-service.draining")  # on the pod's emptyDir /tmp


def _main_container(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    spec = named(objects, "Deployment", f"forum-{name}")["spec"]["template"]["spec"]
    (main,) = spec["containers"]
    return main


def _options_of(container: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> ServerOptions:
    """What `forum-service` makes of the container's command line (nothing is served)."""
    started: list[ServerOptions] = []
    monkeypatch.setattr(serve, "run_server", lambda _service, options: started.append(options))
    monkeypatch.setattr(serve, "_prepare_multiproc_dir", lambda: None)
    for name in ("PORT", "WEB_CONCURRENCY", "LOG_LEVEL", "STORAGE_MODE", "FORUMDB_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert container["command"] == ["forum-service"]
    result = CliRunner().invoke(serve.main, container["args"])
    assert result.exit_code == 0, result.output
    (options,) = started
    return options


def test_default_values_are_forum_services_defaults(render, monkeypatch) -> None:
    objects = render({})
    for name in SERVICE_NAMES:
        options = _options_of(_main_container(objects, name), monkeypatch)
        assert options == ServerOptions(host="0.0.0.0", port=8080, drain_file=DRAIN_FILE)


def test_every_serving_value_reaches_the_server(render, monkeypatch) -> None:
    server = {
        "threads": 7,
        "keepAlive": False,
        "headerTimeoutSeconds": 12,
        "bodyTimeoutSeconds": 2.5,
        "gracefulTimeoutSeconds": 9,
        "preStopSleepSeconds": 3,
        "maxRequestLine": 4094,
        "maxHeaderBytes": 16384,
        "maxHeaders": 40,
        "maxConnections": 500,
    }
    objects = render({"services": {"workers": 3, "server": server}})
    options = _options_of(_main_container(objects, "threads"), monkeypatch)
    assert options == ServerOptions(
        host="0.0.0.0",
        port=8080,
        workers=3,
        threads=7,
        keep_alive=False,
        header_timeout=12,
        graceful_timeout=9,
        max_connections=500,
        drain_file=DRAIN_FILE,
        limits=RequestLimits(
            max_request_line=4094, max_header_bytes=16384, max_headers=40, body_timeout=2.5
        ),
    )


def test_the_pod_keeps_serving_then_drains_within_its_grace_period(render) -> None:
    objects = render({})
    for name in SERVICE_NAMES:
        deployment = named(objects, "Deployment", f"forum-{name}")
        spec = deployment["spec"]["template"]["spec"]
        main = _main_container(objects, name)
        args = main["args"]
        drain = args[args.index("--drain-file") + 1]
        assert drain.startswith("/tmp/")  # the pod's writable emptyDir
        # lame-duck mode first (every answer closes its connection), then the sleep
        hook = main["lifecycle"]["preStop"]["exec"]["command"]
        assert hook == ["sh", "-c", f"touch {drain}; exec sleep 5"]  # sleeps even if touch fails
        graceful = int(args[args.index("--graceful-timeout") + 1])
        assert 5 + graceful < spec["terminationGracePeriodSeconds"]
    quiet = render({"services": {"server": {"preStopSleepSeconds": 0}}})
    assert "lifecycle" not in _main_container(quiet, "users")
    assert "--drain-file" not in _main_container(quiet, "users")["args"]


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ({"maxHeaders": 101}, r"/services/server/maxHeaders.*maximum"),
        ({"headerTimeoutSeconds": 61}, r"/services/server/headerTimeoutSeconds.*maximum"),
        ({"bodyTimeoutSeconds": 0}, r"/services/server/bodyTimeoutSeconds.*exclusiveMinimum|0"),
        ({"keepalive": True}, r"/services/server.*additional properties 'keepalive'"),
        (
            {"preStopSleepSeconds": 15, "gracefulTimeoutSeconds": 20},
            r"preStopSleepSeconds \(15\) \+ services.server.gracefulTimeoutSeconds \(20\) "
            r"must stay under services.terminationGracePeriodSeconds \(30\)",
        ),
    ],
)
def test_bad_serving_values_are_refused(render_error, server: dict, message: str) -> None:
    error = render_error({"services": {"server": server}})
    assert re.search(message, error, re.S), error
