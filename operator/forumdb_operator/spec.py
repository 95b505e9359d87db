"""The ForumDatabase spec as pydantic models: the CRD schema's constraints plus the rules that
span fields (what CEL would express; the 1.20 test apiserver has none), checked before any AWS
call so a spec that can never work is reported once, naming the field, and not retried.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, Literal

import boto3
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from forumdb.tables import DEFAULT_TABLE_PREFIX
from forumdb_operator.arns import region_of
from forumdb_operator.backup_schedule import schedule_problem

REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$"
CRON_PATTERN = r"^cron\(\s*\S+(\s+\S+){5}\s*\)$"
TABLE_PREFIX_PATTERN = r"^[a-zA-Z0-9_.-]*$"
MAX_CAPACITY = 40000


class SpecInvalid(ValueError):
    """A spec that can never work; `errors` are lines like `spec.backups.copyRegion: ...`."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class Billing(_Model):
    mode: Literal["PAY_PER_REQUEST", "PROVISIONED"] = "PAY_PER_REQUEST"
    read_capacity: int | None = Field(None, ge=1, le=MAX_CAPACITY)
    write_capacity: int | None = Field(None, ge=1, le=MAX_CAPACITY)
    max_write_capacity: int | None = Field(None, ge=1, le=MAX_CAPACITY)
    # Read capacity of the replica in a region, where it differs from readCapacity (AWS: the
    # replica's ProvisionedThroughputOverride); regions not named follow readCapacity.
    replica_read_capacity: dict[str, int] = Field(default_factory=dict)

    @property
    def provisioned(self) -> bool:
        return self.mode == "PROVISIONED"


class PointInTimeRecovery(_Model):
    enabled: bool = True
    recovery_period_days: int = Field(35, ge=1, le=35)


class Backups(_Model):
    enabled: bool = True
    schedule: str = Field("cron(0 5 * * ? *)", pattern=CRON_PATTERN)
    retention_days: int = Field(35, ge=1, le=36500)
    copy_region: str | None = Field(None, pattern=REGION_PATTERN)
    copy_retention_days: int | None = Field(None, ge=1, le=36500)
    vault_name: str | None = Field(None, min_length=2, max_length=50, pattern=r"^[a-zA-Z0-9_-]+$")
    iam_role_arn: str | None = Field(None, pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$")

    @field_validator("schedule")
    @classmethod
    def _aws_backup_cron(cls, value: str) -> str:
        problem = schedule_problem(value)
        if problem is not None:
            raise PydanticCustomError("aws_backup_schedule", problem)
        return value


class Encryption(_Model):
    kms_key_id: str | None = Field(None, min_length=1, max_length=2048)
    replica_kms_key_ids: dict[str, str] = Field(default_factory=dict)


class Alarms(_Model):
    enabled: bool = True
    period_seconds: Literal[60, 300, 900, 3600] = 300
    evaluation_periods: int = Field(1, ge=1, le=100)
    throttled_requests_threshold: int = Field(1, ge=0)
    system_errors_threshold: int = Field(1, ge=0)
    user_errors_threshold: int = Field(10, ge=0)
    replication_latency_ms: int = Field(60000, ge=1)
    sns_topic_arn: str | None = Field(
        None, pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"
    )
    create_topic: bool = False
    email_subscriptions: list[str] = Field(default_factory=list, max_length=20)


class Failover(_Model):
    """How the operator picks the region the services use (the active region)."""

    # Manual: only spec.activeRegion moves it. Automatic: the operator also moves it to a
    # healthy replica once the active region failed `failure_threshold` checks in a row.
    mode: Literal["Manual", "Automatic"] = "Manual"
    health_check_interval_seconds: int = Field(10, ge=1, le=3600)
    failure_threshold: int = Field(3, ge=1, le=100)


class ForumDatabaseSpec(_Model):
    table_prefix: str = Field(DEFAULT_TABLE_PREFIX, max_length=200, pattern=TABLE_PREFIX_PATTERN)
    primary_region: str = Field(pattern=REGION_PATTERN)
    # None: replicas not managed (an adopted global table keeps its replicas).
    replica_regions: list[str] | None = Field(None, max_length=10)
    # None: billing not managed (new tables are on-demand; an adopted table keeps its mode).
    billing: Billing | None = None
    point_in_time_recovery: PointInTimeRecovery | None = None
    backups: Backups | None = None
    encryption: Encryption | None = None
    alarms: Alarms | None = None
    deletion_protection: bool | None = None
    deletion_policy: Literal["Retain", "Delete"] = "Retain"
    # Opt-in: taking over existing tables is a decision, not a default.
    adopt: bool = False
    failover: Failover = Field(default_factory=Failover)
    # The region the services use; None: the primary.
    active_region: str | None = Field(None, pattern=REGION_PATTERN)

    @property
    def replicas(self) -> list[str]:
        return self.replica_regions or []

    @property
    def requested_region(self) -> str:
        return self.active_region or self.primary_region


def _kms_key_is_region_bound(key: str) -> bool:
    """Key ids and ARNs name one key in one region; an alias name can exist in every region."""
    return not key.startswith("alias/")


@functools.cache
def known_regions() -> frozenset[str]:
    """DynamoDB regions botocore knows, over every partition (offline: from its endpoint data)."""
    session = boto3.session.Session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("dynamodb", partition_name=partition))
    return frozenset(regions)


