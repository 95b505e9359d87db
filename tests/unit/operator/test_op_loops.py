"""forumdb_operator.loops without Kopf: the reconcile and health loops of one resource, driven
with a recording stand-in for the Kubernetes adapter and a scripted reconciler."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from op_factories import desired, spec

from forumdb_operator import loops
from forumdb_operator.reconcile import Event, Outcome
from forumdb_operator.runtime import Runtime

NS, NAME = "ns1", "forum"
GUARD = 30.0  # seconds: a loop that never stops fails the test instead of hanging it


class Stop:
    """Kopf's `stopped` flag: false until set."""

    def __init__(self) -> None:
        self.set = False

    def __bool__(self) -> bool:
        return self.set


class RecordingKube:
    def __init__(self) -> None:
        self.statuses: list[dict[str, Any]] = []
        self.configmaps: list[dict[str, Any]] = []
        self.deleted_configmaps: list[tuple[str, str]] = []

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> bool:
        assert (namespace, name) == (NS, NAME)
        self.statuses.append(dict(status))
        return True

    def ensure_configmap(self, manifest: dict[str, Any]) -> bool:
        self.configmaps.append(manifest)
        return True

    def delete_configmap(self, namespace: str, name: str) -> bool:
        self.deleted_configmaps.append((namespace, name))
        return True


def live(meta: dict[str, Any] | None = None, status: dict[str, Any] | None = None) -> loops.Live:
    meta = meta if meta is not None else {"name": NAME, "namespace": NS, "uid": "u1"}
    body = {"apiVersion": "forumdb.io/v1alpha1", "kind": "ForumDatabase", "metadata": meta}
    return loops.Live(NAME, NS, body, spec(), meta, status if status is not None else {})


def runtime(kube: RecordingKube, reconcile: Callable[..., Outcome]) -> Runtime:
    pool = ThreadPoolExecutor(max_workers=1)
    return Runtime(
        reconciler=SimpleNamespace(reconcile=reconcile),  # type: ignore[arg-type]
        kube=kube,  # type: ignore[arg-type]
        pool=pool,
        drift_interval=3600.0,
        health_pool=pool,
        probe_clients=lambda service, region: None,
    )


def ready_outcome(events: list[Event] | None = None) -> Outcome:
    d = desired()
    status = {"phase": "Ready", "conditions": [], "lastReconcileTime": "t1"}
    return Outcome(status, events or [], None, desired=d, replica_regions=["us-west-2"])


def run(coro: Any) -> None:
    asyncio.run(asyncio.wait_for(coro, GUARD))


def test_reconcile_loop_marks_pending_then_publishes_configmap_status_and_events():
    kube, stop, posted = RecordingKube(), Stop(), []
    calls: list[dict[str, Any]] = []

    def reconcile(**kwargs: Any) -> Outcome:
        calls.append(kwargs)
        return ready_outcome([Event("Normal", "Ready", "in shape")])

    def post(body: Any, events: list[Event]) -> None:
        posted.append((body, events))
        stop.set = True

    run(loops.reconcile_loop(runtime(kube, reconcile), {}, live(), stop, post))
    assert [c["previous"] for c in calls] == [{}]
    assert kube.statuses[0] == {"phase": "Pending"}
    assert kube.configmaps[0]["metadata"]["name"] == f"forumdb-{NAME}"
    assert kube.configmaps[0]["data"]["REPLICA_REGIONS"] == "us-west-2"
    assert kube.statuses[1]["phase"] == "Ready"
    assert kube.statuses[1]["configMap"] == f"forumdb-{NAME}"
    body, events = posted[0]
    assert body["metadata"]["name"] == NAME
    assert [e.reason for e in events] == ["Ready"]


def test_a_resource_refused_for_foreign_tables_gets_no_configmap():
    """Its tables belong to another resource: no ConfigMap points the services at them; one
    written earlier is removed and the status no longer names it."""
    kube, stop = RecordingKube(), Stop()

    def reconcile(**kwargs: Any) -> Outcome:
        stop.set = True
        out = ready_outcome()
        out.status["phase"] = "Failed"
        out.foreign_tables = ["forum-Posts", "forum-Threads", "forum-Users"]
        return out

    run(loops.reconcile_loop(runtime(kube, reconcile), {}, live(), stop, lambda *a: None))
    assert kube.configmaps == []
    assert kube.deleted_configmaps == [(NS, f"forumdb-{NAME}")]
    assert kube.statuses[-1]["configMap"] is None


