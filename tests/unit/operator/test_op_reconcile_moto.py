"""The reconciler against moto in-process, with the forumdb extension (global tables, AWS
Backup selections and recovery points, fault injection): AWS-level behaviour without Kubernetes."""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
import yaml
from op_clock import SETTLE_TIMEOUT_SECONDS, pause, reconcile_rounds
from op_factories import ROOT, spec

from forumdb import naming, tables
from forumdb_operator import immutable
from forumdb_operator.awsclients import Clients
from forumdb_operator.reconcile import Outcome, Reconciler

NS, NAME = "ns1", "forum"


@pytest.fixture
def reconciler(ext: Any) -> Reconciler:
    return Reconciler(Clients())


def converge(
    r: Reconciler,
    raw: dict,
    previous: dict | None = None,
    generation: int = 1,
    timeout: float = SETTLE_TIMEOUT_SECONDS,
    name: str = NAME,
    uid: str = "",
) -> Outcome:
    """Reconcile as the operator's loop would until Ready (or Failed, or Degraded by a problem
    that holds back only its own feature: nothing left to requeue), waiting between
    reconciles as it does (op_clock); the outcome returned carries the events and the applied
    actions of every reconcile it took."""
    previous = previous or {}
    events = []
    applied = []
    for _ in reconcile_rounds(timeout):
        out = r.reconcile(
            namespace=NS, name=name, spec=raw, generation=generation, previous=previous, uid=uid
        )
        events += out.events
        applied += out.applied
        previous = out.status
        if out.phase in ("Ready", "Failed", "Degraded") and out.requeue_after is None:
            out.events = events
            out.applied = applied
            return out
        pause(out.requeue_after)
    raise AssertionError(f"not converged: {previous}")


def ddb(region: str) -> Any:
    return boto3.client("dynamodb", region_name=region)


def test_converges_then_steady_state_makes_no_write(reconciler):
    out = converge(reconciler, spec())
    assert out.status["replication"] == "2/2 ACTIVE"
    assert out.status["pitr"] == "Enabled"
    assert all(c["status"] == "True" for c in out.status["conditions"])
    assert (
        ddb("us-west-2").describe_table(TableName="forum-Posts")["Table"]["TableStatus"] == "ACTIVE"
    )
    again = reconciler.reconcile(
        namespace=NS, name=NAME, spec=spec(), generation=1, previous=out.status
    )
    assert again.phase == "Ready"
    assert again.calls.writes == []
    assert again.applied == []
    assert 10 <= len(again.calls.reads) <= 40, again.calls.summary()
    assert again.events == []


def test_drift_made_by_hand_is_repaired_with_events(reconciler):
    ready = converge(reconciler, spec())
    ddb("us-west-2").update_continuous_backups(
        TableName="forum-Users",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
    )
    boto3.client("cloudwatch", region_name="us-east-1").delete_alarms(
        AlarmNames=[naming.shared_alarm_name("UserErrors")]
    )
    ddb("us-east-1").update_table(
        TableName="forum-Threads", ReplicaUpdates=[{"Delete": {"RegionName": "us-west-2"}}]
    )
    out = converge(reconciler, spec(), previous=ready.status)
    messages = [e.message for e in out.events if e.reason == "DriftRepaired"]
    assert "repaired drift: enable PITR on forum-Users in us-west-2 (it was disabled)" in messages
    assert any("UserErrors" in m for m in messages)
    replicas = ddb("us-east-1").describe_table(TableName="forum-Threads")["Table"]["Replicas"]
    assert [r["RegionName"] for r in replicas] == ["us-west-2"]


