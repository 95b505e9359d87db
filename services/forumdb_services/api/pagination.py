"""Pagination of list routes: `?limit=` and `?cursor=` in, a bare JSON array out.

List bodies stay bare arrays, as in the classic sample, so old clients keep working; the
next page is announced in headers instead: `Link: <...>; rel="next"` (RFC 8288) and
`X-Next-Cursor`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from forumdb_services.api.answers import Answer, answer_of, content_tag, encode, respond
from forumdb_services.api.errors import bad_request
from forumdb_services.auth.policy import public
from forumdb_services.storage.base import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Collection, Page

MAX_CURSOR_LENGTH = 2048
# The query parameters of a page (page_request).
PAGE_PARAMS = frozenset({"limit", "cursor"})
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
    return _respond_page(_page_answer(page))


def _page_answer(page: Page) -> Answer:
    body = encode([public(record) for record in page.items])
    return Answer(body, content_tag(body), page.next_cursor)


def _respond_page(answer: Answer) -> Response:
    headers = []
    if answer.next_cursor:
        headers.append(("Link", f'<{_next_link(answer.next_cursor)}>; rel="next"'))
        headers.append(("X-Next-Cursor", answer.next_cursor))
    return respond(answer, headers, PAGE_PARAMS)


def cached_page_response(records: Collection, key: Hashable, read: Callable[[], Page]) -> Response:
    """The page `read()` gives, its encoded answer kept under `key` until the collection
    changes, with a content ETag; a 304 when the client's If-None-Match names it."""
    return _respond_page(answer_of(records, key, lambda: _page_answer(read())))
