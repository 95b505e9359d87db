"""The two loops each ForumDatabase gets, in plain asyncio (the Kopf daemons in handlers.py run
them; no Kopf here), and its deletion step.

The reconcile loop reconciles at once, then again after a short delay while something is
changing (a table CREATING, a replica being added, a transient AWS error), and otherwise every
drift interval (the timer that finds and repairs drift). One loop per resource means reconciles
of one resource never overlap. A spec change wakes the loop at once, and so does a new value of
the annotation `forumdb.io/reconcile-requested` (any string, e.g. a timestamp:
`kubectl annotate forumdb NAME forumdb.io/reconcile-requested="$(date +%s)" --overwrite`);
the status written by that reconcile carries the value in `status.lastReconcileRequest`, so a
client can wait for a fresh status (e.g. lastBackup after a backup ran, itemCount after a
load). The blocking boto3 and Kubernetes calls run in a bounded thread pool.

The health loop checks each region on spec.failover.healthCheckIntervalSeconds (one shared
probe per region, forumdb_operator.probes; the resource's tables at the drift pace) and
switches the services' region when it must (forumdb_operator.health); it shares the resource's
memo (its Monitor) with the reconcile loop, so both agree on the active region and on the
conditions each owns.

Deletion (a finalizer): Retain leaves everything in AWS and says so in an event; Delete removes
alarms, backup plan and selection, replicas, then tables, one step per call, retried until done.
A reconcile and a deletion step of one resource never run at once (forumdb_operator.guard): once
deletion begins, a running reconcile stops before its next AWS write, writes no status, and the
loop ends.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Mapping, MutableMapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kubernetes.client.exceptions import ApiException

from forumdb import naming
from forumdb_operator import backoff, guard, health, metrics
from forumdb_operator.configmap import configmap_data, configmap_manifest
from forumdb_operator.diff import ownership
from forumdb_operator.kube import cause
from forumdb_operator.reconcile import CLAIMED_KEY, WAIT_DELAY, Event, Outcome
from forumdb_operator.replica_tagger import Hooks
from forumdb_operator.runtime import Runtime
from forumdb_operator.spec import SpecInvalid, parse_spec

log = logging.getLogger("forumdb_operator.loops")
T = TypeVar("T")

WAKE_KEY = "forumdb_wake"
HEALTH_WAKE_KEY = "forumdb_health_wake"
# the generation of the spec change that set the wake (None: wake whatever was reconciled)
WAKE_GENERATION_KEY = "forumdb_wake_generation"
MONITOR_KEY = "forumdb_monitor"
DEFAULT_HEALTH_INTERVAL = 10.0
STOP_POLL = 1.0  # seconds: how often an idle loop checks whether it should stop
ERROR_DELAY = 10.0  # seconds before a reconcile that raised is tried again

Memo = MutableMapping[str, Any]
# Posts a resource's events (handlers.py: through Kopf).
PostEvents = Callable[[Mapping[str, Any], list[Event]], None]


@dataclass(frozen=True)
class Live:
    """Kopf's views of one resource: live, they change under a running loop."""

    name: str
    namespace: str
    body: Mapping[str, Any]
    spec: Mapping[str, Any]
    meta: Mapping[str, Any]
    status: Mapping[str, Any]

    @property
    def resource(self) -> str:
        return f"{self.namespace}/{self.name}"

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of what an event is about (the views may change meanwhile)."""
        kind = {"apiVersion": self.body.get("apiVersion"), "kind": self.body.get("kind")}
        return {**kind, "metadata": {**self.meta}}


# ---------------------------------------------------------------- per-resource memo


def wake_event(memo: Memo, key: str = WAKE_KEY) -> asyncio.Event:
    event = memo.get(key)
    if event is None:
        event = asyncio.Event()
        memo[key] = event
    return event


def wake(memo: Memo, generation: int | None = None) -> None:
    """A new spec (`generation`, where known): reconcile now, and check health now (a manual
    failover takes effect). A reconcile of that generation already under way makes the wake
    redundant (reconcile_loop): a new resource's loop starts its first reconcile as Kopf's
    create handler wakes it, and a second reconcile right after would only read everything
    again."""
    memo[WAKE_GENERATION_KEY] = _merged_wake(memo, generation)
    wake_event(memo).set()
    wake_event(memo, HEALTH_WAKE_KEY).set()


def wake_reconcile(memo: Memo) -> None:
    """Reconcile now, whatever generation the last reconcile had (the active region moved)."""
    memo[WAKE_GENERATION_KEY] = None
    wake_event(memo).set()


def _merged_wake(memo: Memo, generation: int | None) -> int | None:
    """The wake key once `generation` joins a wake still pending: a generation-less one (the
    active region moved: reconcile whatever the generation) is never narrowed to a generation
    a reconcile under way may already have, which would drop it; else the highest."""
    if not wake_event(memo).is_set():
        return generation
    pending = memo.get(WAKE_GENERATION_KEY)
    if pending is None or generation is None:
        return None
    return max(pending, generation)


def _redundant_wake(memo: Memo, reconciled: int | None) -> bool:
    """The pending wake is a spec change a reconcile that has ended already saw."""
    woken_for = memo.get(WAKE_GENERATION_KEY)
    return woken_for is not None and reconciled is not None and woken_for <= reconciled


def monitor(memo: Memo, namespace: str, name: str) -> health.Monitor:
    found = memo.get(MONITOR_KEY)
    if found is None:
        # Reentrant: publish() holds it across the conditions it merges and its status patch,
        # as the monitor holds it across its own (see publish).
        found = health.Monitor(namespace, name, lock=threading.RLock())
        memo[MONITOR_KEY] = found
    return found


async def _in_pool(pool: Executor, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, functools.partial(fn, *args, **kwargs))


async def sleep(
    wake: asyncio.Event, stopped: Any, delay: float, poke: Callable[[], bool] | None = None
) -> None:
    """Sleep `delay` seconds, or less if woken up, stopped, or `poke()` (polled) says so."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + delay
    while not stopped and not wake.is_set():
        if poke is not None and poke():
            return
        left = deadline - loop.time()
        if left <= 0:
            return
        try:
            await asyncio.wait_for(wake.wait(), timeout=min(left, STOP_POLL))
        except TimeoutError:
            continue