def cross_field_errors(
    spec: ForumDatabaseSpec, allowed_regions: frozenset[str] | None
) -> list[str]:
    """The rules a CEL expression would state, as `spec.path: message` lines, by group."""
    return [
        *_region_errors(spec, allowed_regions),
        *_billing_errors(spec.billing or Billing()),
        *_replica_capacity_errors(spec),
        *_backup_errors(spec, allowed_regions),
        *_encryption_errors(spec),
        *_alarm_errors(spec),
        *_partition_errors(spec),
    ]


@functools.lru_cache(maxsize=64)
def partition_of(region: str) -> str:
    """The AWS partition of a region (aws, aws-cn, aws-us-gov, ...), from botocore's
    endpoint data; the ARN prefix of everything in that region and of IAM roles used there."""
    try:
        return str(boto3.session.Session().get_partition_for_region(region))
    except Exception:  # a region botocore does not know: the commercial partition's rules
        return "aws"


def _partition_errors(spec: ForumDatabaseSpec) -> list[str]:
    """Every ARN in the spec is in the partition of the region it is used in: an aws ARN in
    cn-north-1 (or an aws-cn one in us-east-1) names nothing AWS could find there."""
    arns: list[tuple[str, str, str]] = []  # (path, arn, region)
    if spec.backups is not None and spec.backups.iam_role_arn:
        arns.append(("spec.backups.iamRoleArn", spec.backups.iam_role_arn, spec.primary_region))
    if spec.alarms is not None and spec.alarms.sns_topic_arn:
        arns.append(("spec.alarms.snsTopicArn", spec.alarms.sns_topic_arn, spec.primary_region))
    if spec.encryption is not None:
        if spec.encryption.kms_key_id:
            arns.append(
                ("spec.encryption.kmsKeyId", spec.encryption.kms_key_id, spec.primary_region)
            )
        for region, key in spec.encryption.replica_kms_key_ids.items():
            arns.append((f"spec.encryption.replicaKmsKeyIds.{region}", key, region))
    errors = []
    for path, arn, region in arns:
        parts = arn.split(":")
        if len(parts) < 2 or parts[0] != "arn":
            continue  # a key id or alias: no partition in it
        want = partition_of(region)
        if parts[1] != want:
            errors.append(
                f"{path}: the ARN is in partition {parts[1]}, "
                f"{region} is in {want} (arn:{want}:...)"
            )
    return errors


def _unknown_region(path: str, region: str, allowed_regions: frozenset[str] | None) -> list[str]:
    """An error line when `region` is not one the operator may use, else none."""
    regions_ok = allowed_regions if allowed_regions is not None else known_regions()
    if region in regions_ok:
        return []
    why = (
        "is not in the operator's allowed regions"
        if allowed_regions is not None
        else "is not a DynamoDB region"
    )
    return [f"{path}: {region!r} {why} ({', '.join(sorted(regions_ok)[:6])}, ...)"]


def _region_errors(spec: ForumDatabaseSpec, allowed_regions: frozenset[str] | None) -> list[str]:
    """spec.primaryRegion, spec.replicaRegions and spec.activeRegion."""
    errors = _unknown_region("spec.primaryRegion", spec.primary_region, allowed_regions)
    seen: set[str] = set()
    for i, region in enumerate(spec.replicas):
        path = f"spec.replicaRegions[{i}]"
        if region == spec.primary_region:
            errors.append(f"{path}: {region} is the primary region; a replica needs another region")
        elif region in seen:
            errors.append(f"{path}: {region} is listed twice")
        else:
            errors.extend(_unknown_region(path, region, allowed_regions))
        seen.add(region)
    if spec.active_region is None:
        return errors
    if spec.replica_regions is None:
        # Replicas unmanaged: which exist is known only at run time (the health checks).
        if spec.active_region != spec.primary_region:
            errors.extend(_unknown_region("spec.activeRegion", spec.active_region, allowed_regions))
    elif spec.active_region not in (spec.primary_region, *spec.replicas):
        errors.append(
            f"spec.activeRegion: {spec.active_region} is neither the primary region "
            f"({spec.primary_region}) nor one of spec.replicaRegions "
            f"({', '.join(spec.replicas) or 'none'})"
        )
    return errors


def _replica_capacity_errors(spec: ForumDatabaseSpec) -> list[str]:
    """spec.billing.replicaReadCapacity: PROVISIONED only, regions of spec.replicaRegions,
    capacities within AWS's bounds."""
    billing = spec.billing
    if billing is None or not billing.replica_read_capacity:
        return []
    if not billing.provisioned:
        return ["spec.billing.replicaReadCapacity: only valid when mode is PROVISIONED"]
    errors = []
    for region, units in billing.replica_read_capacity.items():
        path = f"spec.billing.replicaReadCapacity.{region}"
        if region not in spec.replicas:
            errors.append(
                f"{path}: {region} is not one of spec.replicaRegions "
                f"({', '.join(spec.replicas) or 'none'})"
            )
        if not 1 <= units <= MAX_CAPACITY:
            errors.append(f"{path}: {units} is outside 1..{MAX_CAPACITY}")
    return errors


