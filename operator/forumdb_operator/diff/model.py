"""What a diff produces: actions to apply, things to wait for, problems for the user."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# What an action changes; status.FEATURE_CONDITION maps each to the condition it reports under.
Feature = Literal[
    "table",
    "index",
    "billing",
    "stream",
    "encryption",
    "protection",
    "tags",
    "autoscaling",
    "replica",
    "pitr",
    "backup",
    "alarm",
    "topic",
]


@dataclass(frozen=True)
class Action:
    feature: Feature
    service: str
    region: str
    operation: str  # the boto3 client method
    params: dict[str, Any]
    summary: str  # human text: "enable PITR on forum-Users in us-west-2 (it was disabled)"

    def __str__(self) -> str:
        return self.summary


@dataclass(frozen=True)
class Problem:
    """Something the operator cannot fix by itself; `field` names what the user should change.
    `blocking` False: only the problem's own feature is held back (e.g. a backup plan name taken
    by someone else); the rest of the spec is still brought about."""

    field: str
    message: str
    reason: str
    blocking: bool = True

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        """A problem that stops every action (not only its feature's)."""
        return any(p.blocking for p in self.problems)

    @property
    def converged(self) -> bool:
        return not (self.actions or self.waiting or self.problems)
