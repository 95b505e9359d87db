"""Observed state + plan -> the ForumDatabase `status` (phase, conditions, per-table/region state
and the summary fields the printer columns show)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from forumdb_operator.desired import DesiredState
from forumdb_operator.diff import Plan
from forumdb_operator.observed import Observed

CONDITION_TYPES = (
    "Ready",
    "TablesReady",
    "ReplicationHealthy",
    "PointInTimeRecovery",
    "BackupsConfigured",
    "AlarmsConfigured",
)
TABLE_FEATURES = frozenset(
    {"table", "index", "billing", "stream", "encryption", "protection", "tags", "autoscaling"}
)
FEATURE_CONDITION = {
    **dict.fromkeys(TABLE_FEATURES, "TablesReady"),
    "replica": "ReplicationHealthy",
    "pitr": "PointInTimeRecovery",
    "backup": "BackupsConfigured",
    "alarm": "AlarmsConfigured",
    "topic": "AlarmsConfigured",
}


@dataclass(frozen=True)
class Cond:
    type: str
    ok: bool | None  # None: Unknown
    reason: str
    message: str


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def merge_conditions(
    new: Sequence[Cond],
    previous: Sequence[Mapping[str, Any]] | None,
    generation: int | None,
    now: str,
) -> list[dict[str, Any]]:
    """Conditions in Kubernetes form; lastTransitionTime changes only when the status flips."""
    before = {c.get("type"): c for c in previous or []}
    out = []
    for c in new:
        status = "Unknown" if c.ok is None else ("True" if c.ok else "False")
        old = before.get(c.type)
        changed = old is None or old.get("status") != status
        item: dict[str, Any] = {
            "type": c.type,
            "status": status,
            "reason": c.reason,
            "message": c.message,
            "lastTransitionTime": now if changed else old.get("lastTransitionTime", now),
        }
        if generation is not None:
            item["observedGeneration"] = generation
        out.append(item)
    # Conditions we did not evaluate this time (e.g. DeletionBlocked) are kept as they were.
    kept = {c.type for c in new}
    out.extend(dict(c) for t, c in before.items() if t not in kept and t is not None)
    return out


def _feature_actions(plan: Plan, condition: str) -> list[str]:
    return [a.summary for a in plan.actions if FEATURE_CONDITION.get(a.feature) == condition]


def _replica_waits(plan: Plan) -> list[str]:
    return [w for w in plan.waiting if "replica" in w]


def _table_waits(plan: Plan) -> list[str]:
    return [w for w in plan.waiting if "replica" not in w]


def _problems(plan: Plan, fields: tuple[str, ...]) -> list[str]:
    return [str(p) for p in plan.problems if p.field.startswith(fields)]


def conditions(d: DesiredState, obs: Observed, plan: Plan) -> list[Cond]:
    out: list[Cond] = []

    todo = _feature_actions(plan, "TablesReady") + _table_waits(plan)
    probs = _problems(plan, ("spec.tablePrefix", "spec.adopt", "spec.encryption", "spec.billing"))
    missing = [t.name for t in d.tables if obs.table(t.kind, d.primary_region) is None]
    if probs:
        out.append(Cond("TablesReady", False, plan.problems[0].reason, "; ".join(probs)))
    elif missing or todo:
        reason = "Creating" if missing else "Updating"
        out.append(Cond("TablesReady", False, reason, "; ".join(todo or missing)))
    else:
        out.append(
            Cond(
                "TablesReady",
                True,
                "AllTablesActive",
                f"{', '.join(t.name for t in d.tables)} ACTIVE in {d.primary_region}",
            )
        )

    todo = _feature_actions(plan, "ReplicationHealthy") + _replica_waits(plan)
    regions = replica_regions(d, obs)
    if todo:
        out.append(Cond("ReplicationHealthy", False, "ReplicasChanging", "; ".join(todo)))
    elif not regions:
        out.append(Cond("ReplicationHealthy", True, "NoReplicas", "no replica regions asked for"))
    else:
        inactive = [
            f"{t.name} in {r}"
            for t in d.tables
            for r in regions
            if (o := obs.table(t.kind, r)) is None or o.status != "ACTIVE"
        ]
        if inactive or missing:
            out.append(
                Cond(
                    "ReplicationHealthy", False, "ReplicasNotActive", "; ".join(inactive or missing)
                )
            )
        else:
            out.append(
                Cond(
                    "ReplicationHealthy",
                    True,
                    "AllReplicasActive",
                    f"replicas ACTIVE in {', '.join(regions)}",
                )
            )

    todo = _feature_actions(plan, "PointInTimeRecovery")
    if d.pitr is None:
        out.append(
            Cond("PointInTimeRecovery", True, "NotManaged", "spec.pointInTimeRecovery unset")
        )
    elif todo or missing:
        out.append(Cond("PointInTimeRecovery", False, "Updating", "; ".join(todo or missing)))
    else:
        state = "enabled" if d.pitr.enabled else "disabled"
        extra = f" ({d.pitr.recovery_period_days} days)" if d.pitr.enabled else ""
        out.append(
            Cond(
                "PointInTimeRecovery",
                True,
                "Enabled" if d.pitr.enabled else "Disabled",
                f"PITR {state}{extra} on every table in every region",
            )
        )

    todo = _feature_actions(plan, "BackupsConfigured")
    b = d.backups
    if b is None:
        out.append(Cond("BackupsConfigured", True, "NotManaged", "spec.backups unset"))
    elif todo:
        out.append(Cond("BackupsConfigured", False, "Updating", "; ".join(todo)))
    elif not b.enabled:
        out.append(Cond("BackupsConfigured", True, "Disabled", "spec.backups.enabled is false"))
    elif obs.backups is None or obs.backups.selection_id is None:
        out.append(Cond("BackupsConfigured", False, "Pending", "waiting for the tables"))
    else:
        copy = f", copied to {b.copy_region}" if b.copy_region else ""
        out.append(
            Cond(
                "BackupsConfigured",
                True,
                "PlanActive",
                f"plan {b.plan_name} ({b.schedule}) into vault {b.vault_name}{copy}",
            )
        )

    todo = _feature_actions(plan, "AlarmsConfigured")
    a = d.alarms
    if a is None:
        out.append(Cond("AlarmsConfigured", True, "NotManaged", "spec.alarms unset"))
    elif todo:
        out.append(Cond("AlarmsConfigured", False, "Updating", "; ".join(todo[:5])))
    elif not a.enabled:
        out.append(Cond("AlarmsConfigured", True, "Disabled", "spec.alarms.enabled is false"))
    else:
        out.append(
            Cond("AlarmsConfigured", True, "AlarmsInPlace", f"{len(a.alarms)} alarms in {a.region}")
        )

    failing = [c for c in out if not c.ok]
    if plan.problems:
        out.insert(0, Cond("Ready", False, plan.problems[0].reason, str(plan.problems[0])))
    elif failing:
        out.insert(
            0, Cond("Ready", False, failing[0].reason, f"{failing[0].type}: {failing[0].message}")
        )
    else:
        out.insert(
            0, Cond("Ready", True, "Ready", "every table, replica, backup and alarm in shape")
        )
    return out


def replica_regions(d: DesiredState, obs: Observed) -> list[str]:
    """The replica regions to report: the spec's, or what exists when replicas are unmanaged."""
    if d.replicas_managed:
        return list(d.replica_regions)
    found: list[str] = []
    for t in d.tables:
        o = obs.table(t.kind, d.primary_region)
        for r in o.replicas if o else {}:
            if r not in found:
                found.append(r)
    return found


