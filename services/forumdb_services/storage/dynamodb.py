"""The DynamoDB backend: one table per kind, laid out by `forumdb.tables`.

- Writes are conditional: a create on `attribute_not_exists` of the key (a clash of a fresh
  auto-id is retried with a new id), an update or delete on the `version` it read, so a
  concurrent change surfaces as `VersionConflict`, never as a lost update.
- Posts are keyed by postId + threadId: a post is found by id with a Query on postId, and a
  create checks that no post of another thread has the id.
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
import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from forumdb import aws
from forumdb.config import Settings
from forumdb.ids import new_id, utc_now
from forumdb.tables import KINDS, IndexDef, TableDef, table_def
from forumdb_services.storage import _records
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
_HEALTHY_STATUSES = ("ACTIVE", "UPDATING")


class _ConditionFailed(Exception):
    """A conditional write was refused; the caller works out why."""


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

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """One DynamoDB call on this table, errors mapped to the storage contract."""
        try:
            client = self._client()
        except StoreUnavailable as exc:
            raise StoreUnavailable(f"DynamoDB table {self.table_name}: {exc}") from None
        try:
            return getattr(client, operation)(TableName=self.table_name, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", "Unknown"), error.get("Message", str(exc))
            if code == _CONDITION_FAILED:
                raise _ConditionFailed() from None
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
                if self.table.range_key is not None and self._find(new["id"]) is not None:
                    raise _ConditionFailed()
                self._call(
                    "put_item",
                    Item=serialize_item(self.table.to_item(new)),
                    ConditionExpression="attribute_not_exists(#h)",
                    ExpressionAttributeNames={"#h": self._hash},
                )
                return new
            except _ConditionFailed:
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

    def update(
        self, record_id: int, changes: Mapping[str, Any], expected_version: int | None = None
    ) -> dict[str, Any]:
        current = self._existing(record_id)
        _records.check_version(self.table, current, expected_version)
        new = _records.changed_record(self.table, current, changes, utc_now())
        try:
            self._call(
                "put_item",
                Item=serialize_item(self.table.to_item(new)),
                **self._version_condition(current),
            )
        except _ConditionFailed:
            raise self._conflict(record_id, current.get("version")) from None
        return new

    def delete(self, record_id: int, expected_version: int | None = None) -> dict[str, Any]:
        current = self._existing(record_id)
        _records.check_version(self.table, current, expected_version)
        try:
            old = self._call(
                "delete_item",
                Key=self._key(current),
                ReturnValues="ALL_OLD",
                **self._version_condition(current),
            ).get("Attributes")
        except _ConditionFailed:
            raise self._conflict(record_id, current.get("version")) from None
        return self._record(old) if old else current

    def _pages(
        self, operation: str, limit: int, start_key: dict[str, Any] | None, **kwargs: Any
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` records from Scan/Query pages, and whether more follow. One record
        more than asked is read so that the last page carries no cursor."""
        records: list[dict[str, Any]] = []
        while len(records) <= limit:
            params = dict(kwargs, Limit=limit + 1 - len(records))
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
        items, more = self._pages("scan", limit, start_key, ConsistentRead=True)
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
