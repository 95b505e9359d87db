"""Fields that may not change once a ForumDatabase has tables: spec.tablePrefix and
spec.primaryRegion. Changing either would point the services at new, empty tables (or at a
region where the global tables cannot be re-homed), and the old tables would lose their alarms
and backups: data lost without anyone asking.

What was provisioned is recorded in status.provisioned (`tablePrefix`, `primaryRegion`) from
the first reconcile that sees a table of its own (tagged with its owner) in the primary region.
Resources from before that field existed count as provisioned once they were Ready
(status.readyGeneration), with the values read from status.tables and status.primaryRegion.

The webhook refuses such a change; where it is not installed, the reconciler leaves AWS and
the ConfigMap as they are, reports the condition SpecAccepted=False (ImmutableFieldChanged) and
a Warning event, and the health checks keep watching the old tables. Reverting the field clears
it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forumdb import tables
from forumdb.tables import DEFAULT_TABLE_PREFIX

STATUS_KEY = "provisioned"
CONDITION = "SpecAccepted"
REASON = "ImmutableFieldChanged"


@dataclass(frozen=True)
class Provisioned:
    table_prefix: str
    primary_region: str

    def as_status(self) -> dict[str, str]:
        return {"tablePrefix": self.table_prefix, "primaryRegion": self.primary_region}


@dataclass(frozen=True)
class Change:
    field: str  # e.g. spec.tablePrefix
    old: str
    new: str
    advice: str

    def __str__(self) -> str:
        return (
            f"{self.field} cannot change once tables exist ({self.old!r} -> {self.new!r}): "
            f"{self.advice}"
        )


def _legacy(status: Mapping[str, Any]) -> Provisioned | None:
    """A resource provisioned before status.provisioned existed: Ready once, with tables."""
    region = status.get("primaryRegion")
    if not status.get("readyGeneration") or not isinstance(region, str):
        return None
    for entry in status.get("tables") or []:
        if not isinstance(entry, Mapping):
            continue
        kind, name = entry.get("kind"), entry.get("name")
        try:
            logical = tables.table_def(str(kind)).logical_name
        except (KeyError, ValueError):
            continue
        if isinstance(name, str) and name.endswith(logical):
            return Provisioned(name[: len(name) - len(logical)], region)
    return None


def recorded(status: Mapping[str, Any] | None) -> Provisioned | None:
    """What this resource provisioned, from its status; None: no tables of its own yet."""
    if not status:
        return None
    raw = status.get(STATUS_KEY)
    if isinstance(raw, Mapping) and raw.get("tablePrefix") and raw.get("primaryRegion"):
        return Provisioned(str(raw["tablePrefix"]), str(raw["primaryRegion"]))
    return _legacy(status)


def _values(raw_spec: Mapping[str, Any]) -> tuple[str, str | None]:
    prefix = raw_spec.get("tablePrefix")
    region = raw_spec.get("primaryRegion")
    return (
        prefix if isinstance(prefix, str) else DEFAULT_TABLE_PREFIX,
        region if isinstance(region, str) else None,
    )


def changes(raw_spec: Mapping[str, Any], status: Mapping[str, Any] | None) -> list[Change]:
    """The immutable fields `raw_spec` changes relative to what was provisioned."""
    done = recorded(status)
    if done is None:
        return []
    prefix, region = _values(raw_spec)
    out: list[Change] = []
    if prefix != done.table_prefix:
        out.append(
            Change(
                "spec.tablePrefix",
                done.table_prefix,
                prefix,
                f"the services keep using the {done.table_prefix}* tables; set it back to "
                f"{done.table_prefix!r}, or create a new ForumDatabase with the new prefix and "
                "copy the data (forumctl backup, then restore against the new tables)",
            )
        )
    if region is not None and region != done.primary_region:
        out.append(
            Change(
                "spec.primaryRegion",
                done.primary_region,
                region,
                f"the tables stay homed in {done.primary_region}; set it back to "
                f"{done.primary_region!r}; to serve the services from a replica region set "
                "spec.activeRegion (failover) instead",
            )
        )
    return out


def message(found: list[Change]) -> str:
    return "; ".join(str(c) for c in found)


def effective_spec(raw_spec: Mapping[str, Any], status: Mapping[str, Any] | None) -> dict[str, Any]:
    """The spec with the immutable fields as provisioned: what the health checks and a
    deletion must work on while a refused change is pending."""
    done = recorded(status)
    out = dict(raw_spec)
    if done is not None:
        out["tablePrefix"] = done.table_prefix
        out["primaryRegion"] = done.primary_region
    return out