def test_a_new_reconcile_request_wakes_the_loop_and_is_echoed_in_the_status():
    kube, stop = RecordingKube(), Stop()
    meta: dict[str, Any] = {"name": NAME, "namespace": NS, "uid": "u1", "annotations": {}}
    previous: list[Any] = []

    def reconcile(**kwargs: Any) -> Outcome:
        previous.append(kwargs["previous"])
        if len(previous) == 1:  # asked for another reconcile while the loop sleeps
            meta["annotations"]["forumdb.io/reconcile-requested"] = "42"
        else:
            stop.set = True
        return ready_outcome()

    run(
        loops.reconcile_loop(
            runtime(kube, reconcile), {}, live(meta, {"phase": "Ready"}), stop, lambda *a: None
        )
    )
    assert len(previous) == 2  # woken well before the hour-long drift interval
    assert previous[1]["lastReconcileTime"] == "t1"  # the loop's own last status, not the live view
    assert "lastReconcileRequest" not in kube.statuses[0]
    assert kube.statuses[-1]["lastReconcileRequest"] == "42"


def test_the_replica_tag_sender_wakes_the_loop_through_the_hooks_each_reconcile_gets():
    """A queued replica tag that failed (replica_tagger, its own thread) wakes the resource's
    loop through the hooks the loop passes to each reconcile: the next reconcile comes well
    before the drift interval. Once the loop has ended (deletion, or Kopf stopped it), the
    hooks say cancelled: what it queued is not sent."""
    kube, stop = RecordingKube(), Stop()
    hooks: list[Any] = []

    def reconcile(**kwargs: Any) -> Outcome:
        hooks.append(kwargs["hooks"])
        if len(hooks) == 1:
            assert not kwargs["hooks"].cancelled()
            sender = threading.Thread(target=kwargs["hooks"].wake)  # as the sender would
            sender.start()
            sender.join()
        else:
            stop.set = True
        return ready_outcome()

    run(loops.reconcile_loop(runtime(kube, reconcile), {}, live(), stop, lambda *a: None))
    assert len(hooks) == 2  # woken well before the hour-long drift interval
    assert hooks[0].cancelled()


def test_a_reconcile_that_raises_does_not_end_the_loop(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(loops, "ERROR_DELAY", 0.01)
    kube, stop = RecordingKube(), Stop()
    attempts: list[int] = []

    def reconcile(**kwargs: Any) -> Outcome:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("apiserver hiccup")
        stop.set = True
        return ready_outcome()

    run(
        loops.reconcile_loop(
            runtime(kube, reconcile), {}, live(status={"phase": "Ready"}), stop, lambda *a: None
        )
    )
    assert len(attempts) == 2
    assert kube.statuses[-1]["phase"] == "Ready"


def test_alarms_are_looked_for_everywhere_until_the_loop_has_written_a_status():
    """The status a reconcile starts from may lack its predecessor's last writes (the process
    started with the live status; or the last status patch failed): that reconcile looks for
    the resource's alarms in every region; one after a written status only where it says."""
    kube, stop = RecordingKube(), Stop()
    everywhere: list[bool] = []
    patch = kube.patch_status

    def patch_status(namespace: str, name: str, status: dict[str, Any]) -> bool:
        if len(everywhere) == 2:
            raise ApiException(status=500, reason="etcd timeout")
        return patch(namespace, name, status)

    def reconcile(**kwargs: Any) -> Outcome:
        everywhere.append(kwargs["alarms_everywhere"])
        stop.set = len(everywhere) == 4
        out = ready_outcome()
        out.requeue_after = 0.01
        return out

    kube.patch_status = patch_status  # type: ignore[method-assign]
    rt = runtime(kube, reconcile)
    memo: dict[str, Any] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loops, "ERROR_DELAY", 0.01)
        run(loops.reconcile_loop(rt, memo, live(status={"phase": "Ready"}), stop, lambda *a: None))
    assert everywhere == [True, False, True, False]


def test_health_loop_ticks_with_the_adapter_and_marks_a_woken_check():
    kube, stop, memo = RecordingKube(), Stop(), {}
    ticks: list[dict[str, Any]] = []
    running: dict[str, asyncio.AbstractEventLoop] = {}

    class Monitor:
        active_region = None  # not decided: the reconcile is not woken for a change of it

        def tick(self, **kwargs: Any) -> list[Event]:
            ticks.append(kwargs)
            if len(ticks) == 1:  # e.g. a spec change arrives during the first check
                running["loop"].call_soon_threadsafe(loops.wake, memo)
            else:
                stop.set = True
            return [Event("Warning", "FailedOver", "switched")]

    memo[loops.MONITOR_KEY] = Monitor()
    posted: list[list[Event]] = []
    rt = runtime(kube, lambda **kw: ready_outcome())

    async def main() -> None:
        running["loop"] = asyncio.get_running_loop()
        await loops.health_loop(rt, memo, live(), stop, lambda body, events: posted.append(events))

    run(main())
    assert [t["woken"] for t in ticks] == [False, True]
    assert all(t["kube"] is kube for t in ticks)
    assert [e.reason for events in posted for e in events] == ["FailedOver", "FailedOver"]


