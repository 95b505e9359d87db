"""Every status field the operator writes is in the CRD's structural schema: the API server
prunes unknown fields once status is no longer x-kubernetes-preserve-unknown-fields, so a field
missing here would vanish silently (and `kubectl explain forumdb.status` shows the fields)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml
from op_clock import pause, reconcile_rounds
from op_factories import ROOT, spec

from forumdb_operator import health
from forumdb_operator.awsclients import Clients
from forumdb_operator.kube import Kube
from forumdb_operator.reconcile import Reconciler

NS, NAME = "ns1", "forum"


def status_schema() -> dict[str, Any]:
    crd = yaml.safe_load((ROOT / "crds" / "forumdatabase.yaml").read_text())
    version = crd["spec"]["versions"][0]
    return version["schema"]["openAPIV3Schema"]["properties"]["status"]


def pruned(value: Any, schema: dict[str, Any], path: str = "status") -> Iterator[str]:
    """The paths the API server would prune from `value` under `schema`."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, item in value.items():
            if key not in props:
                yield f"{path}.{key}"
            else:
                yield from pruned(item, props[key], f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from pruned(item, schema.get("items") or {}, f"{path}[{i}]")


def test_the_status_is_described_not_preserved_at_its_top():
    schema = status_schema()
    assert not schema.get("x-kubernetes-preserve-unknown-fields")
    assert {"phase", "conditions", "tables", "provisioned", "lastReconcileRequest"} <= set(
        schema["properties"]
    )


class _Custom:
    def __init__(self) -> None:
        self.status: dict[str, Any] = {}

    def patch_namespaced_custom_object(self, *args: Any, **_: Any) -> None:
        pass

    def patch_namespaced_custom_object_status(self, *args: Any, **_: Any) -> None:
        self.status.update(args[-1]["status"])


class _Core:
    def read_namespaced_config_map(self, name: str, namespace: str) -> Any:
        raise AssertionError("not reached: the region does not change")


def test_nothing_the_operator_writes_would_be_pruned(ext):
    r = Reconciler(Clients())
    previous: dict[str, Any] = {}
    for _ in reconcile_rounds():
        out = r.reconcile(namespace=NS, name=NAME, spec=spec(), generation=1, previous=previous)
        previous = out.status
        if out.phase == "Ready" and out.requeue_after is None:
            break
        pause(out.requeue_after)
    ext.run_backup_plan_now(previous["backups"]["planId"], region="us-east-1")
    ready = r.reconcile(namespace=NS, name=NAME, spec=spec(), generation=1, previous=previous)
    ready.status["lastReconcileRequest"] = "1"  # what handlers.py adds
    ready.status["configMap"] = "forumdb-forum"
    assert "lastRecoveryPoint" in ready.status["backups"]
    refused = r.reconcile(
        namespace=NS, name=NAME, spec=spec(tablePrefix="x-"), generation=2, previous=ready.status
    )
    deleting = r.delete(namespace=NS, name=NAME, spec=spec(), previous=refused.status)

    monitor = health.Monitor(NS, NAME)
    monitor.active_region = "us-east-1"
    monitor.configmap_region = "us-east-1"
    monitor.last_failover = {
        "from": "us-east-1",
        "to": "us-west-2",
        "time": "2026-01-01T00:00:00Z",
        "mode": "Automatic",
        "reason": "why",
    }
    custom = _Custom()
    ext.region_outage("us-west-2")
    monitor.tick(
        raw_spec=spec(),
        live_status=ready.status,
        clients=Clients(config=health.probe_config(1.0)),
        kube=Kube(_Core(), custom),  # type: ignore[arg-type]
    )
    assert any("lastError" in h for h in custom.status["regionHealth"])
    schema = status_schema()
    for written in (ready.status, refused.status, deleting.status, custom.status):
        assert list(pruned(written, schema)) == []
