"""(desired, observed) -> an ordered list of actions, the things to wait for, and problems.

Pure functions: no AWS, no Kubernetes. Rules that keep the operator safe:
- a feature whose spec field is unset (desired None) is not looked at: nothing is changed or
  deleted for it (the ACK #2400 lesson);
- at most one `update_table` per table per pass, and none while the table, an index or a
  replica is not ACTIVE (AWS allows one change at a time; UPDATING is waited for, not fought);
- replicas are added or removed one region at a time;
- under PAY_PER_REQUEST, capacities (0 on every GSI) are never compared;
- a table that exists without our owner tag is adopted (tagged, never recreated) when its keys
  match the layout and spec.adopt allows; a table owned by another ForumDatabase is a problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forumdb import naming
from forumdb_operator.desired import (
    AUTOSCALING_POLICY,
    AUTOSCALING_TARGET_UTILIZATION,
    DesiredAlarms,
    DesiredBackups,
    DesiredState,
    DesiredTable,
)
from forumdb_operator.observed import Observed, ObservedBackups, ObservedTable

ALARM_DELETE_BATCH = 100
DEFAULT_BACKUP_ROLE = "arn:aws:iam::{account}:role/service-role/AWSBackupDefaultServiceRole"


@dataclass(frozen=True)
class Action:
    feature: str  # table, index, billing, stream, encryption, protection, tags, replica, pitr,
    #               backup, alarm, topic
    service: str
    region: str
    operation: str  # the boto3 client method
    params: dict[str, Any]
    summary: str  # human text: "enable PITR on forum-Users in us-west-2 (it was disabled)"

    def __str__(self) -> str:
        return self.summary


@dataclass(frozen=True)
class Problem:
    """Something the operator cannot fix by itself; `field` names what the user should change."""

    field: str
    message: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return not (self.actions or self.waiting or self.problems)


def _key_schema(request_schema: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k["AttributeName"], k["KeyType"]) for k in request_schema)


def _fmt_keys(schema: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{n} {t}" for n, t in schema) or "none"


# ---------------------------------------------------------------- tables


def _ownership(d: DesiredState, t: DesiredTable, o: ObservedTable, plan: Plan) -> bool:
    """Check the owner tag; adopt (tag) where allowed. False: leave this table alone."""
    tags = o.tags or {}
    owner = tags.get(naming.TAG_OWNER)
    if owner and owner != d.owner:
        plan.problems.append(
            Problem(
                "spec.tablePrefix",
                f"table {t.name} in {o.region} belongs to ForumDatabase {owner}; "
                "choose another tablePrefix",
                "TableOwnedByAnother",
            )
        )
        return False
    if owner is None:
        if not d.adopt:
            plan.problems.append(
                Problem(
                    "spec.adopt",
                    f"table {t.name} already exists in {o.region} and is not managed by forumdb; "
                    "set spec.adopt: true to adopt it",
                    "TableExists",
                )
            )
            return False
        expected = _key_schema(t.create_request["KeySchema"])
        if o.key_schema != expected:
            plan.problems.append(
                Problem(
                    "spec.tablePrefix",
                    f"table {t.name} in {o.region} exists with keys ({_fmt_keys(o.key_schema)}) "
                    f"but forumdb needs ({_fmt_keys(expected)}); it cannot be adopted",
                    "IncompatibleTable",
                )
            )
            return False
    missing = {k: v for k, v in t.tags.items() if tags.get(k) != v}
    if missing:
        verb = "adopt" if owner is None else "tag"
        plan.actions.append(
            Action(
                "tags",
                "dynamodb",
                o.region,
                "tag_resource",
                {
                    "ResourceArn": o.arn,
                    "Tags": [{"Key": k, "Value": v} for k, v in sorted(missing.items())],
                },
                f"{verb} table {t.name} in {o.region} (tags {', '.join(sorted(missing))})",
            )
        )
    return True


def _throughput(t: DesiredTable) -> dict[str, int]:
    # spec validation guarantees both for PROVISIONED
    return {"ReadCapacityUnits": t.read_capacity or 1, "WriteCapacityUnits": t.write_capacity or 1}


def _table_update(
    d: DesiredState, t: DesiredTable, o: ObservedTable, obs: Observed
) -> Action | None:
    """The first update_table this table needs, by priority; None if in shape."""
    region = o.region

    def update(feature: str, summary: str, **params: Any) -> Action:
        return Action(
            feature, "dynamodb", region, "update_table", {"TableName": t.name, **params}, summary
        )

    if t.stream_required and not o.stream_enabled:
        return update(
            "stream",
            f"enable the NEW_AND_OLD_IMAGES stream on {t.name} in {region} (replicas need it)",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
    for gsi in t.indexes:
        if gsi["IndexName"] not in o.indexes:
            create = {k: v for k, v in gsi.items()}
            return update(
                "index",
                f"create index {gsi['IndexName']} on {t.name} in {region} (it was missing)",
                AttributeDefinitions=t.create_request["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": create}],
            )
    if t.billing_mode == "PAY_PER_REQUEST" and o.billing_mode != "PAY_PER_REQUEST":
        return update(
            "billing",
            f"switch {t.name} in {region} to PAY_PER_REQUEST (it was {o.billing_mode})",
            BillingMode="PAY_PER_REQUEST",
        )
    if t.billing_mode == "PROVISIONED":
        tp = _throughput(t)
        managed_gsis = [i for i in o.indexes if i in {g["IndexName"] for g in t.indexes}]
        if o.billing_mode != "PROVISIONED":
            return update(
                "billing",
                f"switch {t.name} in {region} to PROVISIONED {tp['ReadCapacityUnits']}/"
                f"{tp['WriteCapacityUnits']} (it was {o.billing_mode})",
                BillingMode="PROVISIONED",
                ProvisionedThroughput=tp,
                GlobalSecondaryIndexUpdates=[
                    {"Update": {"IndexName": i, "ProvisionedThroughput": tp}} for i in managed_gsis
                ],
            )
        # Under write auto scaling, write capacity is auto scaling's to change: compare reads
        # only and keep whatever write capacity it has set.
        scaled = t.write_autoscaling is not None

        def differs(read: int, write: int) -> bool:
            return read != t.read_capacity or (not scaled and write != t.write_capacity)

        def throughput(write: int) -> dict[str, int]:
            return {**tp, "WriteCapacityUnits": write or tp["WriteCapacityUnits"]} if scaled else tp

        table_differs = differs(o.read_capacity, o.write_capacity)
        gsi_differs = [
            i
            for i in managed_gsis
            if differs(o.indexes[i].read_capacity, o.indexes[i].write_capacity)
        ]
        if table_differs or gsi_differs:
            params: dict[str, Any] = {}
            if table_differs:
                params["ProvisionedThroughput"] = throughput(o.write_capacity)
            if gsi_differs:
                params["GlobalSecondaryIndexUpdates"] = [
                    {
                        "Update": {
                            "IndexName": i,
                            "ProvisionedThroughput": throughput(o.indexes[i].write_capacity),
                        }
                    }
                    for i in gsi_differs
                ]
            return update(
                "billing",
                f"set capacity of {t.name} in {region} to {tp['ReadCapacityUnits']}/"
                f"{tp['WriteCapacityUnits']} (was {o.read_capacity}/{o.write_capacity})",
                **params,
            )
    if t.kms_key is not None:
        if t.kms_key == "" and o.kms_key is not None:
            return update(
                "encryption",
                f"encrypt {t.name} in {region} with the AWS owned key (it used {o.kms_key})",
                SSESpecification={"Enabled": False},
            )
        if t.kms_key:
            arn = obs.kms_arns.get((region, t.kms_key))
            if o.kms_key not in {t.kms_key, arn}:
                return update(
                    "encryption",
                    f"encrypt {t.name} in {region} with KMS key {t.kms_key} "
                    f"(it used {o.kms_key or 'the AWS owned key'})",
                    SSESpecification={
                        "Enabled": True,
                        "SSEType": "KMS",
                        "KMSMasterKeyId": t.kms_key,
                    },
                )
    if t.deletion_protection is not None and t.deletion_protection != o.deletion_protection:
        state = "on" if t.deletion_protection else "off"
        return update(
            "protection",
            f"turn deletion protection {state} for {t.name} in {region}",
            DeletionProtectionEnabled=t.deletion_protection,
        )
    return None


def autoscaling_actions(t: DesiredTable, obs: Observed, region: str) -> list[Action]:
    """Write capacity auto scaling (target tracking) of the table and each index."""
    if t.write_autoscaling is None:
        return []
    low, high = t.write_autoscaling
    actions = []
    for resource_id, dimension in t.autoscaled_resources:
        key = (resource_id, dimension)
        have = obs.scalable_targets.get(key)
        if have != (low, high):
            actions.append(
                Action(
                    "autoscaling",
                    "application-autoscaling",
                    region,
                    "register_scalable_target",
                    {
                        "ServiceNamespace": "dynamodb",
                        "ResourceId": resource_id,
                        "ScalableDimension": dimension,
                        "MinCapacity": low,
                        "MaxCapacity": high,
                    },
                    f"set write auto scaling of {resource_id} in {region} to {low}-{high}"
                    + (f" (it was {have[0]}-{have[1]})" if have else ""),
                )
            )
        if key not in obs.scaling_policies:
            actions.append(
                Action(
                    "autoscaling",
                    "application-autoscaling",
                    region,
                    "put_scaling_policy",
                    {
                        "PolicyName": AUTOSCALING_POLICY,
                        "ServiceNamespace": "dynamodb",
                        "ResourceId": resource_id,
                        "ScalableDimension": dimension,
                        "PolicyType": "TargetTrackingScaling",
                        "TargetTrackingScalingPolicyConfiguration": {
                            "TargetValue": AUTOSCALING_TARGET_UTILIZATION,
                            "PredefinedMetricSpecification": {
                                "PredefinedMetricType": "DynamoDBWriteCapacityUtilization"
                            },
                        },
                    },
                    f"put the write utilisation policy on {resource_id} in {region}",
                )
            )
    return actions


def _replica_update(
    d: DesiredState, t: DesiredTable, o: ObservedTable, plan: Plan
) -> Action | None:
    busy = [r for r in o.replicas.values() if r.status != "ACTIVE"]
    if busy:
        plan.waiting.extend(f"replica of {t.name} in {r.region} is {r.status}" for r in busy)
        return None
    if not d.replicas_managed:
        return None
    wanted = [r for r in d.replica_regions if r != o.region]
    missing = [r for r in wanted if r not in o.replicas]
    extra = sorted(r for r in o.replicas if r not in wanted)

    def replica(summary: str, op: dict[str, Any]) -> Action:
        return Action(
            "replica",
            "dynamodb",
            o.region,
            "update_table",
            {"TableName": t.name, "ReplicaUpdates": [op]},
            summary,
        )

    if missing:
        region = missing[0]
        create: dict[str, Any] = {"RegionName": region}
        if t.replica_kms_keys.get(region):
            create["KMSMasterKeyId"] = t.replica_kms_keys[region]
        return replica(f"add a replica of {t.name} in {region}", {"Create": create})
    if extra:
        region = extra[0]
        return replica(
            f"remove the replica of {t.name} in {region} (not in spec.replicaRegions)",
            {"Delete": {"RegionName": region}},
        )
    return None


def _pitr_actions(d: DesiredState, t: DesiredTable, obs: Observed, plan: Plan) -> None:
    want = d.pitr
    if want is None:
        return
    for region in (d.primary_region, *d.replica_regions):
        o = obs.table(t.kind, region)
        have = obs.pitr.get((t.kind, region))
        if o is None or have is None:
            continue
        if o.status != "ACTIVE":
            continue
        period_differs = (
            want.enabled
            and have.recovery_period_days is not None
            and have.recovery_period_days != want.recovery_period_days
        )
        if have.enabled == want.enabled and not period_differs:
            continue
        spec: dict[str, Any] = {"PointInTimeRecoveryEnabled": want.enabled}
        if want.enabled:
            spec["RecoveryPeriodInDays"] = want.recovery_period_days
        if have.enabled != want.enabled:
            was = "disabled" if want.enabled else "enabled"
            verb = "enable" if want.enabled else "disable"
            summary = f"{verb} PITR on {t.name} in {region} (it was {was})"
        else:
            summary = (
                f"set the PITR period of {t.name} in {region} to {want.recovery_period_days} days "
                f"(it was {have.recovery_period_days})"
            )
        plan.actions.append(
            Action(
                "pitr",
                "dynamodb",
                region,
                "update_continuous_backups",
                {"TableName": t.name, "PointInTimeRecoverySpecification": spec},
                summary,
            )
        )


def diff_tables(d: DesiredState, obs: Observed, plan: Plan) -> None:
    for t in d.tables:
        region = d.primary_region
        o = obs.table(t.kind, region)
        if o is None:
            plan.actions.append(
                Action(
                    "table",
                    "dynamodb",
                    region,
                    "create_table",
                    t.create_request,
                    f"create table {t.name} in {region}",
                )
            )
            plan.waiting.append(f"table {t.name} in {region} is being created")
            continue
        if not _ownership(d, t, o, plan):
            continue
        if o.busy:
            plan.waiting.append(f"table {t.name} in {region} is {o.status}")
            continue
        _pitr_actions(d, t, obs, plan)
        change = _table_update(d, t, o, obs)
        if change is None and o.billing_mode == "PROVISIONED":
            # before any replica: AWS refuses replicas of PROVISIONED tables without it
            scaling = autoscaling_actions(t, obs, region)
            plan.actions.extend(scaling)
            if scaling and t.stream_required and set(d.replica_regions) - set(o.replicas):
                plan.waiting.append(f"table {t.name}: write auto scaling before replicas")
                continue
        change = change or _replica_update(d, t, o, plan)
        if change is not None:
            plan.actions.append(change)
            plan.waiting.append(f"table {t.name} in {region}: {change.summary}")
            continue
        for region_name in d.replica_regions:
            replica = obs.table(t.kind, region_name)
            if replica is not None and replica.status != "ACTIVE":
                plan.waiting.append(f"table {t.name} in {region_name} is {replica.status}")


# ---------------------------------------------------------------- backups


def backup_plan_document(b: DesiredBackups, copy_vault_arn: str | None) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "RuleName": b.rule_name,
        "TargetBackupVaultName": b.vault_name,
        "ScheduleExpression": b.schedule,
        "Lifecycle": {"DeleteAfterDays": b.retention_days},
    }
    if b.copy_region and copy_vault_arn:
        rule["CopyActions"] = [
            {
                "DestinationBackupVaultArn": copy_vault_arn,
                "Lifecycle": {"DeleteAfterDays": b.copy_retention_days},
            }
        ]
    return {"BackupPlanName": b.plan_name, "Rules": [rule]}


def _rule_shape(rule: dict[str, Any]) -> tuple[Any, ...]:
    copies = tuple(
        sorted(
            (c.get("DestinationBackupVaultArn"), (c.get("Lifecycle") or {}).get("DeleteAfterDays"))
            for c in rule.get("CopyActions") or []
        )
    )
    return (
        rule.get("TargetBackupVaultName"),
        rule.get("ScheduleExpression"),
        (rule.get("Lifecycle") or {}).get("DeleteAfterDays"),
        copies,
    )


def _plan_matches(want: dict[str, Any], have: dict[str, Any] | None) -> bool:
    if not have:
        return False
    have_rules = {r.get("RuleName"): r for r in have.get("Rules") or []}
    for rule in want["Rules"]:
        got = have_rules.get(rule["RuleName"])
        if got is None or _rule_shape(got) != _rule_shape(rule):
            return False
    return True


def _delete_selection(b: DesiredBackups, ob: ObservedBackups, description: str) -> Action:
    """Delete the observed backup selection (its plan stays)."""
    return Action(
        "backup",
        "backup",
        b.primary_region,
        "delete_backup_selection",
        {"BackupPlanId": ob.plan_id, "SelectionId": ob.selection_id},
        description,
    )


def _backup_plan_removal(b: DesiredBackups, ob: ObservedBackups, why: str = "") -> list[Action]:
    """Delete the selection, then the plan; vaults and their recovery points stay."""
    region = b.primary_region
    actions = []
    if ob.plan_id and ob.selection_id:
        actions.append(_delete_selection(b, ob, f"delete backup selection {b.selection_name}{why}"))
    if ob.plan_id:
        actions.append(
            Action(
                "backup",
                "backup",
                region,
                "delete_backup_plan",
                {"BackupPlanId": ob.plan_id},
                f"delete backup plan {b.plan_name}{why}",
            )
        )
    return actions


def diff_backups(d: DesiredState, obs: Observed, plan: Plan) -> None:
    b = d.backups
    ob = obs.backups
    if b is None or ob is None:
        return
    region = b.primary_region
    if not b.enabled:
        plan.actions.extend(_backup_plan_removal(b, ob, " (backups disabled; vaults kept)"))
        return
    vault_regions = [region] + ([b.copy_region] if b.copy_region else [])
    for r in vault_regions:
        if not ob.vault_arns.get(r):
            plan.actions.append(
                Action(
                    "backup",
                    "backup",
                    r,
                    "create_backup_vault",
                    {"BackupVaultName": b.vault_name, "BackupVaultTags": dict(b.tags)},
                    f"create backup vault {b.vault_name} in {r}",
                )
            )
    if any(not ob.vault_arns.get(r) for r in vault_regions):
        return  # the plan names the vaults (the copy vault by ARN): next pass
    doc = backup_plan_document(b, ob.vault_arns.get(b.copy_region) if b.copy_region else None)
    if ob.plan_id is None:
        plan.actions.append(
            Action(
                "backup",
                "backup",
                region,
                "create_backup_plan",
                {"BackupPlan": doc, "BackupPlanTags": dict(b.tags)},
                f"create backup plan {b.plan_name} ({b.schedule}, {b.retention_days} days"
                + (f", copy to {b.copy_region})" if b.copy_region else ")"),
            )
        )
        return  # the selection needs the plan's id: next pass
    if not _plan_matches(doc, ob.plan):
        plan.actions.append(
            Action(
                "backup",
                "backup",
                region,
                "update_backup_plan",
                {"BackupPlanId": ob.plan_id, "BackupPlan": doc},
                f"update backup plan {b.plan_name} to {b.schedule}, {b.retention_days} days"
                + (f", copy to {b.copy_region}" if b.copy_region else ""),
            )
        )
    arns = []
    for t in d.tables:
        o = obs.table(t.kind, region)
        if o is None or not o.arn:
            return  # tables first
        arns.append(o.arn)
    account = obs.account_id or "000000000000"
    role = b.iam_role_arn or DEFAULT_BACKUP_ROLE.format(account=account)
    selection = {"SelectionName": b.selection_name, "IamRoleArn": role, "Resources": sorted(arns)}
    have = ob.selection
    if ob.selection_id is not None and have is not None:
        same = (
            sorted(have.get("Resources") or []) == selection["Resources"]
            and have.get("IamRoleArn") == role
        )
        if same:
            return
        plan.actions.append(
            _delete_selection(
                b, ob, f"replace backup selection {b.selection_name} (its tables or role changed)"
            )
        )
    plan.actions.append(
        Action(
            "backup",
            "backup",
            region,
            "create_backup_selection",
            {"BackupPlanId": ob.plan_id, "BackupSelection": selection},
            f"select the tables {', '.join(t.name for t in d.tables)} for backup plan "
            f"{b.plan_name}",
        )
    )


# ---------------------------------------------------------------- alarms


def _dims(raw: list[dict[str, str]] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((x["Name"], x["Value"]) for x in raw or []))


def _metrics_shape(metrics: list[dict[str, Any]] | None) -> tuple[Any, ...]:
    out = []
    for m in metrics or []:
        stat = m.get("MetricStat") or {}
        metric = stat.get("Metric") or {}
        out.append(
            (
                m.get("Id"),
                m.get("Expression"),
                metric.get("MetricName"),
                _dims(metric.get("Dimensions")),
                stat.get("Stat"),
                stat.get("Period"),
            )
        )
    return tuple(sorted(out, key=str))


def alarm_matches(want: dict[str, Any], have: dict[str, Any]) -> bool:
    """Compare the fields the operator sets (what AWS adds on its own is ignored)."""
    if float(have.get("Threshold", -1)) != float(want["Threshold"]):
        return False
    for key in ("ComparisonOperator", "EvaluationPeriods", "TreatMissingData", "ActionsEnabled"):
        if have.get(key) != want.get(key):
            return False
    if sorted(have.get("AlarmActions") or []) != sorted(want.get("AlarmActions") or []):
        return False
    if "Metrics" in want:
        return _metrics_shape(have.get("Metrics")) == _metrics_shape(want["Metrics"])
    return (
        have.get("MetricName") == want["MetricName"]
        and have.get("Namespace") == want["Namespace"]
        and have.get("Statistic") == want["Statistic"]
        and have.get("Period") == want["Period"]
        and _dims(have.get("Dimensions")) == _dims(want["Dimensions"])
    )


def _delete_alarms(names: list[str], region: str, why: str) -> list[Action]:
    names = sorted(names)
    return [
        Action(
            "alarm",
            "cloudwatch",
            region,
            "delete_alarms",
            {"AlarmNames": names[i : i + ALARM_DELETE_BATCH]},
            f"delete {len(names[i : i + ALARM_DELETE_BATCH])} alarm(s) in {region} ({why}): "
            + ", ".join(names[i : i + ALARM_DELETE_BATCH][:3])
            + ("..." if len(names[i : i + ALARM_DELETE_BATCH]) > 3 else ""),
        )
        for i in range(0, len(names), ALARM_DELETE_BATCH)
    ]


def diff_alarms(d: DesiredState, obs: Observed, plan: Plan) -> None:
    a: DesiredAlarms | None = d.alarms
    oa = obs.alarms
    if a is None or oa is None:
        return
    if not a.enabled:
        plan.actions.extend(_delete_alarms(list(oa.alarms), a.region, "alarms disabled"))
        return
    if a.create_topic_name and oa.topic_arn is None:
        plan.actions.append(
            Action(
                "topic",
                "sns",
                a.region,
                "create_topic",
                {
                    "Name": a.create_topic_name,
                    "Tags": [
                        {"Key": k, "Value": v}
                        for k, v in naming.owner_tags(d.namespace, d.name).items()
                    ],
                },
                f"create SNS topic {a.create_topic_name} in {a.region}",
            )
        )
        return  # alarms name the topic's ARN: next pass
    topic = a.topic_arn or oa.topic_arn
    for email in a.emails:
        if topic and email not in oa.subscriptions:
            plan.actions.append(
                Action(
                    "topic",
                    "sns",
                    a.region,
                    "subscribe",
                    {"TopicArn": topic, "Protocol": "email", "Endpoint": email},
                    f"subscribe {email} to {topic}",
                )
            )
    actions = [topic] if topic else []
    wanted = set()
    for alarm in a.alarms:
        wanted.add(alarm.name)
        req = alarm.put_request(actions)
        have = oa.alarms.get(alarm.name)
        if have is not None and alarm_matches(req, have):
            continue
        summary = (
            f"create alarm {alarm.name} in {alarm.region}"
            if have is None
            else f"update alarm {alarm.name} in {alarm.region} (its settings had changed)"
        )
        plan.actions.append(
            Action("alarm", "cloudwatch", alarm.region, "put_metric_alarm", req, summary)
        )
    extra = [n for n in oa.alarms if n not in wanted]
    if extra:
        plan.actions.extend(_delete_alarms(extra, a.region, "no longer wanted"))


def diff(d: DesiredState, obs: Observed) -> Plan:
    """Everything to do, in order: tables (create, adopt, update, replicas, PITR), then backups,
    then alarms."""
    plan = Plan()
    diff_tables(d, obs, plan)
    diff_backups(d, obs, plan)
    diff_alarms(d, obs, plan)
    return plan


# ---------------------------------------------------------------- deletion


def deletion_plan(d: DesiredState, obs: Observed) -> Plan:
    """deletionPolicy Delete: alarms, topic, backup selection and plan, replicas, then tables.
    Vaults stay (they hold the recovery points). Deletion protection blocks it all."""
    plan = Plan()
    protected = sorted(
        (t for t in obs.tables.values() if t is not None and t.deletion_protection),
        key=lambda t: (t.name, t.region),
    )
    if protected and d.tables[0].deletion_protection is False:
        # The spec asks for protection off: that is the user's way to unblock the deletion.
        for t in protected:
            plan.actions.append(
                Action(
                    "protection",
                    "dynamodb",
                    t.region,
                    "update_table",
                    {"TableName": t.name, "DeletionProtectionEnabled": False},
                    f"turn deletion protection off for {t.name} in {t.region}",
                )
            )
        plan.waiting.append("deletion protection is being turned off")
        return plan
    if protected:
        plan.problems.append(
            Problem(
                "spec.deletionProtection",
                "deletion protection is on for "
                + ", ".join(f"{t.name} in {t.region}" for t in protected)
                + "; turn it off "
                "(spec.deletionProtection: false) or set spec.deletionPolicy: Retain",
                "DeletionProtected",
            )
        )
        return plan
    if obs.alarms is not None and d.alarms is not None:
        plan.actions.extend(_delete_alarms(list(obs.alarms.alarms), d.alarms.region, "deleting"))
        if obs.alarms.topic_arn:
            plan.actions.append(
                Action(
                    "topic",
                    "sns",
                    d.alarms.region,
                    "delete_topic",
                    {"TopicArn": obs.alarms.topic_arn},
                    f"delete SNS topic {obs.alarms.topic_arn}",
                )
            )
    ob = obs.backups
    if ob is not None and d.backups is not None:
        plan.actions.extend(_backup_plan_removal(d.backups, ob))
    for t in d.tables:
        o = obs.table(t.kind, d.primary_region)
        if o is None:
            continue
        owner = (o.tags or {}).get(naming.TAG_OWNER)
        if owner != d.owner:
            continue  # never delete a table this resource does not own
        for resource_id, dimension in t.autoscaled_resources:
            if (resource_id, dimension) in obs.scalable_targets:
                plan.actions.append(
                    Action(
                        "autoscaling",
                        "application-autoscaling",
                        o.region,
                        "deregister_scalable_target",
                        {
                            "ServiceNamespace": "dynamodb",
                            "ResourceId": resource_id,
                            "ScalableDimension": dimension,
                        },
                        f"remove write auto scaling of {resource_id} in {o.region}",
                    )
                )
        if o.busy or any(r.status != "ACTIVE" for r in o.replicas.values()):
            plan.waiting.append(f"table {t.name} in {o.region} is {o.status}")
            continue
        if o.replicas:
            region = sorted(o.replicas)[0]
            plan.actions.append(
                Action(
                    "replica",
                    "dynamodb",
                    o.region,
                    "update_table",
                    {"TableName": t.name, "ReplicaUpdates": [{"Delete": {"RegionName": region}}]},
                    f"remove the replica of {t.name} in {region}",
                )
            )
            plan.waiting.append(f"replica of {t.name} in {region} is being removed")
            continue
        plan.actions.append(
            Action(
                "table",
                "dynamodb",
                o.region,
                "delete_table",
                {"TableName": t.name},
                f"delete table {t.name} in {o.region}",
            )
        )
        plan.waiting.append(f"table {t.name} in {o.region} is being deleted")
    return plan