def test_spec_change_wakes_both_loops():
    memo: dict[str, Any] = {}
    loops.wake(memo)
    assert loops.wake_event(memo).is_set()
    assert loops.wake_event(memo, loops.HEALTH_WAKE_KEY).is_set()


async def _reconciles_after_a_wake_during_the_first(wake_with: Callable[..., None]) -> int:
    """Reconciles a loop makes within a second when `wake_with(memo, meta)` runs (in the event
    loop, as Kopf's handlers do) while its first reconcile is under way."""
    kube, stop = RecordingKube(), Stop()
    memo: dict[str, Any] = {}
    meta: dict[str, Any] = {"name": NAME, "namespace": NS, "uid": "u1", "generation": 1}
    started, proceed = threading.Event(), threading.Event()
    calls: list[Any] = []

    def reconcile(**kwargs: Any) -> Outcome:
        calls.append(kwargs["generation"])
        started.set()
        assert proceed.wait(GUARD)
        return ready_outcome()  # in shape: next look after the drift interval (an hour)

    loop = asyncio.get_running_loop()
    task = loop.create_task(
        loops.reconcile_loop(runtime(kube, reconcile), memo, live(meta), stop, lambda *a: None)
    )
    assert await loop.run_in_executor(None, started.wait, GUARD)
    wake_with(memo, meta)
    proceed.set()
    await asyncio.sleep(1.0)  # a wake that is not redundant has reconciled again by now
    stop.set = True
    await task
    return len(calls)


@pytest.mark.parametrize(
    ("why", "reconciles"),
    [
        ("the create handler, for the spec being reconciled", 1),
        ("a newer spec", 2),
        ("the active region moved", 2),
        ("the active region moved, then the create handler", 2),
        ("a newer spec, then the create handler", 2),
    ],
)
def test_a_wake_for_the_spec_being_reconciled_adds_no_reconcile(why: str, reconciles: int):
    """Kopf's create handler wakes a new resource's loop while its first reconcile already runs
    with that spec: no second reconcile follows at once (each reads everything again; 100 new
    resources made 100 of them). A newer generation, or a wake for another reason, still
    reconciles at once, also when a wake for the spec being reconciled follows it before the
    loop wakes (a region change waited the drift interval, 5 minutes, when it was dropped)."""

    def wake_with(memo: dict[str, Any], meta: dict[str, Any]) -> None:
        if why.startswith("a newer spec"):
            meta["generation"] = 2
            loops.wake(memo, 2)
        elif why.startswith("the active region moved"):
            loops.wake_reconcile(memo)
        if why.endswith("then the create handler") or why.startswith("the create handler"):
            loops.wake(memo, 1)

    assert asyncio.run(_reconciles_after_a_wake_during_the_first(wake_with)) == reconciles


def test_the_reconcile_gets_the_region_in_force_from_the_health_monitor():
    """An automatic failover is kept in status, never in the spec: the reconcile hears the
    active region from the monitor (the ReplicationLatency alarms are measured from there)."""
    kube, stop, memo = RecordingKube(), Stop(), {}
    seen: list[Any] = []

    def reconcile(**kwargs: Any) -> Outcome:
        seen.append(kwargs.get("active_region"))
        stop.set = True
        return ready_outcome()

    loops.monitor(memo, NS, NAME).active_region = "us-west-2"
    run(loops.reconcile_loop(runtime(kube, reconcile), memo, live(), stop, lambda *a: None))
    assert seen == ["us-west-2"]


@pytest.mark.parametrize("after", ["us-west-2", "us-east-1"], ids=["switched", "stayed"])
def test_a_switch_of_the_active_region_wakes_the_reconcile_loop(after: str):
    kube, stop, memo = RecordingKube(), Stop(), {}

    class Monitor:
        active_region = "us-east-1"

        def tick(self, **kwargs: Any) -> list[Event]:
            self.active_region = after
            stop.set = True
            return []

    memo[loops.MONITOR_KEY] = Monitor()
    rt = runtime(kube, lambda **kw: ready_outcome())
    run(loops.health_loop(rt, memo, live(), stop, lambda body, events: None))
    assert loops.wake_event(memo).is_set() is (after != "us-east-1")
