"""Cached boto3 clients (one per service and region, from forumdb.aws) that count their calls.

boto3 clients are thread-safe once built and building one costs tens of milliseconds, so the
operator keeps one per (service, region). A botocore `before-call` hook records every API call
(once per logical call, not per retry) into the Prometheus counter and into the CallLog of the
reconcile running in this thread/context, which is how "a steady-state reconcile makes no
write" is measured and asserted. A `before-send` hook (every attempt, once it is signed, right
before it goes out) takes a token from the rate limiter shared by every client of the process
(forumdb_operator.ratelimit), so the operator stays under AWS's documented per-account rates:
taken any earlier (`request-created`, before signing), a thread held up between its token and
its send could bunch several calls into one second of AWS's window.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from forumdb import aws
from forumdb_operator import metrics, ratelimit

# Operation name prefixes that change something in AWS.
_MUTATING_PREFIXES = (
    "Create",
    "Update",
    "Delete",
    "Put",
    "Tag",
    "Untag",
    "Subscribe",
    "Unsubscribe",
    "Start",
    "Restore",
    "Set",
)


def is_mutating(operation: str) -> bool:
    return operation.startswith(_MUTATING_PREFIXES)


@dataclass
class CallLog:
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (service, region, op)

    @property
    def writes(self) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if is_mutating(c[2])]

    @property
    def reads(self) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if not is_mutating(c[2])]

    def summary(self) -> dict[str, int]:
        return dict(Counter(f"{s}:{op}" for s, _, op in self.calls))


_current_log: contextvars.ContextVar[CallLog | None] = contextvars.ContextVar(
    "forumdb_operator_call_log", default=None
)


@contextlib.contextmanager
def recording() -> Iterator[CallLog]:
    """Record the AWS calls made in this context."""
    log = CallLog()
    token = _current_log.set(log)
    try:
        yield log
    finally:
        _current_log.reset(token)


class Clients:
    """Thread-safe cache of boto3 clients keyed by (service, region)."""

    def __init__(
        self,
        endpoint_url: str | None = None,
        config: Any = None,
        limiter: ratelimit.RateLimiter | None = ratelimit.SHARED,
    ) -> None:
        self._endpoint_url = endpoint_url
        self._config = config  # botocore Config; None: forumdb.aws's defaults
        self._limiter = limiter
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str) -> Any:
        key = (service, region)
        client = self._clients.get(key)
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = aws.client(
                    service,
                    region=region,
                    endpoint_url=self._endpoint_url,
                    config=self._config,
                    share_models=True,
                )
                client.meta.events.register("before-call", _make_hook(service, region))
                if self._limiter is not None:
                    # first: a handler that answers before-send itself (moto's in tests) ends it
                    client.meta.events.register_first(
                        "before-send", _limit_hook(self._limiter, service, region)
                    )
                self._clients[key] = client
        return client

    def warm(self, services: Iterable[str], regions: Iterable[str]) -> None:
        """Builds these clients now (no AWS call): a resource's first reconcile would
        otherwise build them while it runs, tens of milliseconds each."""
        for region in regions:
            for service in services:
                self(service, region)


def _make_hook(service: str, region: str) -> Any:
    def hook(model: Any, **_: Any) -> None:
        op = model.name
        metrics.AWS_CALLS.labels(
            service=service,
            operation=op,
            region=region,
            kind="write" if is_mutating(op) else "read",
        ).inc()
        log = _current_log.get()
        if log is not None:
            log.calls.append((service, region, op))

    return hook


def _limit_hook(limiter: ratelimit.RateLimiter, service: str, region: str) -> Any:
    def hook(event_name: str = "", **_: Any) -> None:
        # before-send.SERVICE-ID.OPERATION: the operation is the event name's last part
        limiter.take(region, service, event_name.rsplit(".", 1)[-1])

    return hook
