"""Settings of the extension, as validated at the control edge (in-process and over HTTP)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# "error_after_write": the call is applied, then answered with a 5xx (a retry sees its own write)
FailureKind = Literal["throttle", "error", "error_after_write"]


class FaultRule(BaseModel):
    """One fault rule. `None` in region/service/operation means "any"."""

    model_config = ConfigDict(extra="forbid")

    region: str | None = None
    service: str | None = Field(None, description="moto service name, e.g. dynamodb, backup")
    operation: str | None = Field(None, description="API operation name, e.g. PutItem")
    throttle_rate: float = Field(0.0, ge=0.0, le=1.0)
    error_rate: float = Field(0.0, ge=0.0, le=1.0)
    latency_ms: int = Field(0, ge=0, le=60_000)
    # Deterministic mode: the next N matching calls fail with `fail_kind`, before any rate applies.
    fail_next: int = Field(0, ge=0)
    fail_kind: FailureKind = "throttle"
    # BatchWriteItem only: this share of the request's items is left out and returned in
    # UnprocessedItems (at least one item is always processed, as DynamoDB does)
    unprocessed_rate: float = Field(0.0, ge=0.0, le=1.0)
    seed: int | None = None

    @model_validator(mode="after")
    def _rates_fit(self) -> FaultRule:
        if self.throttle_rate + self.error_rate > 1.0:
            raise ValueError("throttle_rate + error_rate must not exceed 1.0")
        return self


class OutageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    region: str
    down: bool = True


# TableStatus / ReplicaStatus values DynamoDB reports for a table it cannot serve or change
# (botocore DynamoDB model, TableStatus and ReplicaStatus enums; DescribeTable API reference)
TerminalStatus = Literal[
    "CREATION_FAILED",
    "INACCESSIBLE_ENCRYPTION_CREDENTIALS",
    "REGION_DISABLED",
    "REPLICATION_NOT_AUTHORIZED",
    "ARCHIVING",
    "ARCHIVED",
]


class TableStateRequest(BaseModel):
    """Put a table (or the replica of a global table) in `region` into a status AWS reaches
    on its own (a revoked KMS grant, a disabled region, ...); None gives the real one back."""

    model_config = ConfigDict(extra="forbid")

    table: str
    region: str
    status: TerminalStatus | None


class ReplicationSettings(BaseModel):
    """How global tables behave: write replication lag and replica status progress."""

    model_config = ConfigDict(extra="forbid")

    lag_seconds: float = Field(0.0, ge=0.0)
    # A replica update (create/update/delete) completes after replica_activation_seconds (AWS:
    # 15-50 s for an empty table). Setting replica_activation_calls instead (seconds None)
    # makes it complete after that many DescribeTable calls: not AWS's behaviour, kept for
    # deterministic unit tests that ask for it.
    replica_activation_calls: int = Field(2, ge=0)
    replica_activation_seconds: float | None = Field(2.0, ge=0.0)


class ReplicationUpdate(BaseModel):
    """Partial update of ReplicationSettings: only the given fields change."""

    model_config = ConfigDict(extra="forbid")

    lag_seconds: float | None = Field(None, ge=0.0)
    replica_activation_calls: int | None = Field(None, ge=0)
    replica_activation_seconds: float | None = Field(None, ge=0.0)


class RunPlanRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str
    region: str | None = None
    account_id: str | None = None
    rule_name: str | None = None
    # wait until the run's backup jobs and their copies have finished (they take
    # job_created_seconds + job_running_seconds each, as jobs do)
    wait: bool = True


class AwsRules(BaseModel):
    """AWS's rules and timings the emulator holds, strict by default; durations are short
    stand-ins for AWS's (seconds, not calls), each configurable through `configure`.
    Sources for every rule: the table in emulator/README.md."""

    model_config = ConfigDict(extra="forbid")

    # -- AWS Backup --------------------------------------------------------------------------
    # DescribeBackupVault / ListRecoveryPointsByBackupVault of a missing vault: 403
    # AccessDeniedException, not ResourceNotFoundException
    backup_missing_vault_access_denied: bool = True
    # a job (backup or copy) is CREATED for this long, then RUNNING for job_running_seconds
    job_created_seconds: float = Field(0.3, ge=0.0)
    job_running_seconds: float = Field(0.7, ge=0.0)
    # DeleteBackupPlan with selections, DeleteBackupVault with recovery points: refused
    backup_delete_guards: bool = True
    # -- global tables (2019.11.21) ----------------------------------------------------------
    # after a replica Create, no Replicas entry (and no table in the replica region) for this
    # long (AWS: ~6 s / ~10 s)
    replica_entry_delay_seconds: float = Field(0.5, ge=0.0)
    # after a replica Create/Delete the table shows UPDATING for at most this long, then ACTIVE
    # while the replica is still CREATING/DELETING (AWS: ~36 s)
    table_updating_seconds: float = Field(1.0, ge=0.0)
    # a deleted replica's table stays (DELETING) in its region this long after its Replicas
    # entry is gone; re-adding the region meanwhile: "already existed as tables" (AWS: 10-35 s)
    replica_region_linger_seconds: float = Field(1.0, ge=0.0)
    # a region that sourced a replica cannot be removed while that replica is a member, for
    # this long after the Create (AWS: 24 h)
    replication_source_hold_seconds: float = Field(86_400.0, ge=0.0)
    # -- tags, PITR, API rate limits, CloudWatch ----------------------------------------------
    # ListTagsOfResource answers the previous tag set (empty after CreateTable) this long after
    # CreateTable/TagResource/UntagResource (AWS: "a few seconds")
    tags_settle_seconds: float = Field(1.0, ge=0.0)
    # UpdateContinuousBackups answers ContinuousBackupsUnavailableException this long after
    # CreateTable
    pitr_unavailable_seconds: float = Field(1.0, ge=0.0)
    # per-account API rate limits from the DynamoDB API reference (ListTagsOfResource 10/s,
    # TagResource 5/s, ...) answered with ThrottlingException
    api_rate_limits: bool = True
    # PutMetricAlarm creates alarms in INSUFFICIENT_DATA (moto: OK)
    alarms_start_insufficient_data: bool = True
    # PutMetricAlarm refuses an SNS action of another region than the alarm's (moto: accepts)
    alarm_actions_in_alarm_region: bool = True
    # -- SNS ----------------------------------------------------------------------------------
    # e-mail subscriptions are listed "PendingConfirmation" until the recipient confirms
    # (control sns_confirm), and "Deleted" after the recipient unsubscribes (control
    # sns_unsubscribe); moto lists every subscription as confirmed and drops ended ones
    email_subscriptions_need_confirmation: bool = True
    # SNS removes an unconfirmed subscription after this long (AWS: 48 h since 2023-05)
    unconfirmed_subscription_seconds: float = Field(172_800.0, ge=0.0)
    # an unsubscribed one is listed "Deleted" this long (AWS: "for a while", not published)
    unsubscribed_listed_seconds: float = Field(259_200.0, ge=0.0)


class SubscriptionRecipient(BaseModel):
    """The recipient of an e-mail subscription: the topic and the address."""

    model_config = ConfigDict(extra="forbid")

    topic_arn: str
    endpoint: str
