"""Spec -> desired state: what AWS should hold for one ForumDatabase.

Built from forumdb.tables (the one table layout). `None` on a feature means "not managed":
the diff leaves whatever exists alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from forumdb import naming
from forumdb.ownership import OwnerRecord
from forumdb.tables import KINDS, TABLES, Kind, create_table_request, table_name
from forumdb_operator.spec import Alarms, Billing, ForumDatabaseSpec

DYNAMODB_NAMESPACE = "AWS/DynamoDB"
AUTOSCALING_MAX_FACTOR = 4  # default max write capacity = 4 x writeCapacity
AUTOSCALING_POLICY = "forumdb-write-utilization"
AUTOSCALING_TARGET_UTILIZATION = 70.0
# Operations the services call; SystemErrors is only published per (TableName, Operation).
SERVICE_OPERATIONS = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchWriteItem",
    "TransactWriteItems",
)


@dataclass(frozen=True)
class DesiredTable:
    kind: Kind
    name: str
    create_request: dict[str, Any]
    billing_mode: str
    read_capacity: int | None
    write_capacity: int | None
    # Global tables need streams with both images; None: streams not managed.
    stream_required: bool
    # None: encryption not managed; "" : the AWS owned key; else a key id/ARN/alias.
    kms_key: str | None
    replica_kms_keys: dict[str, str | None]
    deletion_protection: bool | None
    tags: dict[str, str]
    # (min, max) write capacity auto scaling of the table and its indexes; None: not managed.
    write_autoscaling: tuple[int, int] | None = None
    # False: spec.billing unset; a new table is on-demand, an existing one keeps its mode.
    billing_managed: bool = True
    # region -> read capacity of the replica there, where the spec sets one of its own
    # (AWS: the replica's ProvisionedThroughputOverride)
    replica_read_capacity: dict[str, int] = field(default_factory=dict)

    @property
    def indexes(self) -> list[dict[str, Any]]:
        return list(self.create_request["GlobalSecondaryIndexes"])

    @property
    def autoscaled_resources(self) -> list[tuple[str, str]]:
        """(ResourceId, ScalableDimension) of the table and each index, for auto scaling."""
        out = [(f"table/{self.name}", "dynamodb:table:WriteCapacityUnits")]
        out += [
            (f"table/{self.name}/index/{g['IndexName']}", "dynamodb:index:WriteCapacityUnits")
            for g in self.indexes
        ]
        return out


@dataclass(frozen=True)
class DesiredPitr:
    enabled: bool
    recovery_period_days: int


@dataclass(frozen=True)
class DesiredBackups:
    enabled: bool
    vault_name: str
    primary_region: str
    copy_region: str | None
    plan_name: str
    rule_name: str
    schedule: str
    retention_days: int
    copy_retention_days: int
    selection_name: str
    iam_role_arn: str | None  # None: the account's default AWS Backup role
    tags: dict[str, str]


@dataclass(frozen=True)
class DesiredAlarm:
    name: str
    region: str
    description: str
    threshold: float
    comparison: str
    period: int
    evaluation_periods: int
    metric_name: str | None = None
    dimensions: tuple[tuple[str, str], ...] = ()
    statistic: str | None = None
    # metric math: a tuple of (id, expression | None, metric_name | None, dims)
    metrics: tuple[dict[str, Any], ...] = ()

    def put_request(self, actions: list[str]) -> dict[str, Any]:
        req: dict[str, Any] = {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "ActionsEnabled": True,
            "AlarmActions": actions,
            "EvaluationPeriods": self.evaluation_periods,
            "Threshold": self.threshold,
            "ComparisonOperator": self.comparison,
            "TreatMissingData": "notBreaching",
        }
        if self.metrics:
            req["Metrics"] = [dict(m) for m in self.metrics]
        else:
            req.update(
                Namespace=DYNAMODB_NAMESPACE,
                MetricName=self.metric_name,
                Dimensions=[{"Name": k, "Value": v} for k, v in self.dimensions],
                Statistic=self.statistic,
                Period=self.period,
            )
        return req


@dataclass(frozen=True)
class DesiredSharedAlarm:
    """The account-level UserErrors alarm, one per account, region and operator cluster id:
    this resource is one of its users (a tag on the alarm, `user_key`); `alarm` holds this
    resource's own settings, the alarm itself the most sensitive of every user's."""

    alarm: DesiredAlarm
    user_key: str
    tags: dict[str, str]  # given at creation: managed-by and the cluster id


@dataclass(frozen=True)
class DesiredAlarms:
    enabled: bool
    region: str  # the primary: table, index and account alarms
    prefix: str
    alarms: tuple[DesiredAlarm, ...]
    topic_arn: str | None  # an existing topic named by the spec
    create_topic_name: str | None  # a topic the operator creates
    emails: tuple[str, ...]
    # Every region of the resource (primary first): ours are looked for, and removed where no
    # longer wanted, in each (ReplicationLatency alarms move with the active region).
    regions: tuple[str, ...] = ()
    shared: DesiredSharedAlarm | None = None  # the account-level UserErrors alarm (primary)

    @property
    def alarm_regions(self) -> tuple[str, ...]:
        """The regions that hold wanted alarms, the primary first."""
        rest = sorted({x.region for x in self.alarms} - {self.region})
        return (self.region, *rest)

    @property
    def topic_regions(self) -> tuple[str, ...]:
        """Where the operator's own topic is wanted: every region with alarms, as an alarm's
        action must be a topic of the alarm's region (PutMetricAlarm answers a topic of another
        region "ValidationError: Invalid region R specified. Only S is supported.":
        cds-snc/notification-terraform#128)."""
        return self.alarm_regions if self.create_topic_name else ()


