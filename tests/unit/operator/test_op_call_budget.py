"""The operator's AWS call budget, counted per operation (op_calls): what one steady-state
drift check of each example ForumDatabase costs, and that the cost of a resource does not grow
with what else the account holds (issue 14). Exact numbers: a new call in the steady state is a
decision, made by changing the number here."""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest
import yaml
from op_calls import CallCounter
from op_clock import SETTLE_TIMEOUT_SECONDS, pause, reconcile_rounds
from op_factories import ROOT

from forumdb_operator.awsclients import Clients
from forumdb_operator.reconcile import Outcome, Reconciler

NS = "ns1"
KMS_REGIONS = ("eu-west-1", "eu-central-1", "us-east-1")

# One steady-state drift check (reads only), per example manifest.
DRIFT_CHECK: dict[str, Counter[str]] = {
    "forumdatabase.yaml": Counter(
        {
            "dynamodb:DescribeTable": 6,  # 3 tables x 2 regions
            "dynamodb:DescribeContinuousBackups": 6,
            "dynamodb:ListTagsOfResource": 3,  # the primary tables' owner tag
            "backup:ListBackupVaults": 2,
            "backup:ListBackupPlans": 1,
            "backup:GetBackupPlan": 1,
            "backup:ListBackupSelections": 1,
            "backup:GetBackupSelection": 1,
            "backup:ListRecoveryPointsByBackupVault": 1,
            "cloudwatch:DescribeAlarms": 1,
        }
    ),
    "forumdatabase-provisioned.yaml": Counter(
        {
            "dynamodb:DescribeTable": 9,  # 3 tables x 3 regions
            "dynamodb:DescribeContinuousBackups": 9,
            "dynamodb:ListTagsOfResource": 3,
            "kms:DescribeKey": 3,
            "application-autoscaling:DescribeScalableTargets": 1,
            "application-autoscaling:DescribeScalingPolicies": 1,
            "backup:ListBackupVaults": 2,
            "backup:ListBackupPlans": 1,
            "backup:GetBackupPlan": 1,
            "backup:ListBackupSelections": 1,
            "backup:GetBackupSelection": 1,
            "backup:ListRecoveryPointsByBackupVault": 1,
            "cloudwatch:DescribeAlarms": 1,
            "sns:ListTopics": 1,
            "sns:ListSubscriptionsByTopic": 1,
        }
    ),
}


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "examples" / name).read_text())


def kms_aliases() -> None:
    """The provisioned example's customer managed key, in each of its regions."""
    for region in KMS_REGIONS:
        kms = boto3.client("kms", region_name=region)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/forum-prod", TargetKeyId=key)


def converge(r: Reconciler, doc: dict[str, Any], name: str | None = None) -> Outcome:
    name = name or doc["metadata"]["name"]
    previous: dict[str, Any] = {}
    for _ in reconcile_rounds(SETTLE_TIMEOUT_SECONDS):
        out = r.reconcile(
            namespace=NS, name=name, spec=doc["spec"], generation=1, previous=previous
        )
        previous = out.status
        if out.phase == "Ready" and out.requeue_after is None:
            return out
        assert out.phase != "Failed", out.status.get("message")
        pause(out.requeue_after)
    raise AssertionError(f"{name} not Ready: {previous.get('message')}")


def drift_check(counter: CallCounter, r: Reconciler, doc: dict, ready: Outcome) -> Outcome:
    counter.reset()
    out = r.reconcile(
        namespace=NS,
        name=doc["metadata"]["name"],
        spec=doc["spec"],
        generation=1,
        previous=ready.status,
    )
    assert out.phase == "Ready", out.status.get("message")
    return out


@pytest.mark.parametrize("manifest", sorted(DRIFT_CHECK))
def test_a_steady_state_drift_check_of_each_example_costs_its_budget(ext: Any, manifest: str):
    kms_aliases()
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    doc = example(manifest)
    ready = converge(r, doc)
    drift_check(counter, r, doc, ready)
    assert counter.writes == []
    assert counter.by_operation() == DRIFT_CHECK[manifest]
