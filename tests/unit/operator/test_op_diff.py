"""The diff: every feature, from a converged state with one thing changed (no AWS, no k8s)."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
from op_factories import desired, in_shape, spec, untagged, with_table, without_replicas

from forumdb import naming
from forumdb_operator.diff import deletion_plan, diff
from forumdb_operator.observed import ObservedIndex, ObservedPitr, ObservedReplica


def ops(plan):
    return [(a.operation, a.region) for a in plan.actions]


def test_converged_state_needs_nothing():
    d = desired()
    plan = diff(d, in_shape(d))
    assert plan.converged, plan


def test_converged_with_every_feature_needs_nothing():
    d = desired(
        replicaRegions=["us-west-2", "eu-west-1"],
        billing={"mode": "PROVISIONED", "readCapacity": 5, "writeCapacity": 7},
        encryption={"kmsKeyId": "alias/forum"},
        alarms={"createTopic": True, "emailSubscriptions": ["ops@example.com"]},
        deletionProtection=True,
    )
    assert diff(d, in_shape(d)).converged


def test_missing_tables_are_created_with_the_layout():
    d = desired()
    obs = in_shape(d)
    for t in d.tables:
        obs.tables[(t.kind, "us-east-1")] = None
    plan = diff(d, obs)
    creates = [a for a in plan.actions if a.operation == "create_table"]
    assert [a.params["TableName"] for a in creates] == [
        "forum-Users",
        "forum-Threads",
        "forum-Posts",
    ]
    posts = creates[2].params
    assert {g["IndexName"] for g in posts["GlobalSecondaryIndexes"]} == {"ThreadIndex", "UserIndex"}
    assert posts["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert {"Key": naming.TAG_OWNER, "Value": "ns1/forum"} in posts["Tags"]
    assert plan.waiting


def test_no_stream_without_replicas():
    d = desired(replicaRegions=[])
    assert "StreamSpecification" not in d.table("users").create_request


@pytest.mark.parametrize("status", ["CREATING", "UPDATING"])
def test_busy_table_is_waited_for_not_fought(status):
    d = desired(deletionProtection=False)
    # out of shape in two ways, but busy: nothing is done to it until it is ACTIVE again
    obs = with_table(in_shape(d), "users", "us-east-1", status=status, deletion_protection=True)
    obs.pitr[("users", "us-east-1")] = ObservedPitr(False, None)
    plan = diff(d, obs)
    assert not [a for a in plan.actions if a.params.get("TableName") == "forum-Users"]
    assert any(status in w for w in plan.waiting)
    active = with_table(obs, "users", "us-east-1", status="ACTIVE")
    assert len(diff(d, active).actions) == 2


def test_index_creating_counts_as_busy():
    d = desired()
    obs = in_shape(d)
    t = obs.tables[("posts", "us-east-1")]
    idx = dict(t.indexes)
    idx["UserIndex"] = ObservedIndex("UserIndex", "CREATING", idx["UserIndex"].key_schema, 0, 0)
    obs = with_table(obs, "posts", "us-east-1", indexes=idx)
    plan = diff(d, obs)
    assert not [a for a in plan.actions if a.params.get("TableName") == "forum-Posts"]


def test_missing_gsi_is_created_one_per_pass():
    d = desired()
    obs = with_table(in_shape(d), "posts", "us-east-1", indexes={})
    plan = diff(d, obs)
    updates = [a for a in plan.actions if a.operation == "update_table"]
    assert len(updates) == 1
    create = updates[0].params["GlobalSecondaryIndexUpdates"][0]["Create"]
    assert create["IndexName"] == "ThreadIndex"
    assert updates[0].params["AttributeDefinitions"]


def test_extra_gsi_made_by_hand_is_left_alone():
    d = desired()
    obs = in_shape(d)
    idx = dict(obs.tables[("users", "us-east-1")].indexes)
    idx["ByHand"] = ObservedIndex("ByHand", "ACTIVE", (("x", "HASH"),), 0, 0)
    assert diff(d, with_table(obs, "users", "us-east-1", indexes=idx)).converged


def test_pay_per_request_ignores_gsi_capacities():
    d = desired()
    obs = in_shape(d)
    idx = {
        n: ObservedIndex(n, "ACTIVE", i.key_schema, 0, 0)
        for n, i in obs.tables[("posts", "us-east-1")].indexes.items()
    }
    obs = with_table(obs, "posts", "us-east-1", indexes=idx, read_capacity=0, write_capacity=0)
    assert diff(d, obs).converged


def test_switch_to_pay_per_request():
    d = desired()
    obs = with_table(in_shape(d), "users", "us-east-1", billing_mode="PROVISIONED")
    (action,) = [a for a in diff(d, obs).actions if a.operation == "update_table"]
    assert action.params["BillingMode"] == "PAY_PER_REQUEST"


def test_provisioned_capacity_change_updates_table_and_gsis():
    d = desired(
        replicaRegions=[], billing={"mode": "PROVISIONED", "readCapacity": 10, "writeCapacity": 5}
    )
    obs = in_shape(d)
    t = obs.tables[("users", "us-east-1")]
    idx = {n: ObservedIndex(n, "ACTIVE", i.key_schema, 1, 1) for n, i in t.indexes.items()}
    obs = with_table(obs, "users", "us-east-1", read_capacity=1, write_capacity=1, indexes=idx)
    (action,) = [a for a in diff(d, obs).actions if a.operation == "update_table"]
    assert action.params["ProvisionedThroughput"] == {
        "ReadCapacityUnits": 10,
        "WriteCapacityUnits": 5,
    }
    gsi = action.params["GlobalSecondaryIndexUpdates"][0]["Update"]
    assert gsi == {
        "IndexName": "EmailIndex",
        "ProvisionedThroughput": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 5},
    }


def test_switch_to_provisioned_sets_every_gsi():
    d = desired(billing={"mode": "PROVISIONED", "readCapacity": 3, "writeCapacity": 3})
    obs = with_table(in_shape(d), "posts", "us-east-1", billing_mode="PAY_PER_REQUEST")
    (action,) = [a for a in diff(d, obs).actions if a.operation == "update_table"]
    assert action.params["BillingMode"] == "PROVISIONED"
    assert len(action.params["GlobalSecondaryIndexUpdates"]) == 2


def test_stream_enabled_before_replicas_are_added():
    d = desired()
    obs = with_table(
        in_shape(d), "users", "us-east-1", stream_enabled=False, stream_view_type=None, replicas={}
    )
    updates = [a for a in diff(d, obs).actions if a.params.get("TableName") == "forum-Users"]
    assert len(updates) == 1
    assert updates[0].params["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_replicas_are_added_one_region_at_a_time():
    d = desired(replicaRegions=["us-west-2", "eu-west-1", "ap-southeast-2"])
    obs = without_replicas(d, in_shape(d), "users")
    updates = [a for a in diff(d, obs).actions if a.params.get("TableName") == "forum-Users"]
    assert len(updates) == 1
    assert updates[0].params["ReplicaUpdates"] == [{"Create": {"RegionName": "us-west-2"}}]


def test_replica_creating_is_waited_for():
    d = desired(replicaRegions=["us-west-2", "eu-west-1"])
    obs = in_shape(d)
    t = obs.tables[("users", "us-east-1")]
    obs = with_table(
        obs,
        "users",
        "us-east-1",
        replicas={"us-west-2": ObservedReplica("us-west-2", "CREATING", None)},
    )
    plan = diff(d, obs)
    assert not [a for a in plan.actions if a.feature == "replica"]
    assert any("CREATING" in w for w in plan.waiting)
    assert t.name == "forum-Users"


def test_removed_region_replica_is_deleted():
    d = desired(replicaRegions=[])
    obs = in_shape(desired())  # still has us-west-2
    plan = diff(d, obs)
    deletes = [a for a in plan.actions if a.feature == "replica"]
    assert len(deletes) == 3
    assert deletes[0].params["ReplicaUpdates"] == [{"Delete": {"RegionName": "us-west-2"}}]


def test_unset_replica_regions_leaves_existing_replicas_alone():
    d = desired(replicaRegions=None)
    obs = in_shape(desired())  # a global table with a us-west-2 replica
    plan = diff(d, obs)
    assert not [a for a in plan.actions if a.feature == "replica"], plan.actions


def test_replica_kms_key_is_passed_per_region():
    d = desired(
        replicaRegions=["us-west-2"],
        encryption={"kmsKeyId": "key-east", "replicaKmsKeyIds": {"us-west-2": "key-west"}},
    )
    obs = without_replicas(d, in_shape(d), "users")
    (action,) = [a for a in diff(d, obs).actions if a.feature == "replica"]
    assert action.params["ReplicaUpdates"][0]["Create"]["KMSMasterKeyId"] == "key-west"


def test_pitr_disabled_by_hand_in_a_replica_region_is_repaired():
    d = desired()
    obs = in_shape(d)
    obs.pitr[("threads", "us-west-2")] = ObservedPitr(False, None)
    (action,) = diff(d, obs).actions
    assert (action.operation, action.region) == ("update_continuous_backups", "us-west-2")
    assert action.params["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True,
        "RecoveryPeriodInDays": 35,
    }
    assert "was disabled" in action.summary


def test_pitr_of_a_table_never_seen_enabled_is_a_first_setting_not_a_repair():
    d = desired()
    obs = in_shape(d)
    obs.pitr[("threads", "us-west-2")] = ObservedPitr(False, None)
    obs.pitr_seen_enabled = frozenset()
    (action,) = diff(d, obs).actions
    assert action.summary == "enable PITR on forum-Threads in us-west-2 (35 days)"


def test_pitr_period_change():
    d = desired(pointInTimeRecovery={"enabled": True, "recoveryPeriodDays": 7})
    obs = in_shape(desired())  # 35 days everywhere
    actions = diff(d, obs).actions
    assert len(actions) == 6
    assert all(
        a.params["PointInTimeRecoverySpecification"]["RecoveryPeriodInDays"] == 7 for a in actions
    )


def test_pitr_period_not_reported_is_not_drift():
    d = desired()
    obs = in_shape(d)
    for key in list(obs.pitr):
        obs.pitr[key] = ObservedPitr(True, None)
    assert diff(d, obs).converged


def test_pitr_unset_is_not_managed():
    d = desired(pointInTimeRecovery=None)
    obs = in_shape(desired())
    obs.pitr = {k: ObservedPitr(False, None) for k in obs.pitr}
    assert diff(d, obs).converged


def test_deletion_protection_unset_is_not_managed():
    d = desired()
    obs = with_table(in_shape(d), "users", "us-east-1", deletion_protection=True)
    assert diff(d, obs).converged


def test_deletion_protection_set_is_applied():
    d = desired(deletionProtection=True)
    obs = with_table(in_shape(d), "users", "us-east-1", deletion_protection=False)
    (action,) = diff(d, obs).actions
    assert action.params == {"TableName": "forum-Users", "DeletionProtectionEnabled": True}


def test_encryption_unset_is_not_managed():
    d = desired()
    obs = with_table(in_shape(d), "users", "us-east-1", kms_key="arn:aws:kms:us-east-1:1:key/x")
    assert diff(d, obs).converged


def test_encryption_key_change():
    d = desired(encryption={"kmsKeyId": "alias/new"})
    obs = with_table(in_shape(d), "users", "us-east-1", kms_key="arn:aws:kms:us-east-1:1:key/old")
    (action,) = diff(d, obs).actions
    assert action.params["SSESpecification"] == {
        "Enabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": "alias/new",
    }


def test_encryption_key_reported_as_resolved_arn_is_no_drift():
    d = desired(encryption={"kmsKeyId": "alias/forum"})
    obs = in_shape(d)
    arn = obs.kms_arns[("us-east-1", "alias/forum")]
    for kind in ("users", "threads", "posts"):
        obs = with_table(obs, kind, "us-east-1", kms_key=arn)
    assert diff(d, obs).converged


def test_encryption_back_to_aws_owned_key():
    d = desired(encryption={})
    obs = with_table(in_shape(d), "posts", "us-east-1", kms_key="arn:aws:kms:us-east-1:1:key/k")
    (action,) = diff(d, obs).actions
    assert action.params["SSESpecification"] == {"Enabled": False}


def test_existing_untagged_table_is_adopted_not_recreated():
    d = desired(adopt=True)
    plan = diff(d, untagged(in_shape(d)))
    assert [a.operation for a in plan.actions] == ["tag_resource"] * 3
    assert all(a.summary.startswith("adopt table") for a in plan.actions)
    assert not plan.problems


def test_adoption_refused_when_adopt_is_false():
    d = desired(adopt=False)
    plan = diff(d, untagged(in_shape(d)))
    assert not plan.actions
    assert {p.field for p in plan.problems} == {"spec.adopt"}


def test_adoption_refused_for_other_keys():
    d = desired(adopt=True)
    obs = untagged(in_shape(d))
    obs = with_table(obs, "users", "us-east-1", key_schema=(("id", "HASH"),))
    plan = diff(d, obs)
    assert plan.problems[0].reason == "IncompatibleTable"
    assert "userId HASH" in plan.problems[0].message
    assert not [a for a in plan.actions if "forum-Users" in a.summary]


def test_table_owned_by_another_resource_is_not_touched():
    d = desired()
    obs = in_shape(d)
    other = {naming.TAG_OWNER: "other/forum", naming.TAG_MANAGED_BY: naming.MANAGED_BY}
    obs = with_table(obs, "users", "us-east-1", tags=other, deletion_protection=True)
    plan = diff(desired(deletionProtection=False), obs)
    assert plan.problems[0].reason == "TableOwnedByAnother"
    assert not [a for a in plan.actions if a.params.get("TableName") == "forum-Users"]


def test_backups_missing_vaults_then_plan_then_selection():
    d = desired()
    obs = in_shape(d)
    obs.backups.vault_arns = {"us-east-1": None, "us-west-2": None}
    obs.backups.plan_id = obs.backups.plan = obs.backups.selection_id = obs.backups.selection = None
    assert ops(diff(d, obs)) == [
        ("create_backup_vault", "us-east-1"),
        ("create_backup_vault", "us-west-2"),
    ]
    obs = in_shape(d)
    obs.backups.plan_id = obs.backups.plan = obs.backups.selection_id = obs.backups.selection = None
    (action,) = diff(d, obs).actions
    assert action.operation == "create_backup_plan"
    rule = action.params["BackupPlan"]["Rules"][0]
    assert rule["ScheduleExpression"] == "cron(0 5 * * ? *)"
    assert rule["CopyActions"][0]["DestinationBackupVaultArn"].startswith(
        "arn:aws:backup:us-west-2:"
    )
    obs = in_shape(d)
    obs.backups.selection_id = obs.backups.selection = None
    (action,) = diff(d, obs).actions
    assert action.operation == "create_backup_selection"
    assert len(action.params["BackupSelection"]["Resources"]) == 3


def test_backup_plan_change_updates_plan():
    d = desired(backups={"schedule": "cron(0 1 * * ? *)", "retentionDays": 7})
    obs = in_shape(desired(backups={"retentionDays": 7}))
    (action,) = diff(d, obs).actions
    assert action.operation == "update_backup_plan"
    assert action.params["BackupPlan"]["Rules"][0]["ScheduleExpression"] == "cron(0 1 * * ? *)"


def test_backups_disabled_removes_selection_then_plan_keeps_vaults():
    d = desired(backups={"enabled": False})
    obs = in_shape(desired())
    assert [a.operation for a in diff(d, obs).actions] == [
        "delete_backup_selection",
        "delete_backup_plan",
    ]


def test_backups_unset_is_not_managed():
    d = desired(backups=None)
    assert diff(d, in_shape(d)).converged


def test_missing_alarm_is_put_back():
    d = desired()
    obs = in_shape(d)
    name = naming.table_alarm_name("ns1", "forum", "forum-Posts", "WriteThrottleEvents")
    del obs.alarms.alarms[name]
    (action,) = diff(d, obs).actions
    assert action.operation == "put_metric_alarm"
    assert action.params["AlarmName"] == name
    assert action.params["Dimensions"] == [{"Name": "TableName", "Value": "forum-Posts"}]


def test_missing_shared_user_errors_alarm_is_made_with_this_resource_as_its_user():
    d = desired()
    obs = in_shape(d)
    obs.alarms.shared, obs.alarms.shared_tags = None, {}
    (action,) = diff(d, obs).actions
    assert action.operation == "put_metric_alarm"
    assert action.params["AlarmName"] == naming.shared_alarm_name("UserErrors")
    assert action.params["MetricName"] == "UserErrors"
    assert action.params["Dimensions"] == []
    keys = {t["Key"] for t in action.params["Tags"]}
    assert naming.alarm_user_key("ns1", "forum") in keys


def test_changed_alarm_threshold_is_repaired():
    d = desired()
    obs = in_shape(d)
    name = next(n for n in obs.alarms.alarms if n.endswith("/SystemErrors"))
    obs.alarms.alarms[name] = {**obs.alarms.alarms[name], "Threshold": 99.0}
    (action,) = diff(d, obs).actions
    assert action.params["AlarmName"] == name
    assert action.params["Metrics"][-1]["Expression"].startswith("SUM(")


def test_replication_latency_alarm_per_replica_region_in_source_region():
    d = desired(replicaRegions=["us-west-2", "eu-west-1"])
    latency = [a for a in d.alarms.alarms if a.metric_name == "ReplicationLatency"]
    assert len(latency) == 6
    assert {a.region for a in latency} == {"us-east-1"}
    assert {dict(a.dimensions)["ReceivingRegion"] for a in latency} == {"us-west-2", "eu-west-1"}


def test_alarm_of_removed_region_is_deleted():
    d = desired(replicaRegions=[])
    obs = in_shape(desired())
    for t in d.tables:  # replicas already gone
        obs = with_table(obs, t.kind, "us-east-1", replicas={})
    plan = diff(d, obs)
    (action,) = [a for a in plan.actions if a.feature == "alarm"]
    assert action.operation == "delete_alarms"
    assert all("ReplicationLatency/us-west-2" in n for n in action.params["AlarmNames"])


def test_alarms_disabled_deletes_ours_and_unset_leaves_them():
    obs = in_shape(desired())
    plan = diff(desired(alarms={"enabled": False}), obs)
    assert [a.operation for a in plan.actions] == ["delete_alarms", "delete_alarms"]
    # 12 table alarms and 10 index throttle alarms (5 GSIs x read and write)
    assert len(plan.actions[0].params["AlarmNames"]) == 22
    # and the shared account-level alarm, whose only user this resource is
    assert plan.actions[1].params["AlarmNames"] == [naming.shared_alarm_name("UserErrors")]
    assert diff(desired(alarms=None), obs).converged


def test_topic_created_before_alarms_and_emails_subscribed():
    d = desired(alarms={"createTopic": True, "emailSubscriptions": ["a@example.com"]})
    obs = in_shape(d)
    obs.alarms.topic_arn = None
    obs.alarms.subscriptions = {}
    assert [a.operation for a in diff(d, obs).actions] == ["create_topic"]
    obs = in_shape(d)
    obs.alarms.subscriptions = {}
    (action,) = diff(d, obs).actions
    assert action.params == {
        "TopicArn": obs.alarms.topic_arn,
        "Protocol": "email",
        "Endpoint": "a@example.com",
    }


def test_an_email_is_subscribed_once_unsubscribed_pending_and_confirmed_are_left_alone():
    """An address the operator has no record of (status.alarms.subscriptions) and SNS lists as
    no live subscription (absent, or "Deleted") is subscribed; a pending or confirmed one is
    not (a new confirmation mail at every check). Once recorded it is not asked again, whether
    SNS lists it "Deleted" (its recipient unsubscribed) or no longer lists it at all."""
    emails = ["new@example.com", "gone@example.com", "pending@example.com", "ok@example.com"]
    d = desired(alarms={"createTopic": True, "emailSubscriptions": emails})
    obs = in_shape(d)
    topic = obs.alarms.topic_arn
    obs.alarms.subscriptions = {
        "gone@example.com": "Deleted",
        "pending@example.com": "PendingConfirmation",
        "ok@example.com": f"{topic}:0b7e5c3a",
    }
    # no record yet (a person just added them, or put them back): asked once
    plan = diff(d, obs)
    assert [(a.operation, a.params["Endpoint"]) for a in plan.actions] == [
        ("subscribe", "new@example.com"),
        ("subscribe", "gone@example.com"),
    ]
    obs.subscriptions_asked = frozenset(("us-east-1", e) for e in emails)  # the record
    assert diff(d, obs).converged  # "Deleted": the recipient's choice
    del obs.alarms.subscriptions["gone@example.com"]  # SNS stopped listing it
    assert diff(d, obs).converged


def test_throttle_alarms_for_each_index_of_each_table():
    """ReadThrottleEvents and WriteThrottleEvents per GSI (dimensions TableName and
    GlobalSecondaryIndexName), named TABLE/INDEX/METRIC under the resource's alarm prefix."""
    d = desired()
    assert d.alarms is not None
    by_name = {a.name: a for a in d.alarms.alarms}
    index_alarms = []
    indexed = [t for t in d.tables if t.indexes]
    assert indexed  # the Threads feed index at least
    for t in indexed:
        for gsi in t.indexes:
            index = gsi["IndexName"]
            for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
                alarm = by_name[f"forumdb/ns1/forum/{t.name}/{index}/{metric}"]
                index_alarms.append(alarm.name)
                req = alarm.put_request([])
                assert (req["MetricName"], req["Statistic"]) == (metric, "Sum")
                assert sorted((x["Name"], x["Value"]) for x in req["Dimensions"]) == [
                    ("GlobalSecondaryIndexName", index),
                    ("TableName", t.name),
                ]
    # A diff creates them on a resource whose alarms predate them.
    obs = in_shape(d)
    for name in index_alarms:
        del obs.alarms.alarms[name]
    plan = diff(d, obs)
    assert [a.operation for a in plan.actions] == ["put_metric_alarm"] * len(index_alarms)
    assert sorted(a.params["AlarmName"] for a in plan.actions) == sorted(index_alarms)