@dataclass(frozen=True)
class DesiredState:
    namespace: str
    name: str
    table_prefix: str
    primary_region: str
    replica_regions: tuple[str, ...]
    # False: replicaRegions unset; replicas that exist are neither added to nor removed.
    replicas_managed: bool
    tables: tuple[DesiredTable, ...]
    pitr: DesiredPitr | None
    backups: DesiredBackups | None
    alarms: DesiredAlarms | None
    adopt: bool
    deletion_policy: str
    # The region the spec asks the services to use (spec.activeRegion, else the primary).
    active_region: str = ""
    # The resource's metadata.uid and the operator's cluster id: part of the ownership record.
    uid: str = ""
    cluster: str = ""
    owner: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "owner", naming.owner_value(self.namespace, self.name))

    @property
    def regions(self) -> tuple[str, ...]:
        return (self.primary_region, *self.replica_regions)

    @property
    def record(self) -> OwnerRecord:
        """The ownership record this resource's AWS resources carry (forumdb.ownership)."""
        return OwnerRecord(self.owner, self.uid, self.cluster)

    def owns_record(self, tags: Mapping[str, str]) -> bool:
        """The tags' ownership record (name, UID, cluster id) is this resource's."""
        return self.record.matches(tags)

    def table(self, kind: Kind) -> DesiredTable:
        return next(t for t in self.tables if t.kind == kind)


def _desired_table(
    spec: ForumDatabaseSpec, namespace: str, name: str, kind: Kind, uid: str, cluster: str
) -> DesiredTable:
    billing = spec.billing or Billing()
    enc = spec.encryption
    kms_key: str | None = None if enc is None else (enc.kms_key_id or "")
    replica_keys: dict[str, str | None] = {}
    for region in spec.replicas:
        if enc is None or not enc.kms_key_id:
            replica_keys[region] = None
        else:
            # spec validation guarantees a per-region key unless kmsKeyId is an alias.
            replica_keys[region] = enc.replica_kms_key_ids.get(region, enc.kms_key_id)
    tags = naming.table_tags(namespace, name, kind, uid, cluster)
    tname = table_name(kind, spec.table_prefix)
    request = create_table_request(
        TABLES[kind],
        tname,
        billing_mode=billing.mode,
        read_capacity=billing.read_capacity,
        write_capacity=billing.write_capacity,
        stream=bool(spec.replicas),
        kms_key=kms_key or None,
        deletion_protection=bool(spec.deletion_protection),
        tags=tags,
    )
    autoscaling = None
    if (
        billing.provisioned
        and billing.write_capacity
        and (spec.replicas or billing.max_write_capacity)
    ):
        high = billing.max_write_capacity or AUTOSCALING_MAX_FACTOR * billing.write_capacity
        autoscaling = (billing.write_capacity, max(high, billing.write_capacity))
    return DesiredTable(
        kind=kind,
        name=tname,
        create_request=request,
        billing_mode=billing.mode,
        read_capacity=billing.read_capacity,
        write_capacity=billing.write_capacity,
        stream_required=bool(spec.replicas),
        kms_key=kms_key,
        replica_kms_keys=replica_keys,
        deletion_protection=spec.deletion_protection,
        tags=tags,
        write_autoscaling=autoscaling,
        billing_managed=spec.billing is not None,
        replica_read_capacity=dict(billing.replica_read_capacity) if billing.provisioned else {},
    )


