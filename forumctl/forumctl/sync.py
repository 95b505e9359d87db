"""Writing a stream of items into one table: parallel, batched, idempotent, resumable.

Idempotence comes from comparing before writing. When the table already holds items (a
second run, or a run that was killed), each chunk of up to 100 items is read back first
(BatchGetItem, strongly consistent) and only the items that are missing or whose content
checksum differs are written. A table that is empty when the run starts has nothing to
compare with, so the reads are skipped and the run goes at full write speed; a killed run
leaves the table non-empty, so the next run compares. Since every write is a full put of a
deterministic item, a resumed run ends with exactly the source's content.

A post is named by its id alone, but its key also holds its thread (postId + threadId), so
a source that puts post 7 in thread 3 while the table holds it in thread 5 would leave two
posts 7. For such tables (`one_per_hash`) the keys the table holds are read first, once,
by a keys-only scan (hash key -> range keys), and the item of the same id under another
range key is deleted after the new one is written (never a moment without the post).

Versions only grow. A record's `version` is its optimistic-concurrency counter (the API's
ETag and If-Match): clients that saw version 3 of a post must never meet another content
under version 3 later. So items are compared without their version (an item changed
through the API and changed back is unchanged; a run over unchanged items writes nothing),
and an item that overwrites a different one (same key, or the same post in another thread)
gets the highest version the table held for it + 1, not the source's. Restore goes through
here too and does the same on purpose: a restore into tables that hold items (--force)
puts the backup's content back, but its old version numbers would repeat numbers clients
have already seen for other content; a restore into empty tables writes the backup's
items exactly as they were, versions included (there is nothing to overwrite).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from forumctl.batch import (
    DEFAULT_POLICY,
    GET_BATCH,
    WRITE_BATCH,
    RetryPolicy,
    chunks,
    delete_batch,
    get_batch,
    write_batch,
)
from forumctl.clients import ClientPool
from forumctl.codec import (
    VERSION_ATTR,
    Item,
    TableChecksum,
    content_digest,
    item_digest,
    key_of,
    version_of,
)
from forumctl.errors import DataError
from forumctl.scan import scan_pages, segments_for
from forumdb.tables import RECORDS_ONLY_FILTER

DEFAULT_WORKERS = 8
# Items an emptiness probe reads per Scan call: enough to get past a few guard items at once.
_EMPTY_PROBE_LIMIT = 100


@dataclass
class SyncResult:
    table: str
    source: TableChecksum = field(default_factory=TableChecksum)
    written: int = 0
    unchanged: int = 0
    removed: int = 0  # items of a source id under another key (a post now in another thread)
    compared: bool = False
    dry_run: bool = False
    # primary key -> content digest (without the version) of every source item, for
    # verification (when tracked)
    digests: dict[tuple[str, ...], bytes] | None = None


def table_is_empty(pool: ClientPool, table: str) -> bool:
    """Whether the table holds no record. Guard items (`forumdb.tables.GUARD_ATTR`) are not
    records: a table holding only guards left behind by deleted records is empty to a
    restore or a migrate, which write blindly into it (a record they write has no guard; the
    services find it by a Query before their own writes, and take a stale guard over).
    `Limit` counts items before the filter, so the Scan goes on until it finds a record or
    reaches the end."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "Limit": _EMPTY_PROBE_LIMIT,
        "Select": "COUNT",
        **RECORDS_ONLY_FILTER,
    }
    client = pool.get()
    while True:
        resp = client.scan(**kwargs)
        if resp.get("Count", 0):
            return False
        if "LastEvaluatedKey" not in resp:
            return True
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


# hash key (as key_of gives it) -> the range keys the table holds under it:
# (key_of form, the AttributeValue's type and value, the item's version)
HeldKeys = dict[str, list[tuple[str, str, Any, int | None]]]


