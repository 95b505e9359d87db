"""spec.tablePrefix and spec.primaryRegion cannot change once the resource has tables: the
reconciler refuses (no AWS write, the ConfigMap untouched, a condition and a Warning event), the
webhook refuses, and reverting the spec clears it. Also what deletion says and does about them."""

from __future__ import annotations

from typing import Any

import boto3
import kopf
import pytest
from op_clock import pause, reconcile_rounds
from op_factories import spec

from forumdb_operator import immutable
from forumdb_operator.awsclients import Clients
from forumdb_operator.reconcile import Outcome, Reconciler
from forumdb_operator.webhook import check_spec

NS, NAME = "ns1", "forum"


@pytest.fixture
def reconciler(ext: Any) -> Reconciler:
    return Reconciler(Clients())


def converge(r: Reconciler, raw: dict, previous: dict | None = None, gen: int = 1) -> Outcome:
    previous = previous or {}
    for _ in reconcile_rounds():
        out = r.reconcile(namespace=NS, name=NAME, spec=raw, generation=gen, previous=previous)
        previous = out.status
        if out.phase in ("Ready", "Failed") and out.requeue_after is None:
            return out
        pause(out.requeue_after)
    raise AssertionError(f"not converged: {previous}")


def table_names(region: str = "us-east-1") -> list[str]:
    return sorted(boto3.client("dynamodb", region_name=region).list_tables()["TableNames"])


def cond(status: dict, kind: str) -> dict:
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_ready_resource_records_what_it_provisioned(reconciler):
    out = converge(reconciler, spec())
    assert out.status["provisioned"] == {"tablePrefix": "forum-", "primaryRegion": "us-east-1"}


@pytest.mark.parametrize(
    ("change", "field", "old", "new"),
    [
        ({"tablePrefix": "forum2-"}, "spec.tablePrefix", "forum-", "forum2-"),
        ({"primaryRegion": "eu-west-1"}, "spec.primaryRegion", "us-east-1", "eu-west-1"),
    ],
)
def test_changing_an_immutable_field_is_refused_and_revert_clears_it(
    reconciler, change, field, old, new
):
    ready = converge(reconciler, spec())
    before = table_names()
    out = reconciler.reconcile(
        namespace=NS, name=NAME, spec=spec(**change), generation=2, previous=ready.status
    )
    assert out.calls.writes == []
    assert out.desired is None  # the handler writes no ConfigMap: the services keep their tables
    assert table_names() == before
    assert out.phase == "Ready"
    assert out.status["provisioned"] == ready.status["provisioned"]
    refused = cond(out.status, "SpecAccepted")
    assert refused["status"] == "False"
    assert refused["reason"] == "ImmutableFieldChanged"
    for text in (field, repr(old), repr(new), "set it back"):
        assert text in refused["message"]
        assert text in out.status["message"]
    assert [(e.type, e.reason) for e in out.events] == [("Warning", "ImmutableFieldChanged")]
    assert field in out.events[0].message
    # the drift timer comes again: same answer, no second event
    again = reconciler.reconcile(
        namespace=NS, name=NAME, spec=spec(**change), generation=2, previous=out.status
    )
    assert again.events == []
    assert again.calls.writes == []
    reverted = converge(reconciler, spec(), previous=again.status, gen=3)
    assert reverted.phase == "Ready"
    assert cond(reverted.status, "SpecAccepted")["status"] == "True"
    assert reverted.calls.writes == []


def test_table_owned_by_another_is_not_recorded_so_the_prefix_can_be_fixed(reconciler):
    r_other = Reconciler(Clients())
    other = r_other.reconcile(
        namespace=NS, name="other", spec=spec(replicaRegions=[]), generation=1, previous={}
    )
    for _ in reconcile_rounds():
        if other.phase == "Ready":
            break
        pause(other.requeue_after)
        other = r_other.reconcile(
            namespace=NS, name="other", spec=spec(replicaRegions=[]), generation=1,
            previous=other.status,
        )  # fmt: skip
    failed = converge(reconciler, spec(replicaRegions=[]))
    assert failed.phase == "Failed"
    assert "provisioned" not in failed.status
    assert immutable.changes(spec(tablePrefix="mine-"), failed.status) == []
    # and deleting it does not claim the other resource's tables, nor a vault or plan
    out = reconciler.delete(
        namespace=NS, name=NAME, spec=spec(replicaRegions=[]), previous=failed.status
    )
    msg = out.events[0].message
    assert out.events[0].reason == "Retained"
    assert "forum-Users" not in msg
    assert "vault" not in msg
    assert "plan" not in msg
    assert "nothing in AWS was changed" in msg


