"""Parallel segmented Scan: each segment in its own thread with its own client, pages handed
to the caller through a bounded queue, so memory holds a few pages whatever the table size.

Records only: the guard items the services keep beside the records (`forumdb.tables`,
GUARD_ATTR) are filtered out by DynamoDB, so backup, verify, sync and the restore drill never
see, copy or count them."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from forumctl.clients import ClientPool
from forumctl.codec import Item
from forumdb.tables import RECORDS_ONLY_FILTER

_DONE = object()
ITEMS_PER_SEGMENT = 1000  # below this a segment's own client costs more than it saves


def segments_for(pool: ClientPool, table: str, most: int) -> int:
    """As many segments as the table's size justifies (DynamoDB's item count is approximate,
    refreshed every few hours, and counts guard items too, which is good enough to size
    parallelism)."""
    count = pool.get().describe_table(TableName=table)["Table"].get("ItemCount", 0)
    return max(1, min(most, count // ITEMS_PER_SEGMENT + 1))


def scan_pages(
    pool: ClientPool,
    table: str,
    *,
    segments: int = 4,
    consistent: bool = True,
    page_limit: int | None = None,
    attributes: tuple[str, ...] | None = None,
) -> Iterator[list[Item]]:
    """Yields lists of typed items (records, never guard items; a page may be empty when the
    filter took all of it, and is then not yielded) until the whole table has been read once;
    with `attributes`, only those attributes of each item (a keys-only read costs less)."""
    pages: queue.Queue[Any] = queue.Queue(maxsize=2 * segments)
    stop = threading.Event()

    def put(value: Any) -> bool:
        while not stop.is_set():
            try:
                pages.put(value, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def worker(segment: int) -> None:
        try:
            with pool.lease() as client:
                _scan_segment(client, segment)
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)

    def _scan_segment(client: Any, segment: int) -> None:
        kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": consistent}
        if segments > 1:
            kwargs.update(Segment=segment, TotalSegments=segments)
        if page_limit:
            kwargs["Limit"] = page_limit
        # A filter may name attributes the projection leaves out (Scan API reference:
        # the filter is applied to the items read, before the projection).
        kwargs["FilterExpression"] = RECORDS_ONLY_FILTER["FilterExpression"]
        names = dict(RECORDS_ONLY_FILTER["ExpressionAttributeNames"])
        if attributes:
            # Placeholders for every name: some (`version`, ...) are reserved words.
            projected = {f"#a{i}": name for i, name in enumerate(attributes)}
            kwargs["ProjectionExpression"] = ", ".join(projected)
            names.update(projected)
        kwargs["ExpressionAttributeNames"] = names
        while not stop.is_set():
            resp = client.scan(**kwargs)
            if resp.get("Items") and not put(resp["Items"]):
                return
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    threads = [
        threading.Thread(target=worker, args=(s,), name=f"scan-{table}-{s}", daemon=True)
        for s in range(segments)
    ]
    for t in threads:
        t.start()
    finished = 0
    try:
        while finished < segments:
            value = pages.get()
            if value is _DONE:
                finished += 1
            elif isinstance(value, BaseException):
                raise value
            else:
                yield value
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