def test_add_and_remove_regions_one_at_a_time(reconciler, ext):
    ext.set_replication(replica_activation_calls=2)
    ready = converge(reconciler, spec())
    three = spec(replicaRegions=["us-west-2", "eu-west-1"])
    out = reconciler.reconcile(
        namespace=NS, name=NAME, spec=three, generation=2, previous=ready.status
    )
    assert out.phase == "Provisioning"
    assert out.requeue_after is not None
    out = converge(reconciler, three, previous=out.status, generation=2)
    assert out.status["replication"] == "3/3 ACTIVE"
    assert (
        ddb("eu-west-1").describe_table(TableName="forum-Users")["Table"]["TableStatus"] == "ACTIVE"
    )
    one = spec(replicaRegions=["eu-west-1"])
    out = converge(reconciler, one, previous=out.status, generation=3)
    assert out.status["replication"] == "2/2 ACTIVE"
    replicas = ddb("us-east-1").describe_table(TableName="forum-Posts")["Table"]["Replicas"]
    assert [r["RegionName"] for r in replicas] == ["eu-west-1"]
    alarms = boto3.client("cloudwatch", region_name="us-east-1").describe_alarms(
        AlarmNamePrefix=naming.alarm_prefix(NS, NAME)
    )["MetricAlarms"]
    assert not [a for a in alarms if a["AlarmName"].endswith("/us-west-2")]


@pytest.mark.slow
def test_throttling_is_retried_and_converges(reconciler, ext):
    ext.fail_next(3, kind="throttle", service="dynamodb")
    ext.fail_next(2, kind="error", service="backup")
    out = converge(reconciler, spec())
    assert out.phase == "Ready"


def test_unknown_kms_key_fails_without_writes(reconciler):
    out = reconciler.reconcile(
        namespace=NS, name=NAME, spec=spec(encryption={"kmsKeyId": "alias/missing"}), generation=1
    )
    assert out.phase == "Failed"
    assert out.requeue_after is None
    assert (
        "spec.encryption.kmsKeyId: KMS key 'alias/missing' not found in us-east-1"
        in out.status["message"]
    )
    assert out.calls.writes == []
    assert [e.type for e in out.events] == ["Warning"]
    # the same failure again is not re-announced
    again = reconciler.reconcile(
        namespace=NS,
        name=NAME,
        spec=spec(encryption={"kmsKeyId": "alias/missing"}),
        generation=1,
        previous=out.status,
    )
    assert again.events == []


def test_existing_kms_key_is_used(reconciler):
    kms = boto3.client("kms", region_name="us-east-1")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/forum", TargetKeyId=key["KeyId"])
    kms_w = boto3.client("kms", region_name="us-west-2")
    key_w = kms_w.create_key()["KeyMetadata"]
    kms_w.create_alias(AliasName="alias/forum", TargetKeyId=key_w["KeyId"])
    out = converge(reconciler, spec(encryption={"kmsKeyId": "alias/forum"}))
    sse = ddb("us-east-1").describe_table(TableName="forum-Users")["Table"]["SSEDescription"]
    assert sse["SSEType"] == "KMS"
    again = reconciler.reconcile(
        namespace=NS,
        name=NAME,
        spec=spec(encryption={"kmsKeyId": "alias/forum"}),
        generation=1,
        previous=out.status,
    )
    assert again.calls.writes == []


def test_invalid_spec_makes_no_aws_call(reconciler):
    out = reconciler.reconcile(
        namespace=NS, name=NAME, spec=spec(replicaRegions=["us-east-1"]), generation=1
    )
    assert out.phase == "Failed"
    assert out.calls.calls == []
    assert out.status["message"].startswith("invalid spec: spec.replicaRegions[0]:")
    assert out.events[0].reason == "InvalidSpec"


def test_existing_tables_are_adopted_with_their_data(reconciler, ext):
    # AWS's "a few seconds" as 5 s: longer than any pause of this test, so the stale read
    # happens whatever the machine's speed
    ext.configure(tags_settle_seconds=5)
    for kind in tables.KINDS:
        req = tables.create_table_request(tables.TABLES[kind], tables.table_name(kind))
        ddb("us-east-1").create_table(**req)
    ddb("us-east-1").put_item(TableName="forum-Users", Item={"userId": {"N": "1"}})
    out = converge(reconciler, spec(replicaRegions=[], adopt=True))
    assert out.phase == "Ready"
    assert not [a for a in out.applied if a.operation == "create_table"]
    assert sum(a.operation == "tag_resource" for a in out.applied) == 3
    assert ddb("us-east-1").get_item(TableName="forum-Users", Key={"userId": {"N": "1"}})["Item"]
    arn = ddb("us-east-1").describe_table(TableName="forum-Users")["Table"]["TableArn"]
    for _ in reconcile_rounds(SETTLE_TIMEOUT_SECONDS):  # listed within the settle time
        tags = ddb("us-east-1").list_tags_of_resource(ResourceArn=arn)["Tags"]
        if tags:
            break
        pause(0.5)
    assert {"Key": naming.TAG_OWNER, "Value": f"{NS}/{NAME}"} in tags


