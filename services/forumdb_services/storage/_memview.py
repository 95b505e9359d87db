"""The JSON backend's in-memory view of one collection: records by id, the id order that
lists page through, and one sorted structure per secondary index of `forumdb.tables`.

Index order is DynamoDB's: by the index's range key, ties by the table's key (ids are unique
per kind, so the id decides); reversed as a whole for newest-first. An index partition is a
plain sorted list (bisect): most hold one record (an e-mail), and building 100,000
SortedLists costs more than the occasional memmove of a large one.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable
from typing import Any

from sortedcontainers import SortedList

from forumdb.tables import IndexDef, TableDef
from forumdb_services.storage._records import index_entry

# Values a record can hold that no caller can change in place.
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def detached(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of `record` that shares nothing a caller could change with it. A flat record
    (every value a string, number, bool or None: every record the services write) takes one
    dict copy, a thirtieth of a deep copy's time; only one with nested values (a classic
    file may carry lists or objects) is copied deeply."""
    for value in record.values():
        if type(value) not in _IMMUTABLE:
            return copy.deepcopy(record)
    return record.copy()


def _sort_key(idx: IndexDef, entry: tuple, record_id: int) -> tuple:
    return (entry[1], record_id) if idx.range_key is not None else (record_id,)


class MemoryView:
    def __init__(self, table: TableDef, records: Iterable[dict[str, Any]] = ()) -> None:
        self.table = table
        self._records: dict[int, dict[str, Any]] = {}
        for rec in records:
            self._records[rec["id"]] = rec  # a later duplicate wins, as a migration's put would
        self._ids = SortedList(self._records)
        self._indexes: dict[str, dict[Any, list[tuple]]] = {}
        for idx in table.indexes:
            groups: dict[Any, list[tuple]] = {}
            for rid, rec in self._records.items():
                entry = index_entry(table, idx, rec)
                if entry is not None:
                    groups.setdefault(entry[0], []).append(_sort_key(idx, entry, rid))
            for keys in groups.values():
                keys.sort()
            self._indexes[idx.name] = groups

    def __len__(self) -> int:
        return len(self._records)

    def contains(self, record_id: int) -> bool:
        return record_id in self._records

    def get(self, record_id: int) -> dict[str, Any] | None:
        rec = self._records.get(record_id)
        return detached(rec) if rec is not None else None

    def put(self, record: dict[str, Any]) -> None:
        rid = record["id"]
        if rid in self._records:
            self._unindex(self._records[rid])
        else:
            self._ids.add(rid)
        self._records[rid] = record
        for idx in self.table.indexes:
            entry = index_entry(self.table, idx, record)
            if entry is not None:
                bucket = self._indexes[idx.name].setdefault(entry[0], [])
                bisect.insort(bucket, _sort_key(idx, entry, rid))

    def remove(self, record_id: int) -> None:
        rec = self._records.pop(record_id, None)
        if rec is not None:
            self._ids.remove(record_id)
            self._unindex(rec)

    def _unindex(self, record: dict[str, Any]) -> None:
        for idx in self.table.indexes:
            entry = index_entry(self.table, idx, record)
            if entry is None:
                continue
            buckets = self._indexes[idx.name]
            bucket = buckets[entry[0]]
            key = _sort_key(idx, entry, record["id"])
            del bucket[bisect.bisect_left(bucket, key)]
            if not bucket:
                del buckets[entry[0]]

    def records(self) -> list[dict[str, Any]]:
        """Every record in id order (not copies: for serialising)."""
        return [self._records[rid] for rid in self._ids]

    def page(self, after_id: int | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` records after `after_id` in id order, and whether more follow."""
        start = 0 if after_id is None else self._ids.bisect_right(after_id)
        ids = list(self._ids.islice(start, start + limit + 1))
        return [detached(self._records[r]) for r in ids[:limit]], len(ids) > limit

    def query(
        self,
        idx: IndexDef,
        value: Any,
        after: tuple[Any, int] | None,
        limit: int,
        newest_first: bool,
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` records of the index partition `value`, after the position
        `after` = (range value, id) in the reading direction, and whether more follow."""
        bucket = self._indexes[idx.name].get(value)
        if bucket is None:
            return [], False
        key = None if after is None else _sort_key(idx, (value, after[0]), after[1])
        if newest_first:
            end = len(bucket) if key is None else bisect.bisect_left(bucket, key)
            keys = bucket[max(0, end - limit - 1) : end][::-1]
        else:
            start = 0 if key is None else bisect.bisect_right(bucket, key)
            keys = bucket[start : start + limit + 1]
        found = [detached(self._records[k[-1]]) for k in keys[:limit]]
        return found, len(keys) > limit
