"""The request guard: limits on the request head, checked before Flask routes anything, so
that what they refuse is answered like any other error (the JSON error body, the access log
line, the metrics). The body's deadline is kept by the bridge (`bridge.py`), which reads it
before the app runs; what it refuses reaches the app the same way, as a `Rejection`.

granian's HTTP layer (hyper) keeps hard limits of its own well above these (a head of about
400 KiB, 100 header fields, a 64 KiB URI); only a request past those, or one that is not HTTP
at all (a method or header name with bytes HTTP does not allow), is answered by hyper itself:
the status and an empty body, never HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from werkzeug.exceptions import HTTPException, RequestHeaderFieldsTooLarge, RequestURITooLarge

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Where the guard leaves its verdict for the app's first before_request hook.
REJECTION_KEY = "forumdb.rejection"
# hyper refuses more header fields than this itself (its parser's fixed array).
HYPER_MAX_HEADERS = 100
# Request headers the WSGI environ carries without the HTTP_ prefix.
_UNPREFIXED_HEADERS = ("CONTENT_TYPE", "CONTENT_LENGTH")


class RequestLimits(BaseModel):
    """What one request may be: `forum-service --max-request-line ...`, the chart's
    `services.server` values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_request_line: int = Field(8190, ge=256, le=65_000)
    """Bytes of the request line: method, target and version, with their two spaces."""
    max_header_bytes: int = Field(32_768, ge=1024, le=262_144)
    """Bytes of all header fields together (names, values and their separators)."""
    max_headers: int = Field(64, ge=8, le=HYPER_MAX_HEADERS)
    """Header fields (distinct names)."""
    body_timeout: float = Field(20.0, gt=0, le=600)
    """Seconds the client gets to send the whole body once the head has arrived."""


@dataclass(frozen=True)
class Rejection:
    """Why the guard refused a request: the error the app raises, and whether the
    connection must close after the answer (its unread body makes it unusable)."""

    error: HTTPException
    close: bool = False


def request_line_length(environ: dict[str, Any]) -> int:
    """The request line's length as the client sent it, near enough: the server hands the
    target over decoded, so a percent-encoded byte counts once, not three times."""
    target = len(environ.get("PATH_INFO", "")) + len(environ.get("SCRIPT_NAME", ""))
    query = environ.get("QUERY_STRING", "")
    if query:
        target += 1 + len(query)
    version = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
    return len(environ.get("REQUEST_METHOD", "")) + 1 + target + 1 + len(version)


def header_size(environ: dict[str, Any]) -> tuple[int, int]:
    """(fields, bytes) of the request's header fields: `Name: value\\r\\n` each."""
    fields = size = 0
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = len(key) - 5
        elif key in _UNPREFIXED_HEADERS:
            name = len(key)
        else:
            continue
        fields += 1
        size += name + 2 + len(value) + 2
    return fields, size


def head_rejection(environ: dict[str, Any], limits: RequestLimits) -> Rejection | None:
    line = request_line_length(environ)
    if line > limits.max_request_line:
        return Rejection(
            RequestURITooLarge(
                f"the request line is {line} bytes; the limit is {limits.max_request_line}"
            )
        )
    fields, size = header_size(environ)
    if fields > limits.max_headers:
        return Rejection(
            RequestHeaderFieldsTooLarge(
                f"the request has {fields} header fields; the limit is {limits.max_headers}"
            )
        )
    if size > limits.max_header_bytes:
        return Rejection(
            RequestHeaderFieldsTooLarge(
                f"the request's header fields are {size} bytes; "
                f"the limit is {limits.max_header_bytes}"
            )
        )
    return None


class RequestGuard:
    """WSGI middleware in front of the Flask app: checks the head and leaves a `Rejection`
    in the environ for the app to answer (unless the bridge left one already)."""

    def __init__(self, app: WSGIApp, limits: RequestLimits) -> None:
        self.app = app
        self.limits = limits

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if REJECTION_KEY not in environ:
            rejection = head_rejection(environ, self.limits)
            if rejection is not None:
                environ[REJECTION_KEY] = rejection
        return self.app(environ, start_response)
