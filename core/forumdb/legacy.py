"""Reading the classic forum sample's db.json files.

`{"users": [{"id": 1, "username": ..., "name": ..., "bio": ...}]}`,
`{"threads": [{"id": 1, "title": ..., "createdBy": 4}]}`,
`{"posts": [{"thread": 1, "text": ..., "user": 4}]}`: numeric ids, posts without ids, users
without e-mail, no timestamps. Both the JSON storage backend and `forumctl migrate` turn
them into forumdb records here, so the two agree on every id and timestamp they assign:
a post without an id gets its 1-based position in the file, a record without `createdAt`
gets `legacy_created_at(id)`. Fields forumdb does not know are kept as they are.

A file is checked as it is read, so that a value the services could not serve (or DynamoDB
could not hold) is refused here, naming the record and the field, rather than answering 500
later: ids are integers from 0 to `MAX_ID`, `version` a positive integer, timestamps and
index keys strings of the size DynamoDB allows, and no value is NaN or Infinity or holds a
lone UTF-16 surrogate.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import Any

from forumdb.ids import LEGACY_MAX_ORDINAL, MAX_ID, legacy_created_at
from forumdb.tables import Kind, table_def

# The foreign-key fields of each kind, which must be integers.
REFERENCE_FIELDS: dict[str, tuple[str, ...]] = {
    "users": (),
    "threads": ("createdBy",),
    "posts": ("thread", "user"),
}
TIMESTAMP_FIELDS = ("createdAt", "updatedAt")

# DynamoDB's limits on key attribute values, in UTF-8 bytes (Amazon DynamoDB Developer
# Guide, "Service, account, and table quotas": partition key 1-2048 bytes, sort key
# 1-1024 bytes); the same for the keys of a global secondary index.
HASH_KEY_MAX_BYTES = 2048
RANGE_KEY_MAX_BYTES = 1024
# DynamoDB's numbers: 38 significant digits, magnitude from 1E-130 to below 1E+126 - the
# context boto3 serialises numbers with (boto3.dynamodb.types.DYNAMODB_CONTEXT), copied so
# that the JSON backend does not import boto3; a number it traps on DynamoDB cannot hold.
DYNAMODB_NUMBERS = decimal.Context(
    prec=38,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-128,
    Emax=126,
    traps=[decimal.Clamped, decimal.Inexact, decimal.Overflow, decimal.Rounded, decimal.Underflow],
)

# What may hide a lone surrogate in a UTF-8 document: a \uD800-\uDFFF escape (valid pairs
# match too, and are let through by the full check).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class LegacyFormatError(ValueError):
    """A sample file that cannot be read; the message names the file position and field."""


def _as_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or value is None:
        raise LegacyFormatError(f"{where}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    digits = value.strip().removeprefix("-") if isinstance(value, str) else ""
    if digits.isascii() and digits.isdigit():
        return int(value)
    raise LegacyFormatError(f"{where}: expected an integer, got {value!r}")


def _as_id(value: Any, where: str) -> int:
    number = _as_int(value, where)
    if not 0 <= number <= MAX_ID:
        raise LegacyFormatError(f"{where}: expected an id from 0 to {MAX_ID}, got {value!r}")
    return number


def record_id(kind: Kind, raw: Mapping[str, Any], position: int) -> int:
    """The id of a sample-format record: its own, or (posts only) its 1-based position."""
    if raw.get("id") is None:
        if kind != "posts":
            raise LegacyFormatError(f"{kind}[{position}]: field 'id' is missing")
        return position + 1
    return _as_id(raw["id"], f"{kind}[{position}].id")


@cache
def _key_fields(kind: str) -> tuple[tuple[str, str, int], ...]:
    """(field, DynamoDB type, most bytes) of each index key attribute that records carry
    themselves, references aside (they are checked as ids)."""
    table = table_def(kind)
    found: dict[str, tuple[str, str, int]] = {}
    for idx in table.indexes:
        for attr, limit in ((idx.hash_key, HASH_KEY_MAX_BYTES), (idx.range_key, None)):
            if attr is None or attr.name in table.constant_attrs:
                continue
            name = table.field_for(attr.name)
            if name in REFERENCE_FIELDS[kind] or name == "id":
                continue
            most = limit or RANGE_KEY_MAX_BYTES
            if name in found:
                most = min(most, found[name][2])
            found[name] = (name, attr.type, most)
    return tuple(found.values())


@cache
def reserved_fields(kind: str) -> frozenset[str]:
    """Names a record may not carry as fields: the DynamoDB attributes that other fields
    become (`id` is stored as `userId`, a post's `thread` as `threadId`, ...) and the
    constant index attributes. A record with a `userId` of its own would re-key itself
    in DynamoDB (or move a post to another thread)."""
    table = table_def(kind)
    names = {attr for name, attr in table.field_to_attr.items() if attr != name}
    return frozenset((names | set(table.constant_attrs)) - set(table.field_to_attr))


def _key_fits(attr_type: str, value: Any, most: int) -> bool:
    if attr_type == "N":
        return type(value) in (int, float) and math.isfinite(value)
    if type(value) is not str or not value:
        return False
    # Each character is at most 4 bytes: only long strings need encoding to be measured.
    return len(value) * 4 <= most or len(value.encode("utf-8", "surrogatepass")) <= most


def _check_key(kind: str, name: str, attr_type: str, most: int, value: Any, where: str) -> None:
    if not _key_fits(attr_type, value, most):
        what = "a number" if attr_type == "N" else f"a non-empty string of at most {most} bytes"
        raise LegacyFormatError(
            f"{where}: expected {what} (a key of an index of {kind}), got {_shown(value)}"
        )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_values(value: Any, where: str, note: str = "") -> None:
    """Every value inside a record is one JSON and DynamoDB can carry: no NaN or Infinity,
    no string or key with a lone surrogate. The error names the path to the value (`where`,
    then `note`)."""
    if isinstance(value, str):
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise LegacyFormatError(
                    f"{where}{note}: contains a lone UTF-16 surrogate (not valid Unicode)"
                ) from None
    elif isinstance(value, float):
        if not math.isfinite(value):
            name = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
            raise LegacyFormatError(f"{where}{note}: {name} is not a JSON number")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_values(key, f"{where} field name {_shown(key)}", note)
            check_values(item, f"{where}.{key}", note)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_values(item, f"{where}[{i}]", note)


def is_normal_record(kind: Kind, raw: Any) -> bool:
    """Whether `normalize_record` would return the record unchanged (`check_values` aside):
    true of every record the services write, and cheap, so a large store loads fast."""
    if type(raw) is not dict:
        return False
    rid = raw.get("id")
    if type(rid) is not int or not 0 <= rid <= MAX_ID:
        return False
    if not reserved_fields(kind).isdisjoint(raw):
        return False
    version = raw.get("version")
    if type(version) is not int or version < 1:
        return False
    for name in TIMESTAMP_FIELDS:
        stamp = raw.get(name)
        if type(stamp) is not str or not stamp:
            return False
    for ref in REFERENCE_FIELDS[kind]:
        value = raw.get(ref)
        if value is not None and (type(value) is not int or not 0 <= value <= MAX_ID):
            return False
    for name, attr_type, most in _key_fields(kind):
        value = raw.get(name)
        if value is not None and not _key_fits(attr_type, value, most):
            return False
    return True


def normalize_record(kind: Kind, raw: Mapping[str, Any], position: int) -> dict[str, Any]:
    """One sample-format record -> a forumdb record. `position` is 0-based in its file."""
    table_def(kind)  # validates the kind
    if not isinstance(raw, Mapping):
        raise LegacyFormatError(f"{kind}[{position}]: expected an object, got {type(raw).__name__}")
    rec = dict(raw)
    rec["id"] = rid = record_id(kind, raw, position)

    def where(name: str) -> str:
        return f"{kind}[{position}].{name} (record id {rid})"

    for name in sorted(reserved_fields(kind).intersection(rec)):
        raise LegacyFormatError(
            f"{where(name)}: a record may not carry a field named {name!r}: forumdb's "
            "DynamoDB items use that attribute for a key or an index (it would re-key the "
            "record); remove it"
        )

    for ref in REFERENCE_FIELDS[kind]:
        if rec.get(ref) is not None:
            rec[ref] = _as_id(rec[ref], where(ref))
    # Records the services wrote carry their own timestamps (and time-based ids, far past
    # what legacy_created_at can turn into a date): only fill what is missing.
    if rec.get("createdAt") is None:
        if rid > LEGACY_MAX_ORDINAL:
            raise LegacyFormatError(
                f"{where('createdAt')}: missing, and a default is only derived from ids up "
                f"to {LEGACY_MAX_ORDINAL} (seconds after 2000-01-01); give the record a "
                "createdAt"
            )
        rec["createdAt"] = legacy_created_at(rid)
    if rec.get("updatedAt") is None:
        rec["updatedAt"] = rec["createdAt"]
    for name in TIMESTAMP_FIELDS:
        if type(rec[name]) is not str or not rec[name]:
            raise LegacyFormatError(
                f"{where(name)}: expected a timestamp string, got {_shown(rec[name])}"
            )
    if rec.get("version") is None:
        rec["version"] = 1
    rec["version"] = _as_int(rec["version"], where("version"))
    if rec["version"] < 1:
        raise LegacyFormatError(
            f"{where('version')}: expected an integer of at least 1, got {rec['version']!r}"
        )
    for name, attr_type, most in _key_fields(kind):
        if rec.get(name) is not None:
            _check_key(kind, name, attr_type, most, rec[name], where(name))
    check_values(rec, f"{kind}[{position}]", f" (record id {rid})")
    return rec


def parse_document(raw: bytes) -> tuple[Any, bool]:
    """A db.json document from its bytes (UTF-8, a byte-order mark allowed), and whether its
    values need `check_values` (only where NaN, Infinity or a surrogate escape occurs, so a
    large clean file is not walked value by value). Raises ValueError for what is not JSON,
    naming the position."""
    text = raw.decode("utf-8-sig")
    constants: list[str] = []

    def constant(name: str) -> float:
        constants.append(name)
        return float(name)

    try:
        doc = json.loads(text, parse_constant=constant)
    except RecursionError:
        raise LegacyFormatError("values are nested too deeply to be read") from None
    return doc, bool(constants) or _SURROGATE_ESCAPE.search(text) is not None


def document_rows(kind: Kind, doc: Any) -> list[Any]:
    """The raw records of a sample document `{"<kind>": [...]}` (a bare list is accepted)."""
    if isinstance(doc, Mapping):
        if kind not in doc:
            raise LegacyFormatError(f"expected a top-level key {kind!r}, found {sorted(doc)}")
        rows: Iterable[Any] = doc[kind]
    elif isinstance(doc, list):
        rows = doc
    else:
        raise LegacyFormatError(f"expected an object with key {kind!r}, got {type(doc).__name__}")
    if not isinstance(rows, list):
        raise LegacyFormatError(f"{kind}: expected a list, got {type(rows).__name__}")
    return rows


def normalize_document(kind: Kind, doc: Any) -> Iterator[dict[str, Any]]:
    """Records of a whole sample document `{"<kind>": [...]}` (a bare list is accepted too)."""
    for position, raw in enumerate(document_rows(kind, doc)):
        yield normalize_record(kind, raw, position)


def duplicate_ids(kind: Kind, doc: Any) -> dict[int, list[int]]:
    """Ids that more than one record of the document has -> those records' 0-based positions.
    A reader keyed by id would keep one of them and silently drop the others."""
    positions: dict[int, list[int]] = {}
    for position, raw in enumerate(document_rows(kind, doc)):
        if not isinstance(raw, Mapping):
            raise LegacyFormatError(
                f"{kind}[{position}]: expected an object, got {type(raw).__name__}"
            )
        positions.setdefault(record_id(kind, raw, position), []).append(position)
    return {rid: where for rid, where in positions.items() if len(where) > 1}
