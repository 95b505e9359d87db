"""Status writes lose no update and keep nothing stale (issue 13): the operator writes status
with a JSON merge patch, which keeps every field the patch leaves out, so an unset feature's
field is sent as null, and a reconcile writes back none of the health monitor's fields. Against
the strict emulator in-process."""

from __future__ import annotations

from typing import Any

from op_clock import pause, reconcile_rounds
from op_factories import spec

from forumdb_operator.awsclients import Clients
from forumdb_operator.reconcile import Outcome, Reconciler

NS, NAME = "ns1", "forum"


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 at the top level, as the API server applies the operator's status patch."""
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def settle(r: Reconciler, raw: dict[str, Any], stored: dict[str, Any]) -> tuple[Outcome, dict]:
    """Reconcile until settled, each status merged into `stored` (the API's copy)."""
    for _ in reconcile_rounds():
        out = r.reconcile(namespace=NS, name=NAME, spec=raw, generation=1, previous=stored)
        stored = merge_patch(stored, out.status)
        if out.requeue_after is None:
            return out, stored
        pause(out.requeue_after)
    raise AssertionError(f"not settled: {stored}")


def test_backups_and_alarms_fields_go_when_the_spec_drops_them(ext):
    r = Reconciler(Clients())
    with_both = spec(replicaRegions=[])
    with_both["backups"].pop("copyRegion")
    _, stored = settle(r, with_both, {})
    assert stored["phase"] == "Ready", stored.get("message")
    assert stored["backups"]["planId"]
    assert stored["alarms"]["items"]
    assert "lastBackup" in stored

    out, stored = settle(r, spec(replicaRegions=[], backups=None, alarms=None), stored)
    assert "backups" not in stored
    assert "lastBackup" not in stored
    assert "alarms" not in stored
    assert out.status["backups"] is None  # sent as null: the merge patch removes it


HEALTH_STATUS = {
    "activeRegion": "us-east-1",
    "health": "Healthy",
    "regionHealth": [{"region": "us-east-1", "role": "primary", "healthy": True}],
    "lastFailover": {"from": "us-west-2", "to": "us-east-1"},
}


def test_a_refused_change_writes_back_none_of_the_health_monitors_fields(ext):
    """The reconcile's patch carries the earlier status forward, but not the fields the health
    monitor writes: its copy of them may be older than the monitor's last write."""
    previous = {
        "phase": "Ready",
        "provisioned": {"tablePrefix": "forum-", "primaryRegion": "us-east-1"},
        **HEALTH_STATUS,
    }
    out = Reconciler(Clients()).reconcile(
        namespace=NS,
        name=NAME,
        spec=spec(primaryRegion="eu-west-1"),
        generation=2,
        previous=previous,
    )
    assert out.status["message"].startswith("change refused")
    assert out.status["provisioned"] == previous["provisioned"]
    assert not set(HEALTH_STATUS) & set(out.status)


def test_a_failed_reconcile_writes_back_none_of_the_health_monitors_fields(ext):
    ext.fail_next(50, kind="error", service="dynamodb", operation="DescribeTable")
    out = Reconciler(Clients()).reconcile(
        namespace=NS,
        name=NAME,
        spec=spec(replicaRegions=[]),
        generation=1,
        previous={"phase": "Ready", **HEALTH_STATUS},
    )
    assert out.status["phase"] in ("Degraded", "Provisioning", "Failed"), out.status
    assert out.status["message"]
    assert not set(HEALTH_STATUS) & set(out.status)