def test_alarm_actions_name_the_topic():
    topic = "arn:aws:sns:us-east-1:123456789012:ops"
    d = desired(alarms={"snsTopicArn": topic})
    obs = in_shape(desired())  # alarms without actions
    plan = diff(d, obs)
    puts = [a for a in plan.actions if a.operation == "put_metric_alarm"]
    assert len(puts) == 23  # 12 table, 10 index throttle alarms and the shared UserErrors one
    assert all(a.params["AlarmActions"] == [topic] for a in puts)
    (tag,) = [a for a in plan.actions if a.operation == "tag_resource"]  # its user record
    assert f" {topic} " in tag.params["Tags"][0]["Value"]


def test_deletion_removes_alarms_backup_plan_replicas_then_tables():
    d = desired(deletionPolicy="Delete")
    obs = in_shape(d)
    plan = deletion_plan(d, obs)
    assert [a.operation for a in plan.actions] == [
        "delete_alarms",  # the shared UserErrors alarm: no other user
        "delete_alarms",
        "delete_backup_selection",
        "delete_backup_plan",
        "update_table",
        "update_table",
        "update_table",
    ]
    for t in d.tables:
        obs = with_table(obs, t.kind, "us-east-1", replicas={})
    plan = deletion_plan(d, obs)
    assert [a.operation for a in plan.actions][-3:] == ["delete_table"] * 3
    assert plan.waiting


