"""Reading the records to migrate from a data folder (DIR/users/db.json, ...).

Through the JSON storage backend when it is installed (forumdb_services.storage.jsonstore): it reads
both the classic sample format and its own store, journal included, with the same id and
timestamp rules as everywhere else. Without it, db.json files are read as sample-format
documents through forumdb.legacy, which is what the backend does with them too.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from forumctl.codec import Item, serialize_record, to_json_item
from forumctl.errors import DataError
from forumctl.item_checks import ItemChecker
from forumdb.config import load_settings
from forumdb.legacy import LegacyFormatError, duplicate_ids, normalize_document
from forumdb.tables import Kind, table_def

PAGE = 1000


def source_file(data_dir: Path, kind: Kind) -> Path:
    return data_dir / kind / "db.json"


def _jsonstore_available() -> bool:
    try:
        import forumdb_services.storage.jsonstore  # noqa: F401
    except ImportError:
        return False
    return True


def read_records(data_dir: Path, kind: Kind) -> list[dict[str, Any]]:
    """Every record of one kind, as API records (id, thread, user, createdAt, ...)."""
    path = source_file(data_dir, kind)
    if not path.parent.is_dir():
        raise DataError(
            f"no {kind} data in {data_dir}: {path} does not exist",
            hint="point --from at a folder with users/, threads/ and posts/ inside, "
            "or pick kinds with --only",
        )
    try:
        if _jsonstore_available():
            # The store keeps one record per id, so it would drop duplicates silently: the
            # file is checked first (the journal cannot add any: the store refuses them).
            if path.exists():
                _check_unique_ids(path, kind, _load_document(path))
            return _read_via_store(data_dir, kind)
        doc = _load_document(path)
        _check_unique_ids(path, kind, doc)
        return list(normalize_document(kind, doc))
    except LegacyFormatError as exc:
        raise DataError(f"{path}: {exc}") from None


def _load_document(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh, parse_float=Decimal)
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not readable JSON: {exc}") from None
    except RecursionError:
        raise DataError(f"{path}: values are nested too deeply to be read") from None


def _check_unique_ids(path: Path, kind: Kind, doc: Any) -> None:
    """Two records with one id are an input error, named before anything is written: which
    one is right is the operator's call, not forumctl's."""
    dups = duplicate_ids(kind, doc)
    if not dups:
        return
    shown = [
        f"id {rid} at " + ", ".join(f"{kind}[{p}]" for p in where)
        for rid, where in list(dups.items())[:5]
    ]
    more = f" (and {len(dups) - 5} more ids)" if len(dups) > 5 else ""
    raise DataError(
        f"{path}: {len(dups)} id(s) used by more than one record: " + "; ".join(shown) + more,
        hint="give each record its own id (positions count from 0; posts without an id take "
        "their 1-based position), then run again; nothing was written",
    )


def _read_via_store(data_dir: Path, kind: Kind) -> list[dict[str, Any]]:
    from forumdb_services.storage import StorageError, open_store

    store = open_store(load_settings(storage_mode="json", data_dir=data_dir))
    try:
        coll = store.collection(kind)
        records: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = coll.list(limit=PAGE, cursor=cursor)
            records.extend(page.items)
            if not page.next_cursor:
                return records
            cursor = page.next_cursor
    except StorageError as exc:
        raise DataError(f"reading {kind} from the JSON store in {data_dir}: {exc}") from None
    finally:
        store.close()


def records_to_items(path: Path, kind: Kind, records: list[dict[str, Any]]) -> list[Item]:
    """The records as DynamoDB items, every one checked (forumctl.item_checks) before the
    caller writes the first: bad data is refused whole, naming the file and the record."""
    td = table_def(kind)
    checker = ItemChecker(kind)
    items: list[Item] = []
    for rec in records:
        try:
            item = serialize_record(td.to_item(rec))
            checker.check(to_json_item(item))
        except ArithmeticError:
            raise DataError(
                f"{path}: {kind} record {rec.get('id')!r} cannot be stored in DynamoDB: it "
                "holds a number of more than 38 significant digits, or out of DynamoDB's "
                "range (1E-130 to below 1E+126)",
                hint="fix the record (or leave it out) and run again; nothing was written",
            ) from None
        except (TypeError, ValueError) as exc:
            raise DataError(
                f"{path}: {kind} record {rec.get('id')!r} cannot be stored in DynamoDB: {exc}",
                hint="fix the record (or leave it out) and run again; nothing was written",
            ) from None
        items.append(item)
    return items
