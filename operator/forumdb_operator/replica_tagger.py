"""Replica tags sent in the background when the account's TagResource rate is taken.

DynamoDB's TagResource is limited to 5 calls a second per account and region (its API
reference), and a replica is tagged in its own region, one call per table (issue 13). When many
resources are provisioned at once (100 examples: 300 replica tables in one region), their
reconciles would each wait in the client-side rate limiter (forumdb_operator.ratelimit) for a
minute and more, holding a worker thread, before writing a status that is otherwise Ready. A
replica's tags are its ownership record, not what serves or protects the data: when the limiter
says a TagResource sent now would wait longer than `inline_wait`, the reconcile hands the call
to this queue and goes on, and one thread sends the queued calls at the rate the limiter allows.

A queued call may be sent a minute after the reconcile saw the replica, so right before sending
it is checked again, and dropped (logged with the reason) when:
- the resource's deletion began, or its reconcile loop ended in this process (Kopf stops the
  loops when another operator takes over through peering): `Hooks.cancelled`;
- DescribeTable in the replica's region finds no table, or another table (another TableId:
  deleted and made again under the same name, so the same ARN);
- the table carries an ownership record that is neither the resource's nor the one the
  reconcile saw (ListTagsOfResource, through the limiter: TagResource overwrites keys).
One call per replica is queued: a newer call replaces the queued one (a resource made again
under its name has another UID), and a resource's calls go when its deletion begins (`purge`).

What is queued is recorded like what is sent (status.taggedReplicas, with the time), and the
status says it is queued (ready conditions and a ReplicaTagsQueued event). A queued call that
fails, or is dropped because the table changed, is recorded for the resource (`take_failed`)
and wakes its reconcile loop (`Hooks.wake`): the next reconcile does not trust those tags, and
sends them itself, so an error shows in the status. Lost with the process, a queued call is
sent again by a reconcile once RESEND_AFTER_SECONDS have passed (diff.replica_tags).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from forumdb.ownership import RECORD_KEYS, OwnerRecord, describe_owner
from forumdb_operator import apply, errors, metrics
from forumdb_operator.arns import table_of
from forumdb_operator.diff import Action
from forumdb_operator.ratelimit import RateLimiter

log = logging.getLogger("forumdb_operator.replica_tagger")

# A TagResource that would wait longer than this for its turn is queued instead (about 4
# calls at the limiter's 4 a second): a lone resource's reconcile still sends its own.
INLINE_WAIT_SECONDS = 1.0

# (NAMESPACE/NAME, metadata.uid): the resource a call is for
Owner = tuple[str, str]
# (region, ResourceArn): the replica a call tags
Key = tuple[str, str]


def _never() -> bool:
    return False


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Hooks:
    """The resource's reconcile loop as the sender sees it (forumdb_operator.loops)."""

    # True once the resource's deletion began or its loop ended in this process
    cancelled: Callable[[], bool] = _never
    # Wakes the resource's reconcile loop (thread-safe: the sender runs in its own thread)
    wake: Callable[[], None] = _nothing


@dataclass(frozen=True)
class Call:
    """A replica's TagResource and what it was decided on."""

    action: Action
    owner: Owner
    record: OwnerRecord  # the resource's ownership record (what the call puts there)
    table_id: str  # the replica's TableId as observed ("" when DescribeTable gave none)
    seen: Mapping[str, str]  # the replica's ownership tags as observed ({}: none)
    hooks: Hooks = field(default_factory=Hooks)

    @property
    def resource(self) -> str:
        return self.owner[0]

    @property
    def key(self) -> Key:
        return (self.action.region, self.arn)

    @property
    def arn(self) -> str:
        return str(self.action.params.get("ResourceArn"))

    @property
    def table(self) -> str:
        return table_of(self.arn)


