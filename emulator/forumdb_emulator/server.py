"""moto's server app with the forumdb extension, all regions in one process.

    python -m forumdb_emulator.server --host 127.0.0.1 --port N   (0 picks a free port)

Prints `forumdb-moto ready on http://HOST:PORT` once it accepts connections; exits cleanly on
SIGTERM or SIGINT. Control endpoints: POST /_forumdb/<operation> with a JSON body (see
forumdb_emulator.control.ExtControl); they are never subject to fault injection.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.app.base import BaseApplication
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from forumdb.logs import configure_logging

from . import hooks, operations
from .control import CONTROL_PREFIX
from .state import STATE

log = logging.getLogger("forumdb.moto_ext.server")

# Calls served at once (threads of the worker): a call with the latency fault sleeps in its
# thread, so the operator's workers, its health probes and the tests' clients must not queue
# behind one another.
THREADS = 64
MAX_CONNECTIONS = 1000  # connections held open at once (keep-alive); more wait in the backlog
KEEPALIVE_SECONDS = 75  # an idle kept-alive connection is closed after this
MAX_HOSTS = 1024
# The services the project calls (pyproject's moto extras and application-autoscaling, which
# the operator uses for provisioned tables).
PRELOADED = (
    "dynamodb",
    "backup",
    "cloudwatch",
    "application-autoscaling",
    "sns",
    "kms",
    "sts",
)  # service host names remembered (a few per service and region in use)


class ExtensionApp:
    """Routes /_forumdb/* to the control operations and everything else to moto."""

    def __init__(self, moto_app: CachedDispatcher) -> None:
        self.moto_app = moto_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CONTROL_PREFIX + "/"):
            return self.moto_app(environ, start_response)
        return self._control(Request(environ), path[len(CONTROL_PREFIX) + 1 :])(
            environ, start_response
        )

    def _control(self, request: Request, name: str) -> Response:
        if request.method != "POST":
            return _json({"error": "control operations are POST"}, 405)
        try:
            payload = request.get_json(force=True, silent=True) or {}
            result = operations.dispatch(name, payload)
        except operations.UnknownOperation:
            return _json({"error": f"unknown control operation {name!r}"}, 404)
        except (ValidationError, TypeError, ValueError) as exc:
            return _json({"error": f"{name}: {exc}"}, 400)
        except LookupError as exc:
            return _json({"error": f"{name}: {exc}"}, 404)
        except HTTPException as exc:  # a moto error, e.g. a backup vault that does not exist
            return _json({"error": f"{name}: {exc.description}"}, exc.code or 400)
        return _json(result, 200)


class CachedDispatcher(DomainDispatcherApplication):
    """moto's dispatcher, with the service of each host name remembered.

    moto finds a request's service by listing its package's folders (a directory listing and
    a stat of each of some 200 folders) and then matching the host against a few hundred URL
    patterns, on every request and under one lock for all threads. The answer depends only on
    the host name, so it is worked out once per host.
    """

    def __init__(self, create_app: Callable[[Any], Any]) -> None:
        super().__init__(create_app)
        self._backend_by_host: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        try:
            return self._backend_by_host[host]
        except KeyError:
            backend = super().get_backend_for_host(host)
            if len(self._backend_by_host) < MAX_HOSTS:  # host names come from requests
                self._backend_by_host[host] = backend
            return backend

    def preload(self, services: Iterable[str], region: str = "us-east-1") -> None:
        """Builds moto's app of each service now (imports its backend, its URL map): the
        first call of a service otherwise pays it, 0.04 to 1.3 s each."""
        for service in services:
            backend = self.get_backend_for_host(f"{service}.{region}.amazonaws.com")
            if backend is None:
                continue
            with self.lock:
                if backend not in self.app_instances:
                    self.app_instances[backend] = self.create_app(backend)


def _json(body: Any, status: int) -> Response:
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


def build_app() -> ExtensionApp:
    hooks.install()
    STATE.server_mode = True
    return ExtensionApp(CachedDispatcher(create_backend_app))


class EmulatorServer(BaseApplication):  # type: ignore[misc]
    """gunicorn serving the emulator: one worker process (it holds every region's state)
    with a pool of threads, and keep-alive connections. werkzeug's development server closes
    the connection after every response, so each AWS call cost a TCP connection and a new
    thread on both sides. gunicorn passes the path as it arrived (RAW_URI), which moto
    matches its routes against (an ARN's encoded slashes in AWS Backup's paths)."""

    def __init__(self, host: str, port: int, log_level: str) -> None:
        self.host, self.port, self.log_level = host, port, log_level
        super().__init__()

    def load_config(self) -> None:
        settings = {
            "bind": [
                f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
            ],
            "workers": 1,
            "worker_class": "gthread",
            "threads": THREADS,
            "worker_connections": MAX_CONNECTIONS,
            "keepalive": KEEPALIVE_SECONDS,
            "timeout": 0,  # no worker heartbeat deadline: a call may sleep (latency fault)
            "graceful_timeout": 5,
            "loglevel": self.log_level.lower(),
            "accesslog": None,
            "errorlog": "-",
            "post_worker_init": _announce,
        }
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self) -> ExtensionApp:
        configure_logging(self.log_level)
        app = build_app()
        # In the background: the server answers at once, a call that comes first waits for
        # its service's app under the dispatcher's lock as it would have anyway.
        threading.Thread(
            target=app.moto_app.preload, args=(PRELOADED,), daemon=True, name="preload"
        ).start()
        return app


def _announce(worker: Any) -> None:
    """Prints the ready line from the worker, once the app is built (the listening socket,
    bound by gunicorn's master, queues connections until then)."""
    host, port = worker.sockets[0].getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"forumdb-moto ready on http://{shown}:{port}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    EmulatorServer(args.host, args.port, args.log_level).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
