"""The JSON-files backend: DATA_DIR/<kind>/db.json in the classic sample format, plus a
journal, safe with many processes writing at once and crash-safe.

Files of one collection (DATA_DIR/users/, ...):
- `db.json`: the snapshot, `{"users": [...]}` like the sample (a user may drop the sample's
  file in as it is; it is read through `forumdb.legacy`, as `forumctl migrate` reads it).
  A snapshot written here also carries `"forumdb": {"snapshot": <random id>, ...}`.
- `journal-<hash>.jsonl`: the operations since that snapshot, one checksummed line each
  (`_journal`). `<hash>` is the start of the snapshot's sha256, so a journal can only ever
  be replayed onto the snapshot it follows (a db.json replaced by hand orphans the old one).
- `journal-<hash>.jsonl.damaged-<offset>`: a copy of a journal, kept when a line of it (at
  that byte offset) failed its checksum. The damaged line is skipped, logged and counted
  (`metrics.JOURNAL_DAMAGED_LINES`); every other line is still read, and the next
  compaction leaves the damaged line out of db.json, so the copy is what is left of it.
- `.lock`: an fcntl lock that writers hold while they append; readers never lock.

Every process keeps the collection in memory (`_memview`) and, before each operation,
catches up: a stat of db.json (a new inode means compaction: reload) and a read of the
journal's tail from its last offset. A writer catches up under the lock, so its checks
(id free, version unchanged) see every earlier write: no duplicate, no lost update. A write
is acknowledged only after its line is fsynced. When the journal has grown past the
snapshot (and past `COMPACT_MIN_BYTES`), the writer still holding the lock writes a new
db.json (temp file, fsync, rename, fsync of the folder) and drops the old journal: the
O(n) cost is paid once per O(n) writes, so a write costs the same at 100,000 records as
at 1,000.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from forumdb.config import Settings
from forumdb.ids import new_id, utc_now
from forumdb.legacy import (
    LegacyFormatError,
    is_normal_record,
    normalize_document,
    normalize_record,
    parse_document,
)
from forumdb.legacy import check_values as legacy_check_values
from forumdb.tables import KINDS, TableDef, table_def
from forumdb_services.storage import _journal, _records
from forumdb_services.storage._memview import MemoryView, detached
from forumdb_services.storage.base import (
    DEFAULT_PAGE_SIZE,
    NOT_KEPT,
    AlreadyExists,
    Collection,
    Health,
    NotFound,
    Page,
    Store,
    StoreUnavailable,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from forumdb_services.storage.metrics import JOURNAL_DAMAGED_LINES

log = logging.getLogger("forumdb.storage.json")

SNAPSHOT_NAME = "db.json"
LOCK_NAME = ".lock"
COMPACT_MIN_BYTES = 4 * 1024 * 1024
_ID_ATTEMPTS = 8
ORPHAN_AGE_SECONDS = 60
# Results `memoized` keeps per collection (the API's encoded answers): past this many, all
# are dropped, so keys from clients (ids, cursors) cannot grow a worker's memory.
MEMO_MAX_ENTRIES = 4096
T = TypeVar("T")


def journal_name(snapshot_bytes: bytes) -> str:
    return f"journal-{hashlib.sha256(snapshot_bytes).hexdigest()[:16]}.jsonl"


def _file_identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def serialize_snapshot(kind: str, records: list[dict[str, Any]]) -> bytes:
    """The sample format, one record per line (readable, and fast to write)."""
    marker = {"snapshot": uuid.uuid4().hex, "writtenAt": utc_now()}
    lines = ",\n".join(
        "  " + json.dumps(r, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
        for r in records
    )
    body = f"[\n{lines}\n]" if records else "[]"
    return f'{{\n"{kind}": {body},\n"forumdb": {json.dumps(marker)}\n}}\n'.encode()


def snapshot_records(kind: str, doc: Any, check_values: bool = True) -> list[dict[str, Any]]:
    """The records of a db.json document, normalised and checked as `forumctl migrate` does
    (`forumdb.legacy`). Records already in normal form (every snapshot written here) are
    taken as they are, which is faster at 100,000 records; their values are walked only
    with `check_values` (`legacy.parse_document` says when a document needs it)."""
    rows = doc if isinstance(doc, list) else doc.get(kind) if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        return list(normalize_document(kind, doc))  # raises the error that says what is wrong
    records = []
    for position, raw in enumerate(rows):
        if is_normal_record(kind, raw):
            if check_values:
                legacy_check_values(raw, f"{kind}[{position}]", f" (record id {raw['id']})")
            records.append(raw)
        else:
            records.append(normalize_record(kind, raw, position))
    return records


def _copy_once(source: Path, copy: Path) -> bool:
    """Copy `source` to `copy` unless `copy` exists; whether this call made it. Written
    under a temporary name and linked into place, so a copy is never seen half-written
    and two processes cannot both make it."""
    if copy.exists():
        return False
    fd, tmp = tempfile.mkstemp(prefix=".damaged.", suffix=".tmp", dir=copy.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            os.fchmod(out.fileno(), 0o644)
            shutil.copyfileobj(src, out)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(tmp, copy)
        except FileExistsError:
            return False
        _journal.fsync_dir(copy.parent)
        return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


class JsonCollection(Collection):
    def __init__(
        self, table: TableDef, folder: Path, *, compact_min_bytes: int = COMPACT_MIN_BYTES
    ) -> None:
        self.table = table
        self.folder = Path(folder)
        self.compact_min_bytes = compact_min_bytes
        self._snapshot = self.folder / SNAPSHOT_NAME
        self._mutex = threading.RLock()
        self._view: MemoryView | None = None
        self._snapshot_id: tuple[int, int, int, int] | None = None
        self._snapshot_size = 0
        self._journal: Path = self.folder / journal_name(b"")
        self._offset = 0
        self._lines = 0  # lines of the journal read so far, for line numbers in logs
        # memoized(): results computed at one state of the files (the snapshot's identity and
        # how far the journal was read), dropped as soon as the view moves past it.
        self._memo: dict[Hashable, Any] = {}
        self._memo_state: tuple[Any, ...] | None = None

    # -- catching up with the files ---------------------------------------------------------

    def _unavailable(self, what: str, exc: BaseException) -> StoreUnavailable:
        return StoreUnavailable(f"JSON store {self.folder}: {what}: {exc}")

    def _load_snapshot(self) -> None:
        try:
            with open(self._snapshot, "rb") as f:
                identity = _file_identity(os.fstat(f.fileno()))
                raw = f.read()
        except FileNotFoundError:
            identity, raw = None, b""
        records: list[dict[str, Any]] = []
        if raw:
            try:
                doc, suspect = parse_document(raw)
                records = snapshot_records(self.table.kind, doc, check_values=suspect)
            except (ValueError, LegacyFormatError) as exc:
                raise self._unavailable(f"{SNAPSHOT_NAME} cannot be read", exc) from None
        self._view = MemoryView(self.table, records)
        self._snapshot_id = identity
        self._snapshot_size = len(raw)
        self._journal = self.folder / journal_name(raw)
        self._offset = 0
        self._lines = 0
        log.info(
            "loaded JSON snapshot",
            extra={"path": str(self._snapshot), "records": len(self._view), "bytes": len(raw)},
        )
        self._warn_orphans()

    def _warn_orphans(self) -> None:
        # A journal folded in by a compaction lives on for a moment (until its unlink), so
        # only old ones are worth a word: left by a crash there, or by a db.json replaced
        # by hand (their writes are not in the store).
        with contextlib.suppress(OSError):
            cutoff = time.time() - ORPHAN_AGE_SECONDS
            orphans = [
                p.name
                for p in self.folder.glob("journal-*.jsonl")
                if p.name != self._journal.name and p.stat().st_mtime < cutoff
            ]
            if orphans:
                log.warning(
                    "journals that do not follow the current db.json are ignored",
                    extra={"path": str(self.folder), "journals": sorted(orphans)},
                )

    def _refresh(self, *, writer: bool = False) -> _journal.Tail:
        """Bring the in-memory view up to date with the files (caller holds `_mutex`, and
        the writer lock if `writer`); returns what was read of the journal."""
        try:
            try:
                identity = _file_identity(os.stat(self._snapshot))
            except FileNotFoundError:
                identity = None
            if self._view is None or identity != self._snapshot_id:
                self._load_snapshot()
            tail = _journal.read_tail(self._journal, self._offset, self._lines, final=writer)
        except OSError as exc:
            raise self._unavailable("cannot read", exc) from None
        assert self._view is not None
        for op in tail.ops:
            self._apply(op)
        self._offset = tail.end
        self._lines = tail.lines
        for damage in tail.damage:
            self._report_damage(damage)
        return tail

    def _report_damage(self, damage: _journal.Damage) -> None:
        """Keep a copy of the damaged journal, say where the damage is, and count it once
        (whichever process makes the copy counts it)."""
        copy = self.folder / f"{self._journal.name}.damaged-{damage.offset}"
        try:
            made = _copy_once(self._journal, copy)
        except OSError as exc:
            made = True  # no copy to tell the processes apart: count it here
            log.warning(
                "cannot keep a copy of a damaged JSON journal",
                extra={"path": str(self._journal), "copy": str(copy), "error": str(exc)},
            )
        log.error(
            "skipped a damaged line of a JSON journal (checksum mismatch): %s line %d",
            self._journal,
            damage.line,
            extra={
                "path": str(self._journal),
                "line": damage.line,
                "offset": damage.offset,
                "bytes": damage.length,
                "salvaged_operations": damage.salvaged,
                "copy": str(copy),
            },
        )
        if made:
            JOURNAL_DAMAGED_LINES.labels(self.kind).inc()

    def _apply(self, op: Mapping[str, Any]) -> None:
        assert self._view is not None
        if "put" in op:
            self._view.put(op["put"])
        elif "del" in op:
            self._view.remove(op["del"])

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        # Opened per write, not kept: a descriptor inherited across gunicorn's fork would
        # share one flock between processes.
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise self._unavailable("cannot open the lock file", exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _write(self, operation: Callable[[MemoryView], tuple[dict[str, Any], T]]) -> T:
        """Run `operation` on the current view under the writer lock; it returns the journal
        op to make durable and the result to hand back."""
        with self._mutex, self._writer_lock():
            self._refresh(writer=True)
            assert self._view is not None
            op, result = operation(self._view)
            line = _journal.encode_op(op)
            try:
                self._offset = _journal.append(self._journal, line, self._offset)
            except OSError as exc:
                raise self._unavailable("cannot append to the journal", exc) from None
            self._lines += 1
            self._apply(op)
            if self._offset > max(self.compact_min_bytes, self._snapshot_size):
                self._compact()
            return result

    def _compact(self) -> None:
        """Fold the journal into a new db.json (caller holds the writer lock). A crash at any
        point leaves either the old snapshot with its journal or the new one."""
        assert self._view is not None
        data = serialize_snapshot(self.table.kind, self._view.records())
        old_journal = self._journal
        try:
            fd, tmp = tempfile.mkstemp(prefix=".db.json.", suffix=".tmp", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    os.fchmod(f.fileno(), 0o644)  # mkstemp makes 0600; db.json is shared data
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self._snapshot)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            _journal.fsync_dir(self.folder)
            self._snapshot_id = _file_identity(os.stat(self._snapshot))
            self._snapshot_size = len(data)
            self._journal = self.folder / journal_name(data)
            self._offset = 0
            self._lines = 0
            with contextlib.suppress(FileNotFoundError):
                old_journal.unlink()
            _journal.fsync_dir(self.folder)
        except OSError as exc:
            # The write that triggered this is durable in the old journal already.
            log.warning(
                "JSON compaction failed", extra={"path": str(self.folder), "error": str(exc)}
            )
            self._view = None  # reload from whatever is on disk next time
            return
        log.info(
            "compacted JSON journal",
            extra={"path": str(self.folder), "records": len(self._view), "bytes": len(data)},
        )

    def _read(self, operation: Callable[[MemoryView], T]) -> T:
        with self._mutex:
            self._refresh()
            assert self._view is not None
            return operation(self._view)

    def _state(self) -> tuple[Any, ...]:
        # The view is a function of the snapshot and of the journal's bytes read so far: equal
        # states hold equal records. Every write, here or by another process, moves it on
        # (the journal grows; a compaction replaces db.json), and the read path sees it.
        return (self._snapshot_id, self._journal.name, self._offset)

    def memoized(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._mutex:
            self._refresh()
            state = self._state()
            if state != self._memo_state:
                self._memo.clear()
                self._memo_state = state
            elif key in self._memo:
                return self._memo[key]  # type: ignore[no-any-return]
            value = compute()
            # Kept only if `compute` read the same state (its own reads catch up too).
            if self._state() == state:
                if len(self._memo) >= MEMO_MAX_ENTRIES:
                    self._memo.clear()
                self._memo[key] = value
            return value

    def peek_memoized(self, key: Hashable) -> Any:
        # The check `memoized` makes, without catching up: the files must still be where the
        # view left them (db.json the same file, the journal no longer than what was read),
        # and the memo must be of that state. Whatever moved is for `memoized` to catch up.
        if not self._mutex.acquire(blocking=False):
            return NOT_KEPT  # another thread reads or writes: never wait for it
        try:
            if self._view is None or self._memo_state != self._state() or key not in self._memo:
                return NOT_KEPT
            if not self._files_unmoved():
                return NOT_KEPT
            return self._memo[key]
        finally:
            self._mutex.release()

    def _files_unmoved(self) -> bool:
        """Whether the files hold nothing the view has not read (as `_refresh` would find:
        the same db.json, the journal's length where the view stopped)."""
        try:
            try:
                identity: tuple[int, int, int, int] | None = _file_identity(os.stat(self._snapshot))
            except FileNotFoundError:
                identity = None
            if identity != self._snapshot_id:
                return False
            try:
                return os.stat(self._journal).st_size == self._offset
            except FileNotFoundError:
                return True  # read_tail reads a missing journal as an empty one
        except OSError:
            return False

    # -- the contract -------------------------------------------------------------------------

    def get(self, record_id: int) -> dict[str, Any]:
        _records.check_record_id(self.table, record_id)
        rec = self._read(lambda view: view.get(record_id))
        if rec is None:
            raise NotFound(self.kind, record_id)
        return rec

    def create(self, record: Mapping[str, Any]) -> dict[str, Any]:
        given = record.get("id")

        def operation(view: MemoryView) -> tuple[dict[str, Any], dict[str, Any]]:
            new = _records.new_record(
                self.table, record, new_id() if given is None else given, utc_now()
            )
            self._check_unique(view, new, new["id"] if given is not None else None)
            for _ in range(_ID_ATTEMPTS):
                if not view.contains(new["id"]):
                    return {"put": detached(new)}, new
                if given is not None:
                    raise AlreadyExists(self.kind, given)
                new["id"] = new_id()
            raise StoreUnavailable(f"{self.kind}: no free id after {_ID_ATTEMPTS} tries")

        return self._write(operation)

    def update(
        self, record_id: int, changes: Mapping[str, Any], expected_version: int | None = None
    ) -> dict[str, Any]:
        _records.check_record_id(self.table, record_id)

        def operation(view: MemoryView) -> tuple[dict[str, Any], dict[str, Any]]:
            current = view.get(record_id)
            if current is None:
                raise NotFound(self.kind, record_id)
            _records.check_version(self.table, current, expected_version)
            new = _records.changed_record(self.table, current, changes, utc_now())
            self._check_unique(view, new, record_id, current)
            return {"put": detached(new)}, new

        return self._write(operation)

    def delete(self, record_id: int, expected_version: int | None = None) -> dict[str, Any]:
        _records.check_record_id(self.table, record_id)

        def operation(view: MemoryView) -> tuple[dict[str, Any], dict[str, Any]]:
            current = view.get(record_id)
            if current is None:
                raise NotFound(self.kind, record_id)
            _records.check_version(self.table, current, expected_version)
            return {"del": record_id}, current

        return self._write(operation)

    def _check_unique(
        self,
        view: MemoryView,
        record: Mapping[str, Any],
        record_id: int | None,
        current: Mapping[str, Any] | None = None,
    ) -> None:
        """No other record holds the record's unique values (`_records.UNIQUE_FIELDS`); a
        value the record already had is not checked again (a file may hold duplicates)."""
        for name, index in _records.UNIQUE_FIELDS[self.kind]:
            value = record.get(name)
            if value is None or (current is not None and current.get(name) == value):
                continue
            holders, _ = view.query(self.table.index(index), value, None, 2, False)
            for holder in holders:
                if holder["id"] != record_id:
                    raise AlreadyExists(self.kind, holder["id"], field=name, value=value)

    def list(self, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None) -> Page:
        check_limit(limit)
        scope = _records.list_scope(self.table)
        after = None
        if cursor is not None:
            after = _records.parse_key_position(self.table, decode_cursor(scope, cursor))["id"]
        items, more = self._read(lambda view: view.page(after, limit))
        next_cursor = (
            encode_cursor(scope, _records.key_position(self.table, items[-1])) if more else None
        )
        return Page(items, next_cursor)

    def query(
        self,
        index: str,
        value: Any,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        newest_first: bool = True,
    ) -> Page:
        plan = _records.plan_query(self.table, index, value, limit, cursor, newest_first)
        after = None
        if plan.after is not None:
            key, range_value = plan.after
            after = (range_value, key["id"])
        items, more = self._read(
            lambda view: view.query(plan.idx, value, after, limit, newest_first)
        )
        return _records.query_page(self.table, plan, items, more)

    def health(self) -> Health:
        info: dict[str, Any] = {"path": str(self.folder)}
        try:
            # A fresh DATA_DIR gets its kind folders here rather than on the first write, so
            # an empty install is ready.
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.folder):
                pass
        except OSError as exc:
            return Health(False, f"data folder {self.folder} is not writable: {exc}", info)
        try:
            count = self._read(len)
        except StoreUnavailable as exc:
            return Health(False, str(exc), info)
        info["records"] = count
        return Health(True, f"data folder {self.folder} is writable", info)


class JsonStore(Store):
    mode = "json"

    def __init__(self, data_dir: Path, *, compact_min_bytes: int = COMPACT_MIN_BYTES) -> None:
        self.data_dir = Path(data_dir)
        self._collections = {
            kind: JsonCollection(
                table_def(kind), self.data_dir / kind, compact_min_bytes=compact_min_bytes
            )
            for kind in KINDS
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> JsonStore:
        return cls(settings.data_dir)

    def collection(self, kind: str) -> JsonCollection:
        table_def(kind)  # a ValueError that names the kinds
        return self._collections[kind]  # type: ignore[index]