@pytest.mark.parametrize("adopt", [False, True])
def test_tables_it_just_created_are_its_own_while_their_tags_are_not_listed(reconciler, ext, adopt):
    """Right after CreateTable, ListTagsOfResource answers no tags for a while: the operator
    remembers what it created (status.claimedTables), neither refusing its own tables
    (TableExists, with adopt false) nor tagging them again, and keeps the claims until a look
    after Ready sees the tags listed."""
    ext.configure(tags_settle_seconds=5)  # longer than the pauses: the stale read happens
    raw = spec(replicaRegions=[], backups=None, pointInTimeRecovery=None, adopt=adopt)
    first = reconciler.reconcile(namespace=NS, name=NAME, spec=raw, generation=1)
    assert first.phase == "Provisioning", first.status["message"]
    east = ddb("us-east-1")
    names = sorted(tables.table_name(k) for k in tables.KINDS)
    # each claim bound to the table made (its TableId), not only to its name
    assert first.status["claimedTables"] == [
        {"name": n, "tableId": east.describe_table(TableName=n)["Table"]["TableId"]} for n in names
    ]
    out = converge(reconciler, raw, previous=first.status)
    assert out.phase == "Ready", out.status["message"]
    events = first.events + out.events
    assert not [e for e in events if e.type == "Warning"], events
    assert not [a for a in first.applied + out.applied if a.operation == "tag_resource"]
    # taken as sent while provisioned
    assert out.status["claimedTables"] == first.status["claimedTables"]
    for _ in reconcile_rounds(SETTLE_TIMEOUT_SECONDS):
        arns = [east.describe_table(TableName=n)["Table"]["TableArn"] for n in names]
        if all(east.list_tags_of_resource(ResourceArn=a)["Tags"] for a in arns):
            break
        pause(0.5)
    check = reconciler.reconcile(
        namespace=NS, name=NAME, spec=raw, generation=1, previous=out.status
    )
    assert check.phase == "Ready", check.status["message"]
    assert check.applied == []
    assert check.status["claimedTables"] == []  # listed: confirmed


def test_pitr_not_yet_available_on_a_new_table_is_retried_soon(reconciler, ext):
    """UpdateContinuousBackups right after CreateTable answers
    ContinuousBackupsUnavailableException for a while: a short retry, not the two minutes of
    an unknown error."""
    ext.configure(pitr_unavailable_seconds=60)  # longer than the reconciles: the answer comes
    raw = spec(replicaRegions=[], backups=None)
    first = reconciler.reconcile(namespace=NS, name=NAME, spec=raw, generation=1)
    # The reconcile that creates the tables does not try: PITR waits for the next one.
    assert first.phase == "Provisioning"
    assert "PITR of forum-Users in us-east-1: the table was just created" in first.status["message"]
    assert "update_continuous_backups" not in {a.operation for a in first.applied}
    assert first.requeue_after is not None
    out = reconciler.reconcile(
        namespace=NS, name=NAME, spec=raw, generation=1, previous=first.status
    )
    assert out.phase == "Provisioning"
    assert "ContinuousBackupsUnavailableException" in out.status["message"]
    assert out.requeue_after is not None
    assert out.requeue_after <= 10


def test_pitr_on_a_new_table_is_provisioned_and_on_a_table_seen_enabled_repaired(reconciler):
    """The first PITR setting of tables made moments ago is not a repair ("it was disabled");
    PITR turned off by hand after it was seen on is."""
    raw = spec(replicaRegions=[], backups=None, alarms=None)
    ready = converge(reconciler, raw)
    pitr = [a.summary for a in ready.applied if a.operation == "update_continuous_backups"]
    assert "enable PITR on forum-Users in us-east-1 (35 days)" in pitr
    assert not [e.message for e in ready.events if "it was disabled" in e.message]
    ddb("us-east-1").update_continuous_backups(
        TableName="forum-Users",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False},
    )
    out = converge(reconciler, raw, previous=ready.status)
    messages = [e.message for e in out.events if e.reason == "DriftRepaired"]
    assert messages == ["repaired drift: enable PITR on forum-Users in us-east-1 (it was disabled)"]