def record_of(tags: Mapping[str, str] | None) -> dict[str, str]:
    """The ownership tags among `tags`."""
    return {k: tags[k] for k in RECORD_KEYS if k in (tags or {})}


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
        self._queue: queue.Queue[Key] = queue.Queue()
        self._pending: dict[Key, Call] = {}  # queued and not taken by the sender yet
        self._sending: Call | None = None
        self._failed: dict[Owner, set[tuple[str, str]]] = {}  # owner -> {(table, region)}
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

    def submit(self, call: Call) -> None:
        """Queue `call`; one queued per replica: a newer call replaces the one queued."""
        replaced = None
        with self._lock:
            replaced = self._pending.get(call.key)
            self._pending[call.key] = call
            if replaced is None:
                self._queue.put(call.key)
            self._gauge()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="replica-tagger", daemon=True
                )
                self._thread.start()
        metrics.REPLICA_TAGS_QUEUED.inc()
        log.info(
            "queued",
            extra={
                "resource": call.resource,
                "region": call.action.region,
                "action": str(call.action),
                "cause": "TagResource backlog in the region (5 calls a second per account)",
                "replaces": None if replaced is None else replaced.resource,
            },
        )

    def purge(self, owner: Owner) -> int:
        """Drop the resource's queued calls and recorded failures (its deletion began, or its
        loop ended here); how many calls went."""
        with self._lock:
            keys = [k for k, c in self._pending.items() if c.owner == owner]
            for k in keys:
                del self._pending[k]
            self._failed.pop(owner, None)
            self._gauge()
            self._idle.notify_all()
        if keys:
            log.info("purged", extra={"resource": owner[0], "calls": len(keys)})
        return len(keys)

    def queued(self) -> int:
        """Calls queued or being sent."""
        with self._lock:
            return len(self._pending) + (self._sending is not None)

    def queued_for(self, owner: Owner) -> list[tuple[str, str]]:
        """(table, region) of the resource's calls queued or being sent."""
        with self._lock:
            calls = [c for c in self._pending.values() if c.owner == owner]
            if self._sending is not None and self._sending.owner == owner:
                calls.append(self._sending)
            return sorted({(c.table, c.action.region) for c in calls})

    def take_failed(self, owner: Owner) -> set[tuple[str, str]]:
        """(table, region) of the resource's calls that failed or were dropped because the
        table changed, since the last time asked: not in place, the reconcile sends them."""
        with self._lock:
            return self._failed.pop(owner, set())

    def drain(self, timeout: float) -> bool:
        """Wait until every queued call was sent, dropped or failed; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending and self._sending is None, timeout)

    def _gauge(self) -> None:
        metrics.REPLICA_TAGS_PENDING.set(len(self._pending) + (self._sending is not None))

    def _run(self) -> None:
        while True:
            key = self._queue.get()
            with self._lock:
                call = self._pending.pop(key, None)  # None: purged meanwhile
                self._sending = call
            if call is None:
                continue
            try:
                self._send(call)
            except Exception:  # the thread goes on whatever happens to one call
                log.exception("replica tag error", extra={"resource": call.resource})
            finally:
                with self._idle:
                    self._sending = None
                    self._gauge()
                    self._idle.notify_all()

    def _send(self, call: Call) -> None:
        action = call.action
        cancelled = "the resource is being deleted or no longer reconciled here"
        if call.hooks.cancelled():
            self._skip(call, cancelled)
            return
        try:
            client = self._clients(action.service, action.region)
            why = self._changed(client, call)
            if why is None and call.hooks.cancelled():  # again: the checks may have waited
                self._skip(call, cancelled)
                return
            if why is None:
                getattr(client, action.operation)(**action.params)
        except Exception as exc:  # recorded: the resource's next reconcile sends it itself
            apply.failed(action, call.resource, exc)
            self._not_in_place(call)
            return
        if why is not None:
            self._skip(call, why)
            self._not_in_place(call)
            return
        apply.succeeded(action, call.resource)

    def _changed(self, client: Any, call: Call) -> str | None:
        """Why the replica is no longer the table the reconcile decided to tag, or None.
        DescribeTable has no client-side limit (ratelimit.DOCUMENTED_LIMITS); the tags are
        read through the limiter (ListTagsOfResource, 10 a second per account)."""
        try:
            desc = client.describe_table(TableName=call.table)["Table"]
        except Exception as exc:
            if errors.error_code(exc) == "ResourceNotFoundException":
                return f"table {call.table} no longer exists"
            raise
        table_id = str(desc.get("TableId") or "")
        if call.table_id and table_id and table_id != call.table_id:
            return (
                f"table {call.table} was made again (TableId {table_id}, "
                f"{call.table_id} when queued)"
            )
        listed = client.list_tags_of_resource(ResourceArn=call.arn)
        tags = {t["Key"]: t["Value"] for t in listed.get("Tags") or []}
        record = record_of(tags)
        if record and not call.record.matches(tags) and record != dict(call.seen):
            return f"table {call.table} now belongs to ForumDatabase {describe_owner(tags)}"
        return None

    def _skip(self, call: Call, why: str) -> None:
        log.info(
            "not sent",
            extra={
                "resource": call.resource,
                "region": call.action.region,
                "action": str(call.action),
                "cause": why,
            },
        )

    def _not_in_place(self, call: Call) -> None:
        """The tags are not in place: the resource's reconcile is told (and woken)."""
        if call.hooks.cancelled():
            return  # purged meanwhile: nothing will reconcile it here
        with self._lock:
            self._failed.setdefault(call.owner, set()).add((call.table, call.action.region))
        try:
            call.hooks.wake()
        except Exception as exc:  # a loop already gone: its next start reconciles anyway
            log.info("cannot wake", extra={"resource": call.resource, "cause": repr(exc)})
