"""Partial BatchWriteItem: part of the request comes back in UnprocessedItems.

DynamoDB may process only part of a batch (throughput, internal limits) and return the rest
in UnprocessedItems with HTTP 200; a client must resend them (BatchWriteItem API reference:
"If any requested operations fail because the table's provisioned throughput is exceeded or an
internal processing failure occurs, the failed operations are returned in the
UnprocessedItems response parameter"). A fault rule with `unprocessed_rate` makes that
happen: that share of the request's items (the last ones, at least one item always
processed) is left out and returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any

from moto.dynamodb.responses import DynamoHandler

from .state import STATE


def install() -> None:
    DynamoHandler.batch_write_item = _partial(DynamoHandler.batch_write_item)  # type: ignore[method-assign]


def split(
    request_items: dict[str, list[dict[str, Any]]], rate: float
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[dict[str, Any]]]]:
    """(processed, unprocessed) request items: the last ceil(rate * n) items, at most n - 1."""
    flat = [(table, request) for table, requests in request_items.items() for request in requests]
    left_out = min(len(flat) - 1, math.ceil(rate * len(flat))) if flat else 0
    processed: dict[str, list[dict[str, Any]]] = {}
    unprocessed: dict[str, list[dict[str, Any]]] = {}
    for position, (table, request) in enumerate(flat):
        target = unprocessed if position >= len(flat) - left_out else processed
        target.setdefault(table, []).append(request)
    return processed, unprocessed


def _partial(original: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(original)
    def wrapper(self: DynamoHandler) -> Any:
        from .hooks import decision_of  # hooks imports this module

        decision = decision_of(self) if STATE.active else None
        if decision is None or not decision.unprocessed_rate:
            return original(self)
        processed, unprocessed = split(self.body["RequestItems"], decision.unprocessed_rate)
        self.body["RequestItems"] = processed
        result = original(self)
        result.result["UnprocessedItems"] = unprocessed
        return result

    return wrapper