def test_deletion_blocked_by_protection():
    d = desired(deletionPolicy="Delete")
    obs = with_table(in_shape(d), "users", "us-east-1", deletion_protection=True)
    plan = deletion_plan(d, obs)
    assert not plan.actions
    assert plan.problems[0].reason == "DeletionProtected"
    assert "forum-Users in us-east-1" in plan.problems[0].message


def test_deletion_turns_protection_off_when_the_spec_says_false():
    d = desired(deletionPolicy="Delete", deletionProtection=False)
    obs = with_table(in_shape(d), "users", "us-east-1", deletion_protection=True)
    plan = deletion_plan(d, obs)
    assert [a.params for a in plan.actions] == [
        {"TableName": "forum-Users", "DeletionProtectionEnabled": False}
    ]


def test_deletion_never_deletes_a_table_it_does_not_own():
    d = desired(deletionPolicy="Delete")
    obs = untagged(in_shape(d))
    plan = deletion_plan(d, obs)
    assert not [a for a in plan.actions if a.service == "dynamodb"]


def test_diff_does_not_mutate_its_inputs():
    d = desired()
    obs = in_shape(d)
    before = copy.deepcopy(obs)
    diff(d, obs)
    assert obs == before
    assert spec()["primaryRegion"] == "us-east-1"


