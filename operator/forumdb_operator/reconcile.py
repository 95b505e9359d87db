"""One reconcile of one ForumDatabase, in plain Python (no Kopf): validate the spec, then
observe -> diff -> apply, pass after pass, until nothing is left to do, something must be
waited for, or a problem stops it; then the status and the events that tell what happened.

Also the deletion of a resource (deletionPolicy Retain or Delete).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from forumdb_operator import awsclients, errors, immutable, metrics, status
from forumdb_operator.apply import apply_actions
from forumdb_operator.arns import table_of
from forumdb_operator.desired import DesiredState, desired_state
from forumdb_operator.diff import Action, Plan, deletion_plan, diff, ownership, replica_tags
from forumdb_operator.observed import Observed, Observer, ReadMemo
from forumdb_operator.remembered import Remembered
from forumdb_operator.replica_tagger import Call, Hooks, ReplicaTagger, record_of
from forumdb_operator.spec import ForumDatabaseSpec, SpecInvalid, parse_spec

log = logging.getLogger("forumdb_operator.reconcile")

MAX_PASSES = 8
# First wait before looking again at a table or replica that is changing; the loop doubles it
# (with jitter) while the wait goes on (forumdb_operator.backoff).
WAIT_DELAY = 2.0
# First wait while an operation that takes minutes to hours runs: an index backfilling, a
# replica's first copy (AWS: proportional to the table's size).
LONG_WAIT_DELAY = 30.0
BLOCKED_DELAY = 15.0
# status field: tables made or tagged whose owner tag is not listed yet, each with the TableId
# of the table claimed (diff.ownership)
CLAIMED_KEY = "claimedTables"
# status field: replica tables tagged whose tags were not listed yet (diff.replica_tags)
TAGGED_KEY = "taggedReplicas"
MAX_EVENT_LEN = 1000
# status fields the health monitor owns (forumdb_operator.health); conditions are shared, each
# writer keeping the other's types (health.Monitor.conditions_with_failover)
HEALTH_FIELDS = frozenset({"activeRegion", "health", "regionHealth", "lastFailover"})


@dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Outcome:
    status: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    requeue_after: float | None = None  # None: the drift interval
    applied: list[Action] = field(default_factory=list)
    calls: awsclients.CallLog = field(default_factory=awsclients.CallLog)
    desired: DesiredState | None = None
    # Replica regions as observed (also when unmanaged); None when AWS could not be read.
    replica_regions: list[str] | None = None
    done: bool = True  # deletion: finished
    # Tables of the layout that exist but are not this resource's: no ConfigMap for them.
    foreign_tables: list[str] = field(default_factory=list)
    # Of `applied`: replica TagResource calls queued to be sent in the background
    queued: list[Action] = field(default_factory=list)

    @property
    def phase(self) -> str:
        return str(self.status.get("phase", ""))


def _short(text: str) -> str:
    return text if len(text) <= MAX_EVENT_LEN else text[: MAX_EVENT_LEN - 3] + "..."


@dataclass
class _HandOff:
    """One reconcile's use of the replica tag queue (replica_tagger)."""

    owner: tuple[str, str]  # (NAMESPACE/NAME, uid)
    hooks: Hooks
    # (table, region) whose queued call failed or was dropped: this reconcile sends them itself
    inline: set[tuple[str, str]] = field(default_factory=set)
    queued: list[Action] = field(default_factory=list)


def _changed(previous: Mapping[str, Any], generation: int | None, message: str) -> bool:
    """Whether a failure message is news (so a stuck spec is not re-announced every pass)."""
    return previous.get("message") != message or previous.get("observedGeneration") != generation


def _provisioning_memo(
    desired: DesiredState,
    previous: Mapping[str, Any],
    generation: int | None,
    claimed: Mapping[str, str],
) -> ReadMemo:
    """What an earlier reconcile of this spec, still provisioning it, saw or sent
    (observed.ReadMemo.provisioning): not read again."""
    return ReadMemo.provisioning(
        previous,
        generation,
        {t.name: t.tags for t in desired.tables if t.name in claimed},
        pitr_wanted=desired.pitr is not None and desired.pitr.enabled,
        claimed=claimed,
    )