def _desired_backups(
    spec: ForumDatabaseSpec, namespace: str, name: str, uid: str, cluster: str
) -> DesiredBackups | None:
    b = spec.backups
    if b is None:
        return None
    return DesiredBackups(
        enabled=b.enabled,
        vault_name=naming.vault_name(namespace, name, b.vault_name, cluster),
        primary_region=spec.primary_region,
        copy_region=b.copy_region,
        plan_name=naming.plan_name(namespace, name, cluster),
        rule_name="forumdb-scheduled",
        schedule=b.schedule,
        retention_days=b.retention_days,
        copy_retention_days=b.copy_retention_days or b.retention_days,
        selection_name=naming.selection_name(namespace, name, cluster),
        iam_role_arn=b.iam_role_arn,
        tags=naming.owner_tags(namespace, name, uid, cluster),
    )


def _system_errors_metrics(table: str, period: int) -> tuple[dict[str, Any], ...]:
    metrics: list[dict[str, Any]] = []
    for i, op in enumerate(SERVICE_OPERATIONS):
        metrics.append(
            {
                "Id": f"m{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": DYNAMODB_NAMESPACE,
                        "MetricName": "SystemErrors",
                        "Dimensions": [
                            {"Name": "TableName", "Value": table},
                            {"Name": "Operation", "Value": op},
                        ],
                    },
                    "Period": period,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            }
        )
    ids = ",".join(m["Id"] for m in metrics)
    metrics.append(
        {"Id": "total", "Expression": f"SUM([{ids}])", "Label": "SystemErrors", "ReturnData": True}
    )
    return tuple(metrics)


def _desired_alarms(
    spec: ForumDatabaseSpec,
    namespace: str,
    name: str,
    tables: tuple[DesiredTable, ...],
    cluster: str = "",
    source_region: str = "",
) -> DesiredAlarms | None:
    """Each table's alarms, and this resource's part in the account-level UserErrors alarm
    (DesiredAlarms.shared). `source_region`: the
    region the writes come from (the active region in force), where ReplicationLatency is
    published."""
    a = spec.alarms
    if a is None:
        return None
    alarms = [
        x
        for t in tables
        for x in _table_alarms(spec, a, namespace, name, t, cluster, source_region)
    ]
    # UserErrors is published per account and region (no table dimension): one alarm there
    # for every ForumDatabase of this operator, not one each.
    user_errors = DesiredAlarm(
        name=naming.shared_alarm_name("UserErrors", cluster),
        region=spec.primary_region,
        description=(
            f"DynamoDB UserErrors in {spec.primary_region} (account-level, shared by the "
            "ForumDatabases there; their most sensitive settings)"
        ),
        metric_name="UserErrors",
        statistic="Sum",
        threshold=float(a.user_errors_threshold),
        comparison="GreaterThanOrEqualToThreshold",
        period=a.period_seconds,
        evaluation_periods=a.evaluation_periods,
    )
    shared_tags = {naming.TAG_MANAGED_BY: naming.MANAGED_BY}
    if cluster:
        shared_tags[naming.TAG_CLUSTER] = cluster
    shared = DesiredSharedAlarm(
        alarm=user_errors,
        user_key=naming.alarm_user_key(namespace, name, cluster),
        tags=shared_tags,
    )
    return DesiredAlarms(
        enabled=a.enabled,
        region=spec.primary_region,
        prefix=naming.alarm_prefix(namespace, name, cluster),
        alarms=tuple(alarms),
        topic_arn=a.sns_topic_arn,
        create_topic_name=(
            naming.topic_name(namespace, name, cluster)
            if a.create_topic and not a.sns_topic_arn
            else None
        ),
        emails=tuple(a.email_subscriptions),
        regions=(spec.primary_region, *spec.replicas),
        shared=shared,
    )


THROTTLE_METRICS = ("ReadThrottleEvents", "WriteThrottleEvents")


