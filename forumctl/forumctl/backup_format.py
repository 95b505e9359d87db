"""The forumctl backup file, format version 1 (see BACKUP_FORMAT.md next to this module).

JSON Lines (UTF-8, one object per line; gzip-compressed when the name ends in .gz):

    {"type": "header", "format": "forumdb-backup", "version": 1, "createdAt": ..., ...}
    {"type": "table", "kind": "users", "name": "forum-Users", "keySchema": [...]}
    {"type": "item", "item": {"userId": {"N": "1"}, "name": {"S": "Finn"}, ...}}
    ...
    {"type": "table-end", "kind": "users", "count": 3, "checksum": "<64 hex digits>"}
    ... one table/items/table-end section per table ...
    {"type": "end", "tables": {"users": {"count": 3, "checksum": "..."}, ...}}

Items are DynamoDB AttributeValues exactly as DynamoDB holds them (N as strings, B and BS as
base64). The checksum of a table is the sum, modulo 2**256, of the SHA-256 of each item's
canonical JSON (forumctl.codec.item_digest), as 64 lowercase hex digits.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import BaseModel, ValidationError

from forumctl.codec import Item, TableChecksum, from_json_item, item_digest
from forumctl.errors import DataError
from forumctl.item_checks import BadItem, ItemChecker
from forumdb.tables import Kind

FORMAT = "forumdb-backup"
VERSION = 1


class Header(BaseModel):
    type: Literal["header"] = "header"
    format: Literal["forumdb-backup"] = FORMAT
    version: int = VERSION
    createdAt: str
    tool: str
    source: dict[str, Any]


class TableStart(BaseModel):
    type: Literal["table"] = "table"
    kind: Kind
    name: str
    keySchema: list[dict[str, str]]


class TableEnd(BaseModel):
    type: Literal["table-end"] = "table-end"
    kind: Kind
    count: int
    checksum: str


class End(BaseModel):
    type: Literal["end"] = "end"
    tables: dict[str, dict[str, Any]]


def is_compressed(path: Path) -> bool:
    return path.name.endswith(".gz")


def open_write(path: Path, *, compress: bool) -> IO[str]:
    if compress:
        return io.TextIOWrapper(gzip.open(path, "wb", compresslevel=5), encoding="utf-8")
    return path.open("w", encoding="utf-8")


def open_read(path: Path) -> IO[str]:
    try:
        if is_compressed(path):
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
        return path.open(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot open backup {path}: {exc}") from None


def dump_line(model_or_obj: BaseModel | dict[str, Any]) -> str:
    obj = model_or_obj.model_dump() if isinstance(model_or_obj, BaseModel) else model_or_obj
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"


@dataclass
class Section:
    """One table in a backup file, as found by `scan_file`."""

    kind: Kind
    source_name: str
    first_line: int  # line number (1-based) of the first item line
    count: int
    checksum: TableChecksum


def _parse(line: str, where: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise DataError(f"{where}: not JSON ({exc})") from None
    if not isinstance(obj, dict) or "type" not in obj:
        raise DataError(f"{where}: expected an object with a 'type'")
    return obj


def scan_file(path: Path) -> tuple[Header, list[Section]]:
    """Reads the whole file once, checking structure and every table's count and checksum;
    raises DataError naming the line at the first problem. Memory stays flat."""
    sections: list[Section] = []
    header: Header | None = None
    current: Section | None = None
    checker: ItemChecker | None = None
    ended = False
    with open_read(path) as fh:
        lineno = 0
        try:
            for lineno, line in enumerate(fh, 1):
                where = f"{path}:{lineno}"
                obj = _parse(line, where)
                kind = obj["type"]
                if ended:
                    raise DataError(f"{where}: data after the end line")
                if header is None:
                    if kind != "header":
                        raise DataError(f"{where}: not a forumdb backup (no header line)")
                    header = _read_header(where, obj)
                elif kind == "table":
                    if current is not None:
                        raise DataError(f"{where}: table section {current.kind} not closed")
                    start = TableStart.model_validate(obj)
                    if any(s.kind == start.kind for s in sections):
                        raise DataError(f"{where}: a second section for table {start.kind}")
                    current = Section(start.kind, start.name, lineno + 1, 0, TableChecksum())
                    checker = ItemChecker(start.kind)
                elif kind == "item":
                    if current is None or checker is None:
                        raise DataError(f"{where}: item outside a table section")
                    _add_item(where, obj, current, checker)
                elif kind == "table-end":
                    if current is None:
                        raise DataError(f"{where}: table-end without a table")
                    _check_table_end(where, TableEnd.model_validate(obj), current)
                    sections.append(current)
                    current = None
                elif kind == "end":
                    if current is not None:
                        raise DataError(f"{where}: table section {current.kind} not closed")
                    _check_end(where, End.model_validate(obj), sections)
                    ended = True
                else:
                    raise DataError(f"{where}: unknown line type {kind!r}")
        except ValidationError as exc:
            raise DataError(f"{path}:{lineno}: {exc.errors()[0]['msg']}") from None
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}:{lineno}: cannot read: {exc}") from None
    if header is None:
        raise DataError(f"{path} is empty, not a forumdb backup")
    if not ended:
        raise DataError(
            f"{path} ends without its end line: the backup is truncated",
            hint="take the backup again; a complete one ends with a line of type 'end'",
        )
    return header, sections


def _read_header(where: str, obj: dict[str, Any]) -> Header:
    header = Header.model_validate(obj)
    if header.version != VERSION:
        raise DataError(
            f"{where}: backup format version {header.version}; this forumctl "
            f"reads version {VERSION}",
            hint="restore with the forumctl version that wrote it",
        )
    return header


def _add_item(where: str, obj: dict[str, Any], current: Section, checker: ItemChecker) -> None:
    """Checks one item line as DynamoDB and the services would, and adds it to the checksum."""
    if "item" not in obj:
        raise DataError(f"{where}: an item line without its 'item'")
    try:
        checker.check(obj["item"])
        current.checksum.add_digest(item_digest(from_json_item(obj["item"])))
    except BadItem as exc:
        raise DataError(
            f"{where}: {current.kind} item: {exc}",
            hint="nothing was written; a backup forumctl wrote never holds "
            "this: restore an undamaged copy",
        ) from None
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise DataError(f"{where}: bad item: {exc}") from None
    current.count += 1


def _check_table_end(where: str, end: TableEnd, current: Section) -> None:
    if (end.kind, end.count, end.checksum) != (
        current.kind,
        current.checksum.count,
        current.checksum.hexdigest,
    ):
        raise DataError(
            f"{where}: table {current.kind} holds {current.checksum.count} items "
            f"with checksum {current.checksum.hexdigest[:16]}..., but its "
            f"table-end line says {end.count} items, {end.checksum[:16]}...: "
            "the backup is damaged"
        )


def _check_end(where: str, end: End, sections: list[Section]) -> None:
    """The end line lists every section the file holds, with the same count and checksum:
    a section removed with the end line kept, or an end line edited, is damage."""
    read = {s.kind: {"count": s.count, "checksum": s.checksum.hexdigest} for s in sections}
    listed = {
        kind: {"count": totals.get("count"), "checksum": totals.get("checksum")}
        for kind, totals in end.tables.items()
    }
    if listed == read:
        return
    missing = sorted(set(listed) - set(read))
    if missing:
        problem = f"it lists table(s) {', '.join(missing)} that the file has no section for"
    elif set(read) - set(listed):
        problem = f"it leaves out table(s) {', '.join(sorted(set(read) - set(listed)))}"
    else:
        wrong = sorted(k for k in read if listed[k] != read[k])
        problem = "its count or checksum disagrees with the items read for " + ", ".join(
            f"{k} ({read[k]['count']} items read, {listed[k]['count']} listed)" for k in wrong
        )
    raise DataError(
        f"{where}: the end line does not match the file: {problem}; the backup is damaged",
        hint="nothing was written; restore an undamaged copy of the backup",
    )


def read_section(path: Path, section: Section) -> Iterator[Item]:
    """The typed items of one section (the file is read again from the start)."""
    with open_read(path) as fh:
        for lineno, line in enumerate(fh, 1):
            if lineno < section.first_line:
                continue
            obj = json.loads(line)
            if obj["type"] != "item":
                return
            yield from_json_item(obj["item"])