def _cut_short(
    outcome: Outcome,
    claimed: Mapping[str, str],
    applied: list[Action],
    primary: str,
    memo: ReadMemo,
    tags_sent: replica_tags.Sent,
    now: str,
) -> Outcome:
    """The status of a reconcile that failed or stopped mid-way, whose last look predates its
    last writes: every table it made or tagged (tags listed or not: deletion must know), the
    replica tags and the alarms it sent."""
    outcome.status[CLAIMED_KEY] = ownership.as_status(
        ownership.claims(claimed, applied, primary, memo.claim_ids)
    )
    outcome.status[TAGGED_KEY] = _tags_status(tags_sent, applied, primary, now)
    _keep_alarms_made(outcome.status, applied)
    return outcome


class Reconciler:
    def __init__(
        self,
        clients: Callable[[str, str], Any],
        *,
        allowed_regions: frozenset[str] | None = None,
        max_passes: int = MAX_PASSES,
        cluster_id: str = "",
        tagger: ReplicaTagger | None = None,
    ) -> None:
        self.clients = clients
        # Replica TagResource calls queued when the account's rate in a region is taken (None:
        # every call is sent by the reconcile itself).
        self.tagger = tagger
        # The operator's --cluster-id: joins the owner record and the names of what it makes.
        self.cluster_id = cluster_id
        self.observer = Observer(clients)
        self.allowed_regions = allowed_regions
        self.max_passes = max_passes

    # ------------------------------------------------------------------ reconcile

    def reconcile(
        self,
        *,
        namespace: str,
        name: str,
        spec: Mapping[str, Any],
        generation: int | None,
        previous: Mapping[str, Any] | None = None,
        uid: str = "",
        stop: Callable[[], bool] | None = None,
        active_region: str | None = None,
        hooks: Hooks | None = None,
        alarms_everywhere: bool = False,
    ) -> Outcome:
        """`uid`: the resource's metadata.uid, part of the ownership record of its tables.
        `stop()`: checked before every AWS write; once true, the passes end (deletion began).
        `active_region`: the region the services use now (the health monitor's, which may be
        an automatic failover's decision); None: the spec's.
        `hooks`: the resource's loop as the replica tag queue sees it (None: cancelled by
        `stop`, nothing to wake).
        `alarms_everywhere`: look for the resource's alarms in each of its regions, not only
        where `previous` saw them (the caller does not know that its last status was written:
        a process that just started, a status write that failed)."""
        previous = previous or {}
        resource = f"{namespace}/{name}"
        started = time.monotonic()
        if hooks is None:
            hooks = Hooks(cancelled=stop) if stop is not None else Hooks()
        hand_off = _HandOff((resource, uid), hooks)
        with awsclients.recording() as calls:
            outcome = self._reconcile(
                resource,
                namespace,
                name,
                uid,
                spec,
                generation,
                previous,
                hand_off,
                stop,
                active_region,
                alarms_everywhere,
            )
        if immutable.STATUS_KEY not in outcome.status and previous.get(immutable.STATUS_KEY):
            # The loop passes its own last status as `previous`: keep the record in it.
            outcome.status[immutable.STATUS_KEY] = previous[immutable.STATUS_KEY]
        outcome.calls = calls
        elapsed = time.monotonic() - started
        metrics.RECONCILE_SECONDS.observe(elapsed)
        metrics.RECONCILES.labels(outcome=outcome.phase.lower() or "unknown").inc()
        log.info(
            "reconciled",
            extra={
                "resource": resource,
                "region": outcome.status.get("primaryRegion"),
                "phase": outcome.phase,
                "seconds": round(elapsed, 3),
                "aws_calls": len(calls.calls),
                "aws_writes": len(calls.writes),
                "applied": [str(a) for a in outcome.applied],
                "requeue_after": outcome.requeue_after,
            },
        )
        return outcome

    def _reconcile(
        self,
        resource: str,
        namespace: str,
        name: str,
        uid: str,
        raw_spec: Mapping[str, Any],
        generation: int | None,
        previous: Mapping[str, Any],
        hand_off: _HandOff,
        stop: Callable[[], bool] | None = None,
        active_region: str | None = None,
        alarms_everywhere: bool = False,
    ) -> Outcome:
        now = status.now_iso()
        try:
            spec = parse_spec(raw_spec, allowed_regions=self.allowed_regions)
        except SpecInvalid as exc:
            return self._spec_invalid(exc, generation, previous, now)
        refused = immutable.changes(raw_spec, previous)
        if refused:
            return self._immutable_changed(refused, generation, previous, now)
        desired = desired_state(
            spec, namespace, name, uid=uid, cluster=self.cluster_id, region_in_force=active_region
        )
        # Actions on a resource that was Ready for this very spec are drift repairs.
        was_ready = generation is not None and previous.get("readyGeneration") == generation
        applied: list[Action] = []
        claimed = ownership.from_status(previous.get(CLAIMED_KEY))
        tags_sent = self._replica_tags_sent(previous, now, hand_off)
        tags_pending = replica_tags.waiting_on(tags_sent, now)
        primary = desired.primary_region
        memo = _provisioning_memo(desired, previous, generation, claimed)

        try:
            obs, plan = self._converge(
                desired,
                resource,
                applied,
                claimed,
                status.pitr_seen_enabled(previous),
                _provisioned_here(spec, previous),
                stop,
                replace(
                    Remembered.from_status(previous, desired), alarms_everywhere=alarms_everywhere
                ),
                memo,
                tags_pending,
                status.subscriptions_asked(previous),
                hand_off=hand_off,
            )
        except errors.ReconcileError as exc:
            outcome = self._failed(
                exc, desired, spec, applied, was_ready, generation, previous, now, hand_off
            )
            if any(a.operation == "create_table" for a in applied):
                outcome.status[immutable.STATUS_KEY] = _provisioned(spec)
            return _cut_short(outcome, claimed, applied, primary, memo, tags_sent, now)
        outcome = self._settled(
            spec, desired, obs, plan, applied, was_ready, generation, previous, now, hand_off
        )
        if stop is not None and stop():  # stopped mid-way (deletion began)
            _cut_short(outcome, claimed, applied, primary, memo, tags_sent, now)
        else:
            outcome.status[CLAIMED_KEY] = ownership.as_status(
                ownership.unconfirmed(desired, obs, obs.claimed)
            )
            outcome.status[TAGGED_KEY] = replica_tags.as_status(
                replica_tags.pending(desired, obs), _still_sent(tags_sent, applied, primary), now
            )
        return outcome

    def _replica_tags_sent(
        self, previous: Mapping[str, Any], now: str, hand_off: _HandOff
    ) -> replica_tags.Sent:
        """Replica tags sent and not listed yet, and when (sent again after a bounded wait),
        less the queued calls that failed or were dropped: not in place, this reconcile sends
        them itself (`hand_off.inline`)."""
        sent = replica_tags.from_status(previous.get(TAGGED_KEY), now)
        if self.tagger is None:
            return sent
        hand_off.inline = self.tagger.take_failed(hand_off.owner)
        return {k: at for k, at in sent.items() if k not in hand_off.inline}

    def _converge(
        self,
        desired: DesiredState,
        resource: str,
        applied: list[Action],
        claimed: Mapping[str, str],
        pitr_seen: frozenset[tuple[str, str]] = frozenset(),
        provisioned_here: bool = False,
        stop: Callable[[], bool] | None = None,
        remembered: Remembered | None = None,
        memo: ReadMemo | None = None,
        tags_pending: frozenset[tuple[str, str]] = frozenset(),
        asked: frozenset[tuple[str, str]] = frozenset(),
        *,
        hand_off: _HandOff,
    ) -> tuple[Observed, Plan]:
        """Observe -> diff -> apply, pass after pass, until nothing is left to do, something
        must be waited for, or a problem stops it; after max_passes, one last look. `claimed`:
        the tables this resource made or tagged before (status), each with the TableId of the
        table claimed, to which this adds its own.
        `stop()` true: no further write, the plan as last seen is returned.
        `remembered`: ids the status holds; each look passes what it found to the next.
        `memo`: PITR and tags already known (observed.ReadMemo), added to pass after pass.
        `tags_pending`: replica tables an earlier reconcile tagged, tags not listed then.
        `asked`: (region, e-mail) subscriptions asked for or seen before (status).
        `hand_off`: where replica tags go when their region's TagResource calls are backed up."""
        known = [remembered or Remembered()]
        memo = memo or ReadMemo()  # PITR and tags read by an earlier pass (rate-limited reads)
        memo.primary_region = desired.primary_region

        def look() -> Observed:
            obs = self.observer.observe(desired, remembered=known[0], memo=memo)
            known[0] = obs.remembered()
            obs.claimed = ownership.claims(claimed, applied, desired.primary_region, memo.claim_ids)
            obs.tags_pending = tags_pending
            obs.tagged_now = frozenset(replica_tags.tagged(applied, desired.primary_region))
            obs.pitr_seen_enabled = pitr_seen
            obs.provisioned_here = provisioned_here
            obs.subscriptions_asked = asked | {
                (a.region, str(a.params.get("Endpoint")))
                for a in applied
                if a.operation == "subscribe"
            }
            obs.just_created = frozenset(
                (str(a.params.get("TableName")), a.region)
                for a in applied
                if a.operation == "create_table"
            )
            return obs

        for _ in range(self.max_passes):
            obs = look()
            plan = diff(desired, obs)
            if plan.blocked or not plan.actions or (stop is not None and stop()):
                return obs, plan
            answers: dict[int, Any] = {}
            before = len(applied)
            try:
                apply_actions(
                    plan.actions,
                    self.clients,
                    resource=resource,
                    done=applied,
                    stop=stop,
                    answered=functools.partial(_remember_answer, answers),
                    hand_off=functools.partial(self._hand_off, hand_off, desired, obs),
                )
            finally:
                for a in applied[before:]:
                    memo.applied(a.operation, a.region, a.params, a.feature, answers.get(id(a)))
        obs = look()
        return obs, diff(desired, obs)

    def _hand_off(
        self, hand_off: _HandOff, desired: DesiredState, obs: Observed, action: Action
    ) -> bool:
        """Queue a replica's TagResource when the region's TagResource calls are backed up
        (replica_tagger): its tags are an ownership record, not what serves the data, and the
        status takes them as sent (status.taggedReplicas) until DynamoDB lists them. Queued
        with what the decision was made on (the replica's TableId and owner tags as `obs`
        saw them), which the sender checks again before sending."""
        if self.tagger is None or action.region == desired.primary_region:
            return False
        if action.service != "dynamodb" or action.operation != "tag_resource":
            return False
        name = table_of(action.params.get("ResourceArn"))
        t = next((t for t in desired.tables if t.name == name), None)
        replica = obs.table(t.kind, action.region) if t is not None else None
        if replica is None or (name, action.region) in hand_off.inline:
            return False
        if not self.tagger.takes(action):
            return False
        self.tagger.submit(
            Call(
                action,
                hand_off.owner,
                desired.record,
                replica.table_id,
                record_of(replica.tags),
                hand_off.hooks,
            )
        )
        hand_off.queued.append(action)
        return True

    def _settled(
        self,
        spec: ForumDatabaseSpec,
        desired: DesiredState,
        obs: Observed,
        plan: Plan,
        applied: list[Action],
        was_ready: bool,
        generation: int | None,
        previous: Mapping[str, Any],
        now: str,
        hand_off: _HandOff,
    ) -> Outcome:
        """The status, events and next look after passes that ended without an AWS error.
        Tables that are another resource's are left out of it: nothing about them is shown as
        this resource's (healthy or not), and the services get no ConfigMap pointing at them."""
        foreign = ownership.foreign_kinds(desired, obs, plan.actions)
        obs = ownership.without_kinds(obs, foreign)
        conds = self._with_queued(status.conditions(desired, obs, plan), hand_off)
        if any(c.get("type") == immutable.CONDITION for c in previous.get("conditions") or []):
            conds.append(status.Cond(immutable.CONDITION, True, "Accepted", "spec accepted"))
        phase = status.phase_for(conds, plan, was_ready)
        message = next((c.message for c in conds if c.type == "Ready"), "")
        new_status: dict[str, Any] = {
            "phase": phase,
            "message": message,
            "observedGeneration": generation,
            # Ready, or Degraded only by a non-blocking problem (status.in_shape)
            "readyGeneration": generation
            if status.in_shape(conds, plan)
            else previous.get("readyGeneration"),
            "lastReconcileTime": now,
            **status.summary_fields(desired, obs),
            "conditions": status.merge_conditions(
                conds, previous.get("conditions"), generation, now
            ),
        }
        if _owns_tables(desired, obs):
            new_status[immutable.STATUS_KEY] = _provisioned(spec)
        events = self._action_events(applied, was_ready, hand_off)
        if plan.problems and _changed(previous, generation, message):
            metrics.RECONCILE_ERRORS.labels(kind="problem").inc()
            events.append(Event("Warning", plan.problems[0].reason, _short(message)))
        if phase == "Ready" and previous.get("phase") != "Ready":
            events.append(Event("Normal", "Ready", _short(message)))
        requeue = None
        if (plan.waiting or plan.actions) and not plan.blocked:
            requeue = LONG_WAIT_DELAY if _long_running(desired, obs, plan) else WAIT_DELAY
        return Outcome(
            new_status,
            events,
            requeue,
            applied,
            desired=desired,
            replica_regions=status.replica_regions(desired, obs),
            foreign_tables=sorted(t.name for t in desired.tables if t.kind in foreign),
            queued=list(hand_off.queued),
        )

    def _with_queued(self, conds: list[status.Cond], hand_off: _HandOff) -> list[status.Cond]:
        """The resource's replica tags still queued (this reconcile's or an earlier one's) are
        named in TablesReady and a Ready message: taken as in place, not sent yet."""
        if self.tagger is None:
            return conds
        waiting = self.tagger.queued_for(hand_off.owner)
        if not waiting:
            return conds
        note = queued_note(waiting)
        return [
            replace(c, message=f"{c.message}; {note}")
            if c.type == "TablesReady" or (c.type == "Ready" and c.ok)
            else c
            for c in conds
        ]

    def _action_events(
        self, applied: list[Action], was_ready: bool, hand_off: _HandOff
    ) -> list[Event]:
        """What this reconcile changed; replica tags it queued are told apart (not sent yet,
        not counted as drift repaired)."""
        queued = hand_off.queued
        done = [a for a in applied if not any(a is q for q in queued)]
        events = []
        if queued:
            waiting = [(table_of(a.params.get("ResourceArn")), a.region) for a in queued]
            events.append(Event("Normal", "ReplicaTagsQueued", _short(queued_note(waiting))))
        if not done:
            return events
        if was_ready:
            for a in done:
                metrics.DRIFT_REPAIRS.labels(feature=a.feature).inc()
            return [
                Event("Normal", "DriftRepaired", _short(f"repaired drift: {a}")) for a in done
            ] + events
        return [
            Event("Normal", "Provisioned", _short("; ".join(str(a) for a in done[i : i + 10])))
            for i in range(0, len(done), 10)
        ] + events

    def _immutable_changed(
        self,
        refused: list[immutable.Change],
        generation: int | None,
        previous: Mapping[str, Any],
        now: str,
    ) -> Outcome:
        """Leave AWS and the ConfigMap alone (desired=None): the services keep their tables."""
        metrics.RECONCILE_ERRORS.labels(kind="spec").inc()
        message = "change refused: " + immutable.message(refused)
        cond = status.Cond(immutable.CONDITION, False, immutable.REASON, message)
        new_status = {
            **_own_fields(previous),
            "message": message,
            "lastReconcileTime": now,
            "conditions": status.merge_conditions(
                [cond], previous.get("conditions"), generation, now
            ),
        }
        events = (
            [Event("Warning", immutable.REASON, _short(message))]
            if previous.get("message") != message
            else []
        )
        # Not retried: reverting the spec (a new generation) wakes the reconciler.
        return Outcome(new_status, events, None)

    def _spec_invalid(
        self, exc: SpecInvalid, generation: int | None, previous: Mapping[str, Any], now: str
    ) -> Outcome:
        metrics.RECONCILE_ERRORS.labels(kind="spec").inc()
        message = "invalid spec: " + "; ".join(exc.errors)
        conds = [status.Cond("Ready", False, "InvalidSpec", message)]
        new_status = {
            "phase": "Failed",
            "message": message,
            "observedGeneration": generation,
            "lastReconcileTime": now,
            "conditions": status.merge_conditions(
                conds, previous.get("conditions"), generation, now
            ),
        }
        events = (
            [Event("Warning", "InvalidSpec", _short(message))]
            if _changed(previous, generation, message)
            else []
        )
        # Not retried: a new generation (spec change) wakes the reconciler.
        return Outcome(new_status, events, None)

    def _failed(
        self,
        exc: errors.ReconcileError,
        desired: DesiredState,
        spec: ForumDatabaseSpec,
        applied: list[Action],
        was_ready: bool,
        generation: int | None,
        previous: Mapping[str, Any],
        now: str,
        hand_off: _HandOff,
    ) -> Outcome:
        transient = exc.transient
        metrics.RECONCILE_ERRORS.labels(kind="transient" if transient else "permanent").inc()
        reason = getattr(exc, "reason", None) or exc.code or "AWSError"
        message = f"{desired.owner}: {exc}"
        phase = ("Degraded" if was_ready else "Provisioning") if transient else "Failed"
        conds = [status.Cond("Ready", False, reason if not transient else "Retrying", message)]
        # A merge patch keeps the other fields in the API (tables, readyGeneration, provisioned):
        # the status handed to the next reconcile keeps them too, so a second failure in a row
        # is still Degraded and the provisioned names still guard the immutable fields.
        new_status: dict[str, Any] = {
            **_own_fields(previous),
            "phase": phase,
            "message": message,
            "observedGeneration": generation,
            "lastReconcileTime": now,
            "primaryRegion": spec.primary_region,
            "conditions": status.merge_conditions(
                conds, previous.get("conditions"), generation, now
            ),
        }
        events = self._action_events(applied, was_ready, hand_off)
        if _changed(previous, generation, message):
            events.append(Event("Warning", "Retrying" if transient else reason, _short(message)))
        log.warning(
            "reconcile failed",
            extra={
                "resource": desired.owner,
                "region": exc.region,
                "cause": str(exc),
                "transient": transient,
            },
        )
        # Permanent: no retry storm; the drift interval (or a spec change) brings it back.
        requeue = getattr(exc, "delay", 30.0) if transient else None
        outcome = Outcome(new_status, events, requeue, applied, desired=desired)
        outcome.queued = list(hand_off.queued)
        return outcome

    # ------------------------------------------------------------------ deletion

    def delete(
        self,
        *,
        namespace: str,
        name: str,
        spec: Mapping[str, Any],
        previous: Mapping[str, Any] | None = None,
        uid: str = "",
    ) -> Outcome:
        previous = previous or {}
        with awsclients.recording() as calls:
            outcome = self._delete(namespace, name, uid, spec, previous)
        outcome.calls = calls
        log.info(
            "deletion step",
            extra={
                "resource": f"{namespace}/{name}",
                "done": outcome.done,
                "applied": [str(a) for a in outcome.applied],
                "aws_writes": len(calls.writes),
            },
        )
        return outcome

    def _delete(
        self,
        namespace: str,
        name: str,
        uid: str,
        raw_spec: Mapping[str, Any],
        previous: Mapping[str, Any],
    ) -> Outcome:
        now = status.now_iso()
        base = {"phase": "Deleting", "lastReconcileTime": now}
        # A refused tablePrefix/primaryRegion change: the tables are the provisioned ones.
        raw_spec = immutable.effective_spec(raw_spec, previous)
        try:
            spec = parse_spec(raw_spec, allowed_regions=self.allowed_regions)
        except SpecInvalid as exc:
            msg = "invalid spec, nothing deleted in AWS: " + "; ".join(exc.errors)
            return Outcome({**base, "message": msg}, [Event("Warning", "Retained", _short(msg))])
        desired = desired_state(spec, namespace, name, uid=uid, cluster=self.cluster_id)
        if spec.deletion_policy == "Retain":
            msg = retained_message(desired, previous)
            return Outcome({**base, "message": msg}, [Event("Normal", "Retained", _short(msg))])
        applied: list[Action] = []
        try:
            for _ in range(self.max_passes):
                obs = self.observer.observe(
                    desired,
                    resolve_kms=False,
                    # every region's alarms: deletion removes ours wherever they are
                    remembered=replace(
                        Remembered.from_status(previous, desired), alarms_everywhere=True
                    ),
                    account_settings=False,
                )
                obs.claimed = ownership.from_status(previous.get(CLAIMED_KEY))
                obs.provisioned_here = _provisioned_here(spec, previous)
                plan = deletion_plan(desired, obs)
                if plan.problems or not plan.actions:
                    break
                apply_actions(plan.actions, self.clients, resource=desired.owner, done=applied)
        except errors.ReconcileError as exc:
            msg = f"deleting {desired.owner}: {exc}"
            return Outcome(
                {**base, "message": msg},
                [Event("Warning", "DeleteRetrying", _short(msg))],
                getattr(exc, "delay", BLOCKED_DELAY),
                applied,
                desired=desired,
                done=False,
            )
        return self._deletion_outcome(desired, plan, applied, base, previous, now)

    def _deletion_outcome(
        self,
        desired: DesiredState,
        plan: Plan,
        applied: list[Action],
        base: dict[str, Any],
        previous: Mapping[str, Any],
        now: str,
    ) -> Outcome:
        """After the passes: blocked (a problem), still going (something to wait for), done."""
        events = [Event("Normal", "Deleted", _short(str(a))) for a in applied]
        if plan.problems:
            p = plan.problems[0]
            msg = f"deletion blocked: {p}"
            conds = [
                status.Cond("Ready", False, p.reason, msg),
                status.Cond("DeletionBlocked", True, p.reason, str(p)),
            ]
            new_status = {
                **base,
                "message": msg,
                "conditions": status.merge_conditions(
                    conds, previous.get("conditions"), previous.get("observedGeneration"), now
                ),
            }
            events.append(Event("Warning", p.reason, _short(msg)))
            return Outcome(new_status, events, BLOCKED_DELAY, applied, desired=desired, done=False)
        if plan.waiting:
            msg = "deleting: " + "; ".join(plan.waiting)
            return Outcome(
                {**base, "message": _short(msg)}, events, WAIT_DELAY, applied, desired, done=False
            )
        msg = (
            f"deleted tables {', '.join(t.name for t in desired.tables)}, replicas, alarms and "
            "backup plan; backup vaults and recovery points were kept"
        )
        events.append(Event("Normal", "Deleted", msg))
        return Outcome({**base, "message": msg}, events, None, applied, desired=desired)


