"""The storage contract: one interface, two backends (DynamoDB and JSON files).

A `Collection` holds the records of one kind (users, threads or posts), with the layout of
`forumdb.tables`. Records are plain dicts with the API's field names (`id`, `thread`, `user`,
`createdAt`, ...). Every backend must pass the same contract suite
(tests/unit/storage/test_contract.py).

Rules every backend keeps:
- `create` never overwrites: an existing id raises `AlreadyExists`. A record without `id`
  gets `forumdb.ids.new_id()` (a collision is retried with a fresh id). `createdAt`,
  `updatedAt` default to now, `version` starts at 1.
- Ids are unique per kind (a post id across all threads), and a user's `email` among users
  (`_records.UNIQUE_FIELDS`): a create or update that would give a second record either
  raises `AlreadyExists` (with `field="email"` for an e-mail), under any concurrency.
- `update` and `delete` are conditional on `version`: with `expected_version` given, a
  different stored version raises `VersionConflict`; without it, the backend reads the record
  and writes on the condition that nobody changed it meanwhile, so a concurrent update is
  never lost (it raises `VersionConflict` instead). Each update bumps `version` and sets
  `updatedAt`. A change to `None` removes the field. Key fields (`id`, and `thread` for
  posts) cannot be changed: `ValueError`.
- Lists are pages: at most `limit` records and an opaque `next_cursor` (None on the last
  page). A cursor from another list or a corrupt one raises `InvalidCursor`.
- `query` reads a secondary index from `forumdb.tables` by its hash key, ordered by its range
  key (newest first by default, since the range keys are `createdAt`).
- Transient errors are retried inside the backend; what is left after retries is
  `StoreUnavailable`.
- `memoized(key, compute)` may hand back an earlier result of `compute` only while no write
  (by this process or any other) reached the collection since it was computed;
  `peek_memoized(key)` hands back such a result without computing, or `NOT_KEPT`.
"""

from __future__ import annotations

import base64
import binascii
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from forumdb.tables import TableDef

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
# What `Collection.peek_memoized` answers when it has no current result to hand back.
NOT_KEPT: Any = object()
MAX_PAGE_SIZE = 1000


class StorageError(Exception):
    """Base of the errors the storage layer raises on purpose."""


class NotFound(StorageError):
    """No record of `kind` has `record_id`; `field` names what was looked up by (the API
    reports it as the field at fault)."""

    def __init__(self, kind: str, record_id: Any, field: str = "id") -> None:
        super().__init__(f"{kind} {record_id} not found")
        self.kind = kind
        self.record_id = record_id
        self.field = field


class AlreadyExists(StorageError):
    """A record of `kind` already has this id; or, with `field`, this value of a field no
    two records may share (a user's `email`), and `record_id` is the record that has it
    (None where the store cannot tell)."""

    def __init__(self, kind: str, record_id: Any, field: str = "id", value: Any = None) -> None:
        if field == "id":
            message = f"{kind} {record_id} already exists"
        else:
            holder = f" by {kind} {record_id}" if record_id is not None else ""
            message = f"{field}: {value!r} is already used{holder}"
        super().__init__(message)
        self.kind = kind
        self.record_id = record_id
        self.field = field
        self.value = value


class VersionConflict(StorageError):
    def __init__(self, kind: str, record_id: Any, expected: int | None, actual: int | None) -> None:
        super().__init__(
            f"{kind} {record_id} was changed concurrently "
            f"(expected version {expected}, found {actual})"
        )
        self.kind = kind
        self.record_id = record_id
        self.expected = expected
        self.actual = actual


class InvalidCursor(StorageError):
    def __init__(self, detail: str = "the cursor is not valid for this list") -> None:
        super().__init__(detail)


class StoreUnavailable(StorageError):
    """The store cannot be reached (after retries); the message says which and why."""


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None = None


@dataclass
class Health:
    ok: bool
    detail: str
    info: dict[str, Any] = field(default_factory=dict)


def encode_cursor(scope: str, position: Mapping[str, Any]) -> str:
    """An opaque cursor: `scope` names the list it belongs to, so it cannot be replayed
    against another one."""
    raw = json.dumps({"s": scope, "p": position}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(scope: str, cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidCursor() from None
    if not isinstance(data, dict) or data.get("s") != scope or not isinstance(data.get("p"), dict):
        raise InvalidCursor()
    return data["p"]


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}")
    return limit


class Collection(ABC):
    """The records of one kind in one backend."""

    table: TableDef

    @property
    def kind(self) -> str:
        return self.table.kind

    @abstractmethod
    def get(self, record_id: int) -> dict[str, Any]: ...

    @abstractmethod
    def create(self, record: Mapping[str, Any]) -> dict[str, Any]: ...

    @abstractmethod
    def update(
        self, record_id: int, changes: Mapping[str, Any], expected_version: int | None = None
    ) -> dict[str, Any]: ...

    @abstractmethod
    def delete(self, record_id: int, expected_version: int | None = None) -> dict[str, Any]:
        """Removes the record and returns it as it was."""

    @abstractmethod
    def list(self, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> Page:
        """Every record, in an order stable across pages."""

    @abstractmethod
    def query(
        self,
        index: str,
        value: Any,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        newest_first: bool = True,
    ) -> Page: ...

    @abstractmethod
    def health(self) -> Health:
        """Readiness: the table answers, or the data folder is writable. Never raises."""

    def memoized(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, or what it returned before for `key` while the collection has not
        changed since. A backend that cannot tell cheaply whether its records changed (a
        DynamoDB table, written by other processes) computes every time."""
        return compute()

    def peek_memoized(self, key: Hashable) -> Any:
        """What `memoized(key, ...)` would hand back without computing, when it keeps a
        result for `key` that no write has overtaken; `NOT_KEPT` otherwise. Never waits for
        another thread and never changes the collection: a caller on an event loop may ask."""
        return NOT_KEPT


class Store(ABC):
    """The three collections of one deployment."""

    mode: str

    @abstractmethod
    def collection(self, kind: str) -> Collection: ...

    @property
    def users(self) -> Collection:
        return self.collection("users")

    @property
    def threads(self) -> Collection:
        return self.collection("threads")

    @property
    def posts(self) -> Collection:
        return self.collection("posts")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files or connections."""
