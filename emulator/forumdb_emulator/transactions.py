"""TransactWriteItems at the cost of its own items, not of the tables it names.

moto 5.2 (`moto.dynamodb.models.DynamoDBBackend.transact_write_items`) makes its
all-or-nothing rollback possible by `copy.deepcopy` of every table a transaction names, on
every call, before it writes anything; a cancelled transaction puts the copies in place of
the tables. So each call costs time in proportion to the size of its tables (about 105 ms at
1,000 items; the change logs `pitr` keeps on the table object are copied too), and the
services make every create of a post or of a user with an e-mail a transaction (their
uniqueness guards). AWS's cost does not grow with the table.

Here the same sequence of checks and writes runs as in moto (so the same answers: one
operation per item, no item twice, `ConditionalCheckFailed` and other failures reported per
item in order in `TransactionCanceledException`, a `ValidationException` raised as it is),
with an undo journal instead of the copies: before an operation writes, the item it writes
(one item) is copied; a cancelled transaction puts those items back, newest first, and drops
the stream records the writes added. All or nothing, as AWS's TransactWriteItems is
("either all of them succeed or none of them do": TransactWriteItems API reference), and
the tables stay the same objects (the emulator keeps its change logs and replication state
on them).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

from .state import STATE

_original: Callable[..., None] = DynamoDBBackend.transact_write_items
_MAX_ITEMS = 100  # TransactWriteItems API reference: "up to 100 action requests"
_OPERATIONS = {"ConditionCheck", "Put", "Delete", "Update"}


def install() -> None:
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


@dataclass
class _Before:
    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    item: Item | None  # a copy of the item before the write; None: there was none
    stream_length: int | None  # stream records of the table before the write


class _Undo:
    """What a transaction wrote, to put back if it is cancelled."""

    def __init__(self) -> None:
        self._entries: list[_Before] = []

    def remember(self, backend: DynamoDBBackend, table_name: str, key: dict[str, Any]) -> None:
        table = backend.get_table(table_name)
        hash_key, range_key = backend.get_keys_value(table, key)
        item = table.get_item(hash_key, range_key)
        shard = table.stream_shard
        self._entries.append(
            _Before(
                table=table,
                hash_key=hash_key,
                range_key=range_key,
                item=copy.deepcopy(item) if item is not None else None,
                stream_length=len(shard.items) if shard is not None else None,
            )
        )

    def roll_back(self) -> None:
        for entry in reversed(self._entries):
            table = entry.table
            if entry.range_key is not None:
                held = table.items[entry.hash_key]
                if entry.item is None:
                    held.pop(entry.range_key, None)
                    if not held:
                        del table.items[entry.hash_key]
                else:
                    held[entry.range_key] = entry.item
            elif entry.item is None:
                table.items.pop(entry.hash_key, None)
            else:
                table.items[entry.hash_key] = entry.item
            if entry.stream_length is not None and table.stream_shard is not None:
                del table.stream_shard.items[entry.stream_length :]
        self._entries.clear()


def _item_key(self: DynamoDBBackend, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    """The key a transaction item names: a Put's from its item, the others' given."""
    if op_type != "Put":
        return op["Key"]
    attrs = op["Item"]
    table = self.get_table(op["TableName"])
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _write_one(
    self: DynamoDBBackend, op_type: str, op: dict[str, Any], key: dict[str, Any]
) -> None:
    """Apply one Put, Delete or Update (a ConditionCheck writes nothing), with its condition."""
    common = {
        "condition_expression": op.get("ConditionExpression"),
        "expression_attribute_names": op.get("ExpressionAttributeNames"),
        "expression_attribute_values": op.get("ExpressionAttributeValues"),
    }
    if op_type == "Put":
        self.put_item(op["TableName"], op["Item"], **common)
    elif op_type == "Delete":
        self.delete_item(op["TableName"], key, **common)
    elif op_type == "Update":
        self.update_item(op["TableName"], key, update_expression=op["UpdateExpression"], **common)


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if not STATE.active:
        return _original(self, transact_items)
    if len(transact_items) > _MAX_ITEMS:
        raise TooManyTransactionsException()
    undo = _Undo()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            undo.roll_back()
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in _OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            key = _item_key(self, op_type, op)
            check_unicity(table_name, key)
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition = get_filter_expression(condition_expression, names, values)
                if not condition.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                undo.remember(self, table_name, key)
            _write_one(self, op_type, op, key)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            undo.roll_back()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
        except Exception as e:  # reported per item, as moto does
            errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]
    if any(code is not None for code, _, _ in errors):
        undo.roll_back()
        raise TransactionCanceledException(errors)