def queued_note(waiting: list[tuple[str, str]]) -> str:
    """E.g. "3 replica tags queued (TagResource backlog): forum-Posts, ... in us-west-2"."""
    regions: dict[str, list[str]] = {}
    for table, region in sorted(waiting, key=lambda k: (k[1], k[0])):
        regions.setdefault(region, []).append(table)
    where = "; ".join(f"{', '.join(tables)} in {r}" for r, tables in regions.items())
    n = len(waiting)
    return f"{n} replica tag{'s' if n != 1 else ''} queued (TagResource backlog): {where}"


def _still_sent(sent: replica_tags.Sent, applied: list[Action], primary: str) -> replica_tags.Sent:
    """When each replica's tags were sent: earlier reconciles' times, except the ones this
    reconcile sent again (their wait starts now: as_status gives them `now`)."""
    again = replica_tags.tagged(applied, primary)
    return {k: at for k, at in sent.items() if k not in again}


def _tags_status(
    sent: replica_tags.Sent, applied: list[Action], primary: str, now: str
) -> list[dict[str, str]]:
    """status.taggedReplicas when the passes ended early (an AWS error, a stop): every entry
    still pending, and the replicas this reconcile tagged."""
    keys = set(sent) | replica_tags.tagged(applied, primary)
    return replica_tags.as_status(keys, _still_sent(sent, applied, primary), now)