@pytest.mark.slow
def test_region_outage_is_transient_not_failed(reconciler, ext):
    ready = converge(reconciler, spec())
    ext.region_outage("us-west-2")
    out = reconciler.reconcile(
        namespace=NS, name=NAME, spec=spec(), generation=1, previous=ready.status
    )
    assert out.phase == "Degraded"
    assert out.requeue_after
    assert "us-west-2" in out.status["message"]
    # Still down at the next try: still Degraded (it was Ready for this spec), not Provisioning.
    again = reconciler.reconcile(
        namespace=NS, name=NAME, spec=spec(), generation=1, previous=out.status
    )
    assert again.phase == "Degraded"
    assert again.status["provisioned"] == ready.status["provisioned"]
    out = again
    ext.region_outage("us-west-2", down=False)
    assert converge(reconciler, spec(), previous=out.status).phase == "Ready"


@pytest.mark.parametrize("advanced", [True, False], ids=["advanced", "not-advanced"])
def test_backup_run_shows_last_recovery_point(reconciler, ext, advanced):
    """With advanced DynamoDB backup on (the default) a table's recovery point is an AWS Backup
    resource (arn:aws:backup:...:recovery-point:ID); off, the table's DynamoDB backup ARN."""
    backup = boto3.client("backup", region_name="us-east-1")
    backup.update_region_settings(ResourceTypeManagementPreference={"DynamoDB": advanced})
    ready = converge(reconciler, spec())
    ext.run_backup_plan_now(ready.status["backups"]["planId"], region="us-east-1")
    out = reconciler.reconcile(
        namespace=NS, name=NAME, spec=spec(), generation=1, previous=ready.status
    )
    assert out.status["lastBackup"] != "never"
    arn = out.status["backups"]["lastRecoveryPoint"]["arn"]
    points = backup.list_recovery_points_by_backup_vault(
        BackupVaultName=out.status["backups"]["vaultName"]
    )["RecoveryPoints"]
    assert arn in {p["RecoveryPointArn"] for p in points}
    if advanced:
        assert re.match(r"^arn:aws:backup:us-east-1:\d{12}:recovery-point:[0-9A-F-]{36}$", arn)
    else:
        assert re.match(r"^arn:aws:dynamodb:us-east-1:\d{12}:table/forum-[A-Za-z]+/backup/", arn)


def test_delete_policy_removes_everything_but_vaults(reconciler):
    raw = spec(deletionPolicy="Delete")
    converge(reconciler, raw)
    for _ in reconcile_rounds():
        out = reconciler.delete(namespace=NS, name=NAME, spec=raw)
        if out.done:
            break
        pause(out.requeue_after)
    assert out.done
    # a removed replica's table stays DELETING in its region for a while after it left the
    # global table (DDB-TABLE-228: 10-35 s on AWS), so it is gone soon after, not at once
    for region in ("us-east-1", "us-west-2"):
        for _ in reconcile_rounds(timeout=10):
            if ddb(region).list_tables()["TableNames"] == []:
                break
            pause(0.1)
        assert ddb(region).list_tables()["TableNames"] == []
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    assert cw.describe_alarms(AlarmNamePrefix=naming.alarm_prefix(NS, NAME))["MetricAlarms"] == []
    backup = boto3.client("backup", region_name="us-east-1")
    assert backup.list_backup_plans()["BackupPlansList"] == []
    assert backup.describe_backup_vault(BackupVaultName=naming.vault_name(NS, NAME))


def test_backups_converge_when_a_new_vault_is_access_denied(reconciler, ext):
    """With AWS's answer for a missing vault (AccessDeniedException, the emulator's default),
    the example still converges."""
    assert ext.rules()["backup_missing_vault_access_denied"] is True
    out = converge(reconciler, spec())
    assert out.phase == "Ready", out.status["message"]
    assert out.status["backups"]["vaultArn"]


