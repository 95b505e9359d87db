"""Encoded GET answers, kept while the collection they came from is unchanged.

GET of a record or of a page of the list writes the same bytes again and again until a
write changes the collection. The body (as `jsonify` writes it) and its ETag are computed
once per state of the collection (`Collection.memoized`: in JSON mode the store's read path
notices every write, by this worker or another process, and drops them; in DynamoDB mode
nothing is kept). The view still runs in Flask as any other: auth, logs and metrics stay.

An answer made by `respond` from the answer `answer_of` looked up is marked reusable for the
bridge's edge cache (`edge.py`), which replays it without Flask while the collection keeps
that answer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from flask import Response, current_app, g, request

from forumdb_services.api.edge import Reusable, mark_reusable
from forumdb_services.storage import Collection


@dataclass(frozen=True, slots=True)
class Answer:
    """A 200 answer's JSON body and its entity tag (`tag`: without the quotes)."""

    body: bytes
    tag: str | None
    next_cursor: str | None = None


def encode(obj: object) -> bytes:
    """`obj` as `jsonify` writes it (the app's JSON provider, then a newline)."""
    return current_app.json.encode(obj) + b"\n"  # type: ignore[attr-defined, no-any-return]


def content_tag(body: bytes) -> str:
    """A strong entity tag for a body that carries no version of its own (a list page)."""
    return hashlib.blake2b(body, digest_size=12).hexdigest()


# Where answer_of leaves what it looked up, for respond() to mark (see _mark_reusable).
_LOOKED_UP_KEY = "forumdb.answer"


def answer_of(collection: Collection, key: Hashable, compute: Callable[[], Answer]) -> Answer:
    memo_key = ("answer", key)
    answer = collection.memoized(memo_key, compute)
    request.environ[_LOOKED_UP_KEY] = (collection, memo_key, answer)
    return answer


def _mark_reusable(answer: Answer, params: frozenset[str]) -> None:
    """Tells the edge cache that this request's answer is made of `answer` (looked up by
    answer_of in this request) and of the request's path, query and If-None-Match alone;
    the view reads the query parameters `params` and no other.
    (Each proxy of Flask's costs a microsecond: each is looked up once.)"""
    req = request._get_current_object()  # type: ignore[attr-defined]
    environ = req.environ
    source = environ.get(_LOOKED_UP_KEY)
    if source is None or source[2] is not answer:
        return
    rule = req.url_rule
    generation = g.get("generation")
    if rule is None or generation is None:
        return
    collection, memo_key, _ = source
    mark_reusable(
        environ, Reusable(collection, memo_key, answer, generation, rule.rule, req.path, params)
    )


def not_modified(tag: str | None) -> bool:
    """Whether the request's If-None-Match names `tag` (RFC 9110 13.1.2: weak comparison)."""
    if tag is None or "HTTP_IF_NONE_MATCH" not in request.environ:
        return False  # parsing an absent header still costs: most reads carry none
    return request.if_none_match.contains_weak(tag)


def respond(
    answer: Answer,
    headers: list[tuple[str, str]] | None = None,
    params: frozenset[str] = frozenset(),
) -> Response:
    """The answer, or a 304 when the client holds it already. `params`: the query parameters
    the view read (the edge cache keeps no answer to a query with others)."""
    _mark_reusable(answer, params)
    etag = f'"{answer.tag}"' if answer.tag is not None else None
    if not_modified(answer.tag):
        response = Response(status=304)
        if etag is not None:
            response.headers["ETag"] = etag
        return response
    all_headers = headers or []
    if etag is not None:
        all_headers.append(("ETag", etag))
    return current_app.response_class(answer.body, headers=all_headers, mimetype="application/json")
