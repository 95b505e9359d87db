"""The DynamoDB backend: one table per kind, laid out by `forumdb.tables`.

- Writes are conditional: a create on `attribute_not_exists` of the key (a clash of a fresh
  auto-id is retried with a new id), an update or delete on the `version` it read, so a
  concurrent change surfaces as `VersionConflict`, never as a lost update.
- Posts are keyed by postId + threadId: a post is found by id with a Query on postId. A
  post id and a user's e-mail are unique through guard items (`guards`), written in one
  TransactWriteItems with the record; a Query first finds records that other tools wrote
  without a guard.
- Lists are Scans, index lookups Queries (never a Scan), both paged by `Limit` and
  `ExclusiveStartKey` behind an opaque cursor that names the page's last record.
- Throttling and transient errors are retried by botocore's retry mode (`forumdb.aws`);
  what remains, a missing table and unreachable endpoints become `StoreUnavailable` with
  the table, region and cause.
- Building a store makes no network call: the services rebuild it when their settings
  change, and the boto3 client is created on first use.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from forumdb import aws
from forumdb.config import Settings
from forumdb.ids import new_id, utc_now
from forumdb.tables import GUARDED_KINDS, KINDS, IndexDef, TableDef, table_def
from forumdb_services.storage import _records, guards
from forumdb_services.storage._dynamo_codec import deserialize_item, serialize_item, serialize_value
from forumdb_services.storage.base import (
    DEFAULT_PAGE_SIZE,
    AlreadyExists,
    Collection,
    Health,
    NotFound,
    Page,
    Store,
    StoreUnavailable,
    VersionConflict,
    check_limit,
    decode_cursor,
    encode_cursor,
)

log = logging.getLogger("forumdb.storage.dynamodb")

_ID_ATTEMPTS = 8
_CONDITION_FAILED = "ConditionalCheckFailedException"
_CANCELLED = "TransactionCanceledException"
_HEALTHY_STATUSES = ("ACTIVE", "UPDATING")
# A transaction cancelled because another one was changing one of its items at that moment
# is run again, after a short random pause (Developer Guide, "Transaction conflict
# handling"); past these attempts the store is busy.
_CONFLICT_ATTEMPTS = 5
_CONFLICT_PAUSE_SECONDS = 0.02
# Times a create or update tries to take over a guard left without its record.
_TAKEOVER_ATTEMPTS = 3


class _ConditionFailed(Exception):
    """A conditional write was refused; the caller works out why."""


class _Cancelled(Exception):
    """A TransactWriteItems was cancelled; `reasons` holds the code of each item in order
    ("None" for the items that were not at fault)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


class _IdTaken(Exception):
    """The id of a new record is taken."""


@dataclass
class _Guard:
    """A guard a write puts: fresh (or already this record's), or, with `token`, taking over
    one whose record is gone."""

    what: str  # guards.POST_ID or guards.EMAIL
    value: Any  # the post id or the e-mail
    owner: int  # the post's thread, or the user's id
    token: str | None = None


@dataclass
class _Release:
    """A guard a write removes: the e-mail a user gives up (if it is still theirs), or the
    id of a deleted post (whoever's guard it is: the id is free once the post is gone)."""

    what: str
    value: Any
    owner: int | None


