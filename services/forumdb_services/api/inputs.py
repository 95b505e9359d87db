"""Reading a request safely: JSON bodies, path ids, preconditions (If-Match / version).

Everything a client can get wrong is turned into an `ApiError` naming the field or header,
before any of it reaches the store.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ValidationError

from forumdb.ids import MAX_ID
from forumdb_services.api.errors import ApiError, bad_request, validation_error

ModelT = TypeVar("ModelT", bound=BaseModel)

_MAX_ID_DIGITS = len(str(MAX_ID))
# An entity tag as this API writes it ("3"), optionally weak (W/"3") or unquoted (3).
_ETAG = re.compile(r'^(?:W/)?"?(\d{1,16})"?$')


def parse_id(raw: str, field: str = "id") -> int:
    """A record id from the path: a positive integer that fits in 53 bits."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > _MAX_ID_DIGITS:
        raise bad_request(f"{field} must be an integer from 1 to {MAX_ID}, got {raw[:40]!r}", field)
    value = int(raw)
    if not 1 <= value <= MAX_ID:
        raise bad_request(f"{field} must be an integer from 1 to {MAX_ID}, got {value}", field)
    return value


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _transfer_codings() -> list[str]:
    """The request's transfer codings, lower case: their names are case-insensitive (RFC
    9112, 7: "Transfer-Encoding: Chunked" is chunked)."""
    raw = request.headers.get("Transfer-Encoding")
    return [coding.strip().lower() for coding in raw.split(",")] if raw else []


def check_framing() -> None:
    """A request with both Content-Length and Transfer-Encoding is refused: RFC 9112, 6.1,
    says it "ought to be handled as an error", as two parties could read different bodies
    out of it (request smuggling)."""
    if request.headers.get("Transfer-Encoding") and request.headers.get("Content-Length"):
        raise bad_request(
            "a request may carry Content-Length or Transfer-Encoding, not both",
            "Transfer-Encoding",
        )


def has_body() -> bool:
    check_framing()
    return bool(request.content_length) or "chunked" in _transfer_codings()


def json_object() -> dict[str, Any]:
    """The request body as a JSON object; 415 for another content type, 413 when too large,
    400 when empty, not JSON or not an object."""
    check_framing()
    if not _is_json(request.mimetype):
        got = request.mimetype or "no Content-Type"
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type must be application/json, got {got}",
            "Content-Type",
        )
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise ApiError(
            413,
            "payload_too_large",
            f"request body is {request.content_length} bytes; the limit is {limit}",
            "body",
        )
    raw = request.get_data(cache=True)
    if limit is not None and request.content_length is None and len(raw) >= limit:
        # A body without Content-Length (chunked) is cut at the limit by werkzeug rather
        # than refused; one that reaches the limit is taken as too large.
        raise ApiError(
            413, "payload_too_large", f"request body exceeds the limit of {limit} bytes", "body"
        )
    if not raw.strip():
        raise bad_request("request body is empty; expected a JSON object", "body")
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise bad_request("request body is nested too deeply", "body") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digit limits
        raise bad_request(f"request body is not valid JSON: {exc}", "body") from None
    if not isinstance(data, dict):
        raise bad_request(f"request body must be a JSON object, got {type(data).__name__}", "body")
    return data


def validated(model: type[ModelT], data: dict[str, Any]) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    except RecursionError:
        raise bad_request("request body is nested too deeply", "body") from None


def if_match_version() -> int | None:
    """The version an `If-Match` header asks for; None without one (or with `*`)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    match = _ETAG.match(header.strip())
    if not match or not 1 <= int(match.group(1)) <= MAX_ID:
        raise bad_request('If-Match must be one entity tag as given in ETag, like "3"', "If-Match")
    return int(match.group(1))


def expected_version(body_version: int | None) -> int | None:
    """The precondition of an update or delete, from If-Match and/or the body's version."""
    header_version = if_match_version()
    if header_version is not None and body_version is not None and header_version != body_version:
        raise bad_request(
            f"If-Match asks for version {header_version} but the body says {body_version}",
            "version",
        )
    return header_version if header_version is not None else body_version


def etag(version: Any) -> str:
    return f'"{int(version)}"'
