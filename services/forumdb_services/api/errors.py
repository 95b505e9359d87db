"""Every error leaves the services as `{"error": {"code", "message", "field"}}`.

Handlers map the storage layer's errors and werkzeug's HTTP errors to that shape, so a
client never sees an HTML page or a 500 for bad input. Only an exception nobody expected
(a real bug) becomes a 500. A 5xx body is a stable message and the request id (`requestId`,
also the X-Request-Id header): the cause (exception text, file paths, endpoint URLs, AWS
messages that can hold ARNs) goes to the log under that id, never to the client.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from forumdb_services.storage import (
    AlreadyExists,
    InvalidCursor,
    NotFound,
    StoreUnavailable,
    VersionConflict,
)

log = logging.getLogger("forumdb.api")

# werkzeug's status codes -> our error codes; anything else falls back to "http_<status>".
_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    308: "permanent_redirect",
    408: "request_timeout",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    431: "header_fields_too_large",
}


class ApiError(Exception):
    """An error the API answers on purpose, naming the field at fault where there is one."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        self.headers = headers or {}


def bad_request(message: str, field: str | None = None) -> ApiError:
    return ApiError(400, "bad_request", message, field)


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    details: list[dict[str, Any]] | None = None,
    request_id: str | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message, "field": field}
    if details:
        body["details"] = details
    if request_id:
        body["requestId"] = request_id
    response = jsonify({"error": body})
    response.status_code = status
    return response


def _request_id() -> str | None:
    # Set by observability's before_request hook, which runs before anything can fail.
    return g.get("request_id")


def server_error(status: int, code: str, message: str) -> Response:
    """A 5xx: the stable `message` and the request id that the log line of its cause carries."""
    request_id = _request_id()
    return error_response(
        status, code, f"{message} (request id {request_id})", request_id=request_id
    )


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) if loc else "body"


def validation_error(exc: ValidationError) -> ApiError:
    """A pydantic error -> 422 naming every field at fault (the first one in `field`)."""
    details = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        name = _field_name(tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            message = f"{name}: unknown or read-only field"
        elif err["type"] == "string_pattern_mismatch" and name == "email":
            message = "email: must be an e-mail address (name@domain.tld)"
        else:
            message = f"{name}: {err['msg'].removeprefix('Value error, ')}"
        details.append({"field": name, "message": message})
    first = details[0] if details else {"field": "body", "message": "invalid request body"}
    message = "; ".join(d["message"] for d in details) or first["message"]
    return ApiError(422, "validation_error", message, first["field"], details)


def same_host_location(location: str) -> str:
    """A redirect target werkzeug built from the request's Host header, as a reference
    relative to this host: whatever Host a client sends, a redirect never leaves for
    another host (RFC 9110 section 10.2.2 allows relative Locations)."""
    parts = urlsplit(location)
    if not parts.scheme and not parts.netloc:
        return location
    path = "/" + parts.path.lstrip("/")  # `//evil.example` must not read as a host either
    return f"{path}?{parts.query}" if parts.query else path


def _json_instead_of_html(response: Response) -> Response:
    """Responses werkzeug builds itself bypass the error handlers: a routing redirect (an
    HTML page, e.g. for `/api//users`) and the automatic OPTIONS answer (an empty body typed
    text/html). Neither leaves as HTML, and a redirect stays on this host."""
    if response.mimetype != "text/html" or response.direct_passthrough:
        return response
    if not response.get_data():
        del response.headers["Content-Type"]
        return response
    status = response.status_code
    location = response.headers.get("Location")
    if 300 <= status < 400 and location:
        location = same_host_location(location)
        response.headers["Location"] = location
        message = f"{request.path} is at {location}"
    else:
        message = response.status
    replacement = error_response(status, _HTTP_CODES.get(status, f"http_{status}"), message)
    for name, value in response.headers.items():
        if name.lower() not in {"content-type", "content-length"}:
            replacement.headers[name] = value
    return replacement


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        response = error_response(exc.status, exc.code, exc.message, exc.field, exc.details)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Response:
        return error_response(404, "not_found", str(exc), exc.field)

    @app.errorhandler(AlreadyExists)
    def _exists(exc: AlreadyExists) -> Response:
        return error_response(409, "already_exists", str(exc), "id")

    @app.errorhandler(VersionConflict)
    def _conflict(exc: VersionConflict) -> Response:
        return error_response(409, "version_conflict", str(exc), "version")

    @app.errorhandler(InvalidCursor)
    def _cursor(exc: InvalidCursor) -> Response:
        return error_response(400, "invalid_cursor", f"cursor: {exc}", "cursor")

    @app.errorhandler(StoreUnavailable)
    def _unavailable(exc: StoreUnavailable) -> Response:
        log.warning(
            "store unavailable: %s",
            exc,
            extra={"error": str(exc), "request_id": _request_id(), "path": request.path},
        )
        service = current_app.config.get("FORUMDB_SERVICE", "this")
        response = server_error(
            503,
            "store_unavailable",
            f"the {service} service cannot use its store; try again later, or give the "
            "service's operator the request id (the log has the cause)",
        )
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, f"http_{status}")
        allow = dict(exc.get_headers()).get("Allow")
        if status == 404:
            message = f"no route {request.path}"
        elif status == 405:
            message = f"{request.method} is not allowed on {request.path}; allowed: {allow}"
        elif status == 413:
            message = f"request body is larger than the limit of {request.max_content_length} bytes"
        else:
            message = exc.description or exc.name
        response = error_response(status, code, message, "body" if status == 413 else None)
        if allow:
            response.headers["Allow"] = allow
        return response

    @app.after_request
    def _never_html(response: Response) -> Response:
        return _json_instead_of_html(response)

    @app.errorhandler(Exception)
    def _bug(exc: Exception) -> Response:
        # Only reached by an exception no other handler claims: a bug, not bad input.
        log.exception(
            "unhandled error: %s",
            exc,
            extra={"request_id": _request_id(), "path": request.path},
        )
        return server_error(
            500,
            "internal_error",
            "internal error; give the service's operator the request id (the log has the cause)",
        )
