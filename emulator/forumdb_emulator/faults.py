"""Fault injection decisions: which call fails, how, and how long it waits first.

Rules match on region, service and operation (each optional). Each rule draws from its own
random generator (seeded when asked), so a run with a seed fails the same calls every time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

from .models import FaultRule

# DynamoDB calls that consume table capacity: AWS throttles these with
# ProvisionedThroughputExceededException; everything else gets ThrottlingException.
DYNAMODB_DATA_PLANE = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)

# "error_after_write": the call is applied, then answered with the 5xx of "error"
Outcome = Literal["pass", "throttle", "error", "error_after_write", "outage"]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    latency_ms: int = 0
    # BatchWriteItem: the share of the request's items to leave unprocessed
    unprocessed_rate: float = 0.0


@dataclass(frozen=True)
class AwsError:
    """An AWS error as the service would return it."""

    status: int
    code: str
    message: str


@dataclass
class _ActiveRule:
    rule: FaultRule
    rng: random.Random
    remaining_failures: int

    def matches(self, region: str, service: str, operation: str) -> bool:
        r = self.rule
        return (
            (r.region is None or r.region == region)
            and (r.service is None or r.service == service)
            and (r.operation is None or r.operation == operation)
        )


@dataclass
class FaultBook:
    """The fault rules and regional outages in force."""

    rules: list[_ActiveRule] = field(default_factory=list)
    regions_down: set[str] = field(default_factory=set)
    injected: dict[str, int] = field(default_factory=dict)

    def add(self, rule: FaultRule) -> int:
        self.rules.append(_ActiveRule(rule, random.Random(rule.seed), rule.fail_next))
        return len(self.rules) - 1

    def clear(self) -> None:
        self.rules.clear()
        self.regions_down.clear()
        self.injected.clear()

    def set_outage(self, region: str, down: bool) -> None:
        if down:
            self.regions_down.add(region)
        else:
            self.regions_down.discard(region)

    def decide(self, region: str, service: str, operation: str) -> Decision:
        if region in self.regions_down:
            return self._count(Decision("outage"))
        latency = 0
        unprocessed = 0.0
        outcome: Outcome = "pass"
        for active in self.rules:
            if not active.matches(region, service, operation):
                continue
            latency += active.rule.latency_ms
            unprocessed = max(unprocessed, active.rule.unprocessed_rate)
            if outcome != "pass":
                continue
            if active.remaining_failures > 0:
                active.remaining_failures -= 1
                outcome = active.rule.fail_kind
                continue
            draw = active.rng.random()
            if draw < active.rule.throttle_rate:
                outcome = "throttle"
            elif draw < active.rule.throttle_rate + active.rule.error_rate:
                outcome = "error"
        return self._count(Decision(outcome, latency, unprocessed))

    def _count(self, decision: Decision) -> Decision:
        """Tally what was injected (tests read it through the control's stats())."""
        if decision.outcome != "pass":
            self.injected[decision.outcome] = self.injected.get(decision.outcome, 0) + 1
        if decision.unprocessed_rate:
            self.injected["unprocessed"] = self.injected.get("unprocessed", 0) + 1
        if decision.latency_ms:
            self.injected["delayed"] = self.injected.get("delayed", 0) + 1
            self.injected["latency_ms"] = self.injected.get("latency_ms", 0) + decision.latency_ms
        return decision


def error_for(outcome: Outcome, region: str, service: str, operation: str) -> AwsError:
    """The error AWS returns for that kind of failure of that call."""
    where = f"{service} {operation} in {region}"
    if outcome == "throttle":
        if service == "dynamodb" and operation in DYNAMODB_DATA_PLANE:
            return AwsError(
                400,
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded. "
                f"Consider increasing your provisioning level with the UpdateTable API. ({where},"
                " injected)",
            )
        return AwsError(400, "ThrottlingException", f"Rate exceeded ({where}, injected)")
    if outcome in ("error", "error_after_write"):
        if service == "dynamodb":
            return AwsError(
                500, "InternalServerError", f"Internal server error ({where}, injected)"
            )
        return AwsError(503, "ServiceUnavailable", f"Service unavailable ({where}, injected)")
    if outcome == "outage":
        return AwsError(
            503, "ServiceUnavailable", f"Region {region} is unreachable ({where}, injected outage)"
        )
    raise ValueError(f"no error for outcome {outcome!r}")
