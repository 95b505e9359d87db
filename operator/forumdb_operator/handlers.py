"""Kopf handlers: thin glue between Kubernetes and forumdb_operator.reconcile.

Each ForumDatabase gets one reconcile loop (a Kopf daemon): it reconciles at once, then again
after a short delay while something is changing (a table CREATING, a replica being added, a
transient AWS error), and otherwise every drift interval (the timer that finds and repairs
drift). One loop per resource means reconciles of one resource never overlap. A spec change
wakes the loop at once, and so does a new value of the annotation
`forumdb.io/reconcile-requested` (any string, e.g. a timestamp:
`kubectl annotate forumdb NAME forumdb.io/reconcile-requested="$(date +%s)" --overwrite`);
the status written by that reconcile carries the value in `status.lastReconcileRequest`, so a
client can wait for a fresh status (e.g. lastBackup after a backup ran, itemCount after a
load). The blocking boto3 and Kubernetes calls run in a bounded thread pool.

A second daemon per resource checks the health of each region's tables on
spec.failover.healthCheckIntervalSeconds and switches the services' region when it must
(forumdb_operator.health); it shares the resource's memo (its Monitor) with the reconcile loop, so
both agree on the active region and on the conditions each owns.

Deletion is a finalizer (`on.delete`): Retain leaves everything in AWS and says so in an event;
Delete removes alarms, backup plan and selection, replicas, then tables, retrying until done.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import kopf
from kubernetes.client import CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from forumdb import naming
from forumdb_operator import awsclients, health, metrics
from forumdb_operator.configmap import configmap_data, configmap_manifest, ensure_configmap
from forumdb_operator.reconcile import Event, Outcome, Reconciler
from forumdb_operator.spec import SpecInvalid, parse_spec

log = logging.getLogger("forumdb_operator.handlers")
T = TypeVar("T")

WAKE_KEY = "forumdb_wake"
HEALTH_WAKE_KEY = "forumdb_health_wake"
MONITOR_KEY = "forumdb_monitor"
DEFAULT_HEALTH_INTERVAL = 10.0
STOP_POLL = 1.0  # seconds: how often an idle loop checks whether it should stop


@dataclass
class Runtime:
    """What the handlers need, built by main() before Kopf starts."""

    reconciler: Reconciler
    core: CoreV1Api
    custom: CustomObjectsApi
    pool: ThreadPoolExecutor
    drift_interval: float
    # Health checks: their own threads and clients (one try, short timeouts), so a slow
    # reconcile never delays a check and a check never waits through botocore's retries.
    health_pool: ThreadPoolExecutor | None = None
    probe_clients: Callable[[str, str], Any] | None = None
    allowed_regions: frozenset[str] | None = None


_runtime: Runtime | None = None


def configure(runtime: Runtime) -> None:
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("forumdb_operator.handlers.configure() was not called")
    return _runtime


async def _in_pool(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(runtime().pool, functools.partial(fn, *args, **kwargs))


def _wake_event(memo: Any, key: str = WAKE_KEY) -> asyncio.Event:
    event = memo.get(key) if hasattr(memo, "get") else None
    if event is None:
        event = asyncio.Event()
        memo[key] = event
    return event


def _monitor(memo: Any, namespace: str, name: str) -> health.Monitor:
    monitor = memo.get(MONITOR_KEY) if hasattr(memo, "get") else None
    if monitor is None:
        monitor = health.Monitor(namespace, name)
        memo[MONITOR_KEY] = monitor
    return monitor


def _post(body: Mapping[str, Any], events: list[Event]) -> None:
    for e in events:
        kopf.event(dict(body), type=e.type, reason=e.reason, message=e.message)


def _patch_status(namespace: str, name: str, status: Mapping[str, Any]) -> None:
    rt = runtime()
    try:
        rt.custom.patch_namespaced_custom_object_status(
            naming.GROUP,
            naming.VERSION,
            namespace,
            naming.PLURAL,
            name,
            {"status": dict(status)},
            _content_type="application/merge-patch+json",
        )
    except ApiException as exc:
        if exc.status == 404:
            return  # deleted meanwhile
        raise


def _publish(body: Mapping[str, Any], outcome: Outcome, monitor: health.Monitor) -> None:
    """Write the ConfigMap (when it differs) and the status; blocking, runs in the pool.
    The ConfigMap only from a reconcile that could read AWS, so an outage never blanks it;
    its region is the monitor's active region (a failover is not undone by a reconcile)."""
    if "conditions" in outcome.status:
        outcome.status["conditions"] = monitor.conditions_with_failover(
            outcome.status["conditions"], outcome.status.get("lastReconcileTime", "")
        )
    if outcome.desired is not None and outcome.replica_regions is not None:
        monitor.replica_regions = tuple(outcome.replica_regions)
        region = monitor.active_region or outcome.desired.active_region
        data = configmap_data(outcome.desired, outcome.replica_regions, region)
        manifest = configmap_manifest(body, data)
        try:
            monitor.configmap_region = region
            if ensure_configmap(runtime().core, manifest):
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
                extra={"resource": outcome.desired.owner, "cause": f"{exc.status} {exc.reason}"},
            )
    meta = body["metadata"]
    _patch_status(meta["namespace"], meta["name"], outcome.status)