def _billing_errors(billing: Billing) -> list[str]:
    """Capacities: required under PROVISIONED, refused under PAY_PER_REQUEST."""
    errors: list[str] = []
    if not billing.provisioned:
        for field, value in (
            ("readCapacity", billing.read_capacity),
            ("writeCapacity", billing.write_capacity),
            ("maxWriteCapacity", billing.max_write_capacity),
        ):
            if value is not None:
                errors.append(f"spec.billing.{field}: only valid when mode is PROVISIONED")
        return errors
    for field, value in (
        ("readCapacity", billing.read_capacity),
        ("writeCapacity", billing.write_capacity),
    ):
        if value is None:
            errors.append(f"spec.billing.{field}: required when mode is PROVISIONED")
    if (
        billing.max_write_capacity is not None
        and billing.write_capacity is not None
        and billing.max_write_capacity < billing.write_capacity
    ):
        errors.append(
            f"spec.billing.maxWriteCapacity: {billing.max_write_capacity} is below "
            f"writeCapacity {billing.write_capacity}"
        )
    return errors


def _backup_errors(spec: ForumDatabaseSpec, allowed_regions: frozenset[str] | None) -> list[str]:
    """spec.backups.copyRegion: another region than the primary, and a known one."""
    if spec.backups is None or spec.backups.copy_region is None:
        return []
    if spec.backups.copy_region == spec.primary_region:
        return [
            f"spec.backups.copyRegion: {spec.backups.copy_region} is the primary region; "
            "a copy needs another region"
        ]
    return _unknown_region("spec.backups.copyRegion", spec.backups.copy_region, allowed_regions)


def _encryption_errors(spec: ForumDatabaseSpec) -> list[str]:
    """KMS keys: each in its table's region, and one per replica region for a region-bound key."""
    enc = spec.encryption
    if enc is None:
        return []
    errors = [
        f"spec.encryption.replicaKmsKeyIds.{region}: {region} is not one of "
        f"spec.replicaRegions ({', '.join(spec.replicas) or 'none'})"
        for region in enc.replica_kms_key_ids
        if region not in spec.replicas
    ]
    arn_region = region_of(enc.kms_key_id) if enc.kms_key_id else None
    if arn_region and arn_region != spec.primary_region:
        errors.append(
            f"spec.encryption.kmsKeyId: the key is in {arn_region}, "
            f"the tables in {spec.primary_region}"
        )
    for region, key in enc.replica_kms_key_ids.items():
        if (arn_region := region_of(key)) and arn_region != region:
            errors.append(f"spec.encryption.replicaKmsKeyIds.{region}: the key is in {arn_region}")
    if enc.kms_key_id and _kms_key_is_region_bound(enc.kms_key_id):
        for region in spec.replicas:
            if region not in enc.replica_kms_key_ids:
                errors.append(
                    f"spec.encryption.replicaKmsKeyIds.{region}: required, since kmsKeyId "
                    f"names a key of {spec.primary_region} only (or use an alias/NAME "
                    "that exists in every region)"
                )
    return errors


def _alarm_errors(spec: ForumDatabaseSpec) -> list[str]:
    """E-mail subscriptions need a topic; a given topic must be in the alarms' region."""
    alarms = spec.alarms
    if alarms is None or not alarms.enabled:
        return []
    errors = []
    if alarms.email_subscriptions and not (alarms.create_topic or alarms.sns_topic_arn):
        errors.append(
            "spec.alarms.emailSubscriptions: needs a topic: set createTopic: true or snsTopicArn"
        )
    if alarms.sns_topic_arn and region_of(alarms.sns_topic_arn) != spec.primary_region:
        errors.append(
            f"spec.alarms.snsTopicArn: alarm actions need a topic in {spec.primary_region}, "
            f"the alarms' region"
        )
    for i, email in enumerate(alarms.email_subscriptions):
        if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            errors.append(f"spec.alarms.emailSubscriptions[{i}]: {email!r} is not an e-mail")
    return errors


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    path = "spec"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _message(error: Mapping[str, Any]) -> str:
    if error.get("type") == "extra_forbidden":
        # the CRD keeps unknown spec fields so that they are named here, not pruned silently
        return "unknown field (a misspelling, or a field of another version of the CRD?)"
    return str(error["msg"])


def parse_spec(
    raw: Mapping[str, Any], *, allowed_regions: frozenset[str] | None = None
) -> ForumDatabaseSpec:
    """Validate a ForumDatabase spec; raises SpecInvalid listing every problem by field."""
    try:
        spec = ForumDatabaseSpec.model_validate(dict(raw))
    except ValidationError as exc:
        raise SpecInvalid(
            [f"{_loc_to_path(e['loc'])}: {_message(e)}" for e in exc.errors(include_url=False)]
        ) from None
    errors = cross_field_errors(spec, allowed_regions)
    if errors:
        raise SpecInvalid(errors)
    return spec
