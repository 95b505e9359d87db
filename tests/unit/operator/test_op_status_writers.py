"""Two writers of status.conditions (issue 13): the reconcile loop and the health monitor
each patch the whole list (a JSON merge patch replaces lists). The reconcile's publish merges
the monitor's conditions and sends its patch under the monitor's lock, which the monitor holds
from merging to patching too: the health check cannot slip a newer write in between, to be
overwritten by the reconcile's older copy of its conditions."""

from __future__ import annotations

import threading
from typing import Any

from op_factories import desired

from forumdb_operator import loops
from forumdb_operator.reconcile import Outcome

NS, NAME = "ns1", "forum"


class ProbingKube:
    """At each status patch, asks from another thread whether the monitor's lock is free."""

    def __init__(self, lock: Any) -> None:
        self.lock = lock
        self.free_during_patch: list[bool] = []
        self.statuses: list[dict[str, Any]] = []

    def _probe(self) -> None:
        got = self.lock.acquire(blocking=False)
        if got:
            self.lock.release()
        self.free_during_patch.append(got)

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> bool:
        other = threading.Thread(target=self._probe)
        other.start()
        other.join()
        self.statuses.append(dict(status))
        return True

    def ensure_configmap(self, manifest: dict[str, Any]) -> bool:
        return True


def test_the_reconciles_status_patch_is_sent_under_the_monitors_lock():
    memo: dict[str, Any] = {}
    monitor = loops.monitor(memo, NS, NAME)
    kube = ProbingKube(monitor.lock)
    monitor.shows_health = True  # the monitor has a condition of its own to merge in
    outcome = Outcome(
        {"phase": "Ready", "conditions": [], "lastReconcileTime": "t1"},
        desired=desired(),
        replica_regions=["us-west-2"],
    )
    body = {"metadata": {"name": NAME, "namespace": NS, "uid": "u1"}}
    rt: Any = type("Rt", (), {"kube": kube})()
    loops.publish(rt, body, outcome, monitor)
    assert kube.free_during_patch == [False]
    types = [c["type"] for c in kube.statuses[0]["conditions"]]
    assert "RegionsHealthy" in types, types
