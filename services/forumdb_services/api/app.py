"""The application factory: one Flask app per service, over the shared storage layer."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
from flask import Flask, Request, Response, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import MapAdapter
from werkzeug.wsgi import get_host

from forumdb.config import SettingsWatcher
from forumdb.tables import KINDS
from forumdb_services.api import posts, probes, threads, users
from forumdb_services.api.errors import register_error_handlers
from forumdb_services.api.guard import REJECTION_KEY, Rejection, RequestGuard, RequestLimits
from forumdb_services.api.identity import install_authentication
from forumdb_services.api.observability import install_request_observability
from forumdb_services.api.runtime import EXTENSION_KEY, StoreRuntime, current_runtime
from forumdb_services.auth.settings import AuthSettings
from forumdb_services.storage import Store

BLUEPRINTS = {"users": users.bp, "threads": threads.bp, "posts": posts.bp}
# URL adapters kept per (host, scheme, script name); a request for another one binds anew.
MAX_ADAPTERS = 64


# orjson as Flask would write it: keys sorted, any key type, and datetimes (which orjson
# would write as RFC 3339) through `default`, as HTTP dates.
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


class ForumJSONProvider(DefaultJSONProvider):
    """Numbers stay numbers: DynamoDB hands them back as Decimal, which Flask would turn
    into strings. Bodies are written by orjson: a page of 50 records costs a tenth of the
    standard library's time. What orjson refuses (an integer past 64 bits, which DynamoDB's
    38 digits allow) is written by the standard library instead."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return DefaultJSONProvider.default(o)

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=self.default, option=_ORJSON_OPTIONS)
        except orjson.JSONEncodeError:
            return super().dumps(obj).encode()

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:
            return super().dumps(obj, **kwargs)
        return self.encode(obj).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        body = self.encode(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)


def _wsgi_text(value: str) -> str:
    # What werkzeug's bind_to_environ does to environ strings (PEP 3333's latin-1 as UTF-8).
    return value if value.isascii() else value.encode("latin1").decode(errors="replace")


class ServiceFlask(Flask):
    """Flask, minus per-request costs: `ensure_sync` inspects every hook and view on every
    request to see whether it is a coroutine (ours never are, and never change), and the URL
    adapter is bound from scratch for every request (see create_url_adapter)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}
        self._adapters: dict[tuple[str, str, str], MapAdapter] = {}
        self._plain_routing: bool | None = None  # decided at the first request

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        found = self._sync.get(func)
        if found is None:
            found = self._sync[func] = super().ensure_sync(func)
        return found

    def create_url_adapter(self, request: Request | None) -> MapAdapter | None:
        """Flask's adapter, bound to the request, from one made before for the same host,
        scheme and script name: `bind_to_environ` parses the host, checks it and encodes it
        as IDNA on every request, for the same few values. What varies per request (path,
        method, query) is set on a copy, as `bind_to_environ` would set it. Anything out of
        the ordinary (SERVER_NAME, TRUSTED_HOSTS, host or subdomain matching, an upgrade)
        goes Flask's own way."""
        if request is None or self._plain_routing is False:
            return super().create_url_adapter(request)
        if self._plain_routing is None:
            self._plain_routing = not (
                self.config["SERVER_NAME"] is not None
                or self.config["TRUSTED_HOSTS"] is not None
                or self.url_map.host_matching
                or self.subdomain_matching
            )
            return self.create_url_adapter(request)
        environ = request.environ
        if "HTTP_UPGRADE" in environ:
            return super().create_url_adapter(request)
        host = get_host(environ)
        key = (host, environ["wsgi.url_scheme"], environ.get("SCRIPT_NAME", ""))
        made = self._adapters.get(key)
        if made is None:
            adapter = super().create_url_adapter(request)
            if len(self._adapters) < MAX_ADAPTERS:  # hosts come from clients: bounded
                self._adapters[key] = adapter
            return adapter
        request.host = host  # type: ignore[misc]  # as Flask's create_url_adapter sets it
        adapter = object.__new__(MapAdapter)
        adapter.__dict__.update(made.__dict__)
        path = environ.get("PATH_INFO")
        adapter.path_info = "/" if path is None else _wsgi_text(path)
        adapter.default_method = environ["REQUEST_METHOD"]
        query = environ.get("QUERY_STRING")
        adapter.query_args = None if query is None else _wsgi_text(query)
        return adapter


def create_app(
    service: str,
    settings_watcher: SettingsWatcher | None = None,
    store: Store | None = None,
    auth: AuthSettings | None = None,
    limits: RequestLimits | None = None,
) -> Flask:
    """The Flask app of one service (`users`, `threads` or `posts`).

    `settings_watcher` defaults to one over the environment and FORUMDB_CONFIG_DIR; `store`
    (for tests) is used for the watcher's current generation, and replaced like any other
    when the settings change. `auth` defaults to the AUTH_* environment; `limits` are the
    request guard's (`forumdb_services.api.guard`).
    """
    if service not in KINDS:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(KINDS)}")
    runtime = StoreRuntime(settings_watcher or SettingsWatcher(), store)

    # No static folder: the services serve none, and its route would cost every match.
    app = ServiceFlask(__name__, static_folder=None)
    app.json = ForumJSONProvider(app)
    app.config["FORUMDB_SERVICE"] = service
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.max_request_bytes
    app.extensions[EXTENSION_KEY] = runtime

    install_request_observability(app, service)
    register_error_handlers(app)

    @app.before_request
    def _answer_rejection() -> None:
        # What the guard refused is answered here, after the request id and the clock are
        # set, so it is logged and counted like any other error.
        rejection: Rejection | None = request.environ.get(REJECTION_KEY)
        if rejection is not None:
            raise rejection.error

    # Before the store is held: a write without a valid token costs no store work.
    install_authentication(app, auth)

    @app.before_request
    def _hold_store() -> None:
        runtime = current_runtime()
        request.max_content_length = runtime.settings.max_request_bytes
        if request.endpoint is None or request.endpoint in probes.STORELESS_ENDPOINTS:
            return
        g.generation = runtime.acquire()

    @app.teardown_request
    def _release_store(_exc: BaseException | None) -> None:
        generation = g.pop("generation", None)
        if generation is not None:
            generation.release()

    @app.after_request
    def _close_if_unusable(response: Response) -> Response:
        rejection: Rejection | None = request.environ.get(REJECTION_KEY)
        if rejection is not None and rejection.close:
            # The body was not read to its end: the connection cannot carry another request.
            response.headers["Connection"] = "close"
        return response

    app.register_blueprint(probes.bp)
    app.register_blueprint(BLUEPRINTS[service])
    app.wsgi_app = RequestGuard(app.wsgi_app, limits or RequestLimits())  # type: ignore[method-assign]
    return app