def test_delete_policy_finishes_when_the_vault_was_never_made(reconciler, ext):
    """The deletion of a resource whose vault does not exist (AccessDeniedException, as AWS
    answers) removes its tables and finishes."""
    assert ext.rules()["backup_missing_vault_access_denied"] is True
    raw = spec(deletionPolicy="Delete", replicaRegions=[])
    converge(reconciler, raw)
    for _ in reconcile_rounds(timeout=10):
        out = reconciler.delete(namespace=NS, name=NAME, spec=raw)
        if out.done:
            break
        pause(out.requeue_after)
    assert out.done
    assert ddb("us-east-1").list_tables()["TableNames"] == []


class _DenyingClients(Clients):
    """The operator's clients with one call answered as AWS answers a call its IAM role does
    not allow."""

    def __init__(self, service: str, operation: str) -> None:
        super().__init__()
        self.denied = (service, operation)

    def __call__(self, service: str, region: str) -> Any:
        client = super().__call__(service, region)
        if service == self.denied[0]:
            client.meta.events.register(
                f"before-call.{client.meta.service_model.service_name}."
                f"{client.meta.method_to_api_mapping[self.denied[1]]}",
                _deny,
            )
        return client


def _deny(**_: Any) -> Any:
    return (
        type("R", (), {"status_code": 403})(),
        {
            "Error": {
                "Code": "AccessDeniedException",
                "Message": "User: arn:aws:sts::123456789012:assumed-role/op is not authorized",
            },
            "ResponseMetadata": {"HTTPStatusCode": 403},
        },
    )


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("list_backup_vaults", "backup:ListBackupVaults"),
        ("list_recovery_points_by_backup_vault", "backup:ListRecoveryPointsByBackupVault"),
    ],
)
def test_a_real_backup_permission_problem_is_reported_as_one(ext, operation, action):
    """AccessDenied from a call that cannot mean "missing vault" (a list of vaults, or the
    recovery points of a vault that list shows) is the operator's IAM role: the status names
    the action, the resource and the region."""
    raw = spec(replicaRegions=[])
    converge(Reconciler(Clients()), raw)
    out = Reconciler(_DenyingClients("backup", operation)).reconcile(
        namespace=NS, name=NAME, spec=raw, generation=1
    )
    assert out.phase == "Failed"
    message = out.status["message"]
    assert f"must allow {action}" in message, message
    assert "in us-east-1" in message
    assert "vault" in message
    (event,) = [e for e in out.events if e.type == "Warning"]
    assert event.reason == "AccessDenied"


def test_deleting_a_resource_whose_prefix_collides_leaves_the_owners_tables_alone(reconciler):
    """Two resources with the same tablePrefix: the second is refused (the tables are the
    first's); deleting it with deletionPolicy Delete and deletionProtection false neither
    deletes the first's tables nor turns their deletion protection off."""
    converge(reconciler, spec(replicaRegions=[], backups=None, deletionProtection=True))
    second = spec(
        replicaRegions=[], backups=None, deletionPolicy="Delete", deletionProtection=False
    )
    refused = converge(reconciler, second, name="forum-b")
    assert "belongs to ForumDatabase ns1/forum" in refused.status["message"]
    for _ in reconcile_rounds():
        out = reconciler.delete(namespace=NS, name="forum-b", spec=second)
        if out.done:
            break
        pause(out.requeue_after)
    assert out.done
    assert not [w for w in out.calls.writes if w[0] == "dynamodb"], out.calls.writes
    for kind in tables.KINDS:
        desc = ddb("us-east-1").describe_table(TableName=tables.table_name(kind))["Table"]
        assert desc["DeletionProtectionEnabled"] is True, desc["TableName"]