@kopf.on.create(naming.GROUP, naming.VERSION, naming.PLURAL)
@kopf.on.update(naming.GROUP, naming.VERSION, naming.PLURAL, field="spec")
async def spec_changed(memo: Any, name: str, namespace: str, **_: Any) -> None:
    """The reconcile loop does the work; a new spec only wakes it up (and the health checks,
    so that a manual failover takes effect at once)."""
    _wake_event(memo).set()
    _wake_event(memo, HEALTH_WAKE_KEY).set()
    log.info("spec changed", extra={"resource": f"{namespace}/{name}"})


@kopf.daemon(naming.GROUP, naming.VERSION, naming.PLURAL, cancellation_timeout=60.0)
async def reconcile_loop(
    stopped: Any,
    name: str,
    namespace: str,
    body: Mapping[str, Any],
    spec: Mapping[str, Any],
    meta: Mapping[str, Any],
    status: Mapping[str, Any],
    memo: Any,
    **_: Any,
) -> None:
    """Reconcile now, then after `requeue_after` or the drift interval, until stopped."""
    rt = runtime()
    wake = _wake_event(memo)
    metrics.MANAGED.inc()
    # The status this loop last wrote: the live `status` view lags behind our own patches.
    last_status: dict[str, Any] | None = None
    if not status.get("phase"):
        # Seen, not yet reconciled: with many new resources, the pool may queue it a while.
        try:
            await _in_pool(_patch_status, namespace, name, {"phase": "Pending"})
        except ApiException as exc:
            log.warning(
                "cannot set phase Pending",
                extra={"resource": f"{namespace}/{name}", "cause": f"{exc.status} {exc.reason}"},
            )
    # The reconcile-requested annotation value last acted on (Kopf's diff ignores forumdb.io/
    # annotations, which share the prefix of its own storage: the loop polls the live meta).
    handled: str | None = None
    try:
        delay = 0.0
        while not stopped:
            asked = functools.partial(_asked_again, meta, handled)
            await _sleep(wake, stopped, delay, asked)
            if stopped:
                break
            wake.clear()
            if meta.get("deletionTimestamp"):
                break
            handled = _reconcile_request(meta)
            # body/spec/meta/status are live views: copy a consistent snapshot.
            snapshot = {
                "apiVersion": body.get("apiVersion"),
                "kind": body.get("kind"),
                "metadata": {**meta},
            }
            try:
                outcome = await _in_pool(
                    rt.reconciler.reconcile,
                    namespace=namespace,
                    name=name,
                    spec=dict(spec),
                    generation=meta.get("generation"),
                    previous=last_status if last_status is not None else dict(status),
                )
                if handled is not None:
                    outcome.status["lastReconcileRequest"] = handled
                await _in_pool(_publish, snapshot, outcome, _monitor(memo, namespace, name))
                if outcome.phase != (last_status or status).get("phase"):
                    # e.g. the tables now exist: check their health now, not an interval later
                    _wake_event(memo, HEALTH_WAKE_KEY).set()
                last_status = outcome.status
                _post(snapshot, outcome.events)
                delay = outcome.requeue_after or rt.drift_interval
            except Exception as exc:  # keep the loop alive; Kubernetes/API hiccups retry soon
                log.exception(
                    "reconcile loop error",
                    extra={"resource": f"{namespace}/{name}", "cause": repr(exc)},
                )
                delay = 10.0
    finally:
        metrics.MANAGED.dec()