class DynamoCollection(Collection):
    def __init__(self, table: TableDef, table_name: str, client: Callable[[], Any]) -> None:
        self.table = table
        self.table_name = table_name
        self._client = client
        self._hash = table.hash_key.name
        self._key_fields = _records.key_fields(table)

    # -- calls and errors ------------------------------------------------------------------

    def _region(self) -> str:
        try:
            return self._client().meta.region_name or "(no region)"
        except StoreUnavailable:
            return "(no region)"

    def _call(self, operation: str, *, on_table: bool = True, **kwargs: Any) -> dict[str, Any]:
        """One DynamoDB call on this table (or naming its tables itself: `on_table=False`),
        errors mapped to the storage contract."""
        try:
            client = self._client()
        except StoreUnavailable as exc:
            raise StoreUnavailable(f"DynamoDB table {self.table_name}: {exc}") from None
        if on_table:
            kwargs["TableName"] = self.table_name
        try:
            return getattr(client, operation)(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "Unknown"), error.get("Message", str(exc))
            if code == _CONDITION_FAILED:
                raise _ConditionFailed() from None
            if code == _CANCELLED:
                reasons = exc.response.get("CancellationReasons") or []
                raise _Cancelled([r.get("Code") or "None" for r in reasons]) from None
            where = f"DynamoDB table {self.table_name} in region {self._region()}"
            if code == "ValidationException":
                raise ValueError(f"{where} refused {operation}: {message}") from None
            if code == "ResourceNotFoundException":
                raise StoreUnavailable(f"{where} does not exist ({code}: {message})") from None
            raise StoreUnavailable(f"{where}: {operation} failed ({code}: {message})") from None
        except BotoCoreError as exc:
            where = f"DynamoDB table {self.table_name} in region {self._region()}"
            raise StoreUnavailable(f"{where}: {operation} failed: {exc}") from None

    def _key(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return serialize_item(self.table.key_of(record))

    def _record(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return self.table.from_item(deserialize_item(item))

    def _find(self, record_id: int) -> dict[str, Any] | None:
        if self.table.range_key is None:
            key = serialize_item({self._hash: record_id})
            item = self._call("get_item", Key=key, ConsistentRead=True).get("Item")
            return self._record(item) if item else None
        # Posts: the id alone is only the hash part of the key.
        items = self._call(
            "query",
            KeyConditionExpression="#h = :id",
            ExpressionAttributeNames={"#h": self._hash},
            ExpressionAttributeValues={":id": serialize_value(record_id)},
            ConsistentRead=True,
            Limit=1,
        ).get("Items", [])
        return self._record(items[0]) if items else None

    def _existing(self, record_id: Any) -> dict[str, Any]:
        current = self._find(_records.check_record_id(self.table, record_id))
        if current is None:
            raise NotFound(self.kind, record_id)
        return current

    def _version_condition(self, current: Mapping[str, Any]) -> dict[str, Any]:
        """Write only if the item is still the one read: same version (records written by
        other tools may have none)."""
        if current.get("version") is None:
            return {
                "ConditionExpression": "attribute_exists(#h) AND attribute_not_exists(#v)",
                "ExpressionAttributeNames": {"#h": self._hash, "#v": "version"},
            }
        return {
            "ConditionExpression": "#v = :v",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":v": serialize_value(current["version"])},
        }

    def _conflict(self, record_id: int, read_version: int | None) -> Exception:
        now = self._find(record_id)
        if now is None:
            return NotFound(self.kind, record_id)
        return VersionConflict(self.kind, record_id, read_version, now.get("version"))

    # -- guards (see `guards`) --------------------------------------------------------------

    def _transact(self, items: list[dict[str, Any]]) -> None:
        """One TransactWriteItems; a cancellation for a failed condition raises `_Cancelled`.
        A conflict with another transaction in flight is run again after a short pause."""
        for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
            try:
                self._call("transact_write_items", on_table=False, TransactItems=items)
                return
            except _Cancelled as exc:
                codes = {code for code in exc.reasons if code != "None"}
                if "ConditionalCheckFailed" in codes:
                    raise  # the caller works out which record or guard and why
                if codes != {"TransactionConflict"}:
                    where = f"DynamoDB table {self.table_name} in region {self._region()}"
                    if "ValidationError" in codes:
                        raise ValueError(
                            f"{where} refused transact_write_items: {', '.join(exc.reasons)}"
                        ) from None
                    raise StoreUnavailable(
                        f"{where}: transact_write_items cancelled ({', '.join(exc.reasons)})"
                    ) from None
                log.info(
                    "transaction conflict, running it again",
                    extra={"table": self.table_name, "attempt": attempt},
                )
                time.sleep(random.uniform(0, _CONFLICT_PAUSE_SECONDS * attempt))  # jitter
        raise StoreUnavailable(
            f"DynamoDB table {self.table_name} in region {self._region()}: a write kept "
            f"conflicting with other transactions ({_CONFLICT_ATTEMPTS} attempts)"
        )

    def _guard_key(self, what: str, value: Any) -> dict[str, Any]:
        return serialize_item(guards.guard_key(self.table, what, value))

    def _put_guard(self, guard: _Guard) -> dict[str, Any]:
        item = guards.guard_item(self.table, guard.what, guard.value, guard.owner)
        put: dict[str, Any] = {"TableName": self.table_name, "Item": serialize_item(item)}
        if guard.token is None:
            # Free, or already this record's.
            put["ConditionExpression"] = "attribute_not_exists(#h) OR #o = :o"
            put["ExpressionAttributeNames"] = {"#h": self._hash, "#o": guards.OWNER_ATTR}
            put["ExpressionAttributeValues"] = {":o": serialize_value(guard.owner)}
        else:
            put["ConditionExpression"] = "#t = :t"
            put["ExpressionAttributeNames"] = {"#t": guards.TOKEN_ATTR}
            put["ExpressionAttributeValues"] = {":t": serialize_value(guard.token)}
        return {"Put": put}

    def _delete_guard(self, release: _Release) -> dict[str, Any]:
        delete: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": self._guard_key(release.what, release.value),
        }
        if release.owner is not None:
            delete["ConditionExpression"] = "attribute_not_exists(#h) OR #o = :o"
            delete["ExpressionAttributeNames"] = {"#h": self._hash, "#o": guards.OWNER_ATTR}
            delete["ExpressionAttributeValues"] = {":o": serialize_value(release.owner)}
        return {"Delete": delete}

    def _holder(self, guard: _Guard) -> int | None:
        """After a guard's condition failed: the id of the record that holds its value, or
        None if the guard stands without its record (left by another tool), in which case
        `guard.token` is set so the next attempt takes it over."""
        key = self._guard_key(guard.what, guard.value)
        item = self._call("get_item", Key=key, ConsistentRead=True).get("Item")
        if not item:
            guard.token = None  # removed meanwhile: put a fresh one
            return None
        stored = deserialize_item(item)
        if guard.what == guards.POST_ID:
            post = self._find(guard.value)
            holder = post["id"] if post is not None else None
        else:
            owner = stored.get(guards.OWNER_ATTR)
            user = self._find(owner) if _records.value_fits("N", owner) else None
            holder = owner if user is not None and user.get("email") == guard.value else None
        if holder is None:
            log.warning(
                "taking over a guard whose record is gone",
                extra={
                    "table": self.table_name,
                    "guard": guard.what,
                    "owner": stored.get(guards.OWNER_ATTR),
                },
            )
            guard.token = str(stored.get(guards.TOKEN_ATTR))
        return holder

    def _taken(self, guard: _Guard, holder: int | None) -> Exception:
        if guard.what == guards.POST_ID:
            return _IdTaken()
        return AlreadyExists(self.kind, holder, field="email", value=guard.value)

    def _unique_holder(self, record: Mapping[str, Any], record_id: int) -> None:
        """Raises AlreadyExists if another record holds one of the record's unique values:
        a Query of the value's index, which also finds records written without a guard
        (by forumctl, say). Eventually consistent: the guards close the race."""
        for name, index in _records.UNIQUE_FIELDS[self.kind]:
            value = record.get(name)
            if value is None:
                continue
            for holder in self.query(index, value, limit=2).items:
                if holder["id"] != record_id:
                    raise AlreadyExists(self.kind, holder["id"], field=name, value=value)

    def _write_guarded(
        self,
        record_item: dict[str, Any],
        new_guards: list[_Guard],
        releases: list[_Release],
        record_failed: Callable[[], Exception],
    ) -> None:
        """The record's write (a Put or Delete transaction item) with its guards, in one
        transaction. A failed record condition raises `record_failed()`; a guard held by
        another record raises what `_taken` says; a guard left without its record is taken
        over; a release of a guard that is not the record's is dropped."""
        for _ in range(_TAKEOVER_ATTEMPTS):
            items = [
                record_item,
                *(self._put_guard(g) for g in new_guards),
                *(self._delete_guard(r) for r in releases),
            ]
            try:
                self._transact(items)
                return
            except _Cancelled as exc:
                if exc.failed(0):
                    raise record_failed() from None
                for i, guard in enumerate(new_guards, 1):
                    if exc.failed(i) and (holder := self._holder(guard)) is not None:
                        raise self._taken(guard, holder) from None
                first_release = 1 + len(new_guards)
                releases = [r for i, r in enumerate(releases, first_release) if not exc.failed(i)]
        raise self._taken(new_guards[0], None) if new_guards else record_failed()

    def _guards_of(self, record: Mapping[str, Any]) -> list[_Guard]:
        if self.kind == "posts":
            return [_Guard(guards.POST_ID, record["id"], record["thread"])]
        email = record.get("email")
        if self.kind == "users" and email is not None:
            return [_Guard(guards.EMAIL, email, record["id"])]
        return []

    def _releases_of(self, record: Mapping[str, Any]) -> list[_Release]:
        if self.kind == "posts":
            return [_Release(guards.POST_ID, record["id"], None)]
        email = record.get("email")
        if self.kind == "users" and _records.value_fits("S", email):
            return [_Release(guards.EMAIL, email, record["id"])]
        return []

    # -- the contract --------------------------------------------------------------------------

    def get(self, record_id: int) -> dict[str, Any]:
        return self._existing(record_id)

    def create(self, record: Mapping[str, Any]) -> dict[str, Any]:
        given = record.get("id")
        for _ in range(_ID_ATTEMPTS):
            new = _records.new_record(
                self.table, record, new_id() if given is None else given, utc_now()
            )
            try:
                self._put_new(new)
                return new
            except _IdTaken:
                if given is not None:
                    raise AlreadyExists(self.kind, given) from None
                log.warning(
                    "new id already taken, retrying with another",
                    extra={"table": self.table_name, "id": new["id"]},
                )
        raise StoreUnavailable(
            f"DynamoDB table {self.table_name} in region {self._region()}: "
            f"no free id after {_ID_ATTEMPTS} tries"
        )

    def _put_new(self, new: dict[str, Any]) -> None:
        """Write a new record, never over another: `_IdTaken` if its id is taken,
        AlreadyExists if one of its unique values is."""
        self._unique_holder(new, new["id"])
        if self.table.range_key is not None and self._find(new["id"]) is not None:
            raise _IdTaken()
        put = {
            "Item": serialize_item(self.table.to_item(new)),
            "ConditionExpression": "attribute_not_exists(#h)",
            "ExpressionAttributeNames": {"#h": self._hash},
        }
        new_guards = self._guards_of(new)
        if not new_guards:
            try:
                self._call("put_item", **put)
            except _ConditionFailed:
                raise _IdTaken() from None
            return
        record_item = {"Put": {"TableName": self.table_name, **put}}
        self._write_guarded(record_item, new_guards, [], _IdTaken)

    def update(
        self, record_id: int, changes: Mapping[str, Any], expected_version: int | None = None
    ) -> dict[str, Any]:
        current = self._existing(record_id)
        _records.check_version(self.table, current, expected_version)
        new = _records.changed_record(self.table, current, changes, utc_now())
        put = {"Item": serialize_item(self.table.to_item(new)), **self._version_condition(current)}

        def conflict() -> Exception:
            return self._conflict(record_id, current.get("version"))

        if self.kind != "users" or new.get("email") == current.get("email"):
            try:
                self._call("put_item", **put)
            except _ConditionFailed:
                raise conflict() from None
            return new
        self._unique_holder(new, record_id)
        record_item = {"Put": {"TableName": self.table_name, **put}}
        self._write_guarded(record_item, self._guards_of(new), self._releases_of(current), conflict)
        return new

    def delete(self, record_id: int, expected_version: int | None = None) -> dict[str, Any]:
        current = self._existing(record_id)
        _records.check_version(self.table, current, expected_version)

        def conflict() -> Exception:
            return self._conflict(record_id, current.get("version"))

        releases = self._releases_of(current)
        if releases:
            delete = {"TableName": self.table_name, "Key": self._key(current)}
            record_item = {"Delete": {**delete, **self._version_condition(current)}}
            self._write_guarded(record_item, [], releases, conflict)
            return current
        try:
            old = self._call(
                "delete_item",
                Key=self._key(current),
                ReturnValues="ALL_OLD",
                **self._version_condition(current),
            ).get("Attributes")
        except _ConditionFailed:
            raise conflict() from None
        return self._record(old) if old else current

    def _pages(
        self, operation: str, limit: int, start_key: dict[str, Any] | None, **kwargs: Any
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` records from Scan/Query pages, and whether more follow. One record
        more than asked is read so that the last page carries no cursor. A Scan of a table
        with guards reads twice as many items as it needs: it filters the guards out after
        `Limit` counted them."""
        read_ahead = 2 if operation == "scan" and self.kind in GUARDED_KINDS else 1
        records: list[dict[str, Any]] = []
        while len(records) <= limit:
            params = dict(kwargs, Limit=read_ahead * (limit + 1 - len(records)))
            if start_key:
                params["ExclusiveStartKey"] = start_key
            response = self._call(operation, **params)
            records.extend(self._record(item) for item in response.get("Items", []))
            start_key = response.get("LastEvaluatedKey")
            if not start_key:
                break
        return records[:limit], len(records) > limit

    def list(self, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> Page:
        check_limit(limit)
        scope = _records.list_scope(self.table)
        start_key = None
        if cursor is not None:
            start_key = self._key(
                _records.parse_key_position(self.table, decode_cursor(scope, cursor))
            )
        scan: dict[str, Any] = {"ConsistentRead": True}
        if self.kind in GUARDED_KINDS:
            scan.update(guards.SCAN_FILTER)
        items, more = self._pages("scan", limit, start_key, **scan)
        next_cursor = (
            encode_cursor(scope, _records.key_position(self.table, items[-1])) if more else None
        )
        return Page(items, next_cursor)

    def _index_start_key(
        self, idx: IndexDef, value: Any, key: Mapping[str, int], range_value: Any
    ) -> dict[str, Any]:
        item = self.table.to_item(dict(key))
        start = {a.name: item[a.name] for a in self.table.key_attrs}
        start[idx.hash_key.name] = value
        if idx.range_key is not None:
            start[idx.range_key.name] = range_value
        return serialize_item(start)

    def query(
        self,
        index: str,
        value: Any,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        newest_first: bool = True,
    ) -> Page:
        plan = _records.plan_query(self.table, index, value, limit, cursor, newest_first)
        idx = plan.idx
        start_key = None
        if plan.after is not None:
            start_key = self._index_start_key(idx, value, *plan.after)
        items, more = self._pages(
            "query",
            limit,
            start_key,
            IndexName=idx.name,
            KeyConditionExpression="#h = :v",
            ExpressionAttributeNames={"#h": idx.hash_key.name},
            ExpressionAttributeValues={":v": serialize_value(value)},
            ScanIndexForward=not newest_first,
        )
        return _records.query_page(self.table, plan, items, more)

    def health(self) -> Health:
        info: dict[str, Any] = {"table": self.table_name}
        try:
            info["region"] = self._region()
            table = self._call("describe_table")["Table"]
        except (StoreUnavailable, ValueError) as exc:
            return Health(False, str(exc), info)
        except Exception as exc:  # health never raises: an unexpected failure is "not ready"
            return Health(False, f"DynamoDB table {self.table_name}: {exc!r}", info)
        info["status"] = table.get("TableStatus")
        ok = info["status"] in _HEALTHY_STATUSES
        detail = f"DynamoDB table {self.table_name} in region {info['region']} is {info['status']}"
        return Health(ok, detail, info)


# A request of a service must answer within gunicorn's worker timeout (30 s): a few retries
# with short timeouts, not the default budget (whose back-off alone can pass a minute while a
# region is down, which is when the operator is switching the services to another region).
SERVICE_CLIENT_CONFIG = aws.client_config(max_attempts=2, connect_timeout=2, read_timeout=5)


class DynamoStore(Store):
    mode = "dynamodb"

    def __init__(
        self,
        table_names: Mapping[str, str],
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        client: Any | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self._client_obj = client
        self._client_lock = threading.Lock()
        self._collections = {
            kind: DynamoCollection(table_def(kind), table_names[kind], self.client)
            for kind in KINDS
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoStore:
        return cls(
            settings.table_names(),
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url,
        )

    def client(self) -> Any:
        """The boto3 DynamoDB client, made on first use (clients are thread-safe)."""
        if self._client_obj is None:
            with self._client_lock:
                if self._client_obj is None:
                    try:
                        self._client_obj = aws.client(
                            "dynamodb", self.region, self.endpoint_url, SERVICE_CLIENT_CONFIG
                        )
                    except BotoCoreError as exc:
                        raise StoreUnavailable(
                            f"cannot make a DynamoDB client for region {self.region}: {exc}"
                        ) from None
        return self._client_obj

    def collection(self, kind: str) -> DynamoCollection:
        table_def(kind)  # a ValueError that names the kinds
        return self._collections[kind]  # type: ignore[index]

    def close(self) -> None:
        if self._client_obj is not None:
            self._client_obj.close()
            self._client_obj = None
