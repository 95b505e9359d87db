"""BatchWriteItem and BatchGetItem with the retries DynamoDB asks of its callers.

Throttled or failed *requests* are first retried by botocore's retry mode (forumdb.aws).
What botocore does not retry is a *successful* answer that leaves work undone:
UnprocessedItems and UnprocessedKeys. Those are sent again here, with exponential backoff
and full jitter; so is a request still throttled after botocore gave up (its retry quota
runs dry under sustained throttling, which a bulk load is). When the attempts run out the
batch fails loudly (`RetriesExhausted`) with the table, the region and the number of items
left: nothing is ever dropped silently.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from forumctl.codec import Item
from forumctl.errors import AwsError

log = logging.getLogger(__name__)

WRITE_BATCH = 25  # DynamoDB's limit per BatchWriteItem
GET_BATCH = 100  # DynamoDB's limit per BatchGetItem


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 0.05
    max_delay: float = 5.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**attempt)]."""
        cap = min(self.max_delay, self.base_delay * (2**attempt))
        return (rng or random).uniform(0, cap)


DEFAULT_POLICY = RetryPolicy()

# Errors worth another try after botocore's own retries: throttling and transient faults.
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


def _retryable(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in RETRYABLE_CODES


class RetriesExhausted(AwsError):
    def __init__(self, op: str, table: str, region: str | None, left: int, attempts: int) -> None:
        super().__init__(
            f"{op} on table {table} in {region or 'the default region'}: {left} item(s) still "
            f"unprocessed after {attempts} attempts (throttled or failing); nothing was "
            "dropped silently",
            hint="run the same command again: it is idempotent and resumes where it stopped; "
            "or raise the table's capacity / lower --workers",
        )
        self.left = left


def write_batch(
    client: Any,
    table: str,
    items: Sequence[Item],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Puts up to 25 items; returns how many were written (all of them, or raises)."""
    requests: list[dict[str, Any]] = [{"PutRequest": {"Item": it}} for it in items]
    return _write_requests(client, table, requests, policy=policy, sleep=sleep)


def delete_batch(
    client: Any,
    table: str,
    keys: Sequence[Item],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Deletes up to 25 items by key; returns how many (all of them, or raises)."""
    requests: list[dict[str, Any]] = [{"DeleteRequest": {"Key": key}} for key in keys]
    return _write_requests(client, table, requests, policy=policy, sleep=sleep)


def _write_requests(
    client: Any,
    table: str,
    requests: list[dict[str, Any]],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None],
) -> int:
    if len(requests) > WRITE_BATCH:
        raise ValueError(f"a batch holds at most {WRITE_BATCH} items, got {len(requests)}")
    total = len(requests)
    attempt = 0
    while requests:
        try:
            resp = client.batch_write_item(RequestItems={table: requests})
            requests = resp.get("UnprocessedItems", {}).get(table, [])
        except ClientError as exc:
            if not _retryable(exc):
                raise
        if not requests:
            break
        attempt += 1
        if attempt >= policy.max_attempts:
            raise RetriesExhausted(
                "BatchWriteItem", table, client.meta.region_name, len(requests), attempt
            )
        log.debug(
            "unprocessed items, backing off",
            extra={"table": table, "left": len(requests), "attempt": attempt},
        )
        sleep(policy.delay(attempt))
    return total


def get_batch(
    client: Any,
    table: str,
    keys: Sequence[Item],
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Item]:
    """Reads up to 100 items by key (strongly consistent); missing keys are simply absent."""
    if len(keys) > GET_BATCH:
        raise ValueError(f"a batch reads at most {GET_BATCH} keys, got {len(keys)}")
    found: list[Item] = []
    request: dict[str, Any] = {table: {"Keys": list(keys), "ConsistentRead": True}}
    attempt = 0
    while request:
        try:
            resp = client.batch_get_item(RequestItems=request)
            found.extend(resp.get("Responses", {}).get(table, []))
            request = resp.get("UnprocessedKeys") or {}
        except ClientError as exc:
            if not _retryable(exc):
                raise
        if not request:
            break
        attempt += 1
        if attempt >= policy.max_attempts:
            left = len(request.get(table, {}).get("Keys", []))
            raise RetriesExhausted("BatchGetItem", table, client.meta.region_name, left, attempt)
        sleep(policy.delay(attempt))
    return found


def chunks(seq: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [seq[i : i + size] for i in range(0, len(seq), size)]
