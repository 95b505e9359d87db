"""The users service as a plain WSGI app, for the serving stacks `http_bench.py stacks`
compares with forum-service's own: every stack serves the same app with the same logging
(one JSON access line per request), so the figures differ by the server alone."""

from __future__ import annotations

from typing import Any


def users() -> Any:
    from forumdb_services.api.server import ServerOptions, build_worker_app

    return build_worker_app("users", ServerOptions()).app