# ---------------------------------------------------------------- the reconcile loop


@dataclass
class _Reconciling:
    # The status this loop last wrote: the live `status` view lags behind our own patches.
    last_status: dict[str, Any] | None = None
    # The reconcile-requested annotation value last acted on (Kopf's diff ignores forumdb.io/
    # annotations, which share the prefix of its own storage: the loop polls the live meta).
    handled: str | None = None
    # Reconciles in a row that ended waiting or retrying without progress (backoff).
    attempt: int = 0
    # Set when the loop ends (deletion, or Kopf stopped it: another operator leads): replica
    # tags it queued are no longer sent (replica_tagger.Hooks)
    ended: threading.Event = field(default_factory=threading.Event)
    # The status the next reconcile starts from may lack the last writes to AWS: none written
    # yet by this loop (a restart, a new leader: the live status may predate a lost write),
    # or the last reconcile raised (its status patch may have failed). The next reconcile
    # then looks for the resource's alarms in every region, not only where that status saw
    # them (a ReplicationLatency alarm made in a region it leaves out would stay unseen).
    unsure: bool = True

    def next_delay(self, outcome: Outcome | None, drift_interval: float) -> float:
        """The drift interval once settled; else the outcome's first wait, doubled with
        jitter for each look in a row that made no progress."""
        base = ERROR_DELAY if outcome is None else outcome.requeue_after
        if base is None:
            self.attempt = 0
            return drift_interval
        if outcome is not None and outcome.applied:
            self.attempt = 0  # progress: the next step is a new wait
        wait = backoff.delay(base, self.attempt)
        self.attempt += 1
        return wait