def test_legacy_status_without_the_record_counts_once_ready():
    legacy = {
        "readyGeneration": 1,
        "primaryRegion": "us-east-1",
        "tables": [{"kind": "users", "name": "forum-Users", "regions": []}],
    }
    found = immutable.changes(spec(tablePrefix="forum2-"), legacy)
    assert [(c.field, c.old, c.new) for c in found] == [("spec.tablePrefix", "forum-", "forum2-")]
    assert immutable.changes(spec(), legacy) == []
    assert immutable.changes(spec(tablePrefix="x-"), {**legacy, "readyGeneration": None}) == []


def test_refused_prefix_change_then_delete_works_on_the_provisioned_tables(reconciler):
    raw = spec(deletionPolicy="Delete", replicaRegions=[], backups=None, alarms=None)
    ready = converge(reconciler, raw)
    changed = {**raw, "tablePrefix": "forum2-"}
    out = reconciler.reconcile(
        namespace=NS, name=NAME, spec=changed, generation=2, previous=ready.status
    )
    for _ in reconcile_rounds():
        gone = reconciler.delete(namespace=NS, name=NAME, spec=changed, previous=out.status)
        if gone.done:
            break
        pause(gone.requeue_after)
    assert gone.done
    assert table_names() == []


def body(raw_spec: dict, status: dict | None = None) -> dict:
    return {"metadata": {"name": NAME}, "spec": raw_spec, "status": status or {}}


PROVISIONED = {"provisioned": {"tablePrefix": "forum-", "primaryRegion": "us-east-1"}}


def test_webhook_refuses_the_change_naming_field_and_values():
    with pytest.raises(kopf.AdmissionError) as info:
        check_spec(body(spec(tablePrefix="forum2-")), body(spec(), PROVISIONED), None)
    assert "spec.tablePrefix" in str(info.value)
    assert "'forum2-'" in str(info.value)
    assert info.value.code == 422
    with pytest.raises(kopf.AdmissionError, match=r"spec\.primaryRegion"):
        check_spec(body(spec(primaryRegion="eu-west-1")), body(spec(), PROVISIONED), None)


def test_webhook_allows_other_changes_revert_and_unprovisioned_resources():
    check_spec(body(spec(deletionPolicy="Delete")), body(spec(), PROVISIONED), None)
    check_spec(body(spec(tablePrefix="other-")), body(spec(), {}), None)  # no tables yet
    pending = body(spec(tablePrefix="forum2-"), PROVISIONED)  # refused while webhook was down
    check_spec(body(spec()), pending, None)  # revert
    check_spec(body(spec(tablePrefix="forum2-", activeRegion="us-west-2")), pending, None)


def test_deletion_blocked_by_protection_makes_ready_false(reconciler):
    raw = spec(deletionPolicy="Delete", deletionProtection=True, replicaRegions=[])
    ready = converge(reconciler, raw)
    assert cond(ready.status, "Ready")["status"] == "True"
    out = reconciler.delete(namespace=NS, name=NAME, spec=raw, previous=ready.status)
    assert not out.done
    assert cond(out.status, "DeletionBlocked")["status"] == "True"
    blocked = cond(out.status, "Ready")
    assert blocked["status"] == "False"
    assert "deletionProtection" in blocked["message"]
    assert len(table_names()) == 3


def test_retain_names_what_the_resource_made(reconciler):
    ready = converge(reconciler, spec())
    msg = reconciler.delete(namespace=NS, name=NAME, spec=spec(), previous=ready.status)
    text = msg.events[0].message
    assert "tables forum-Users, forum-Threads, forum-Posts in us-east-1, us-west-2" in text
    assert "backup vault" in text
    assert "backup plan" in text
    assert "alarms" in text
