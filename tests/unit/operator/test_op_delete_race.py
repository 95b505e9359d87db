"""Deletion racing a reconcile (issue 13): the delete handler and the reconcile loop of one
resource never write to AWS at the same time, and once deletion begins the loop stands down.

The real reconciler against the strict emulator in-process; the reconcile is held inside its
first AWS write (CreateTable) while the delete handler is called, as Kopf would call it while a
daemon's pool thread still runs (a daemon's cancellation cannot stop the thread)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from op_factories import spec

from forumdb import tables
from forumdb_operator import loops
from forumdb_operator.awsclients import Clients
from forumdb_operator.reconcile import Outcome, Reconciler
from forumdb_operator.runtime import Runtime

NS, NAME, UID = "ns1", "forum", "uid-race"
GUARD = 50.0  # seconds: a hang fails the test instead of stalling it
HOLD = 20.0  # seconds the held write waits at most for the test to release it
WRITES = ("create_", "update_", "delete_", "put_", "tag_", "untag_", "subscribe", "unsubscribe")
_role = threading.local()


class HeldClients:
    """Clients() whose first CreateTable waits until released; records each write with the
    role (reconcile or delete) of the thread that made it."""

    def __init__(self) -> None:
        self.inner = Clients()
        self.held = threading.Event()
        self.release = threading.Event()
        self.writes: list[tuple[str, str]] = []

    def __call__(self, service: str, region: str) -> Any:
        return _Recording(self.inner(service, region), self)


class _Recording:
    def __init__(self, client: Any, owner: HeldClients) -> None:
        self._client, self._owner = client, owner

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not name.startswith(WRITES):
            return attr
        owner = self._owner

        def call(**params: Any) -> Any:
            owner.writes.append((getattr(_role, "name", "?"), name))
            if name == "create_table" and not owner.held.is_set():
                owner.held.set()
                assert owner.release.wait(HOLD), "the test never released the reconcile"
            return attr(**params)

        return call


class RoleReconciler(Reconciler):
    def reconcile(self, **kwargs: Any) -> Outcome:
        _role.name = "reconcile"
        return super().reconcile(**kwargs)

    def delete(self, **kwargs: Any) -> Outcome:
        _role.name = "delete"
        return super().delete(**kwargs)


class MergingKube:
    """Status patches merged into the dict the loop's Live view holds (as Kopf's view would
    show them); ConfigMap writes accepted."""

    def __init__(self, status: dict[str, Any]) -> None:
        self.status = status
        self.patches: list[dict[str, Any]] = []

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> bool:
        self.patches.append(dict(status))
        self.status.update(status)
        return True

    def ensure_configmap(self, manifest: dict[str, Any]) -> bool:
        return True

    def delete_configmap(self, namespace: str, name: str) -> bool:
        return True


class Stop:
    def __init__(self) -> None:
        self.set = False

    def __bool__(self) -> bool:
        return self.set


def test_deletion_waits_for_a_running_reconcile_which_stops_and_leaves_nothing_behind(ext):
    raw = spec(replicaRegions=[], backups=None, deletionPolicy="Delete")
    held = HeldClients()
    status: dict[str, Any] = {}
    meta: dict[str, Any] = {"name": NAME, "namespace": NS, "uid": UID, "generation": 1}
    body = {"apiVersion": "forumdb.io/v1alpha1", "kind": "ForumDatabase", "metadata": meta}
    live = loops.Live(NAME, NS, body, raw, meta, status)
    kube = MergingKube(status)
    pool = ThreadPoolExecutor(max_workers=3)
    rt = Runtime(
        reconciler=RoleReconciler(held),
        kube=kube,  # type: ignore[arg-type]
        pool=pool,
        drift_interval=3600.0,
        health_pool=pool,
        probe_clients=lambda service, region: None,
    )
    memo: dict[str, Any] = {}
    stop = Stop()
    steps: list[Outcome] = []

    async def main() -> None:
        loop_task = asyncio.create_task(loops.reconcile_loop(rt, memo, live, stop, lambda *a: None))
        assert await asyncio.to_thread(held.held.wait, HOLD)  # the reconcile is writing
        meta["deletionTimestamp"] = "2026-12-04T00:00:00Z"
        steps.append(await loops.delete_step(rt, memo, live))
        patches_before_release = len(kube.patches)
        held.release.set()
        while not steps[-1].done and len(steps) < 200:
            await asyncio.sleep(min(steps[-1].requeue_after or 0.1, 0.25))
            steps.append(await loops.delete_step(rt, memo, live))
        await asyncio.wait_for(loop_task, 10.0)  # the loop ended on its own: it stood down
        stop.set = True
        # The stopped reconcile wrote no status over the delete handler's.
        assert len(kube.patches) == patches_before_release

    try:
        asyncio.run(asyncio.wait_for(main(), GUARD))
    finally:
        held.release.set()
        pool.shutdown(wait=True)

    first = steps[0]
    assert not first.done, "deleted while a reconcile was still writing"
    assert "waiting for its running reconcile to stop" in first.status["message"]
    assert steps[-1].done, [s.status.get("message") for s in steps]
    roles = [role for role, _ in held.writes]
    assert "delete" in roles
    # every reconcile write came before the first delete write: never both at once
    assert "reconcile" not in roles[roles.index("delete") :], held.writes
    # the reconcile stopped after the held write: it made one table, not the others
    assert [op for role, op in held.writes if role == "reconcile"] == ["create_table"]
    # what the reconcile made before it stopped is deleted too; nothing is left
    names = boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]
    left = [n for n in names if n in {tables.table_name(k) for k in tables.KINDS}]
    for n in left:
        desc = boto3.client("dynamodb", region_name="us-east-1").describe_table(TableName=n)
        assert desc["Table"]["TableStatus"] == "DELETING", (n, desc["Table"]["TableStatus"])