PROVISIONED = {"mode": "PROVISIONED", "readCapacity": 10, "writeCapacity": 5}


def test_provisioned_replicas_get_write_auto_scaling_before_the_replica():
    d = desired(billing=PROVISIONED)
    assert d.table("posts").write_autoscaling == (5, 20)
    obs = without_replicas(d, in_shape(d), "posts")
    obs.scalable_targets.clear()
    obs.scaling_policies.clear()
    plan = diff(d, obs)
    posts = [a for a in plan.actions if "forum-Posts" in str(a.params)]
    # table + 2 indexes: a target and a policy each, and no replica yet
    assert [a.operation for a in posts] == ["register_scalable_target", "put_scaling_policy"] * 3
    assert posts[0].params["MinCapacity"] == 5
    assert posts[0].params["MaxCapacity"] == 20
    obs.scalable_targets.update({k: (5, 20) for k in d.table("posts").autoscaled_resources})
    obs.scaling_policies.update(d.table("posts").autoscaled_resources)
    (replica,) = [a for a in diff(d, obs).actions if a.feature == "replica"]
    assert replica.params["TableName"] == "forum-Posts"


def test_write_capacity_moved_by_auto_scaling_is_not_drift():
    d = desired(billing=PROVISIONED)
    obs = in_shape(d)
    t = obs.tables[("users", "us-east-1")]
    idx = {n: ObservedIndex(n, "ACTIVE", i.key_schema, 10, 17) for n, i in t.indexes.items()}
    obs = with_table(obs, "users", "us-east-1", write_capacity=13, indexes=idx)
    assert diff(d, obs).converged


