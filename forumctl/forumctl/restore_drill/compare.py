"""Comparing a restored table with its source, with the checksum code of migrate and backup
(forumctl.codec): per-item SHA-256 digests, order-independent table checksums."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from forumctl.clients import ClientPool
from forumctl.codec import Item, TableChecksum, item_digest, key_of
from forumctl.restore_drill.model import Comparison
from forumctl.scan import scan_pages, segments_for

# The store writes these on every record (forumdb_services.storage): the newest says when
# it changed.
_CHANGE_STAMPS = ("updatedAt", "createdAt")


def written_after(item: Item, moment: datetime) -> bool:
    """Whether the item's own timestamp says it was written after `moment` (items without
    one are taken as older: they must be in the restored table)."""
    for attr in _CHANGE_STAMPS:
        value = item.get(attr, {}).get("S")
        if not value:
            continue
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            return False
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp > moment
    return False


def compare_tables(
    pool: ClientPool,
    source: str,
    restored: str,
    key_names: tuple[str, ...],
    restore_point: datetime | None,
) -> Comparison:
    """Scan the source (key -> digest), then the restored table, and match item by item."""
    expected: dict[tuple[Any, ...], bytes] = {}
    changed: set[tuple[Any, ...]] = set()
    source_sum, source_count = TableChecksum(), 0
    for page in scan_pages(pool, source, segments=segments_for(pool, source, 4)):
        for item in page:
            source_count += 1
            key = key_of(item, key_names)
            if restore_point is not None and written_after(item, restore_point):
                changed.add(key)
                continue
            digest = item_digest(item)
            expected[key] = digest
            source_sum.add_digest(digest)
    restored_sum, restored_count = TableChecksum(), 0
    matched = different = extra = deleted_since = 0
    for page in scan_pages(pool, restored, segments=segments_for(pool, restored, 4)):
        for item in page:
            restored_count += 1
            key = key_of(item, key_names)
            if key in changed:
                continue
            digest = item_digest(item)
            want = expected.get(key)
            if want is None and restore_point is not None:
                # In the restore (as of the restore point), gone from the source now: what a
                # deletion after the restore point looks like. Not a restore error, and left
                # out of the checksum like the items changed since.
                deleted_since += 1
                continue
            restored_sum.add_digest(digest)
            if want is None:
                extra += 1
            elif want == digest:
                matched += 1
            else:
                different += 1
    return Comparison(
        source_count=source_count,
        restored_count=restored_count,
        compared=source_sum.count,
        source_checksum=source_sum.hexdigest,
        restored_checksum=restored_sum.hexdigest,
        missing=len(expected) - matched - different,
        different=different,
        extra=extra,
        changed_since=len(changed),
        deleted_since=deleted_since,
    )
