"""The edge cache: whole GET answers replayed by the bridge without entering Flask.

A GET of a record or of a list page is answered from one of the collection's encoded answers
(`answers.py`); the rest of Flask's answer is a function of the request's method, path and
query, of whether its If-None-Match names the answer's tag, and of its request id. The app
says so for such an answer (`mark_reusable`, a `Reusable` in the environ), and the bridge
keeps what Flask produced (status, headers, body) under (method, path, query, Host,
scheme). The next such request is answered on the event loop, as Flask answered it, with a
request id of its own, for as long as the collection still keeps that very answer
(`peek_memoized`: the freshness check of the answer cache, which sees every write by this
worker or another process). It gets the same access line and metrics as any request.

Everything else goes to Flask: another method, a path or query nobody marked, an answer
that is not current, a request with a body, credentials (Authorization, Cookie), an
Upgrade, or a head the request guard would refuse; and in DynamoDB mode every request
(nothing is kept there to peek at). Only 200 and 304 answers that match the answer they
were marked with are kept, and only for a short Host and a short query of the parameters
the route reads (`Reusable.params`, each once): keys come from clients.

A worker keeps at most MAX_ENTRIES answers and MAX_BYTES, counting bodies, keys and
headers (and a rough cost of the objects holding them); past either, the least recently
used are dropped. The answers of one settings generation are kept at a time: another
generation, seen by `keep` or `answer`, drops them all (and the old store with them).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from werkzeug.http import parse_etags

from forumdb_services.api.guard import REJECTION_KEY, RequestLimits, head_rejection
from forumdb_services.api.observability import REQUEST_ID_HEADER, RequestRecorder, request_id_for
from forumdb_services.api.runtime import Generation, StoreRuntime
from forumdb_services.storage import NOT_KEPT, Collection

if TYPE_CHECKING:
    from forumdb_services.api.answers import Answer

log = logging.getLogger("forumdb.api.edge")

Headers = list[tuple[str, str]]
# What Flask's answer to a marked request depends on besides the kept answer, If-None-Match
# and X-Request-Id: the method, path and query, and the host and scheme Flask binds its URL
# adapter to (an odd Host header can make it a 400).
Key = tuple[str, str, str, str | None, str]

REUSABLE_KEY = "forumdb.reusable"
METHODS = frozenset({"GET", "HEAD"})
# Requests that never use the cache, nor fill it: a body, credentials, a protocol switch.
_PASSING_HEADERS = (
    "CONTENT_LENGTH",
    "HTTP_TRANSFER_ENCODING",
    "HTTP_AUTHORIZATION",
    "HTTP_COOKIE",
    "HTTP_UPGRADE",
    REJECTION_KEY,
)
# Answers with these headers are not replayed (none of the marked views sets them).
_UNREPLAYABLE_HEADERS = frozenset({"set-cookie", "connection", "vary"})
# Bounds of one worker's kept answers (keys come from clients): past either, the least
# recently used go. MAX_BYTES counts bodies, key strings and headers.
MAX_ENTRIES = 4096
MAX_BYTES = 64 * 1024 * 1024
# Longer Host headers or query strings are answered by Flask and not kept: a client could
# fill MAX_BYTES with few, large keys of its own choosing (the longest DNS name is 253).
MAX_HOST_LENGTH = 256
MAX_QUERY_LENGTH = 256
# Rough size of the Python objects around the counted strings: an entry (its key tuple,
# dict slots, _Entry, its Reusable, replay dict), a replay (_Replay, the headers list), each
# header (its tuple and two str). With them an entry counts a little more than tracemalloc
# sees it hold (CPython 3.11: 1.8 KiB counted for 1.6 KiB of a record's answer).
_ENTRY_OVERHEAD = 600
_REPLAY_OVERHEAD = 200
_HEADER_OVERHEAD = 180
_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower()


class Reusable(NamedTuple):
    """Left in the environ by the app (`mark_reusable`): this answer is made from `answer`,
    which `collection` keeps under `memo_key`, with the request's path and query. (A tuple:
    made on every marked request, it costs a fifth of a frozen dataclass.)"""

    collection: Collection
    memo_key: Hashable
    answer: Answer
    generation: Generation
    route: str
    path: str
    # The query parameters the view reads: a query with any other is not kept.
    params: frozenset[str] = frozenset()


class Kept(NamedTuple):
    """A kept answer to one request: what to send, and what its access line says."""

    status: int
    headers: Headers
    body: bytes
    method: str
    source: Reusable
    request_id: str
    generation: int
    duration: float


def mark_reusable(environ: dict[str, Any], reusable: Reusable) -> None:
    environ[REUSABLE_KEY] = reusable


@dataclass(frozen=True, slots=True)
class _Replay:
    """One answer as Flask produced it; `id_at`: where its X-Request-Id header is; `size`:
    what it counts towards MAX_BYTES."""

    status: int
    headers: Headers
    body: bytes
    id_at: int
    size: int


@dataclass(slots=True)
class _Entry:
    source: Reusable
    size: int  # towards MAX_BYTES: its key and its replays
    # By whether the request's If-None-Match named the tag: the 200 and the 304.
    replays: dict[bool, _Replay] = field(default_factory=dict)


def request_key(environ: dict[str, Any]) -> Key:
    return (
        environ["REQUEST_METHOD"],
        environ["PATH_INFO"],
        environ["QUERY_STRING"],
        environ.get("HTTP_HOST"),
        environ["wsgi.url_scheme"],
    )


def _passes_by(environ: dict[str, Any]) -> bool:
    return any(name in environ for name in _PASSING_HEADERS)


def _keepable_key(key: Key, params: frozenset[str]) -> bool:
    """Whether answers under `key` may be kept: a short Host, and a short query that names
    only parameters the view reads, each once (spelled as is: `%6Cimit` is not kept)."""
    host, query = key[3], key[2]
    if (host is not None and len(host) > MAX_HOST_LENGTH) or len(query) > MAX_QUERY_LENGTH:
        return False
    if not query:
        return True
    seen = set()
    for part in query.split("&"):
        name = part.partition("=")[0]
        if name not in params or name in seen:
            return False
        seen.add(name)
    return True


def _key_size(key: Key) -> int:
    return _ENTRY_OVERHEAD + sum(len(part) for part in key if part is not None)


def _not_modified(environ: dict[str, Any], tag: str | None) -> bool:
    # answers.not_modified, on the environ: werkzeug's parse of If-None-Match, as
    # `request.if_none_match` makes it.
    if tag is None or "HTTP_IF_NONE_MATCH" not in environ:
        return False
    return parse_etags(environ["HTTP_IF_NONE_MATCH"]).contains_weak(tag)


class EdgeCache:
    """Whole answers of one worker, kept and replayed on its event loop (see the module)."""

    def __init__(
        self, runtime: StoreRuntime, recorder: RequestRecorder, limits: RequestLimits
    ) -> None:
        self._runtime = runtime
        self._recorder = recorder
        self._limits = limits
        # Least recently used first.
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        # Of the entries: bodies (a body the collection keeps too counts here), keys, headers.
        self._bytes = 0
        # The settings generation of every kept answer.
        self._generation: Generation | None = None

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def kept_bytes(self) -> int:
        """What the kept answers count towards MAX_BYTES: bodies, keys, headers."""
        return self._bytes

    def known(self, key: Key) -> bool:
        """Whether an answer is kept under `key`: one dict lookup, for every request."""
        return key in self._entries

    def answer(self, key: Key, environ: dict[str, Any]) -> Kept | None:
        """The kept answer to this request, when it is still what Flask would answer; None
        sends the request to Flask. Once it is sent, `record` it."""
        started = time.perf_counter()
        entry = self._entries.get(key)
        if entry is None or _passes_by(environ):
            return None
        if head_rejection(environ, self._limits) is not None:
            return None  # the guard's error is Flask's to answer
        source = entry.source
        generation = self._runtime.hold_current()
        if generation is None:
            return None
        try:
            if generation is not self._generation:
                self._clear(generation)  # the settings changed: every answer is of the old store
                return None
            current = source.collection.peek_memoized(source.memo_key)
            if current is not source.answer:
                if current is not NOT_KEPT:
                    self._drop(key, entry)  # overtaken by a newer answer
                return None  # (NOT_KEPT: not current, or another thread holds the store)
            replay = entry.replays.get(_not_modified(environ, source.answer.tag))
            if replay is None:
                return None  # Flask answers it first (the 304 of a kept 200, or the other way)
            number = generation.number
        finally:
            generation.release()
        self._entries.move_to_end(key)
        request_id = request_id_for(environ)
        headers = list(replay.headers)
        headers[replay.id_at] = (REQUEST_ID_HEADER, request_id)
        duration = time.perf_counter() - started
        return Kept(
            replay.status, headers, replay.body, key[0], source, request_id, number, duration
        )

    def record(self, kept: Kept) -> None:
        """The metrics and access line of a kept answer, once it is sent (so a slow log
        write delays the next request, never this one's answer)."""
        try:
            self._recorder.record(
                method=kept.method,
                path=kept.source.path,
                route=kept.source.route,
                status=kept.status,
                duration=kept.duration,
                request_id=kept.request_id,
                generation=kept.generation,
            )
        except Exception:
            log.exception("recording a kept answer failed", extra={"path": kept.source.path})

    def keep(
        self, key: Key, environ: dict[str, Any], status: int, headers: Headers, body: bytes
    ) -> None:
        """Keeps Flask's answer to this request, if the app marked it reusable and it is the
        answer it was marked with."""
        source: Reusable | None = environ.get(REUSABLE_KEY)
        if source is None or key[0] not in METHODS or _passes_by(environ):
            return
        generation = self._runtime.hold_current()
        if generation is None:
            return  # a switch is due: the next answer will tell
        try:
            if generation is not self._generation:
                self._clear(generation)  # the old store's answers go, and the store with them
            if source.generation is not generation:
                return  # made by a store the settings replaced since
            if not _keepable_key(key, source.params):
                return
            replay = self._replay(key[0], source, environ, status, headers, body)
            if replay is None:
                return
            # Only while the collection still keeps that answer: a write since leaves it out.
            if source.collection.peek_memoized(source.memo_key) is not source.answer:
                return
            self._add(key, source, status == 304, replay)
        finally:
            generation.release()

    def _add(self, key: Key, source: Reusable, not_modified: bool, replay: _Replay) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.source.answer is not source.answer:
            self._drop(key, entry)
            entry = None
        if entry is None:
            entry = _Entry(source, _key_size(key))
        replaced = entry.replays.get(not_modified)
        size = entry.size + replay.size - (replaced.size if replaced is not None else 0)
        if size > MAX_BYTES:
            return  # one answer past the bound: not kept (nor anything dropped for it)
        if self._entries.get(key) is entry:
            self._bytes -= entry.size
            self._entries.move_to_end(key)
        else:
            self._entries[key] = entry
        entry.size = size
        entry.replays[not_modified] = replay
        self._bytes += size
        # The least recently used go (never this one: alone, it is within both bounds).
        while len(self._entries) > MAX_ENTRIES or self._bytes > MAX_BYTES:
            _, oldest = self._entries.popitem(last=False)
            self._bytes -= oldest.size

    def _clear(self, generation: Generation | None) -> None:
        self._entries.clear()
        self._bytes = 0
        self._generation = generation

    def _replay(
        self,
        method: str,
        source: Reusable,
        environ: dict[str, Any],
        status: int,
        headers: Headers,
        body: bytes,
    ) -> _Replay | None:
        """Flask's answer as a replay, or None when it is not plainly the marked answer."""
        not_modified = _not_modified(environ, source.answer.tag)
        if status != (304 if not_modified else 200):
            return None
        expected = b"" if not_modified or method == "HEAD" else source.answer.body
        if body != expected:
            return None
        etag = f'"{source.answer.tag}"' if source.answer.tag is not None else None
        etags = []
        ids = []
        for i, (name, value) in enumerate(headers):
            lowered = name.lower()
            if lowered in _UNREPLAYABLE_HEADERS:
                return None
            if lowered == "etag":
                etags.append(value)
            elif lowered == _REQUEST_ID_NAME:
                ids.append(i)
        if etags != ([] if etag is None else [etag]) or len(ids) != 1:
            return None
        # The collection's own bytes for a body (not a copy): kept once in memory.
        size = _REPLAY_OVERHEAD + len(expected)
        size += sum(_HEADER_OVERHEAD + len(name) + len(value) for name, value in headers)
        return _Replay(status, list(headers), expected, ids[0], size)

    def _drop(self, key: Key, entry: _Entry) -> None:
        if self._entries.get(key) is entry:
            del self._entries[key]
            self._bytes -= entry.size
