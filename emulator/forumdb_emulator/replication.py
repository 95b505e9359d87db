"""Write replication between the replicas of a global table.

After a successful PutItem, UpdateItem, DeleteItem, BatchWriteItem or TransactWriteItems in
one region, the new image of each item written (or its absence) is queued for every other
replica, visible after the configured lag (0: before the call returns). Conflicts resolve as
in DynamoDB: last writer wins, by the order of the original writes.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from .global_tables import backend, group_of
from .state import STATE, PendingWrite

log = logging.getLogger("forumdb.moto_ext.replication")

# A process-wide write clock: strictly increasing, so "last writer" is never a tie.
_write_clock = itertools.count(1)

# (table name, item or key attributes) written by one request
Touched = list[tuple[str, dict[str, Any]]]


def _put_item(body: dict[str, Any]) -> Touched:
    return [(body["TableName"], body["Item"])]


def _by_key(body: dict[str, Any]) -> Touched:
    return [(body["TableName"], body["Key"])]


def _batch_write(body: dict[str, Any]) -> Touched:
    touched: Touched = []
    for table_name, requests in body.get("RequestItems", {}).items():
        for request in requests:
            if "PutRequest" in request:
                touched.append((table_name, request["PutRequest"]["Item"]))
            elif "DeleteRequest" in request:
                touched.append((table_name, request["DeleteRequest"]["Key"]))
    return touched


def _transact_write(body: dict[str, Any]) -> Touched:
    touched: Touched = []
    for entry in body.get("TransactItems", []):
        if "Put" in entry:
            touched.append((entry["Put"]["TableName"], entry["Put"]["Item"]))
        for kind in ("Update", "Delete"):
            if kind in entry:
                touched.append((entry[kind]["TableName"], entry[kind]["Key"]))
    return touched


_WRITES: dict[str, Callable[[dict[str, Any]], Touched]] = {
    "put_item": _put_item,
    "update_item": _by_key,
    "delete_item": _by_key,
    "batch_write_item": _batch_write,
    "transact_write_items": _transact_write,
}


def install() -> None:
    for name, touched_by in _WRITES.items():
        setattr(DynamoHandler, name, _replicating(getattr(DynamoHandler, name), touched_by))


def _replicating(
    original: Callable[..., Any], touched_by: Callable[[dict[str, Any]], Touched]
) -> Callable[..., Any]:
    @wraps(original)
    def wrapper(self: DynamoHandler) -> Any:
        result = original(self)  # raises on any failure: nothing to replicate then
        if STATE.active:
            record_writes(self.current_account, self.region, touched_by(self.body))
        return result

    return wrapper


def _key_of(table: Table, attrs: dict[str, Any]) -> dict[str, Any]:
    return {name: attrs[name] for name in table.table_key_attrs}


def _key_types(table: Table, key: dict[str, Any]) -> tuple[DynamoType, DynamoType | None]:
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def record_writes(account: str, region: str, touched: Touched) -> None:
    """Queue the current image of each written item for the other replicas."""
    lag = STATE.replication.lag_seconds
    queued = 0
    for table_name, attrs in touched:
        group = group_of(account, table_name)
        if group is None or region not in group.replicas:
            continue
        table = backend(account, region).get_table(table_name)
        key = _key_of(table, attrs)
        item = table.get_item(*_key_types(table, key))
        image = copy.deepcopy(item.to_json()["Attributes"]) if item is not None else None
        version = next(_write_clock)
        STATE.last_write[(account, table_name, region, _key_text(key))] = version
        for target, replica in group.replicas.items():
            if target == region or replica.status == "DELETING":
                continue
            STATE.pending_writes.append(
                PendingWrite(
                    account_id=account,
                    table_name=table_name,
                    target_region=target,
                    key=key,
                    item=image,
                    written_at=version,
                    due_at=time.monotonic() + lag,
                )
            )
            queued += 1
    if queued and lag == 0:
        apply_due()


def apply_due(force: bool = False) -> int:
    """Apply the queued writes whose lag has passed (all of them when forced)."""
    if not STATE.pending_writes:
        return 0
    now = time.monotonic()
    due = [w for w in STATE.pending_writes if force or w.due_at <= now]
    if not due:
        return 0
    STATE.pending_writes[:] = [w for w in STATE.pending_writes if not (force or w.due_at <= now)]
    applied = 0
    for write in sorted(due, key=lambda w: w.written_at):
        applied += _apply(write)
    return applied


def _apply(write: PendingWrite) -> int:
    table = backend(write.account_id, write.target_region).tables.get(write.table_name)
    if table is None:  # the replica was deleted meanwhile
        return 0
    slot = (write.account_id, write.table_name, write.target_region, _key_text(write.key))
    if STATE.last_write.get(slot, 0) > write.written_at:
        return 0  # a later write already landed there: last writer wins
    from .pitr import log_change  # pitr builds on this module

    log_change(table, write.key)  # a restore in the replica region leaves it out if later
    if write.item is None:
        table.delete_item(*_key_types(table, write.key))
    else:
        table.put_item(copy.deepcopy(write.item), overwrite=True)
    STATE.last_write[slot] = write.written_at
    return 1


def _key_text(key: dict[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)
