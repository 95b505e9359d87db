"""The operator's AWS call budget, counted per operation (op_calls): what one steady-state
drift check of each example ForumDatabase costs, and that the cost of a resource does not grow
with what else the account holds (issue 14). Exact numbers: a new call in the steady state is a
decision, made by changing the number here."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import boto3
import pytest
import yaml
from op_calls import Call, CallCounter
from op_clock import SETTLE_TIMEOUT_SECONDS, pause, reconcile_rounds
from op_factories import ROOT, spec

from forumdb_operator.awsclients import Clients
from forumdb_operator.observed import ObservedPitr, ReadMemo
from forumdb_operator.reconcile import LONG_WAIT_DELAY, Outcome, Reconciler

NS = "ns1"
KMS_REGIONS = ("eu-west-1", "eu-central-1", "us-east-1")

# One steady-state drift check (reads only), per example manifest.
DRIFT_CHECK: dict[str, Counter[str]] = {
    "forumdatabase.yaml": Counter(
        {
            "dynamodb:DescribeTable": 6,  # 3 tables x 2 regions
            "dynamodb:DescribeContinuousBackups": 6,
            # every table's tags in its own region: the primary's owner tag and each
            # replica's (a replica has tags of its own, issue 13): 3 tables x 2 regions
            "dynamodb:ListTagsOfResource": 6,
            # by the ids status.backups remembers; recovery points of the plan only
            "backup:DescribeBackupVault": 2,
            "backup:GetBackupPlan": 1,
            "backup:GetBackupSelection": 1,
            "backup:ListRecoveryPointsByBackupVault": 1,
            # the account's advanced DynamoDB backup setting, which the copies need (issue 13)
            "backup:DescribeRegionSettings": 1,
            # AlarmNamePrefix: the resource's own, in each region that holds wanted alarms or
            # held ours at the last look (status.alarms.items: ReplicationLatency alarms follow
            # the active region; ours left in another are found and removed), here the
            # primary's only; and the shared account-level UserErrors alarm by its name, with
            # its user tags
            "cloudwatch:DescribeAlarms": 2,
            "cloudwatch:ListTagsForResource": 1,
            # no auto scaling read: on-demand tables can hold no leftovers to remove
        }
    ),
    "forumdatabase-provisioned.yaml": Counter(
        {
            "dynamodb:DescribeTable": 9,  # 3 tables x 3 regions
            "dynamodb:DescribeContinuousBackups": 9,
            "dynamodb:ListTagsOfResource": 9,  # 3 tables x 3 regions
            "kms:DescribeKey": 3,
            "application-autoscaling:DescribeScalableTargets": 1,
            # ResourceId filter: 3 tables + 5 indexes
            "application-autoscaling:DescribeScalingPolicies": 8,
            "backup:DescribeBackupVault": 2,
            "backup:GetBackupPlan": 1,
            "backup:GetBackupSelection": 1,
            "backup:ListRecoveryPointsByBackupVault": 1,
            "backup:DescribeRegionSettings": 1,
            # the primary's (no other region held ours at the last look), the shared by name
            "cloudwatch:DescribeAlarms": 2,
            "cloudwatch:ListTagsForResource": 1,  # the shared alarm's users
            # the operator's topic by its ARN in each region (alarms need a topic of their own
            # region; one a failover left is removed on deletion)
            "sns:GetTopicAttributes": 3,
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


def converge(r: Reconciler, doc: dict[str, Any]) -> Outcome:
    return converge_from(r, doc, {})


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


# Operations that read the whole account (or a whole shared vault): never in a drift check.
ACCOUNT_WIDE = frozenset({"ListTopics", "ListBackupPlans", "ListBackupVaults"})


def account_wide(calls: list[Call]) -> list[Call]:
    """Calls whose answer grows with what else the account holds."""
    return [
        c
        for c in calls
        if c.operation in ACCOUNT_WIDE
        or (c.operation == "DescribeScalingPolicies" and not c.params.get("ResourceId"))
        or (c.operation == "ListRecoveryPointsByBackupVault" and not c.params.get("ByBackupPlanId"))
    ]


def crowd_the_account(others: int, vault: str) -> None:
    """What other resources leave in the account: topics, backup plans with recovery points in
    the same (shared) vault, auto scaling policies of other tables."""
    sns = boto3.client("sns", region_name="eu-west-1")
    for i in range(others):
        sns.create_topic(Name=f"other-{i:03d}-alarms")
    backup = boto3.client("backup", region_name="eu-west-1")
    ddb = boto3.client("dynamodb", region_name="eu-west-1")
    scaling = boto3.client("application-autoscaling", region_name="eu-west-1")
    for i in range(others // 10):
        name = f"other-{i:03d}-Users"
        arn = ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )["TableDescription"]["TableArn"]
        plan = backup.create_backup_plan(
            BackupPlan={
                "BackupPlanName": f"other-{i:03d}",
                "Rules": [{"RuleName": "r", "TargetBackupVaultName": vault}],
            }
        )["BackupPlanId"]
        backup.create_backup_selection(
            BackupPlanId=plan,
            BackupSelection={
                "SelectionName": "s",
                "IamRoleArn": "arn:aws:iam::123456789012:role/backup",
                "Resources": [arn],
            },
        )
        scaling.register_scalable_target(
            ServiceNamespace="dynamodb",
            ResourceId=f"table/{name}",
            ScalableDimension="dynamodb:table:WriteCapacityUnits",
            MinCapacity=1,
            MaxCapacity=10,
        )
        scaling.put_scaling_policy(
            PolicyName="forumdb-write-utilization",
            ServiceNamespace="dynamodb",
            ResourceId=f"table/{name}",
            ScalableDimension="dynamodb:table:WriteCapacityUnits",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 70.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "DynamoDBWriteCapacityUtilization"
                },
            },
        )


def test_the_drift_check_costs_the_same_however_full_the_account_is(ext: Any):
    """No account-wide listing: topics by ARN, the backup plan and selection by the ids the
    status remembers, recovery points by plan, scaling policies by ResourceId."""
    kms_aliases()
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    manifest = "forumdatabase-provisioned.yaml"
    doc = example(manifest)
    ready = converge(r, doc)
    alone = drift_check(counter, r, doc, ready)
    alone_counts = counter.by_operation()
    assert account_wide(counter.calls) == []

    crowd_the_account(120, doc["spec"]["backups"]["vaultName"])
    crowded = drift_check(counter, r, doc, alone)
    assert counter.writes == []
    assert account_wide(counter.calls) == []
    assert counter.by_operation() == alone_counts == DRIFT_CHECK[manifest]
    assert crowded.status["backups"] == alone.status["backups"]
    assert crowded.status["alarms"]["topicArn"] == alone.status["alarms"]["topicArn"]


def test_remembered_ids_are_hints_checked_against_aws(ext: Any):
    """The selection and the topic deleted behind the operator's back are found missing
    (GetBackupSelection, GetTopicAttributes: not found) and made again; a plan id the status
    remembers wrongly is not trusted: the plan is found by its name (one listing) and kept."""
    kms_aliases()
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    doc = example("forumdatabase-provisioned.yaml")
    ready = converge(r, doc)
    plan_id = ready.status["backups"]["planId"]
    boto3.client("backup", region_name="eu-west-1").delete_backup_selection(
        BackupPlanId=plan_id, SelectionId=ready.status["backups"]["selectionId"]
    )
    topic = ready.status["alarms"]["topicArn"]
    boto3.client("sns", region_name="eu-west-1").delete_topic(TopicArn=topic)
    counter.reset()
    out = converge_from(r, doc, ready.status)
    assert {c.operation for c in counter.writes} >= {"CreateBackupSelection", "CreateTopic"}
    assert "CreateBackupPlan" not in {c.operation for c in counter.writes}
    assert out.status["backups"]["planId"] == plan_id
    assert out.status["alarms"]["topicArn"] == topic  # AWS makes the same ARN from the name

    stale = {**out.status, "backups": {**out.status["backups"], "planId": "0" * 36}}
    counter.reset()
    again = converge_from(r, doc, stale)
    assert counter.writes == []
    assert counter.by_operation()["backup:ListBackupPlans"] == 1
    assert again.status["backups"]["planId"] == plan_id


def converge_from(
    r: Reconciler,
    doc: dict[str, Any],
    previous: dict[str, Any],
    waits: list[float | None] | None = None,
    pause_cap: float | None = None,
) -> Outcome:
    """Reconciles until Ready; `waits` collects each one's requeue_after; `pause_cap`: the
    longest wait between two (op_clock's, unless given)."""
    for _ in reconcile_rounds(SETTLE_TIMEOUT_SECONDS):
        out = r.reconcile(
            namespace=NS,
            name=doc["metadata"]["name"],
            spec=doc["spec"],
            generation=1,
            previous=previous,
        )
        previous = out.status
        if waits is not None:
            waits.append(out.requeue_after)
        if out.phase == "Ready" and out.requeue_after is None:
            return out
        if pause_cap is None:
            pause(out.requeue_after)
        else:
            time.sleep(min(out.requeue_after or 0.0, pause_cap))
    raise AssertionError(previous.get("message"))


def ops(counter: CallCounter, operation: str) -> int:
    return sum(c.operation == operation for c in counter.calls)


def test_a_reconcile_reads_pitr_and_tags_once_however_many_passes_it_makes(ext: Any):
    """DescribeContinuousBackups and ListTagsOfResource (10 calls a second per account): a pass
    after actions reads again only what an action changed, and PITR it set it knows from the
    call that set it."""
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    raw = spec(replicaRegions=[])
    doc = {"metadata": {"name": "forum"}, "spec": raw}
    ready = converge(r, doc)
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    for table in ("forum-Users", "forum-Posts"):
        ddb.update_continuous_backups(
            TableName=table,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
        )
    boto3.client("cloudwatch", region_name="us-east-1").delete_alarms(
        AlarmNames=[ready.status["alarms"]["items"][0]["name"]]
    )
    out = drift_check(counter, r, doc, ready)
    assert [a.operation for a in out.applied].count("update_continuous_backups") == 2
    assert ops(counter, "DescribeContinuousBackups") == 3  # once per table, not per pass
    assert ops(counter, "ListTagsOfResource") == 3
    assert out.status["pitr"] == "Enabled"


def test_provisioning_trusts_the_pitr_an_earlier_reconcile_of_the_same_spec_saw(ext: Any):
    """While a spec is provisioned, PITR seen ENABLED (with its period) by an earlier reconcile
    of the same generation is not read again; a drift check (Ready) and a new generation read
    it."""
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    raw = spec(replicaRegions=[])
    doc = {"metadata": {"name": "forum"}, "spec": raw}
    ready = converge(r, doc)
    provisioning = {**ready.status, "phase": "Provisioning"}
    for previous, generation, reads in (
        (provisioning, 1, 0),
        (provisioning, 2, 3),  # a new spec
        (ready.status, 1, 3),  # a drift check
    ):
        counter.reset()
        r.reconcile(namespace=NS, name="forum", spec=raw, generation=generation, previous=previous)
        assert ops(counter, "DescribeContinuousBackups") == reads, (previous["phase"], generation)


def test_while_provisioned_sent_tags_and_new_replicas_are_known_without_reading():
    """ReadMemo.provisioning: the primary tables' tags this resource sent (status.claimedTables)
    and a replica the last status showed CREATING (no tags: ReplicaUpdates' Create takes none;
    PITR enabled unread where wanted) are known without ListTagsOfResource or
    DescribeContinuousBackups (10 a second per account each); a drift check or a new spec
    reads them."""
    sent = {"forum-Users": {"forumdb.io/owner": "ns1/forum"}}
    previous = {
        "phase": "Provisioning",
        "observedGeneration": 1,
        "tables": [
            {
                "name": "forum-Users",
                "regions": [
                    {"region": "us-east-1", "role": "primary", "status": "ACTIVE"},
                    {"region": "us-west-2", "role": "replica", "status": "CREATING"},
                ],
            }
        ],
    }
    claimed = {"forum-Users": "3b0e7a7c-0000-4000-8000-00000000000a"}
    memo = ReadMemo.provisioning(previous, 1, sent, pitr_wanted=True, claimed=claimed)
    assert memo.tags == sent
    assert memo.trusted == {"forum-Users"}
    assert memo.tag_ids == claimed  # taken only while DescribeTable answers that TableId
    assert memo.replica_tags == {("forum-Users", "us-west-2"): {}}
    assert memo.pitr == {("forum-Users", "us-west-2"): ObservedPitr(False, None)}
    assert ReadMemo.provisioning(previous, 1, sent, claimed=claimed).pitr == {}
    # an unbound claim (an earlier status's bare name): its tags are read
    unbound = ReadMemo.provisioning(previous, 1, sent, claimed={"forum-Users": ""})
    assert (unbound.tags, unbound.trusted) == ({}, set())
    for later, generation in (({**previous, "phase": "Ready"}, 1), (previous, 2)):
        memo = ReadMemo.provisioning(later, generation, sent, pitr_wanted=True, claimed=claimed)
        assert (memo.tags, memo.replica_tags, memo.pitr) == ({}, {}, {})


# A full provisioning of examples/forumdatabase.yaml, from nothing to Ready: every AWS call of
# every reconcile, reads and writes. 143 before the create calls' answers were remembered and
# scaling policies were looked for only where a scalable target exists, 103 after (3 reconciles
# here), 100 since adding replicas no longer makes the reconcile list the tables' tags again.
# Since the replicas are tagged in their regions (issue 13), their tags are read once and set
# (3 + 3 calls, then read in the reconcile that sees them listed). Issue 13 also added one
# backup:DescribeRegionSettings to each reconcile that finds the plan and selection in place
# (the copies' account setting), and alarms looked for in each region and the shared UserErrors
# alarm by name with its tags (3 more reads at each look at the alarms): 149 measured (4
# reconciles, twice in a row). Issue 14 again: a replica's TagResource answer is trusted (no
# reconcile that waits for the listing), the primary tables' tags and PITR are not read again
# while the spec is provisioned, UpdateTable keeps the PITR read, and a replica the last
# status showed CREATING is known to have no tags and is enabled PITR unread: 112 measured (3
# reconciles). An upper bound with room for one more reconcile that only waits on a replica
# still CREATING (about 25 calls): the emulator's timing decides how many wait.
PROVISIONING_CALLS = 145
# Waits between its reconciles: about the emulator's own durations (1 s to 2.5 s), so that how
# many reconciles only wait (about 13 calls each) depends little on the machine's load.
PROVISIONING_PAUSE_CAP = 1.0


def test_provisioning_the_example_stays_within_its_call_budget(ext: Any):
    """The vault ARNs, plan id and selection id come from the create calls' answers: the pass
    after a create does not read the backups again, nor list vaults or selections to find
    them."""
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    doc = example("forumdatabase.yaml")
    waits: list[float | None] = []
    ready = converge_from(r, doc, {}, waits, pause_cap=PROVISIONING_PAUSE_CAP)
    calls = counter.by_operation()
    # The new replicas of empty tables are polled at the short wait, not the long one of a
    # replica copying data (minutes to hours): nothing to copy.
    assert waits[-1] is None
    assert all(w is not None and w < LONG_WAIT_DELAY for w in waits[:-1]), waits
    assert ready.status["backups"]["planId"]
    assert ready.status["backups"]["selectionId"]
    assert calls["backup:ListBackupVaults"] == 2  # the first look, one per region
    assert calls["backup:ListBackupPlans"] == 1
    assert calls["backup:ListBackupSelections"] == 0
    # ListTagsOfResource and DescribeContinuousBackups (10 a second per account) in the
    # primary's region: none while it is provisioned. It made the tables with their tags
    # (adding their replicas changes no tag, and no UpdateTable changes PITR), and the later
    # reconciles of the same spec take those tags as sent (status.claimedTables) and the PITR
    # they saw or set (status.tables). (The replicas' tags and PITR are read in their own
    # region once they exist: test_a_replicas_tags_are_read_once_a_reconcile...)
    primary = doc["spec"]["primaryRegion"]
    limited_reads = [
        c
        for c in counter.calls
        if c.operation in ("ListTagsOfResource", "DescribeContinuousBackups")
        and c.region == primary
    ]
    assert limited_reads == [], waits
    # ... and in the replica's region at most once each (none where the last status showed
    # the replica CREATING: a new replica has no tags and its PITR is enabled unread), and
    # each replica tagged once
    for operation in ("ListTagsOfResource", "DescribeContinuousBackups"):
        assert ops(counter, operation) <= 3, operation
    assert ops(counter, "TagResource") == 3
    assert len(counter) <= PROVISIONING_CALLS, sorted(calls.items())


def test_a_replicas_tags_are_read_once_a_reconcile_and_known_after_tagging(ext: Any):
    """ListTagsOfResource of each table in each region once a reconcile: the pass after a
    TagResource on a replica knows its tags from the call (no read back), and the reconcile
    that sees them listed reads each once again and writes nothing."""
    ext.configure(tags_settle_seconds=0)
    counter = CallCounter()
    r = Reconciler(counter.wrap(Clients()))
    doc = {"metadata": {"name": "forum"}, "spec": spec(backups=None, alarms=None)}
    ready = converge(r, doc)
    if ready.status["taggedReplicas"]:  # sent by the last reconcile: a look that sees them
        ready = drift_check(counter, r, doc, ready)
    assert ready.status["taggedReplicas"] == []
    west = boto3.client("dynamodb", region_name="us-west-2")
    arn = west.describe_table(TableName="forum-Posts")["Table"]["TableArn"]
    west.untag_resource(ResourceArn=arn, TagKeys=["forumdb.io/owner"])
    counter.reset()
    repairing = r.reconcile(
        namespace=NS, name="forum", spec=doc["spec"], generation=1, previous=ready.status
    )
    assert [str(a) for a in repairing.applied] == [
        "tag table forum-Posts in us-west-2 (tags forumdb.io/owner)"
    ]
    assert ops(counter, "ListTagsOfResource") == 6  # 3 tables x 2 regions, once each
    assert ops(counter, "TagResource") == 1
    assert [e["replica"] for e in repairing.status["taggedReplicas"]] == ["us-west-2/forum-Posts"]
    out = drift_check(counter, r, doc, repairing)
    assert counter.writes == []
    assert ops(counter, "ListTagsOfResource") == 6
    assert out.status["taggedReplicas"] == []