def test_read_capacity_change_under_auto_scaling_keeps_the_write_capacity():
    d = desired(billing={**PROVISIONED, "readCapacity": 12})
    obs = with_table(
        in_shape(desired(billing=PROVISIONED)), "users", "us-east-1", write_capacity=13
    )
    updates = {
        a.params["TableName"]: a for a in diff(d, obs).actions if a.operation == "update_table"
    }
    assert updates["forum-Users"].params["ProvisionedThroughput"] == {
        "ReadCapacityUnits": 12,
        "WriteCapacityUnits": 13,
    }
    assert updates["forum-Posts"].params["ProvisionedThroughput"]["WriteCapacityUnits"] == 5


def test_auto_scaling_bounds_follow_the_spec():
    d = desired(billing={**PROVISIONED, "maxWriteCapacity": 50})
    obs = in_shape(desired(billing=PROVISIONED))
    plan = diff(d, obs)
    assert {a.operation for a in plan.actions} == {"register_scalable_target"}
    assert len(plan.actions) == 8  # 3 tables + 5 indexes
    assert all(a.params["MaxCapacity"] == 50 for a in plan.actions)
    assert "(it was 5-20)" in plan.actions[0].summary


def test_deletion_removes_auto_scaling_targets():
    d = desired(billing=PROVISIONED, deletionPolicy="Delete")
    obs = in_shape(d)
    for t in d.tables:
        obs = with_table(obs, t.kind, "us-east-1", replicas={})
    ops = [a.operation for a in deletion_plan(d, obs).actions]
    assert ops.count("deregister_scalable_target") == 8  # 3 tables + 5 indexes
    assert ops.index("deregister_scalable_target") < ops.index("delete_table")