def _table_alarms(
    spec: ForumDatabaseSpec,
    a: Alarms,
    namespace: str,
    name: str,
    t: DesiredTable,
    cluster: str,
    source_region: str = "",
) -> list[DesiredAlarm]:
    """Read and write throttles (the table's and each index's), system errors, and the
    replication latency from the source region to every other region."""
    common = {"period": a.period_seconds, "evaluation_periods": a.evaluation_periods}
    gte = "GreaterThanOrEqualToThreshold"
    alarms = [
        DesiredAlarm(
            name=naming.table_alarm_name(namespace, name, t.name, metric, cluster),
            region=spec.primary_region,
            description=f"{metric} on {t.name} ({namespace}/{name})",
            metric_name=metric,
            dimensions=(("TableName", t.name),),
            statistic="Sum",
            threshold=float(a.throttled_requests_threshold),
            comparison=gte,
            **common,
        )
        for metric in THROTTLE_METRICS
    ]
    # Each GSI throttles on its own (and throttles its table's writes): the Threads feed index
    # has one constant partition key, the likeliest hot spot. CloudWatch reports the index's
    # throttles under the dimensions TableName and GlobalSecondaryIndexName.
    alarms.extend(
        DesiredAlarm(
            name=naming.index_alarm_name(namespace, name, t.name, index, metric, cluster),
            region=spec.primary_region,
            description=f"{metric} on index {index} of {t.name} ({namespace}/{name})",
            metric_name=metric,
            dimensions=(("GlobalSecondaryIndexName", index), ("TableName", t.name)),
            statistic="Sum",
            threshold=float(a.throttled_requests_threshold),
            comparison=gte,
            **common,
        )
        for index in (gsi["IndexName"] for gsi in t.indexes)
        for metric in THROTTLE_METRICS
    )
    alarms.append(
        DesiredAlarm(
            name=naming.table_alarm_name(namespace, name, t.name, "SystemErrors", cluster),
            region=spec.primary_region,
            description=f"SystemErrors on {t.name} ({namespace}/{name})",
            threshold=float(a.system_errors_threshold),
            comparison=gte,
            metrics=_system_errors_metrics(t.name, a.period_seconds),
            **common,
        )
    )
    # ReplicationLatency is "emitted for every source- and destination-Region pair" (DynamoDB
    # developer guide, Monitoring global tables, V2globaltables_monitoring.html) with the
    # dimensions TableName and ReceivingRegion: it is published in the region the write came
    # from. The services write in the active region, so after a failover the latency is
    # measured there, towards every other region (the primary included).
    source = source_region if source_region in (spec.primary_region, *spec.replicas) else ""
    source = source or spec.primary_region
    receiving = [r for r in (spec.primary_region, *spec.replicas) if r != source]
    alarms.extend(
        DesiredAlarm(
            name=naming.replication_alarm_name(namespace, name, t.name, replica, cluster),
            region=source,
            description=f"ReplicationLatency of {t.name} from {source} to {replica}",
            metric_name="ReplicationLatency",
            dimensions=(("ReceivingRegion", replica), ("TableName", t.name)),
            statistic="Average",
            threshold=float(a.replication_latency_ms),
            comparison="GreaterThanThreshold",
            **common,
        )
        for replica in receiving
    )
    return alarms


def desired_state(
    spec: ForumDatabaseSpec,
    namespace: str,
    name: str,
    *,
    uid: str = "",
    cluster: str = "",
    region_in_force: str | None = None,
) -> DesiredState:
    """`uid` (metadata.uid) and `cluster` (the operator's --cluster-id) join the ownership
    record; empty: not known (unit tests, forumctl), the record is NAMESPACE/NAME alone.
    `region_in_force`: the region the services use now (an automatic failover's decision is
    kept in status, not in the spec); None: the spec's (spec.activeRegion, else the primary)."""
    tables = tuple(_desired_table(spec, namespace, name, k, uid, cluster) for k in KINDS)
    pitr = spec.point_in_time_recovery
    return DesiredState(
        namespace=namespace,
        name=name,
        table_prefix=spec.table_prefix,
        primary_region=spec.primary_region,
        replica_regions=tuple(spec.replicas),
        replicas_managed=spec.replica_regions is not None,
        tables=tables,
        pitr=DesiredPitr(pitr.enabled, pitr.recovery_period_days) if pitr else None,
        backups=_desired_backups(spec, namespace, name, uid, cluster),
        alarms=_desired_alarms(
            spec, namespace, name, tables, cluster, region_in_force or spec.requested_region
        ),
        adopt=spec.adopt,
        deletion_policy=spec.deletion_policy,
        active_region=spec.requested_region,
        uid=uid,
        cluster=cluster,
    )
