"""Settings of the extension, as validated at the control edge (in-process and over HTTP)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FailureKind = Literal["throttle", "error"]


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


class ReplicationSettings(BaseModel):
    """How global tables behave: write replication lag and replica status progress."""

    model_config = ConfigDict(extra="forbid")

    lag_seconds: float = Field(0.0, ge=0.0)
    # A replica update (create/update/delete) completes after this many DescribeTable calls on
    # any region of the table, or, when replica_activation_seconds is set, after that time.
    replica_activation_calls: int = Field(2, ge=0)
    replica_activation_seconds: float | None = Field(None, ge=0.0)


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
