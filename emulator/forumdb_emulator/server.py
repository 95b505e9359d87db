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
import signal
import sys
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from forumdb.logs import configure_logging

from . import hooks, operations
from .control import CONTROL_PREFIX
from .state import STATE

log = logging.getLogger("forumdb.moto_ext.server")

MAX_HOSTS = 1024  # service host names remembered (a few per service and region in use)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ExtensionApp:
    """Routes /_forumdb/* to the control operations and everything else to moto."""

    def __init__(self, moto_app: WsgiApp) -> None:
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


def _json(body: Any, status: int) -> Response:
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


def build_app() -> ExtensionApp:
    hooks.install()
    STATE.server_mode = True
    return ExtensionApp(CachedDispatcher(create_backend_app))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    # werkzeug's server logs each request at INFO unless its logger has a level of its own:
    # one JSON line per AWS call, a good part of a call's cost. Follow --log-level.
    logging.getLogger("werkzeug").setLevel(logging.getLogger().level)

    server = make_server(
        args.host, args.port, build_app(), threaded=True, request_handler=MotoRequestHandler
    )
    # Clients keep idle keep-alive connections open; do not wait for them on shutdown.
    server.daemon_threads = True
    server.block_on_close = False

    def _stop(signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"forumdb-moto ready on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
