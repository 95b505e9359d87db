"""Per-account API rate limits that the DynamoDB API reference states, answered as AWS does
(ThrottlingException, HTTP 400, which botocore's retry modes retry with back-off).

The limits are per account and region, over any one-second window; a refused call does not
count. On by default (AwsRules.api_rate_limits): a client that follows AWS's guidance (retry
throttles with back-off) is unaffected, one that loops on these calls fails here as on AWS.
"""

from __future__ import annotations

import time

from .faults import AwsError
from .state import STATE

# operation -> calls per second per account (DynamoDB API reference, each operation's page)
DYNAMODB_RATE_LIMITS: dict[str, int] = {
    "ListTagsOfResource": 10,
    "TagResource": 5,
    "UntagResource": 5,
    "DescribeContinuousBackups": 10,
    "CreateBackup": 50,
    "DeleteBackup": 10,
    "DescribeBackup": 10,
    "ListBackups": 5,
    "RestoreTableFromBackup": 10,
}

WINDOW_SECONDS = 1.0


def check(account: str, region: str, service: str, operation: str) -> AwsError | None:
    """Count the call, or refuse it when the limit of the last second is used up."""
    if service != "dynamodb" or not STATE.rules.api_rate_limits:
        return None
    limit = DYNAMODB_RATE_LIMITS.get(operation)
    if limit is None:
        return None
    now = time.monotonic()
    key = (account, region, operation)
    recent = [t for t in STATE.call_times.get(key, []) if now - t < WINDOW_SECONDS]
    if len(recent) >= limit:
        STATE.call_times[key] = recent
        STATE.faults.injected["rate_limited"] = STATE.faults.injected.get("rate_limited", 0) + 1
        return AwsError(
            400,
            "ThrottlingException",
            f"Rate exceeded: {operation} is limited to {limit} calls per second per account "
            f"(account {account}, region {region})",
        )
    recent.append(now)
    STATE.call_times[key] = recent
    return None