async def reconcile_loop(
    rt: Runtime, memo: Memo, live: Live, stopped: Any, post: PostEvents
) -> None:
    """Reconcile now, then after `requeue_after` or the drift interval, until stopped."""
    wake = wake_event(memo)
    metrics.MANAGED.inc()
    if not live.status.get("phase"):
        # Seen, not yet reconciled: with many new resources, the pool may queue it a while.
        try:
            pending = {"phase": "Pending"}
            await _in_pool(rt.pool, rt.kube.patch_status, live.namespace, live.name, pending)
        except ApiException as exc:
            log.warning(
                "cannot set phase Pending", extra={"resource": live.resource, "cause": cause(exc)}
            )
    state = _Reconciling()
    try:
        delay = 0.0
        while not stopped:
            asked = functools.partial(_asked_again, live.meta, state.handled)
            await sleep(wake, stopped, delay, asked)
            if stopped:
                break
            if wake.is_set():
                state.attempt = 0  # a new spec: its waits start short again
            wake.clear()
            memo[WAKE_GENERATION_KEY] = None
            if live.meta.get("deletionTimestamp") or guard.of(memo).stop_requested():
                break
            state.handled = _reconcile_request(live.meta)
            generation = live.meta.get("generation")
            delay = await _reconcile_once(rt, memo, live, state, post)
            if wake.is_set() and _redundant_wake(memo, generation):
                wake.clear()
    finally:
        state.ended.set()
        _purge_tags(rt, live)
        metrics.MANAGED.dec()


def _purge_tags(rt: Runtime, live: Live) -> None:
    """The resource's queued replica tags go: nothing of this process reconciles it now."""
    tagger = getattr(rt.reconciler, "tagger", None)  # a stand-in reconciler may have none
    if tagger is not None:
        tagger.purge((live.resource, str(live.meta.get("uid") or "")))


def _tag_hooks(memo: Memo, resource_guard: guard.ResourceGuard, state: _Reconciling) -> Hooks:
    """The loop as the replica tag queue sees it: cancelled once deletion began or the loop
    ended; a queued call that failed wakes it (from the sender's thread)."""
    loop = asyncio.get_running_loop()
    ended = state.ended

    def cancelled() -> bool:
        return resource_guard.stop_requested() or ended.is_set()

    def wake() -> None:
        if not ended.is_set():
            loop.call_soon_threadsafe(wake_reconcile, memo)

    return Hooks(cancelled=cancelled, wake=wake)


async def _reconcile_once(
    rt: Runtime, memo: Memo, live: Live, state: _Reconciling, post: PostEvents
) -> float:
    """One reconcile, its ConfigMap, status and events; returns the delay until the next."""
    snapshot = live.snapshot()
    checks = monitor(memo, live.namespace, live.name)
    try:
        outcome = await _in_pool(
            rt.pool,
            _reconcile_and_publish,
            rt,
            guard.of(memo),
            snapshot,
            checks,
            state.handled,
            namespace=live.namespace,
            name=live.name,
            spec=dict(live.spec),
            generation=live.meta.get("generation"),
            previous=state.last_status if state.last_status is not None else dict(live.status),
            uid=str(live.meta.get("uid") or ""),
            hooks=_tag_hooks(memo, guard.of(memo), state),
            alarms_everywhere=state.unsure,
        )
        if outcome is None:  # deletion began: the delete handler writes from now on
            return 0.0  # the loop's next look sees it and ends
        if outcome.phase != (state.last_status or live.status).get("phase"):
            # e.g. the tables now exist: check their health now, not an interval later
            wake_event(memo, HEALTH_WAKE_KEY).set()
        state.last_status, state.unsure = outcome.status, False
        post(snapshot, outcome.events)
        return state.next_delay(outcome, rt.drift_interval)
    except Exception as exc:  # keep the loop alive; Kubernetes/API hiccups retry soon
        state.unsure = True
        log.exception("reconcile loop error", extra={"resource": live.resource, "cause": repr(exc)})
        return state.next_delay(None, rt.drift_interval)


