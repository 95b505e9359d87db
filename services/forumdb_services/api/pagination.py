"""Pagination of list routes: `?limit=` and `?cursor=` in, a bare JSON array out.

List bodies stay bare arrays, as in the classic sample, so old clients keep working; the
next page is announced in headers instead: `Link: <...>; rel="next"` (RFC 8288) and
`X-Next-Cursor`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Response, jsonify, request

from forumdb_services.api.errors import bad_request
from forumdb_services.auth.policy import public
from forumdb_services.storage.base import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page

MAX_CURSOR_LENGTH = 2048
# Cursors are urlsafe base64 without padding (forumdb_services.storage.base.encode_cursor).
_CURSOR_CHARS = re.compile(r"[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None


def page_request() -> PageRequest:
    """The `limit` and `cursor` of the current request, checked; 400 naming the parameter."""
    raw_limit = request.args.get("limit")
    limit = DEFAULT_PAGE_SIZE
    if raw_limit is not None:
        if not raw_limit.isascii() or not raw_limit.isdigit() or len(raw_limit) > 6:
            raise bad_request(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}", "limit")
        limit = int(raw_limit)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise bad_request(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}", "limit")
    # An empty `?cursor=` (a client that templates the parameter in) means the first page.
    cursor = request.args.get("cursor") or None
    if cursor is not None and (
        len(cursor) > MAX_CURSOR_LENGTH or not _CURSOR_CHARS.fullmatch(cursor)
    ):
        raise bad_request("cursor is not a cursor this service issued", "cursor")
    return PageRequest(limit, cursor)


def _next_link(cursor: str) -> str:
    # A relative reference: correct behind any proxy or ingress that rewrites the host.
    params: list[tuple[str, Any]] = [
        (k, v) for k, v in request.args.items(multi=True) if k != "cursor"
    ]
    params.append(("cursor", cursor))
    return f"{request.path}?{urlencode(params)}"


def page_response(page: Page) -> Response:
    response = jsonify([public(record) for record in page.items])
    if page.next_cursor:
        response.headers["Link"] = f'<{_next_link(page.next_cursor)}>; rel="next"'
        response.headers["X-Next-Cursor"] = page.next_cursor
    return response
