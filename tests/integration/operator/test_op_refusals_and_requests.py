"""forum-operator against a real kube-apiserver and the moto server: requests and refusals.

- the annotation forumdb.io/reconcile-requested makes the operator reconcile now (and the
  status echoes it), without waiting for the drift timer;
- a tablePrefix change on a resource with tables is refused: AWS and the ConfigMap stay as
  they were, a condition and a Warning event say why; reverting clears it;
- deletion blocked by deletionProtection turns Ready False;
- every status field the operator writes survives the CRD's structural schema (no pruning).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from op_example import EXAMPLE, NAME, example

from forumdb import naming
from harness.kube import forumdb_status, wait_for_phase
from harness.procs import wait_for

pytestmark = [pytest.mark.apiserver, pytest.mark.slow]


def conditions(kubectl, namespace: str) -> dict[str, dict[str, Any]]:
    status = forumdb_status(kubectl, NAME, namespace)
    return {c["type"]: c for c in status.get("conditions", [])}


def test_reconcile_requested_annotation_refreshes_the_status_now(
    aws, kubectl, namespace, operator_runner
):
    # A drift interval far beyond the test: only the annotation can bring the new status.
    op = operator_runner.start("--namespace", namespace, FORUMDB_DRIFT_INTERVAL="3600")
    op.wait_healthy()
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    status = wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    assert status["lastBackup"] == "never"
    aws.control.run_backup_plan_now(status["backups"]["planId"], region="us-east-1")
    kubectl(
        *("annotate", "forumdb", NAME, "-n", namespace, "--overwrite"),
        f"{naming.ANNOTATION_RECONCILE_REQUESTED}=first",
    )
    fresh = wait_for(
        lambda: (
            (s := forumdb_status(kubectl, NAME, namespace)).get("lastReconcileRequest") == "first"
            and s
        ),
        timeout=30,
        what="status.lastReconcileRequest",
    )
    assert fresh["lastBackup"] != "never"
    # the CRD's status schema keeps what the operator writes (nothing pruned)
    assert fresh["backups"]["lastRecoveryPoint"]["arn"]
    assert fresh["provisioned"] == {"tablePrefix": "forum-", "primaryRegion": "us-east-1"}
    assert "itemCount" in fresh["tables"][0]["regions"][0]
    assert fresh["regionHealth"][0]["lastCheckTime"]
    assert fresh["conditions"][0]["observedGeneration"] == 1

    def explained() -> str | None:
        out = kubectl("explain", "forumdatabases.status", check=False)
        return out.stdout if out.returncode == 0 and "provisioned" in out.stdout else None

    text = wait_for(explained, timeout=30, what="kubectl explain forumdatabases.status")
    for name in ("phase", "conditions", "lastBackup", "regionHealth", "lastReconcileRequest"):
        assert name in text


def test_table_prefix_change_is_refused_and_revert_clears_it(
    aws, kubectl, namespace, operator_runner
):
    op = operator_runner.start("--namespace", namespace)
    op.wait_healthy()
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    ready = wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    assert ready["provisioned"] == {"tablePrefix": "forum-", "primaryRegion": "us-east-1"}
    cm_before = kubectl.json("get", "configmap", "forumdb-forum", "-n", namespace)["data"]
    kubectl(
        *("patch", "forumdb", NAME, "-n", namespace, "--type=merge"),
        *("-p", '{"spec":{"tablePrefix":"forum2-"}}'),
    )

    def refused() -> dict[str, Any] | None:
        c = conditions(kubectl, namespace).get("SpecAccepted")
        return c if c and c["status"] == "False" else None

    cond = wait_for(refused, timeout=30, what="SpecAccepted=False")
    assert cond["reason"] == "ImmutableFieldChanged"
    assert "spec.tablePrefix" in cond["message"]
    assert "'forum-' -> 'forum2-'" in cond["message"]
    warnings = kubectl.json("get", "events", "-n", namespace)["items"]
    assert any(e["reason"] == "ImmutableFieldChanged" and e["type"] == "Warning" for e in warnings)
    assert kubectl.json("get", "configmap", "forumdb-forum", "-n", namespace)["data"] == cm_before
    names = boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]
    assert not [n for n in names if n.startswith("forum2-")]
    assert forumdb_status(kubectl, NAME, namespace)["phase"] == "Ready"
    kubectl(
        *("patch", "forumdb", NAME, "-n", namespace, "--type=merge"),
        *("-p", '{"spec":{"tablePrefix":"forum-"}}'),
    )
    wait_for(
        lambda: conditions(kubectl, namespace).get("SpecAccepted", {}).get("status") == "True",
        timeout=30,
        what="SpecAccepted=True after the revert",
    )


def test_deletion_blocked_by_protection_sets_ready_false(aws, kubectl, namespace, operator_runner):
    op = operator_runner.start("--namespace", namespace)
    op.wait_healthy()
    kubectl.apply(example(deletionPolicy="Delete", deletionProtection=True), namespace=namespace)
    wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=90)
    kubectl("delete", "forumdb", NAME, "-n", namespace, "--wait=false")
    ready = wait_for(
        lambda: (c := conditions(kubectl, namespace).get("Ready")) and c["status"] == "False" and c,
        timeout=30,
        what="Ready=False while deletion is blocked",
    )
    assert "deletion" in ready["message"]
    kubectl(
        *("patch", "forumdb", NAME, "-n", namespace, "--type=merge"),
        *("-p", '{"spec":{"deletionProtection":false}}'),
    )
    wait_for(
        lambda: not kubectl.exists("forumdb", NAME, namespace=namespace),
        timeout=60,
        what="the resource to be gone",
    )