def _reconcile_and_publish(
    rt: Runtime,
    resource_guard: guard.ResourceGuard,
    body: Mapping[str, Any],
    checks: health.Monitor,
    handled: str | None,
    **kwargs: Any,
) -> Outcome | None:
    """One reconcile and its ConfigMap and status, holding the resource's guard (blocking,
    in the pool); None when deletion began before or during it (nothing published)."""
    with resource_guard.reconciling() as allowed:
        if not allowed:
            return None
        # The region the services use now (an automatic failover is kept in status, not in the
        # spec): the ReplicationLatency alarms are measured from there.
        in_force = checks.active_region or checks.region_in_force(
            body.get("spec") or {}, _annotations(body), body.get("status") or {}
        )
        outcome = rt.reconciler.reconcile(
            **kwargs, stop=resource_guard.stop_requested, active_region=in_force
        )
        if CLAIMED_KEY in outcome.status:
            resource_guard.claimed = ownership.from_status(outcome.status[CLAIMED_KEY])
        if resource_guard.stop_requested():
            return None
        if handled is not None:
            outcome.status["lastReconcileRequest"] = handled
        publish(rt, body, outcome, checks)
        return outcome


def _reconcile_request(meta: Mapping[str, Any]) -> str | None:
    value = (meta.get("annotations") or {}).get(naming.ANNOTATION_RECONCILE_REQUESTED)
    return str(value) if value is not None else None


def _asked_again(meta: Mapping[str, Any], handled: str | None) -> bool:
    return _reconcile_request(meta) != handled


def publish(
    rt: Runtime, body: Mapping[str, Any], outcome: Outcome, monitor: health.Monitor
) -> None:
    """Write the ConfigMap (when it differs) and the status; blocking, runs in the pool.
    The ConfigMap only from a reconcile that could read AWS, so an outage never blanks it;
    its region is the monitor's active region (a failover is not undone by a reconcile)."""
    if outcome.desired is not None and outcome.foreign_tables:
        _withdraw_configmap(rt, body, outcome)
    elif outcome.desired is not None and outcome.replica_regions is not None:
        monitor.replica_regions = tuple(outcome.replica_regions)
        monitor.saw_tables(outcome.status.get("tables"))  # health needs not describe them again
        # The region in force: the monitor's; before its first check after a restart, an
        # automatic decision recorded in status; else the spec's.
        region = (
            monitor.active_region
            or monitor.region_in_force(
                body.get("spec") or {}, _annotations(body), body.get("status") or {}
            )
            or outcome.desired.active_region
        )
        data = configmap_data(outcome.desired, outcome.replica_regions, region)
        manifest = configmap_manifest(body, data)
        try:
            monitor.configmap_region = region
            if rt.kube.ensure_configmap(manifest):
                log.info(
                    "configmap written",
                    extra={
                        "resource": outcome.desired.owner,
                        "configmap": manifest["metadata"]["name"],
                    },
                )
            outcome.status["configMap"] = manifest["metadata"]["name"]
        except ApiException as exc:
            log.warning(
                "configmap write failed",
                extra={"resource": outcome.desired.owner, "cause": cause(exc)},
            )
    meta = body["metadata"]
    # status.conditions is one list both writers patch whole (a merge patch replaces lists):
    # the monitor's conditions are merged in and the patch sent under the monitor's lock,
    # which the monitor also holds from merging to patching, so neither sends an older copy
    # of the other's conditions after the other's newer write.
    with monitor.lock:
        if "conditions" in outcome.status:
            outcome.status["conditions"] = monitor.conditions_with_failover(
                outcome.status["conditions"], outcome.status.get("lastReconcileTime", "")
            )
        rt.kube.patch_status(meta["namespace"], meta["name"], outcome.status)