def _region_status(d: DesiredState, obs: Observed, region: str) -> str:
    states = []
    for t in d.tables:
        o = obs.table(t.kind, region)
        states.append("MISSING" if o is None else o.status)
    bad = [s for s in states if s != "ACTIVE"]
    return bad[0] if bad else "ACTIVE"


def summary_fields(d: DesiredState, obs: Observed) -> dict[str, Any]:
    regions = [d.primary_region, *replica_regions(d, obs)]
    active = [r for r in regions if _region_status(d, obs, r) == "ACTIVE"]
    pitr_states = [p.enabled for p in obs.pitr.values()]
    if not pitr_states:
        pitr = "Unknown"
    elif all(pitr_states):
        pitr = "Enabled"
    elif not any(pitr_states):
        pitr = "Disabled"
    else:
        pitr = "Partial"
    out: dict[str, Any] = {
        "primaryRegion": d.primary_region,
        "replication": f"{len(active)}/{len(regions)} ACTIVE",
        "pitr": pitr,
        "regions": [
            {
                "region": r,
                "role": "primary" if r == d.primary_region else "replica",
                "status": _region_status(d, obs, r),
            }
            for r in regions
        ],
        "tables": [],
    }
    for t in d.tables:
        entry: dict[str, Any] = {"kind": t.kind, "name": t.name, "regions": []}
        for r in regions:
            o = obs.table(t.kind, r)
            p = obs.pitr.get((t.kind, r))
            item: dict[str, Any] = {
                "region": r,
                "role": "primary" if r == d.primary_region else "replica",
                "status": "MISSING" if o is None else o.status,
            }
            if o is not None:
                item.update(arn=o.arn, itemCount=o.item_count, sizeBytes=o.size_bytes)
            if p is not None:
                item["pitr"] = "ENABLED" if p.enabled else "DISABLED"
            entry["regions"].append(item)
        out["tables"].append(entry)
    if d.backups is not None and obs.backups is not None:
        ob = obs.backups
        b = d.backups
        rp = ob.last_recovery_point
        out["lastBackup"] = _iso(rp.get("CreationDate")) if rp else "never"
        backups: dict[str, Any] = {
            "vaultName": b.vault_name,
            "vaultArn": ob.vault_arns.get(b.primary_region),
            "planName": b.plan_name,
            "planId": ob.plan_id,
            "selectionId": ob.selection_id,
        }
        if b.copy_region:
            backups["copyVaultArn"] = ob.vault_arns.get(b.copy_region)
        if rp:
            backups["lastRecoveryPoint"] = {
                "arn": rp.get("RecoveryPointArn"),
                "creationDate": _iso(rp.get("CreationDate")),
                "status": rp.get("Status"),
                "resource": rp.get("ResourceArn"),
            }
        out["backups"] = {k: v for k, v in backups.items() if v is not None}
    if d.alarms is not None and obs.alarms is not None:
        topic = d.alarms.topic_arn or obs.alarms.topic_arn
        alarms: dict[str, Any] = {
            "items": [
                {"name": n, "region": d.alarms.region, "state": a.get("StateValue", "UNKNOWN")}
                for n, a in sorted(obs.alarms.alarms.items())
            ]
        }
        if topic:
            alarms["topicArn"] = topic
        out["alarms"] = alarms
    return out


def phase_for(conds: Sequence[Cond], plan: Plan, was_ready: bool) -> str:
    """Degraded: was Ready for this spec and something is out of shape (being repaired);
    Provisioning: a new spec is being brought about."""
    if plan.problems:
        return "Failed"
    if all(c.ok for c in conds):
        return "Ready"
    return "Degraded" if was_ready else "Provisioning"
