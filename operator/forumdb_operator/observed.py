"""AWS -> observed state, with read calls only (describe/list/get).

What is looked at follows the desired state (its regions, names and prefix) plus the replicas
the primary table reports, so removed regions are still seen. Not-found is a state (None), not
an error; every other failure is classified by forumdb_operator.errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from forumdb_operator import errors
from forumdb_operator.desired import AUTOSCALING_POLICY, DesiredState

ClientFactory = Callable[[str, str], Any]
log = logging.getLogger("forumdb_operator.observed")


@dataclass(frozen=True)
class ObservedIndex:
    name: str
    status: str
    key_schema: tuple[tuple[str, str], ...]
    read_capacity: int
    write_capacity: int


@dataclass(frozen=True)
class ObservedReplica:
    region: str
    status: str
    kms_key: str | None


@dataclass(frozen=True)
class ObservedTable:
    name: str
    region: str
    status: str
    arn: str
    key_schema: tuple[tuple[str, str], ...]
    billing_mode: str
    read_capacity: int
    write_capacity: int
    indexes: dict[str, ObservedIndex]
    stream_enabled: bool
    stream_view_type: str | None
    kms_key: str | None  # None: the AWS owned key
    deletion_protection: bool
    replicas: dict[str, ObservedReplica]
    item_count: int
    size_bytes: int
    tags: dict[str, str] | None = None  # read for the primary table only
    # AttributeDefinitions: name -> S | N | B (what an adoption compares besides the keys)
    attribute_types: dict[str, str] = field(default_factory=dict)

    @property
    def busy(self) -> bool:
        return self.status != "ACTIVE" or any(i.status != "ACTIVE" for i in self.indexes.values())


@dataclass(frozen=True)
class ObservedPitr:
    enabled: bool
    recovery_period_days: int | None  # None where the endpoint does not report it


@dataclass
class ObservedBackups:
    vault_arns: dict[str, str | None] = field(default_factory=dict)  # region -> ARN or None
    plan_id: str | None = None
    plan_arn: str | None = None
    plan: dict[str, Any] | None = None  # the BackupPlan document
    selection_id: str | None = None
    selection: dict[str, Any] | None = None  # the BackupSelection document
    last_recovery_point: dict[str, Any] | None = None


@dataclass
class ObservedAlarms:
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)
    topic_arn: str | None = None  # the operator-made topic, where it exists
    subscriptions: dict[str, str] = field(default_factory=dict)  # e-mail -> subscription ARN


@dataclass
class Observed:
    tables: dict[tuple[str, str], ObservedTable | None] = field(default_factory=dict)
    pitr: dict[tuple[str, str], ObservedPitr] = field(default_factory=dict)
    kms_arns: dict[tuple[str, str], str] = field(default_factory=dict)  # (region, key) -> ARN
    backups: ObservedBackups | None = None
    alarms: ObservedAlarms | None = None
    # (ResourceId, ScalableDimension) -> (min, max); policies: the same keys, where ours exists
    scalable_targets: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    scaling_policies: set[tuple[str, str]] = field(default_factory=set)
    # Primary-region tables this resource created or tagged whose owner tag may not be listed
    # yet (ListTagsOfResource is eventually consistent); from the status, not from AWS.
    claimed: frozenset[str] = frozenset()
    # (table name, region) whose PITR an earlier reconcile saw enabled (status.tables): turning
    # it on again is a repair, turning it on the first time is not; from the status too.
    pitr_seen_enabled: frozenset[tuple[str, str]] = frozenset()
    # This resource's status records the tables as its own (status.provisioned for this
    # prefix and region): tables tagged with its name before the UID joined the owner record.
    provisioned_here: bool = False

    def table(self, kind: str, region: str) -> ObservedTable | None:
        return self.tables.get((kind, region))

    @property
    def account_id(self) -> str | None:
        for t in self.tables.values():
            if t is not None and t.arn.count(":") >= 5:
                return t.arn.split(":")[4]
        return None


def _key_schema(raw: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k["AttributeName"], k["KeyType"]) for k in raw)


def parse_table(desc: dict[str, Any], region: str) -> ObservedTable:
    billing = (desc.get("BillingModeSummary") or {}).get("BillingMode", "PROVISIONED")
    throughput = desc.get("ProvisionedThroughput") or {}
    indexes = {}
    for gsi in desc.get("GlobalSecondaryIndexes") or []:
        tp = gsi.get("ProvisionedThroughput") or {}
        indexes[gsi["IndexName"]] = ObservedIndex(
            name=gsi["IndexName"],
            status=gsi.get("IndexStatus", "ACTIVE"),
            key_schema=_key_schema(gsi.get("KeySchema", [])),
            read_capacity=int(tp.get("ReadCapacityUnits", 0) or 0),
            write_capacity=int(tp.get("WriteCapacityUnits", 0) or 0),
        )
    stream = desc.get("StreamSpecification") or {}
    sse = desc.get("SSEDescription") or {}
    kms = sse.get("KMSMasterKeyArn") if sse.get("SSEType") == "KMS" else None
    if sse.get("Status") in ("DISABLED", "DISABLING"):
        kms = None
    replicas = {}
    for r in desc.get("Replicas") or []:
        replicas[r["RegionName"]] = ObservedReplica(
            region=r["RegionName"],
            status=r.get("ReplicaStatus", "ACTIVE"),
            kms_key=r.get("KMSMasterKeyId"),
        )
    return ObservedTable(
        name=desc["TableName"],
        region=region,
        status=desc.get("TableStatus", "ACTIVE"),
        arn=desc.get("TableArn", ""),
        key_schema=_key_schema(desc.get("KeySchema", [])),
        billing_mode=billing,
        read_capacity=int(throughput.get("ReadCapacityUnits", 0) or 0),
        write_capacity=int(throughput.get("WriteCapacityUnits", 0) or 0),
        indexes=indexes,
        stream_enabled=bool(stream.get("StreamEnabled")),
        stream_view_type=stream.get("StreamViewType"),
        kms_key=kms,
        deletion_protection=bool(desc.get("DeletionProtectionEnabled")),
        replicas=replicas,
        item_count=int(desc.get("ItemCount", 0) or 0),
        size_bytes=int(desc.get("TableSizeBytes", 0) or 0),
        attribute_types={
            a["AttributeName"]: a["AttributeType"] for a in desc.get("AttributeDefinitions") or []
        },
    )


class Observer:
    """Reads what exists in AWS for one desired state."""

    def __init__(self, clients: ClientFactory) -> None:
        self.clients = clients

    def _call(self, service: str, region: str, op: str, what: str, **kw: Any) -> Any:
        try:
            return getattr(self.clients(service, region), op)(**kw)
        except Exception as exc:
            if errors.is_not_found(exc):
                return None
            raise errors.classify(exc, what, region, service=service) from exc

    def describe_table(self, name: str, region: str) -> ObservedTable | None:
        out = self._call(
            "dynamodb", region, "describe_table", f"describe table {name}", TableName=name
        )
        return parse_table(out["Table"], region) if out else None

    def observe(self, desired: DesiredState, *, resolve_kms: bool = True) -> Observed:
        obs = Observed()
        for t in desired.tables:
            primary = self.describe_table(t.name, desired.primary_region)
            obs.tables[(t.kind, desired.primary_region)] = primary
            if primary is None:
                continue
            tags = self._call(
                "dynamodb",
                desired.primary_region,
                "list_tags_of_resource",
                f"list tags of table {t.name}",
                ResourceArn=primary.arn,
            )
            tag_map = {x["Key"]: x["Value"] for x in (tags or {}).get("Tags", [])}
            obs.tables[(t.kind, desired.primary_region)] = _with_tags(primary, tag_map)
            regions = [desired.primary_region]
            regions += [r for r in desired.replica_regions if r != desired.primary_region]
            regions += [r for r in primary.replicas if r not in regions]
            for region in regions[1:]:
                obs.tables[(t.kind, region)] = self.describe_table(t.name, region)
            # Read even when PITR is not managed: the status shows it.
            for region in regions:
                if obs.tables.get((t.kind, region)) is not None:
                    obs.pitr[(t.kind, region)] = self.pitr(t.name, region)
        if resolve_kms:
            self._resolve_kms(desired, obs)
        # Also where billing is managed without auto scaling: leftovers are to be removed.
        if any(t.write_autoscaling or t.billing_managed for t in desired.tables):
            self.autoscaling(desired, obs)
        if desired.backups is not None:
            obs.backups = self.backups(desired)
        if desired.alarms is not None:
            obs.alarms = self.alarms(desired)
        return obs

    def pitr(self, table: str, region: str) -> ObservedPitr:
        out = self._call(
            "dynamodb",
            region,
            "describe_continuous_backups",
            f"describe continuous backups of {table}",
            TableName=table,
        )
        desc = ((out or {}).get("ContinuousBackupsDescription") or {}).get(
            "PointInTimeRecoveryDescription"
        ) or {}
        period = desc.get("RecoveryPeriodInDays")
        return ObservedPitr(
            enabled=desc.get("PointInTimeRecoveryStatus") == "ENABLED",
            recovery_period_days=int(period) if period is not None else None,
        )

    def autoscaling(self, desired: DesiredState, obs: Observed) -> None:
        region = desired.primary_region
        ids = [r for t in desired.tables for r, _ in t.autoscaled_resources]
        for page in self._pages(
            "application-autoscaling",
            region,
            "describe_scalable_targets",
            "describe scalable targets",
            ServiceNamespace="dynamodb",
            ResourceIds=ids,
        ):
            for t in page.get("ScalableTargets", []):
                key = (t["ResourceId"], t["ScalableDimension"])
                obs.scalable_targets[key] = (int(t["MinCapacity"]), int(t["MaxCapacity"]))
        wanted = set(ids)
        for page in self._pages(
            "application-autoscaling",
            region,
            "describe_scaling_policies",
            "describe scaling policies",
            ServiceNamespace="dynamodb",
        ):
            for p in page.get("ScalingPolicies", []):
                if p.get("PolicyName") == AUTOSCALING_POLICY and p["ResourceId"] in wanted:
                    obs.scaling_policies.add((p["ResourceId"], p["ScalableDimension"]))

    def _resolve_kms(self, desired: DesiredState, obs: Observed) -> None:
        """Key ids and aliases -> ARNs (to compare with what DynamoDB reports); a key that does
        not exist is a spec that cannot work."""
        wanted: set[tuple[str, str]] = set()
        for t in desired.tables:
            if t.kms_key:
                wanted.add((desired.primary_region, t.kms_key))
            for region, key in t.replica_kms_keys.items():
                if key:
                    wanted.add((region, key))
        for region, key in sorted(wanted):
            try:
                out = self.clients("kms", region).describe_key(KeyId=key)
            except Exception as exc:
                if errors.is_not_found(exc):
                    field_name = (
                        "spec.encryption.kmsKeyId"
                        if region == desired.primary_region
                        else f"spec.encryption.replicaKmsKeyIds.{region}"
                    )
                    raise errors.PermanentError(
                        f"{field_name}: KMS key {key!r} not found in {region}",
                        region=region,
                        reason="KMSKeyNotFound",
                    ) from exc
                raise errors.classify(
                    exc, f"describe KMS key {key}", region, service="kms"
                ) from exc
            obs.kms_arns[(region, key)] = out["KeyMetadata"]["Arn"]

    def backups(self, desired: DesiredState) -> ObservedBackups:
        b = desired.backups
        assert b is not None
        out = ObservedBackups()
        regions = [b.primary_region] + ([b.copy_region] if b.copy_region else [])
        for region in regions:
            out.vault_arns[region] = self._vault_arn(b.vault_name, region)
        region = b.primary_region
        plans = self._paged(
            "backup", region, "list_backup_plans", "BackupPlansList", "list backup plans"
        )
        match = next((p for p in plans if p.get("BackupPlanName") == b.plan_name), None)
        if match is not None:
            out.plan_id = match["BackupPlanId"]
            out.plan_arn = match.get("BackupPlanArn")
            got = self._call(
                "backup",
                region,
                "get_backup_plan",
                f"get backup plan {b.plan_name}",
                BackupPlanId=out.plan_id,
            )
            out.plan = (got or {}).get("BackupPlan")
            selections = self._paged(
                "backup",
                region,
                "list_backup_selections",
                "BackupSelectionsList",
                f"list backup selections of {b.plan_name}",
                BackupPlanId=out.plan_id,
            )
            sel = next((s for s in selections if s.get("SelectionName") == b.selection_name), None)
            if sel is not None:
                out.selection_id = sel["SelectionId"]
                got = self._call(
                    "backup",
                    region,
                    "get_backup_selection",
                    f"get backup selection {b.selection_name}",
                    BackupPlanId=out.plan_id,
                    SelectionId=out.selection_id,
                )
                out.selection = (got or {}).get("BackupSelection")
        if out.vault_arns.get(region):
            out.last_recovery_point = self._last_recovery_point(b.vault_name, region)
        return out

    def _vault_arn(self, vault: str, region: str) -> str | None:
        """The vault's ARN, or None where it does not exist. Found by listing: AWS answers
        DescribeBackupVault of a missing vault with AccessDeniedException (403), the same
        answer as a real permission problem (aws-sdk-js#2625, boto3#2269)."""
        vaults = self._paged(
            "backup", region, "list_backup_vaults", "BackupVaultList", "list backup vaults"
        )
        return next(
            (v.get("BackupVaultArn") for v in vaults if v.get("BackupVaultName") == vault), None
        )

    def _last_recovery_point(self, vault: str, region: str) -> dict[str, Any] | None:
        """The newest completed recovery point of a vault that exists (listed); informational,
        so a failure to list them is logged and does not fail the reconcile, but access denied
        is a permission problem of the operator's role and is reported as one."""
        try:
            points = self._paged(
                "backup",
                region,
                "list_recovery_points_by_backup_vault",
                "RecoveryPoints",
                f"list recovery points of vault {vault}",
                BackupVaultName=vault,
            )
        except errors.ReconcileError as exc:
            if exc.code in errors.ACCESS_DENIED_CODES:
                raise
            log.warning(
                "cannot list recovery points",
                extra={"vault": vault, "region": region, "cause": str(exc)},
            )
            return None
        done = [p for p in points if p.get("Status") in (None, "COMPLETED")]
        if not done:
            return None
        return max(done, key=lambda p: str(p.get("CreationDate") or ""))

    def alarms(self, desired: DesiredState) -> ObservedAlarms:
        a = desired.alarms
        assert a is not None
        out = ObservedAlarms()
        for page in self._pages(
            "cloudwatch",
            a.region,
            "describe_alarms",
            f"describe alarms {a.prefix}*",
            AlarmNamePrefix=a.prefix,
        ):
            for alarm in page.get("MetricAlarms", []):
                out.alarms[alarm["AlarmName"]] = alarm
        topic_arn = a.topic_arn
        if a.create_topic_name:
            topics = self._paged("sns", a.region, "list_topics", "Topics", "list SNS topics")
            suffix = ":" + a.create_topic_name
            topic_arn = next(
                (t["TopicArn"] for t in topics if t["TopicArn"].endswith(suffix)), None
            )
            out.topic_arn = topic_arn
        if topic_arn and a.emails:
            subs = self._paged(
                "sns",
                a.region,
                "list_subscriptions_by_topic",
                "Subscriptions",
                f"list subscriptions of {topic_arn}",
                TopicArn=topic_arn,
            )
            for s in subs:
                if s.get("Protocol") == "email":
                    out.subscriptions[s["Endpoint"]] = s.get("SubscriptionArn", "")
        return out

    def _pages(self, service: str, region: str, op: str, what: str, **kw: Any) -> list[dict]:
        client = self.clients(service, region)
        try:
            if client.can_paginate(op):
                return list(client.get_paginator(op).paginate(**kw))
            return [getattr(client, op)(**kw)]
        except Exception as exc:
            if errors.is_not_found(exc):
                return []
            raise errors.classify(exc, what, region, service=service) from exc

    def _paged(self, service: str, region: str, op: str, key: str, what: str, **kw: Any) -> list:
        return [
            item
            for page in self._pages(service, region, op, what, **kw)
            for item in page.get(key, [])
        ]


def _with_tags(table: ObservedTable, tags: dict[str, str]) -> ObservedTable:
    return replace(table, tags=tags)