def _keep_alarms_made(new_status: dict[str, Any], applied: list[Action]) -> None:
    """status.alarms.items when the passes ended early (an AWS error, a stop): the last look
    predates the last writes, so the alarms this reconcile put are added (state unknown until
    a look) and those it deleted taken out. The items are where the next drift check looks for
    ours: an alarm made in a region they leave out would never be looked for again."""
    alarms = new_status.get("alarms")
    if not isinstance(alarms, Mapping) or not isinstance(alarms.get("items"), list):
        return  # no items: not known where ours are, the next look reads every region
    deleted = {
        (a.region, str(n))
        for a in applied
        if a.service == "cloudwatch" and a.operation == "delete_alarms"
        for n in a.params.get("AlarmNames") or []
    }
    items = [
        i
        for i in alarms.get("items") or []
        if not (isinstance(i, Mapping) and (i.get("region"), i.get("name")) in deleted)
    ]
    listed = {(i.get("region"), i.get("name")) for i in items if isinstance(i, Mapping)}
    for a in applied:
        key = (a.region, str(a.params.get("AlarmName")))
        if a.service == "cloudwatch" and a.operation == "put_metric_alarm" and key not in listed:
            items.append({"name": key[1], "region": a.region, "state": "UNKNOWN"})
            listed.add(key)
    new_status["alarms"] = {**alarms, "items": items}


