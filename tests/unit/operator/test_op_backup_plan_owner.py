"""The backup plan is this resource's by its tags, not by its name (issue 13). A plan that
carries the resource's plan name but not its ownership record (the forumdb.io/owner,
owner-uid and cluster tags the operator gives it at CreateBackupPlan, read back with AWS
Backup's ListTags) is someone else's: a person's, another resource's, another cluster's. It is
never adopted, changed or deleted; the status names it, its region and the way out, and the
rest of the spec (tables) is still brought about."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from op_calls import CallCounter
from op_clock import pause, reconcile_rounds, settle_outcomes
from op_factories import desired_of, in_shape, spec

from forumdb import naming
from forumdb_operator.awsclients import Clients
from forumdb_operator.diff import deletion_plan, diff
from forumdb_operator.observed import ForeignPlan
from forumdb_operator.reconcile import Outcome, Reconciler

NS, NAME, UID = "ns1", "forum", "uid-1"
PRIMARY = "us-east-1"
PLAN_NAME = naming.plan_name(NS, NAME)
ROLE = "arn:aws:iam::123456789012:role/someone-elses-backup-role"
PLAN_WRITES = {
    "UpdateBackupPlan",
    "DeleteBackupPlan",
    "CreateBackupSelection",
    "DeleteBackupSelection",
    "TagResource",
    "UntagResource",
}


def _raw(**changes: Any) -> dict[str, Any]:
    """One region, backups without copies, no alarms: the plan is what is looked at."""
    raw = spec(replicaRegions=[], alarms=None, **changes)
    raw["backups"] = {k: v for k, v in raw["backups"].items() if k != "copyRegion"}
    return raw


def settle(r: Reconciler, raw: dict[str, Any], previous: dict[str, Any], uid: str = UID) -> Outcome:
    """Reconciles until nothing is left to wait for: the last outcome."""
    return settle_outcomes(r, namespace=NS, name=NAME, spec=raw, previous=previous, uid=uid)[-1]


def settle_forgetting_backups(raw: dict[str, Any], ready: Outcome) -> tuple[Outcome, CallCounter]:
    """A new reconciler, its calls counted, settles again from `ready`'s status without
    status.backups (what it knew of the plan): Ready, with the same plan. (The outcome, the
    calls.)"""
    plan_id = ready.status["backups"]["planId"]
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    forgotten = {k: v for k, v in ready.status.items() if k != "backups"}
    again = settle(r, raw, forgotten)
    assert again.phase == "Ready", again.status["message"]
    assert again.status["backups"]["planId"] == plan_id
    return again, counter


def condition(out: Outcome, kind: str) -> dict[str, Any]:
    return next(c for c in out.status["conditions"] if c["type"] == kind)


def someone_elses_plan(tags: dict[str, str]) -> tuple[str, dict[str, Any], list[str]]:
    """A plan under the resource's plan name, made outside the operator, with a selection of
    its own: (plan id, its document, its selection ids)."""
    backup = boto3.client("backup", region_name=PRIMARY)
    backup.create_backup_vault(BackupVaultName="someone-else")
    document = {
        "BackupPlanName": PLAN_NAME,
        "Rules": [
            {
                "RuleName": "theirs",
                "TargetBackupVaultName": "someone-else",
                "ScheduleExpression": "cron(0 1 * * ? *)",
            }
        ],
    }
    created = backup.create_backup_plan(BackupPlan=document, BackupPlanTags=tags)
    plan_id = str(created["BackupPlanId"])
    selection = backup.create_backup_selection(
        BackupPlanId=plan_id,
        BackupSelection={
            "SelectionName": "theirs",
            "IamRoleArn": ROLE,
            "Resources": ["arn:aws:dynamodb:us-east-1:123456789012:table/theirs"],
        },
    )["SelectionId"]
    return plan_id, backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"], [selection]


FOREIGN_TAGS = {
    "no tags": {},
    "a person's": {"team": "payments"},
    "a recreated resource (other uid)": {
        naming.TAG_OWNER: f"{NS}/{NAME}",
        naming.TAG_OWNER_UID: "uid-of-an-older-object",
        naming.TAG_MANAGED_BY: naming.MANAGED_BY,
    },
    "another cluster": {
        naming.TAG_OWNER: f"{NS}/{NAME}",
        naming.TAG_OWNER_UID: UID,
        naming.TAG_CLUSTER: "west",
        naming.TAG_MANAGED_BY: naming.MANAGED_BY,
    },
}


@pytest.mark.parametrize("tags", list(FOREIGN_TAGS.values()), ids=list(FOREIGN_TAGS))
def test_a_same_named_plan_of_someone_else_is_never_adopted_changed_or_deleted(
    ext: Any, tags: dict[str, str]
):
    """The plan's tags are read (ListTags) and do not carry the record: no call names the
    plan's id but reads, its document and selection stay as they were, the status says whose
    it is and what to do; the tables are made all the same. Deleting the resource
    (deletionPolicy Delete) leaves the plan alone too."""
    plan_id, document, selections = someone_elses_plan(tags)
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    raw = _raw(deletionPolicy="Delete")
    out = settle(r, raw, {})

    assert "backup:ListTags" in counter.by_operation()
    touched = [c for c in counter.calls if c.operation in PLAN_WRITES | {"CreateBackupPlan"}]
    assert touched == [], touched
    backups = condition(out, "BackupsConfigured")
    assert backups["status"] == "False"
    assert backups["reason"] == "BackupPlanNotOwned"
    for words in (PLAN_NAME, PRIMARY, plan_id, "Rename or delete", naming.TAG_OWNER_UID):
        assert words in backups["message"], words
    # non-blocking: Degraded (not Failed), readyGeneration set (failover armed), a Warning
    assert out.phase == "Degraded"
    assert out.status["readyGeneration"] == 1
    assert condition(out, "Ready")["reason"] == "BackupPlanNotOwned"
    assert "planId" not in (out.status.get("backups") or {})
    assert condition(out, "TablesReady")["status"] == "True"  # the rest goes on

    backup = boto3.client("backup", region_name=PRIMARY)
    assert backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"] == document
    listed = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    assert [s["SelectionId"] for s in listed] == selections

    counter.reset()
    for _ in reconcile_rounds():
        gone = r.delete(namespace=NS, name=NAME, spec=raw, previous=out.status, uid=UID)
        if gone.done:
            break
        pause(gone.requeue_after)
    assert [c for c in counter.calls if c.params.get("BackupPlanId") == plan_id] == []
    assert backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"] == document
    assert [
        s["SelectionId"]
        for s in backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    ] == selections


def test_its_own_plan_is_found_by_its_tags_when_the_status_lost_its_id(ext: Any):
    """The plan the operator made carries the record (BackupPlanTags at CreateBackupPlan);
    with no id in the status it is found by listing and its tags, and kept: no second plan, no
    change."""
    r = Reconciler(Clients())
    raw = _raw()
    ready = settle(r, raw, {})
    assert ready.phase == "Ready", ready.status["message"]
    plan_id = ready.status["backups"]["planId"]
    arn = boto3.client("backup", region_name=PRIMARY).get_backup_plan(BackupPlanId=plan_id)[
        "BackupPlanArn"
    ]
    tags = boto3.client("backup", region_name=PRIMARY).list_tags(ResourceArn=arn)["Tags"]
    assert tags[naming.TAG_OWNER] == f"{NS}/{NAME}"
    assert tags[naming.TAG_OWNER_UID] == UID

    _, counter = settle_forgetting_backups(raw, ready)
    assert counter.by_operation()["backup:ListTags"] == 1
    assert not [c for c in counter.writes if c.service == "backup"], counter.writes


def test_its_own_plan_is_chosen_beside_a_foreign_one_of_the_same_name(ext: Any):
    """Two plans listed under the name, the foreign one first (AWS refuses only an identical
    plan document; moto refuses any same name, so the foreign plan is made under another name
    before the operator's and renamed into it after): the one with the record is the
    resource's; the other is neither reported nor touched."""
    backup = boto3.client("backup", region_name=PRIMARY)
    rules = [{"RuleName": "theirs", "TargetBackupVaultName": "elsewhere"}]
    other = backup.create_backup_plan(BackupPlan={"BackupPlanName": "placeholder", "Rules": rules})[
        "BackupPlanId"
    ]
    r = Reconciler(Clients())
    raw = _raw()
    ready = settle(r, raw, {})
    plan_id = ready.status["backups"]["planId"]
    # rename the foreign plan into the resource's name (UpdateBackupPlan keeps the id)
    backup.update_backup_plan(
        BackupPlanId=other, BackupPlan={"BackupPlanName": PLAN_NAME, "Rules": rules}
    )
    listed = [p for p in backup.list_backup_plans()["BackupPlansList"]]
    assert [p["BackupPlanId"] for p in listed if p["BackupPlanName"] == PLAN_NAME] == [
        other,
        plan_id,
    ]

    _, counter = settle_forgetting_backups(raw, ready)
    assert [c for c in counter.writes if c.params.get("BackupPlanId") == other] == []


def test_a_foreign_plan_is_a_problem_that_holds_back_only_the_backups():
    """Pure diff: no backup action at all (no second plan under the taken name, no selection),
    the problem does not block the tables' actions, and deletion has nothing of it to delete."""
    d = desired_of(UID, replicaRegions=[], deletionPolicy="Delete")
    obs = in_shape(d)
    assert obs.backups is not None
    obs.backups.plan_id = obs.backups.plan = None
    obs.backups.selection_id = obs.backups.selection = None
    obs.backups.foreign_plans = [ForeignPlan("p-9", "arn:aws:backup:x", {"team": "payments"})]
    del obs.tables[("users", PRIMARY)]
    plan = diff(d, obs)
    assert [p.reason for p in plan.problems] == ["BackupPlanNotOwned"]
    assert not plan.blocked
    assert [a.feature for a in plan.actions if a.service == "backup"] == []
    assert "create_table" in [a.operation for a in plan.actions]
    removal = deletion_plan(d, obs)
    assert [a for a in removal.actions if a.service == "backup"] == []
