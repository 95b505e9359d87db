"""Replica tags sent in the background when the account's TagResource rate is taken.

DynamoDB's TagResource is limited to 5 calls a second per account and region (its API
reference), and a replica is tagged in its own region, one call per table (issue 13). When many
resources are provisioned at once (100 examples: 300 replica tables in one region), their
reconciles would each wait in the client-side rate limiter (forumdb_operator.ratelimit) for a
minute and more, holding a worker thread, before writing a status that is otherwise Ready. A
replica's tags are its ownership record, not what serves or protects the data: when the limiter
says a TagResource sent now would wait longer than `inline_wait`, the reconcile hands the call
to this queue and goes on, and one thread sends the queued calls at the rate the limiter allows.

What is queued is recorded like what is sent (status.taggedReplicas, with the time): the status
takes the tags as in place for RESEND_AFTER_SECONDS (diff.replica_tags), and a later reconcile
sends them again if DynamoDB does not list them by then (the queue was lost with the process, or
the call failed: logged with the resource, region and cause). Without a backlog, nothing changes:
the reconcile sends the call itself, before its status says Ready.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from forumdb_operator import apply, metrics
from forumdb_operator.diff import Action
from forumdb_operator.ratelimit import RateLimiter

log = logging.getLogger("forumdb_operator.replica_tagger")

# A TagResource that would wait longer than this for its turn is queued instead (about 4
# calls at the limiter's 4 a second): a lone resource's reconcile still sends its own.
INLINE_WAIT_SECONDS = 1.0


class ReplicaTagger:
    """One background thread sending queued TagResource calls, in order, through `clients`
    (whose limiter paces them)."""

    def __init__(
        self,
        clients: Callable[[str, str], Any],
        limiter: RateLimiter | None,
        inline_wait: float = INLINE_WAIT_SECONDS,
    ) -> None:
        self._clients = clients
        self._limiter = limiter
        self._inline_wait = inline_wait
        self._queue: queue.Queue[tuple[Action, str]] = queue.Queue()
        self._pending: set[tuple[str, str]] = set()  # (region, ARN) queued and not yet sent
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._idle = threading.Condition(self._lock)

    def takes(self, action: Action) -> bool:
        """Whether `action` (a replica's TagResource) should be queued: the account's
        TagResource calls in its region are backed up beyond `inline_wait`."""
        if self._limiter is None:
            return False
        wait = self._limiter.backlog(action.region, action.service, "TagResource")
        return wait > self._inline_wait

    def submit(self, action: Action, resource: str) -> None:
        """Queue `action` (idempotent: a replica already queued is not queued twice)."""
        key = (action.region, str(action.params.get("ResourceArn")))
        with self._lock:
            if key in self._pending:
                return
            self._pending.add(key)
            metrics.REPLICA_TAGS_PENDING.set(len(self._pending))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="replica-tagger", daemon=True
                )
                self._thread.start()
        metrics.REPLICA_TAGS_QUEUED.inc()
        log.info(
            "queued",
            extra={
                "resource": resource,
                "region": action.region,
                "action": str(action),
                "cause": "TagResource backlog in the region (5 calls a second per account)",
            },
        )
        self._queue.put((action, resource))

    def queued(self) -> int:
        with self._lock:
            return len(self._pending)

    def drain(self, timeout: float) -> bool:
        """Wait until every queued call was sent (or failed); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    def _run(self) -> None:
        while True:
            action, resource = self._queue.get()
            try:
                self._send(action, resource)
            finally:
                with self._idle:
                    self._pending.discard((action.region, str(action.params.get("ResourceArn"))))
                    metrics.REPLICA_TAGS_PENDING.set(len(self._pending))
                    self._idle.notify_all()

    def _send(self, action: Action, resource: str) -> None:
        try:
            client = self._clients(action.service, action.region)
            getattr(client, action.operation)(**action.params)
        except Exception as exc:  # logged; a later reconcile sends it again
            apply.failed(action, resource, exc)
            return
        apply.succeeded(action, resource)