def test_a_resource_refused_for_another_ones_tables_shows_nothing_of_them(reconciler):
    """A second resource with the same tablePrefix is refused: its outcome names the tables
    as foreign (so no ConfigMap points the services at them) and its status shows none of the
    owner's replication or PITR as its own."""
    owner = converge(reconciler, spec(backups=None, alarms=None))
    assert owner.status["replication"] == "2/2 ACTIVE"
    out = converge(reconciler, spec(backups=None, alarms=None), name="forum-b")
    assert out.phase == "Failed"
    assert out.status["message"].startswith("spec.tablePrefix: table forum-Users in us-east-1 ")
    assert out.foreign_tables == sorted(tables.table_name(k) for k in tables.KINDS)
    assert out.status["replication"] == "0/2 ACTIVE"
    assert out.status["pitr"] == "Unknown"
    assert all(r["status"] == "MISSING" for r in out.status["regions"])
    assert not [r for t in out.status["tables"] for r in t["regions"] if "arn" in r or "pitr" in r]
    healthy = {c["type"] for c in out.status["conditions"] if c["status"] == "True"}
    assert not healthy & {"Ready", "TablesReady", "ReplicationHealthy", "PointInTimeRecovery"}
    assert immutable.STATUS_KEY not in out.status


@pytest.mark.parametrize(
    ("region", "state", "reason", "condition"),
    [
        ("us-west-2", "REGION_DISABLED", "RegionDisabled", "ReplicationHealthy"),
        ("us-west-2", "CREATION_FAILED", "ReplicaCreationFailed", "ReplicationHealthy"),
        ("us-east-1", "INACCESSIBLE_ENCRYPTION_CREDENTIALS", "KMSKeyInaccessible", "TablesReady"),
    ],
)
def test_a_table_stuck_in_a_terminal_state_is_a_problem_not_a_wait(
    reconciler, ext, region, state, reason, condition
):
    """DynamoDB does not leave these states by itself: the reconcile reports a problem (a
    condition, a warning event with what to do) and does not poll every few seconds."""
    ready = converge(reconciler, spec(backups=None, alarms=None))
    ext.table_state(table="forum-Posts", region=region, status=state)
    out = reconciler.reconcile(
        namespace=NS,
        name=NAME,
        spec=spec(backups=None, alarms=None),
        generation=1,
        previous=ready.status,
    )
    assert out.requeue_after is None
    assert out.phase != "Ready"
    (cond,) = [c for c in out.status["conditions"] if c["type"] == condition]
    assert cond["status"] == "False"
    assert cond["reason"] == reason
    assert f"forum-Posts in {region} is {state}" in cond["message"]
    (event,) = [e for e in out.events if e.type == "Warning"]
    assert event.reason == reason
    assert "forum-Posts" in event.message
    assert any(word in event.message for word in ("remove", "re-enable", "enable"))


def test_retain_policy_leaves_everything(reconciler):
    ready = converge(reconciler, spec())
    out = reconciler.delete(namespace=NS, name=NAME, spec=spec(), previous=ready.status)
    assert out.done
    assert out.calls.calls == []
    assert "deletionPolicy Retain: left tables forum-Users" in out.events[0].message
    assert len(ddb("us-east-1").list_tables()["TableNames"]) == 3


def test_every_feature_converges_and_then_makes_no_write(reconciler):
    for region in ("eu-west-1", "eu-central-1", "us-east-1"):
        kms = boto3.client("kms", region_name=region)
        key = kms.create_key()["KeyMetadata"]
        kms.create_alias(AliasName="alias/forum-prod", TargetKeyId=key["KeyId"])
    raw = yaml.safe_load((ROOT / "examples" / "forumdatabase-provisioned.yaml").read_text())["spec"]
    out = converge(reconciler, raw)
    assert out.phase == "Ready", out.status["message"]
    assert out.status["replication"] == "3/3 ACTIVE"
    desc = ddb("eu-west-1").describe_table(TableName="forum-prod-Posts")["Table"]
    assert desc["ProvisionedThroughput"]["ReadCapacityUnits"] == 20
    assert desc["DeletionProtectionEnabled"] is True
    topics = boto3.client("sns", region_name="eu-west-1").list_topics()["Topics"]
    assert [t["TopicArn"].rsplit(":", 1)[1] for t in topics] == [naming.topic_name(NS, NAME)]
    again = reconciler.reconcile(
        namespace=NS, name=NAME, spec=raw, generation=1, previous=out.status
    )
    assert again.calls.writes == [], again.calls.summary()
    assert again.phase == "Ready"
