"""Reading the classic forum sample's db.json files.

`{"users": [{"id": 1, "username": ..., "name": ..., "bio": ...}]}`,
`{"threads": [{"id": 1, "title": ..., "createdBy": 4}]}`,
`{"posts": [{"thread": 1, "text": ..., "user": 4}]}`: numeric ids, posts without ids, users
without e-mail, no timestamps. Both the JSON storage backend and `forumctl migrate` turn
them into forumdb records here, so the two agree on every id and timestamp they assign:
a post without an id gets its 1-based position in the file, a record without `createdAt`
gets `legacy_created_at(id)`. Fields forumdb does not know are kept as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from forumdb.ids import legacy_created_at
from forumdb.tables import Kind, table_def

# The foreign-key fields of each kind, which must be integers.
REFERENCE_FIELDS: dict[str, tuple[str, ...]] = {
    "users": (),
    "threads": ("createdBy",),
    "posts": ("thread", "user"),
}


class LegacyFormatError(ValueError):
    """A sample file that cannot be read; the message names the file position and field."""


def _as_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or value is None:
        raise LegacyFormatError(f"{where}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise LegacyFormatError(f"{where}: expected an integer, got {value!r}")


def record_id(kind: Kind, raw: Mapping[str, Any], position: int) -> int:
    """The id of a sample-format record: its own, or (posts only) its 1-based position."""
    if raw.get("id") is None:
        if kind != "posts":
            raise LegacyFormatError(f"{kind}[{position}]: field 'id' is missing")
        return position + 1
    return _as_int(raw["id"], f"{kind}[{position}].id")


def normalize_record(kind: Kind, raw: Mapping[str, Any], position: int) -> dict[str, Any]:
    """One sample-format record -> a forumdb record. `position` is 0-based in its file."""
    table_def(kind)  # validates the kind
    if not isinstance(raw, Mapping):
        raise LegacyFormatError(f"{kind}[{position}]: expected an object, got {type(raw).__name__}")
    rec = dict(raw)
    rec["id"] = record_id(kind, raw, position)
    for ref in REFERENCE_FIELDS[kind]:
        if rec.get(ref) is not None:
            rec[ref] = _as_int(rec[ref], f"{kind}[{position}].{ref}")
    # Records the services wrote carry their own timestamps (and time-based ids, far past
    # what legacy_created_at can turn into a date): only fill what is missing.
    if rec.get("createdAt") is None:
        rec["createdAt"] = legacy_created_at(rec["id"])
    if rec.get("updatedAt") is None:
        rec["updatedAt"] = rec["createdAt"]
    if rec.get("version") is None:
        rec["version"] = 1
    return rec


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
