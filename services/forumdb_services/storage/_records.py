"""Record rules both backends share: defaults on create, changes on update, key and index
attribute types, index entries (sparse, as DynamoDB's GSIs) and cursor positions.

Keeping them here is what makes the two backends behave the same under the contract suite.
"""

from __future__ import annotations

import decimal
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from forumdb.ids import MAX_ID
from forumdb.legacy import (
    DYNAMODB_NUMBERS,
    HASH_KEY_MAX_BYTES,
    RANGE_KEY_MAX_BYTES,
    REFERENCE_FIELDS,
    TIMESTAMP_FIELDS,
)
from forumdb.tables import IndexDef, KeyAttr, TableDef, table_def
from forumdb_services.storage.base import (
    InvalidCursor,
    NotFound,
    Page,
    VersionConflict,
    check_limit,
    decode_cursor,
    encode_cursor,
)

# Fields the store maintains itself; values passed in `changes` for them are overwritten.
STORE_MANAGED = ("version", "updatedAt")

# Fields no two records of a kind may share (besides the id), with the index that finds
# the record holding a value.
UNIQUE_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "users": (("email", "EmailIndex"),),
    "threads": (),
    "posts": (),
}

_TYPE_NAMES = {"N": "a number", "S": "a non-empty string", "B": "non-empty bytes"}


def key_fields(table: TableDef) -> tuple[str, ...]:
    """API field names of the primary key: ("id",) or ("id", "thread") for posts."""
    return tuple(table.field_for(a.name) for a in table.key_attrs)


def value_fits(attr_type: str, value: Any) -> bool:
    """Whether DynamoDB would accept `value` as a key attribute of this type."""
    if attr_type == "N":
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and not (isinstance(value, float) and not math.isfinite(value))
        )
    if attr_type == "S":
        return isinstance(value, str) and value != ""
    return isinstance(value, bytes) and value != b""


def number_fits(value: int | float) -> bool:
    """Whether DynamoDB can hold the number (boto3 refuses to send the others)."""
    try:
        DYNAMODB_NUMBERS.create_decimal(repr(value) if isinstance(value, float) else value)
    except decimal.DecimalException:
        return False
    return True


def key_value_fits(attr_type: str, value: Any, most_bytes: int) -> bool:
    """Whether DynamoDB would take `value` as a key attribute of this type: `value_fits`,
    and a number it can hold or a valid Unicode string of at most `most_bytes` in UTF-8."""
    if not value_fits(attr_type, value):
        return False
    if attr_type == "N":
        return number_fits(value)
    if attr_type == "S":
        try:
            return len(value.encode("utf-8")) <= most_bytes
        except UnicodeEncodeError:  # a lone surrogate
            return False
    return len(value) <= most_bytes


