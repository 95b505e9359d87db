"""Writing a stream of items into one table: parallel, batched, idempotent, resumable.

Idempotence comes from comparing before writing. When the table already holds items (a
second run, or a run that was killed), each chunk of up to 100 items is read back first
(BatchGetItem, strongly consistent) and only the items that are missing or whose content
checksum differs are written. A table that is empty when the run starts has nothing to
compare with, so the reads are skipped and the run goes at full write speed; a killed run
leaves the table non-empty, so the next run compares. Since every write is a full put of a
deterministic item, a resumed run ends with exactly the source's content.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from forumdb.cli.batch import (
    DEFAULT_POLICY,
    GET_BATCH,
    WRITE_BATCH,
    RetryPolicy,
    chunks,
    get_batch,
    write_batch,
)
from forumdb.cli.clients import ClientPool
from forumdb.cli.codec import Item, TableChecksum, item_digest, key_of
from forumdb.cli.errors import DataError

DEFAULT_WORKERS = 8


@dataclass
class SyncResult:
    table: str
    source: TableChecksum = field(default_factory=TableChecksum)
    written: int = 0
    unchanged: int = 0
    compared: bool = False
    dry_run: bool = False
    # primary key -> content digest of every source item, for verification (when tracked)
    digests: dict[tuple[str, ...], bytes] | None = None


def table_is_empty(pool: ClientPool, table: str) -> bool:
    resp = pool.get().scan(TableName=table, Limit=1, Select="COUNT")
    return resp.get("Count", 0) == 0 and "LastEvaluatedKey" not in resp


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.written = 0
        self.unchanged = 0

    def add(self, written: int, unchanged: int) -> None:
        with self._lock:
            self.written += written
            self.unchanged += unchanged


def _batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


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
    policy: RetryPolicy = DEFAULT_POLICY,
    progress: Callable[[int], None] = lambda n: None,
) -> SyncResult:
    """Makes every item of `items` present, with this exact content, in `table`.

    `compare=None` decides by looking at the table (empty: write blindly; else compare).
    With `track_digests` (the default) the key and digest of every source item are kept for
    verification, and a key seen twice is a data error (one of them would silently win);
    without it, memory stays flat however many items stream through.
    """
    if compare is None:
        compare = not table_is_empty(pool, table)
    result = SyncResult(table=table, compared=compare, dry_run=dry_run)
    seen: dict[tuple[str, ...], bytes] = {}
    counter = _Counter()

    def run_chunk(chunk: list[Item]) -> None:
        with pool.lease() as client:
            written, unchanged = _sync_chunk(client, chunk)
        counter.add(written, unchanged)
        progress(len(chunk))

    def _sync_chunk(client: Any, chunk: list[Item]) -> tuple[int, int]:
        todo = chunk
        if compare:
            keys = [{k: it[k] for k in key_names} for it in chunk]
            existing = {
                key_of(it, key_names): item_digest(it)
                for it in get_batch(client, table, keys, policy=policy)
            }
            todo = [it for it in chunk if existing.get(key_of(it, key_names)) != item_digest(it)]
        if not dry_run:
            for batch in chunks(todo, WRITE_BATCH):
                write_batch(client, table, batch, policy=policy)
        return len(todo), len(chunk) - len(todo)

    def checked(source: Iterable[Item]) -> Iterator[Item]:
        for it in source:
            try:
                key = key_of(it, key_names)
            except KeyError as exc:
                raise DataError(f"an item for {table} lacks its key attribute {exc}") from None
            digest = item_digest(it)
            result.source.add_digest(digest)
            if not track_digests:
                yield it
                continue
            if key in seen:
                shown = dict(zip(key_names, key, strict=True))
                raise DataError(
                    f"the source holds two items with the key {shown} for table {table}",
                    hint="fix the duplicate id in the input; forumctl will not pick one for you",
                )
            seen[key] = digest
            yield it

    _run_parallel(run_chunk, _batched(checked(items), GET_BATCH), workers)
    result.written, result.unchanged = counter.written, counter.unchanged
    result.digests = seen if track_digests else None
    return result


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