def test_deletion_never_turns_protection_off_on_another_resources_table():
    """Two resources whose table prefixes collide: deleting the one that does not own the
    tables (spec.deletionProtection false) changes nothing on them, their protection
    included."""
    other = desired(deletionProtection=True)
    obs = in_shape(other)  # the tables carry the other resource's owner tag
    for key, t in list(obs.tables.items()):
        obs.tables[key] = replace(
            t, deletion_protection=True, tags={naming.TAG_OWNER: "ns1/other"} if t.tags else None
        )
    d = desired(deletionPolicy="Delete", deletionProtection=False)
    plan = deletion_plan(d, obs)
    assert not [a for a in plan.actions if a.service == "dynamodb"], plan.actions
    assert not plan.problems


@pytest.mark.parametrize(
    "state",
    [
        "CREATION_FAILED",
        "INACCESSIBLE_ENCRYPTION_CREDENTIALS",
        "REGION_DISABLED",
        "REPLICATION_NOT_AUTHORIZED",
        "ARCHIVING",
        "ARCHIVED",
    ],
)
def test_terminal_states_are_problems_in_the_diff_and_the_deletion(state):
    d = desired(deletionPolicy="Delete")
    obs = with_table(in_shape(d), "posts", "us-west-2", status=state)
    primary = obs.table("posts", "us-east-1")
    replicas = {r: replace(v, status=state) for r, v in primary.replicas.items()}
    obs = with_table(obs, "posts", "us-east-1", replicas=replicas)
    for plan in (diff(d, obs), deletion_plan(d, obs)):
        (problem,) = plan.problems
        assert f"forum-Posts in us-west-2 is {state}: " in problem.message
        assert not [w for w in plan.waiting if "forum-Posts" in w]
        assert not [a for a in plan.actions if a.params.get("TableName") == "forum-Posts"]


def test_a_region_whose_table_is_still_deleting_is_waited_for_before_re_adding():
    """A replica removed moments ago leaves its table DELETING in its region; AWS refuses the
    region until it is gone ("already existed as tables", DDB-TABLE-228)."""
    d = desired()
    obs = with_table(in_shape(d), "users", "us-east-1", replicas={})
    obs = with_table(obs, "users", "us-west-2", status="DELETING")
    plan = diff(d, obs)
    assert not [a for a in plan.actions if a.feature == "replica"]
    assert "table forum-Users in us-west-2 is still DELETING" in plan.waiting