def _check_id(kind: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise ValueError(f"{kind}: field {name!r} must be an integer from 0 to {MAX_ID}")


def check_record_id(table: TableDef, record_id: Any) -> int:
    """The id argument of get/update/delete; anything that cannot be an id names no record."""
    if (
        isinstance(record_id, bool)
        or not isinstance(record_id, int)
        or not 0 <= record_id <= MAX_ID
    ):
        raise NotFound(table.kind, record_id)
    return record_id


def validate_record(table: TableDef, record: Mapping[str, Any]) -> None:
    """Key fields present and integral, references ids too, timestamps non-empty strings;
    index key attributes, where present, of the type and size their index declares
    (DynamoDB rejects a write otherwise, so the JSON backend does too); the record
    serialisable as strict JSON. What passes here also passes `forumdb.legacy`'s checks
    when a JSON store loads it again."""
    for name in key_fields(table):
        if record.get(name) is None:
            raise ValueError(f"{table.kind}: field {name!r} is required")
        _check_id(table.kind, name, record[name])
    for name in REFERENCE_FIELDS[table.kind]:
        if record.get(name) is not None:
            _check_id(table.kind, name, record[name])
    for name in TIMESTAMP_FIELDS:
        if record.get(name) is not None and (not isinstance(record[name], str) or not record[name]):
            raise ValueError(f"{table.kind}: field {name!r} must be a non-empty string")
    item = table.to_item(record)
    seen: set[str] = set()
    for idx in table.indexes:
        for attr in idx.key_attrs:
            if attr.name in seen or attr.name in table.constant_attrs:
                continue
            seen.add(attr.name)
            most = HASH_KEY_MAX_BYTES if attr is idx.hash_key else RANGE_KEY_MAX_BYTES
            if attr.name in item and not key_value_fits(attr.type, item[attr.name], most):
                field = table.field_for(attr.name)
                raise ValueError(
                    f"{table.kind}: field {field!r} must be {_TYPE_NAMES[attr.type]}"
                    f"{'' if attr.type == 'N' else f' of at most {most} bytes'} "
                    f"(it is a key of index {idx.name})"
                )
    try:
        json.dumps(record, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            f"{table.kind}: record is not storable as JSON: a string holds a lone UTF-16 "
            "surrogate (not valid Unicode)"
        ) from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{table.kind}: record is not storable as JSON: {exc}") from None


def new_record(table: TableDef, record: Mapping[str, Any], record_id: int, now: str) -> dict:
    """The record as `create` stores it: `None` fields dropped, id set, timestamps defaulted
    to now, version 1."""
    rec = {k: v for k, v in record.items() if v is not None}
    rec["id"] = record_id
    rec.setdefault("createdAt", now)
    rec.setdefault("updatedAt", now)
    rec["version"] = 1
    validate_record(table, rec)
    return rec


def check_version(
    table: TableDef, current: Mapping[str, Any], expected_version: int | None
) -> None:
    if expected_version is not None and current.get("version") != expected_version:
        raise VersionConflict(table.kind, current["id"], expected_version, current.get("version"))


def changed_record(
    table: TableDef, current: Mapping[str, Any], changes: Mapping[str, Any], now: str
) -> dict[str, Any]:
    """`current` with `changes` applied: `None` removes a field, key fields cannot change,
    `version` goes up by one and `updatedAt` becomes now."""
    for name in key_fields(table):
        if name in changes and changes[name] != current.get(name):
            raise ValueError(
                f"{table.kind}: field {name!r} is part of the key and cannot be changed"
            )
    rec = dict(current)
    for name, value in changes.items():
        if name in STORE_MANAGED:
            continue
        if value is None:
            rec.pop(name, None)
        else:
            rec[name] = value
    rec["version"] = int(current.get("version") or 0) + 1
    rec["updatedAt"] = now
    validate_record(table, rec)
    return rec


def index_def(table: TableDef, name: str) -> IndexDef:
    try:
        return table.index(name)
    except KeyError:
        names = ", ".join(i.name for i in table.indexes)
        raise ValueError(f"{table.kind} has no index {name!r}; its indexes: {names}") from None


def check_query_value(table: TableDef, idx: IndexDef, value: Any) -> None:
    if not key_value_fits(idx.hash_key.type, value, HASH_KEY_MAX_BYTES):
        raise ValueError(
            f"index {idx.name} of {table.kind} is looked up by {_TYPE_NAMES[idx.hash_key.type]}, "
            f"got {value!r}"
        )


def _key_reader(table: TableDef, attr: KeyAttr) -> Callable[[Mapping[str, Any]], Any]:
    """Reads one key attribute of an index straight from an API record (no `to_item` copy:
    loading 100,000 records calls this for every record and index)."""
    if attr.name in table.constant_attrs:
        constant = table.constant_attrs[attr.name]
        return lambda record: constant
    field = table.field_for(attr.name)
    return lambda record: record.get(field)


@cache
def _index_readers(table_kind: str, index_name: str) -> tuple[Callable, Callable | None]:
    table = table_def(table_kind)
    idx = table.index(index_name)
    range_reader = _key_reader(table, idx.range_key) if idx.range_key else None
    return _key_reader(table, idx.hash_key), range_reader


def index_entry(table: TableDef, idx: IndexDef, record: Mapping[str, Any]) -> tuple | None:
    """(hash value, range value or None) of the record in the index, or None where the
    record is not in it: a GSI is sparse, an item lacking a key attribute is left out."""
    read_hash, read_range = _index_readers(table.kind, idx.name)
    hash_value = read_hash(record)
    if not value_fits(idx.hash_key.type, hash_value):
        return None
    if read_range is None or idx.range_key is None:
        return (hash_value, None)
    range_value = read_range(record)
    if not value_fits(idx.range_key.type, range_value):
        return None
    return (hash_value, range_value)


# -- cursors -------------------------------------------------------------------------------
# A position names the last record of a page by its primary key (API field names) and, for
# an index with a range key, by that key's value under "r". Both backends use this shape.


def list_scope(table: TableDef) -> str:
    return f"list:{table.kind}"


def query_scope(table: TableDef, idx: IndexDef, value: Any, newest_first: bool) -> str:
    order = "desc" if newest_first else "asc"
    return f"query:{table.kind}:{idx.name}:{json.dumps(value)}:{order}"


def key_position(table: TableDef, record: Mapping[str, Any]) -> dict[str, Any]:
    return {name: record[name] for name in key_fields(table)}


def query_position(table: TableDef, idx: IndexDef, record: Mapping[str, Any]) -> dict[str, Any]:
    position = key_position(table, record)
    if idx.range_key is not None:
        position["r"] = table.to_item(record)[idx.range_key.name]
    return position


def parse_key_position(table: TableDef, position: Mapping[str, Any]) -> dict[str, int]:
    """The primary key a cursor names: ids only, as a forged number past them (more digits
    than DynamoDB holds, say) would fail in the backend rather than as a bad cursor."""
    names = key_fields(table)
    parsed: dict[str, int] = {}
    for name in names:
        value = position.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
            raise InvalidCursor()
        parsed[name] = value
    return parsed


def parse_query_position(
    table: TableDef, idx: IndexDef, position: Mapping[str, Any]
) -> tuple[dict[str, int], Any]:
    """(primary key, range value or None) of a query cursor's position."""
    key = parse_key_position(table, position)
    if idx.range_key is None:
        return key, None
    range_value = position.get("r")
    if not key_value_fits(idx.range_key.type, range_value, RANGE_KEY_MAX_BYTES):
        raise InvalidCursor()
    return key, range_value


@dataclass(frozen=True)
class QueryPlan:
    """A checked index lookup: the index, the cursor scope and where to resume (if anywhere)."""

    idx: IndexDef
    scope: str
    # (primary key, range value) of the last record of the previous page
    after: tuple[dict[str, int], Any] | None


def plan_query(
    table: TableDef, index: str, value: Any, limit: int, cursor: str | None, newest_first: bool
) -> QueryPlan:
    """Validates a `Collection.query` call the same way for every backend."""
    check_limit(limit)
    idx = index_def(table, index)
    check_query_value(table, idx, value)
    scope = query_scope(table, idx, value, newest_first)
    after = None
    if cursor is not None:
        after = parse_query_position(table, idx, decode_cursor(scope, cursor))
    return QueryPlan(idx, scope, after)


def query_page(table: TableDef, plan: QueryPlan, items: list[dict[str, Any]], more: bool) -> Page:
    next_cursor = (
        encode_cursor(plan.scope, query_position(table, plan.idx, items[-1])) if more else None
    )
    return Page(items, next_cursor)