def held_keys(pool: ClientPool, table: str, key_names: tuple[str, ...]) -> HeldKeys:
    """Every key of a hash+range table, grouped by hash key: one keys-only parallel scan
    rather than a Query per source item."""
    hash_name, range_name = key_names
    held: HeldKeys = {}
    pages = scan_pages(
        pool,
        table,
        segments=segments_for(pool, table, 4),
        attributes=(hash_name, range_name, VERSION_ATTR),
    )
    for page in pages:
        for it in page:
            ((tag, value),) = it[range_name].items()
            entry = (key_of(it, (range_name,))[0], tag, value, version_of(it))
            held.setdefault(key_of(it, (hash_name,))[0], []).append(entry)
    return held


def _elsewhere(
    held: HeldKeys, item: Item, key_names: tuple[str, ...]
) -> list[tuple[Item, int | None]]:
    """Keys (and versions) of the table's items with the item's hash key but another range
    key."""
    hash_name, range_name = key_names
    hash_key, range_key = key_of(item, key_names)
    return [
        ({hash_name: item[hash_name], range_name: {tag: value}}, version)
        for key, tag, value, version in held.get(hash_key, ())
        if key != range_key
    ]


def _next_version(item: Item, replaced: list[int | None]) -> Item:
    """The item with the version after every version it replaces (if any had one)."""
    versions = [v for v in replaced if v is not None]
    if not versions:
        return item
    return {**item, VERSION_ATTR: {"N": str(max(versions) + 1)}}


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.written = 0
        self.unchanged = 0
        self.removed = 0

    def add(self, written: int, unchanged: int, removed: int) -> None:
        with self._lock:
            self.written += written
            self.unchanged += unchanged
            self.removed += removed


def _batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class _Sync:
    """One sync_items run: the options, what the source has shown so far (keys, digests, hash
    keys) and the counts, shared by the chunk workers and the source check."""

    def __init__(
        self,
        pool: ClientPool,
        table: str,
        key_names: tuple[str, ...],
        *,
        compare: bool,
        dry_run: bool,
        track_digests: bool,
        one_per_hash: bool,
        policy: RetryPolicy,
        progress: Callable[[int], None],
    ) -> None:
        self.pool, self.table, self.key_names = pool, table, key_names
        self.compare, self.dry_run, self.policy = compare, dry_run, policy
        self.track_digests, self.one_per_hash, self.progress = track_digests, one_per_hash, progress
        self.result = SyncResult(table=table, compared=compare, dry_run=dry_run)
        self.seen: dict[tuple[str, ...], bytes] = {}
        self.seen_hashes: dict[str, str] = {}  # hash key -> range key, with one_per_hash
        self.held = held_keys(pool, table, key_names) if compare and one_per_hash else None
        self.counter = _Counter()

    def run_chunk(self, chunk: list[Item]) -> None:
        with self.pool.lease() as client:
            written, unchanged, removed = self._sync_chunk(client, chunk)
        self.counter.add(written, unchanged, removed)
        self.progress(len(chunk))

    def _sync_chunk(self, client: Any, chunk: list[Item]) -> tuple[int, int, int]:
        todo, stale = self._to_write(client, chunk) if self.compare else (chunk, [])
        if not self.dry_run:
            for batch in chunks(todo, WRITE_BATCH):
                write_batch(client, self.table, batch, policy=self.policy)
            # After the writes: the record is never missing from the table.
            for batch in chunks(stale, WRITE_BATCH):
                delete_batch(client, self.table, batch, policy=self.policy)
        return len(todo), len(chunk) - len(todo), len(stale)

    def _to_write(self, client: Any, chunk: list[Item]) -> tuple[list[Item], list[Item]]:
        """The chunk's items that are missing or differ (with their next version), and the
        keys of the same records under another range key (to delete after the writes)."""
        key_names = self.key_names
        keys = [{k: it[k] for k in key_names} for it in chunk]
        existing = {
            key_of(it, key_names): (content_digest(it), version_of(it))
            for it in get_batch(client, self.table, keys, policy=self.policy)
        }
        todo: list[Item] = []
        stale: list[Item] = []
        for it in chunk:
            elsewhere = _elsewhere(self.held, it, key_names) if self.held is not None else []
            stale.extend(key for key, _ in elsewhere)
            replaced = [version for _, version in elsewhere]
            old = existing.get(key_of(it, key_names))
            if old is not None:
                if old[0] == content_digest(it):
                    continue  # same content: left alone, whatever its version
                replaced.append(old[1])
            todo.append(_next_version(it, replaced))
        return todo, stale

    def checked(self, source: Iterable[Item]) -> Iterator[Item]:
        """The source's items, counted into the source checksum; a missing key attribute or a
        key (or, with one_per_hash, a hash key) seen twice is a data error."""
        for it in source:
            try:
                key = key_of(it, self.key_names)
            except KeyError as exc:
                raise DataError(f"an item for {self.table} lacks its key attribute {exc}") from None
            self.result.source.add_digest(item_digest(it))
            if self.one_per_hash and (self.track_digests or self.held is not None):
                self._check_one_per_hash(key)
            if self.track_digests:
                self._check_unique(key, it)
            yield it

    def _check_unique(self, key: tuple[str, ...], item: Item) -> None:
        if key in self.seen:
            shown = dict(zip(self.key_names, key, strict=True))
            raise DataError(
                f"the source holds two items with the key {shown} for table {self.table}",
                hint="fix the duplicate id in the input; forumctl will not pick one for you",
            )
        self.seen[key] = content_digest(item)

    def _check_one_per_hash(self, key: tuple[str, ...]) -> None:
        hash_key, range_key = key
        other = self.seen_hashes.setdefault(hash_key, range_key)
        if other != range_key:
            hash_name, range_name = self.key_names
            raise DataError(
                f"the source holds two items with {hash_name} {json.loads(hash_key)[1]} "
                f"for table {self.table}: {range_name} {json.loads(other)[1]} and "
                f"{json.loads(range_key)[1]}",
                hint="an id names one record; fix the duplicate id in the input",
            )

    def finish(self) -> SyncResult:
        result = self.result
        result.written, result.unchanged = self.counter.written, self.counter.unchanged
        result.removed = self.counter.removed
        result.digests = self.seen if self.track_digests else None
        return result


