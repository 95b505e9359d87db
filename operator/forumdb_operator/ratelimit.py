"""A client-side rate limiter per account and API: the operator stays under AWS's documented
per-account call rates however many resources it reconciles at once, instead of throttling
itself (and every other client of the account) and leaning on retries.

AWS counts these calls per account (and region) over any one-second window; a token bucket per
(region, service, operation) with no burst and a rate a little under the limit spaces the calls
so that no one-second window holds more than the limit, also with some network jitter. Every
attempt takes a token right before it is sent (a botocore `before-send` hook, emitted per
attempt, retries included). One operator runs with one account's credentials, so one limiter
per process (`SHARED`, used by every forumdb_operator.awsclients.Clients) is one per account.
botocore's retry mode (standard) stays: the limiter keeps the documented rates, retries handle
the rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# Calls per second per account, from each operation's page of the Amazon DynamoDB API Reference
# ("You can call TagResource up to five times per second, per account"; UntagResource the same;
# ListTagsOfResource "up to 10 times per second, per account"; DescribeContinuousBackups "at a
# maximum rate of 10 times per second"; CreateBackup 50/s; DeleteBackup, DescribeBackup and
# RestoreTableFromBackup 10/s; ListBackups 5/s) and the DynamoDB developer guide's "Service,
# account, and table quotas" page (API-specific limits). The emulator enforces the same numbers
# (forumdb_emulator.ratelimits).
DOCUMENTED_LIMITS: dict[tuple[str, str], float] = {
    ("dynamodb", "ListTagsOfResource"): 10,
    ("dynamodb", "TagResource"): 5,
    ("dynamodb", "UntagResource"): 5,
    ("dynamodb", "DescribeContinuousBackups"): 10,
    ("dynamodb", "CreateBackup"): 50,
    ("dynamodb", "DeleteBackup"): 10,
    ("dynamodb", "DescribeBackup"): 10,
    ("dynamodb", "ListBackups"): 5,
    ("dynamodb", "RestoreTableFromBackup"): 10,
}
HEADROOM = 0.8  # share of a documented limit the operator uses


@dataclass
class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; `take()` waits for one."""

    rate: float
    burst: float = 1.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _tokens: float = field(init=False)
    _at: float = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._tokens = self.burst
        self._at = self.clock()

    def reserve(self) -> float:
        """Take a token now or in the future; the seconds to wait before using it."""
        with self._lock:
            now = self.clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def backlog(self) -> float:
        """The seconds a token taken now would wait (nothing is taken)."""
        with self._lock:
            tokens = min(self.burst, self._tokens + (self.clock() - self._at) * self.rate)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self) -> float:
        wait = self.reserve()
        if wait > 0:
            self.sleep(wait)
        return wait


class RateLimiter:
    """Token buckets per (region, service, operation) for the operations with a limit."""

    def __init__(
        self,
        limits: Mapping[tuple[str, str], float] = DOCUMENTED_LIMITS,
        *,
        headroom: float = HEADROOM,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limits = {key: rate * headroom for key, rate in limits.items()}
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting, all callers (a metric for the bench)

    def limit(self, service: str, operation: str) -> float | None:
        return self._limits.get((service, operation))

    def _bucket(self, region: str, service: str, operation: str) -> TokenBucket | None:
        rate = self._limits.get((service, operation))
        if rate is None:
            return None
        key = (region, service, operation)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(rate, 1.0, self._clock, self._sleep)
                self._buckets[key] = bucket
        return bucket

    def backlog(self, region: str, service: str, operation: str) -> float:
        """The seconds a call sent now would wait for its turn (0: no limit, or free)."""
        bucket = self._bucket(region, service, operation)
        return 0.0 if bucket is None else bucket.backlog()

    def take(self, region: str, service: str, operation: str) -> None:
        bucket = self._bucket(region, service, operation)
        if bucket is None:
            return
        waited = bucket.take()
        if waited:
            with self._lock:
                self.waited += waited


SHARED = RateLimiter()