def _withdraw_configmap(rt: Runtime, body: Mapping[str, Any], outcome: Outcome) -> None:
    """The tables belong to another resource: the services must not be pointed at them, so
    this resource's ConfigMap is removed (if an earlier reconcile wrote it)."""
    meta = body["metadata"]
    name = naming.configmap_name(meta["name"])
    outcome.status["configMap"] = None  # a merge patch removes the field
    try:
        if rt.kube.delete_configmap(meta["namespace"], name):
            log.info(
                "configmap removed",
                extra={
                    "resource": outcome.desired.owner if outcome.desired else name,
                    "configmap": name,
                    "cause": "tables owned by another resource: "
                    + ", ".join(outcome.foreign_tables),
                },
            )
    except ApiException as exc:
        log.warning("configmap removal failed", extra={"configmap": name, "cause": cause(exc)})


# ---------------------------------------------------------------- the health loop


async def health_loop(rt: Runtime, memo: Memo, live: Live, stopped: Any, post: PostEvents) -> None:
    """Check each region's tables every healthCheckIntervalSeconds; fail over when due."""
    wake = wake_event(memo, HEALTH_WAKE_KEY)
    checks = monitor(memo, live.namespace, live.name)
    loop = asyncio.get_running_loop()
    woken = False  # this check comes before its interval is up: its failures do not count again
    while not stopped:
        wake.clear()
        if live.meta.get("deletionTimestamp"):
            break
        interval = _health_interval(rt, live.spec)
        started = loop.time()
        snapshot = live.snapshot()
        before = checks.active_region
        try:
            events = await _in_pool(
                rt.health_pool,
                checks.tick,
                raw_spec=dict(live.spec),
                annotations=_annotations({"metadata": live.meta}),
                live_status=dict(live.status),
                clients=rt.probe_clients,
                kube=rt.kube,
                allowed_regions=rt.allowed_regions,
                woken=woken,
                probes=rt.probes,
                table_check_interval=rt.drift_interval,
            )
            post(snapshot, events)
            if before is not None and checks.active_region != before:
                wake_reconcile(memo)  # the alarms follow the active region: reconcile now
        except Exception as exc:  # keep checking; a Kubernetes hiccup must not end the loop
            log.exception(
                "health check error", extra={"resource": live.resource, "cause": repr(exc)}
            )
        await sleep(wake, stopped, interval - (loop.time() - started))
        woken = wake.is_set()


def _annotations(body: Mapping[str, Any]) -> dict[str, str]:
    return dict((body.get("metadata") or {}).get("annotations") or {})


def _health_interval(rt: Runtime, spec: Mapping[str, Any]) -> float:
    try:
        parsed = parse_spec(spec, allowed_regions=rt.allowed_regions)
    except SpecInvalid:
        return DEFAULT_HEALTH_INTERVAL
    return float(parsed.failover.health_check_interval_seconds)


# ---------------------------------------------------------------- deletion


async def delete_step(rt: Runtime, memo: Memo, live: Live) -> Outcome:
    """One deletion step (blocking, in the pool); `done` says whether the finalizer may go.
    Not while a reconcile of the resource runs: that one is told to stop, and this step
    answers "not yet" (Kopf calls again) instead of waiting for it in a pool thread."""
    outcome = await _in_pool(rt.pool, _delete_guarded, rt, guard.of(memo), live)
    if outcome.done:
        metrics.forget_resource(live.resource)  # the resource goes: so do its series
    return outcome


def _delete_guarded(rt: Runtime, resource_guard: guard.ResourceGuard, live: Live) -> Outcome:
    with resource_guard.deleting_now() as mine:
        _purge_tags(rt, live)  # deletion began: queued replica tags are not sent
        if not mine:
            message = f"deleting {live.resource}: waiting for its running reconcile to stop"
            return Outcome({"phase": "Deleting", "message": message}, [], WAIT_DELAY, done=False)
        previous = dict(live.status)
        # the guard's (the last reconcile's, maybe unpublished) over the published status's
        claimed = {**ownership.from_status(previous.get(CLAIMED_KEY)), **resource_guard.claimed}
        previous[CLAIMED_KEY] = ownership.as_status(claimed)
        return rt.reconciler.delete(
            namespace=live.namespace,
            name=live.name,
            spec=dict(live.spec),
            previous=previous,
            uid=str(live.meta.get("uid") or ""),
        )