def _remember_answer(answers: dict[int, Any], action: Action, response: Any) -> None:
    answers[id(action)] = response


def _own_fields(previous: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `previous` a reconcile writes back: not the health monitor's, which it
    patches on its own (a reconcile's older copy would undo the monitor's newer write)."""
    return {k: v for k, v in previous.items() if k not in HEALTH_FIELDS}


def _provisioned(spec: ForumDatabaseSpec) -> dict[str, str]:
    return immutable.Provisioned(spec.table_prefix, spec.primary_region).as_status()


def _long_running(d: DesiredState, obs: Observed, plan: Plan) -> bool:
    """An index is being built or a replica is making its first copy (minutes to hours, by
    the table's size), and nothing else of this resource is to do or is being created: poll
    slowly. Not for a table that holds nothing (DescribeTable's ItemCount and TableSizeBytes
    0, as a table being provisioned has): there is nothing to copy or backfill, the short
    wait with its back-off polls it."""
    if plan.actions:
        return False
    long = False
    for t in d.tables:
        o = obs.table(t.kind, d.primary_region)
        if o is None or o.status != "ACTIVE":
            return False  # a table changing state (AWS: seconds to a minute)
        if o.item_count == 0 and o.size_bytes == 0:
            continue
        long = long or any(i.status == "CREATING" for i in o.indexes.values())
        long = long or any(r.status == "CREATING" for r in o.replicas.values())
    return long


def _provisioned_here(spec: ForumDatabaseSpec, previous: Mapping[str, Any]) -> bool:
    """This resource's own status records tables of this prefix and region as provisioned by
    it (the status belongs to this object: a recreated resource starts without it)."""
    return immutable.recorded(previous) == immutable.Provisioned(
        spec.table_prefix, spec.primary_region
    )


def _owns_tables(d: DesiredState, obs: Observed) -> bool:
    """A table of this resource (its owner tag) exists in the primary region."""
    for t in d.tables:
        o = obs.table(t.kind, d.primary_region)
        if o is not None and ownership.owns(d, o, obs):
            return True
    return False


def retained_message(d: DesiredState, previous: Mapping[str, Any]) -> str:
    """What deletionPolicy Retain leaves, from the last status (no AWS call): only what this
    resource made or adopted (status.provisioned), and the vault, plan and alarms it saw."""
    parts = []
    if immutable.recorded(previous) is not None:
        seen = [
            str(r.get("region"))
            for r in previous.get("regions") or []
            if isinstance(r, Mapping) and r.get("status") not in (None, "MISSING")
        ]
        parts.append(
            f"tables {', '.join(t.name for t in d.tables)} in {', '.join(seen or d.regions)}"
        )
    backups = previous.get("backups") or {}
    if d.backups is not None and backups.get("vaultArn"):
        parts.append(f"backup vault {d.backups.vault_name}")
    if d.backups is not None and backups.get("planId"):
        parts.append(f"backup plan {d.backups.plan_name}")
    items = (previous.get("alarms") or {}).get("items") or []
    names = [str(i.get("name")) for i in items if isinstance(i, Mapping)]
    if d.alarms is not None:
        own = [n for n in names if n.startswith(d.alarms.prefix)]
        if own:
            parts.append(f"{len(own)} alarms {d.alarms.prefix}*")
        shared = d.alarms.shared
        if shared is not None and shared.alarm.name in names:
            parts.append(f"its use of the shared alarm {shared.alarm.name} (a tag on it)")
    if not parts:
        return (
            f"deletionPolicy Retain: {d.owner} made no tables, backups or alarms of its own; "
            "nothing in AWS was changed"
        )
    return "deletionPolicy Retain: left " + "; ".join(parts) + " in place"