def _reconcile_request(meta: Mapping[str, Any]) -> str | None:
    value = (meta.get("annotations") or {}).get(naming.ANNOTATION_RECONCILE_REQUESTED)
    return str(value) if value is not None else None


def _asked_again(meta: Mapping[str, Any], handled: str | None) -> bool:
    return _reconcile_request(meta) != handled


async def _sleep(
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


def _health_interval(spec: Mapping[str, Any]) -> float:
    try:
        parsed = parse_spec(spec, allowed_regions=runtime().allowed_regions)
    except SpecInvalid:
        return DEFAULT_HEALTH_INTERVAL
    return float(parsed.failover.health_check_interval_seconds)


def _probe_clients(rt: Runtime) -> Callable[[str, str], Any]:
    if rt.probe_clients is None:
        rt.probe_clients = awsclients.Clients(config=health.probe_config(5.0))
    return rt.probe_clients


@kopf.daemon(naming.GROUP, naming.VERSION, naming.PLURAL, id="health", cancellation_timeout=30.0)
async def health_loop(
    stopped: Any,
    name: str,
    namespace: str,
    body: Mapping[str, Any],
    spec: Mapping[str, Any],
    meta: Mapping[str, Any],
    status: Mapping[str, Any],
    memo: Any,
    **_: Any,
) -> None:
    """Check each region's tables every healthCheckIntervalSeconds; fail over when due."""
    rt = runtime()
    wake = _wake_event(memo, HEALTH_WAKE_KEY)
    monitor = _monitor(memo, namespace, name)
    loop = asyncio.get_running_loop()
    woken = False  # this check comes before its interval is up: its failures do not count again
    while not stopped:
        wake.clear()
        if meta.get("deletionTimestamp"):
            break
        interval = _health_interval(spec)
        started = loop.time()
        snapshot = {"apiVersion": body.get("apiVersion"), "kind": body.get("kind"),
                    "metadata": {**meta}}  # fmt: skip
        try:
            events = await loop.run_in_executor(
                rt.health_pool or rt.pool,
                functools.partial(
                    monitor.tick,
                    raw_spec=dict(spec),
                    live_status=dict(status),
                    clients=_probe_clients(rt),
                    core=rt.core,
                    custom=rt.custom,
                    allowed_regions=rt.allowed_regions,
                    woken=woken,
                ),
            )
            _post(snapshot, events)
        except Exception as exc:  # keep checking; a Kubernetes hiccup must not end the loop
            log.exception(
                "health check error",
                extra={"resource": f"{namespace}/{name}", "cause": repr(exc)},
            )
        await _sleep(wake, stopped, interval - (loop.time() - started))
        woken = wake.is_set()


@kopf.on.delete(naming.GROUP, naming.VERSION, naming.PLURAL)
async def on_delete(
    name: str,
    namespace: str,
    body: Mapping[str, Any],
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    patch: Any,
    **_: Any,
) -> None:
    rt = runtime()
    outcome = await _in_pool(
        rt.reconciler.delete, namespace=namespace, name=name, spec=dict(spec), previous=dict(status)
    )
    _post(body, outcome.events)
    for key, value in outcome.status.items():
        patch.status[key] = value
    if not outcome.done:
        raise kopf.TemporaryError(
            outcome.status.get("message", "deleting"), delay=outcome.requeue_after or 5.0
        )