def sync_items(
    pool: ClientPool,
    table: str,
    key_names: tuple[str, ...],
    items: Iterable[Item],
    *,
    workers: int = DEFAULT_WORKERS,
    dry_run: bool = False,
    compare: bool | None = None,
    track_digests: bool = True,
    one_per_hash: bool = False,
    policy: RetryPolicy = DEFAULT_POLICY,
    progress: Callable[[int], None] = lambda n: None,
) -> SyncResult:
    """Makes every item of `items` present, with this exact content, in `table`.

    `compare=None` decides by looking at the table (empty: write blindly; else compare).
    With `track_digests` (the default) the key and digest of every source item are kept for
    verification, and a key seen twice is a data error (one of them would silently win);
    without it, memory stays flat however many items stream through.
    `one_per_hash` (a hash+range table whose hash key alone names a record: posts) removes,
    when comparing, the table's items whose hash key a source item has under another range
    key, and makes a hash key seen twice in the source a data error too.
    """
    if compare is None:
        compare = not table_is_empty(pool, table)
    if one_per_hash and len(key_names) != 2:
        raise ValueError(f"one_per_hash needs a hash and a range key, got {key_names}")
    run = _Sync(
        pool,
        table,
        key_names,
        compare=compare,
        dry_run=dry_run,
        track_digests=track_digests,
        one_per_hash=one_per_hash,
        policy=policy,
        progress=progress,
    )
    _run_parallel(run.run_chunk, _batched(run.checked(items), GET_BATCH), workers)
    return run.finish()


def _run_parallel(
    fn: Callable[[list[Item]], None], chunks_: Iterable[list[Item]], workers: int
) -> None:
    """Runs fn over chunks with at most 2*workers in flight (memory stays bounded); the first
    failure stops new submissions, lets running chunks finish, and is raised."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="forumctl") as pool:
        inflight: set[Future[None]] = set()
        try:
            for chunk in chunks_:
                inflight.add(pool.submit(fn, chunk))
                if len(inflight) >= 2 * workers:
                    done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                    for f in done:
                        f.result()
            while inflight:
                done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                for f in done:
                    f.result()
        except BaseException:
            for f in inflight:
                f.cancel()
            raise
