"""Observed state + plan -> the ForumDatabase `status` (phase, conditions, per-table/region state
and the summary fields the printer columns show)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from forumdb.ownership import describe_owner
from forumdb_operator.arns import region_of
from forumdb_operator.desired import DesiredBackups, DesiredState, DesiredTable
from forumdb_operator.diff import Plan
from forumdb_operator.diff.alarms import SUBSCRIPTION_DELETED, SUBSCRIPTION_PENDING
from forumdb_operator.diff.ownership import foreign_record, owns_replica, stands_apart
from forumdb_operator.diff.replica_tags import missing_tags, sent_not_listed
from forumdb_operator.observed import Observed, ObservedBackups, ObservedTable

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
    """Ready first, then one condition per feature (CONDITION_TYPES order)."""
    # Tables missing in the primary region hold back the replica and PITR conditions too.
    missing = [t.name for t in d.tables if obs.table(t.kind, d.primary_region) is None]
    out = [
        _tables_ready(d, plan, missing),
        _replication_healthy(d, obs, plan, missing),
        _point_in_time_recovery(d, plan, missing),
        _backups_configured(d, obs, plan),
        _alarms_configured(d, plan),
    ]
    return [_ready(out, plan), *out]


def _tables_ready(d: DesiredState, plan: Plan, missing: list[str]) -> Cond:
    todo = _feature_actions(plan, "TablesReady") + _table_waits(plan)
    fields = ("spec.tablePrefix", "spec.adopt", "spec.encryption", "spec.billing")
    probs = [p for p in plan.problems if p.field.startswith((*fields, "spec.primaryRegion"))]
    if probs:
        return Cond("TablesReady", False, probs[0].reason, "; ".join(str(p) for p in probs))
    if missing or todo:
        reason = "Creating" if missing else "Updating"
        return Cond("TablesReady", False, reason, "; ".join(todo or missing))
    return Cond(
        "TablesReady",
        True,
        "AllTablesActive",
        f"{', '.join(t.name for t in d.tables)} ACTIVE in {d.primary_region}",
    )


def _replication_healthy(d: DesiredState, obs: Observed, plan: Plan, missing: list[str]) -> Cond:
    todo = _feature_actions(plan, "ReplicationHealthy") + _replica_waits(plan)
    regions = replica_regions(d, obs)
    probs = [p for p in plan.problems if p.field.startswith("spec.replicaRegions")]
    if probs:
        return Cond("ReplicationHealthy", False, probs[0].reason, "; ".join(str(p) for p in probs))
    if todo:
        return Cond("ReplicationHealthy", False, "ReplicasChanging", "; ".join(todo))
    if not regions:
        return Cond("ReplicationHealthy", True, "NoReplicas", "no replica regions asked for")
    inactive = [
        f"{t.name} in {r}"
        for t in d.tables
        for r in regions
        if (o := obs.table(t.kind, r)) is None or o.status != "ACTIVE"
    ]
    if inactive or missing:
        return Cond(
            "ReplicationHealthy", False, "ReplicasNotActive", "; ".join(inactive or missing)
        )
    return Cond(
        "ReplicationHealthy", True, "AllReplicasActive", f"replicas ACTIVE in {', '.join(regions)}"
    )


def _point_in_time_recovery(d: DesiredState, plan: Plan, missing: list[str]) -> Cond:
    todo = _feature_actions(plan, "PointInTimeRecovery")
    if d.pitr is None:
        return Cond("PointInTimeRecovery", True, "NotManaged", "spec.pointInTimeRecovery unset")
    if todo or missing:
        return Cond("PointInTimeRecovery", False, "Updating", "; ".join(todo or missing))
    state = "enabled" if d.pitr.enabled else "disabled"
    extra = f" ({d.pitr.recovery_period_days} days)" if d.pitr.enabled else ""
    return Cond(
        "PointInTimeRecovery",
        True,
        "Enabled" if d.pitr.enabled else "Disabled",
        f"PITR {state}{extra} on every table in every region",
    )


def _backups_configured(d: DesiredState, obs: Observed, plan: Plan) -> Cond:
    todo = _feature_actions(plan, "BackupsConfigured")
    b = d.backups
    if b is None:
        return Cond("BackupsConfigured", True, "NotManaged", "spec.backups unset")
    if todo:
        return Cond("BackupsConfigured", False, "Updating", "; ".join(todo))
    if not b.enabled:
        return Cond("BackupsConfigured", True, "Disabled", "spec.backups.enabled is false")
    probs = [p for p in plan.problems if p.field.startswith("spec.backups")]
    if probs:
        return Cond("BackupsConfigured", False, probs[0].reason, "; ".join(map(str, probs)))
    if obs.backups is None or obs.backups.selection_id is None:
        return Cond("BackupsConfigured", False, "Pending", "waiting for the tables")
    return Cond(
        "BackupsConfigured",
        True,
        "PlanActive",
        f"plan {b.plan_name} ({b.schedule}) into vault {b.vault_name}{_copies(b, obs.backups)}",
    )


def _copies(b: DesiredBackups, ob: ObservedBackups) -> str:
    """What the status may say of the copies: "copied to X" only where the account's advanced
    DynamoDB backup setting, which they need, was seen on."""
    if not b.copy_region:
        return ""
    if ob.advanced_dynamodb:
        return f", copied to {b.copy_region}"
    return (
        f", copies to {b.copy_region} asked for; whether the account's advanced DynamoDB backup "
        f"(which they need) is on is unknown: {ob.settings_unread or 'not read'}"
    )


def _alarms_configured(d: DesiredState, plan: Plan) -> Cond:
    todo = _feature_actions(plan, "AlarmsConfigured")
    a = d.alarms
    if a is None:
        return Cond("AlarmsConfigured", True, "NotManaged", "spec.alarms unset")
    if todo:
        return Cond("AlarmsConfigured", False, "Updating", "; ".join(todo[:5]))
    if not a.enabled:
        return Cond("AlarmsConfigured", True, "Disabled", "spec.alarms.enabled is false")
    message = f"{len(a.alarms)} alarms in {', '.join(a.alarm_regions)}"
    silent = [r for r in a.alarm_regions if a.topic_arn and region_of(a.topic_arn) not in (r, None)]
    if silent:
        # CloudWatch refuses an action topic of another region: those alarms notify no one.
        message += (
            f"; the alarms in {', '.join(silent)} notify no one: spec.alarms.snsTopicArn is in "
            f"{region_of(a.topic_arn or '')} and an alarm's topic must be in its own region "
            "(spec.alarms.createTopic makes one in each)"
        )
    return Cond("AlarmsConfigured", True, "AlarmsInPlace", message)


def _ready(features: list[Cond], plan: Plan) -> Cond:
    """Ready: a problem first, else the first feature that is not in shape."""
    failing = [c for c in features if not c.ok]
    if plan.problems:
        return Cond("Ready", False, plan.problems[0].reason, str(plan.problems[0]))
    if failing:
        return Cond("Ready", False, failing[0].reason, f"{failing[0].type}: {failing[0].message}")
    return Cond("Ready", True, "Ready", "every table, replica, backup and alarm in shape")


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


def _in_the_way(d: DesiredState, obs: Observed, t: DesiredTable, o: ObservedTable) -> bool:
    """An untagged (or this resource's tagged) table where a replica is wanted that is no
    replica of the primary (diff.replicas: ReplicaRegionTableExists)."""
    primary = obs.table(t.kind, d.primary_region)
    return (
        primary is not None
        and o.status not in ("CREATING", "DELETING")
        and stands_apart(d, primary, o)
        and not foreign_record(d, o)
    )


def _region_status(d: DesiredState, obs: Observed, region: str) -> str:
    states = []
    for t in d.tables:
        o = obs.table(t.kind, region)
        # a table of its own where the replica should be: the replica is missing
        states.append("MISSING" if o is None or _in_the_way(d, obs, t, o) else o.status)
    bad = [s for s in states if s != "ACTIVE"]
    return bad[0] if bad else "ACTIVE"


def summary_fields(d: DesiredState, obs: Observed) -> dict[str, Any]:
    """The status fields the printer columns show and clients read: regions, tables, backups,
    alarms."""
    regions = [d.primary_region, *replica_regions(d, obs)]
    active = [r for r in regions if _region_status(d, obs, r) == "ACTIVE"]
    return {
        "primaryRegion": d.primary_region,
        "replication": f"{len(active)}/{len(regions)} ACTIVE",
        "pitr": _pitr_summary(obs),
        "regions": [_region_entry(d, obs, r) for r in regions],
        "tables": [_table_summary(d, obs, t, regions) for t in d.tables],
        **_backup_summary(d, obs),
        **_alarm_summary(d, obs),
    }


def _region_entry(d: DesiredState, obs: Observed, region: str) -> dict[str, Any]:
    """A region's tables together: their state, and whether every setting the spec asks for
    holds there (notInShape names each one that does not)."""
    problems = region_problems(d, obs, region)
    entry: dict[str, Any] = {
        "region": region,
        "role": "primary" if region == d.primary_region else "replica",
        "status": _region_status(d, obs, region),
        "inShape": not problems,
    }
    if problems:
        entry["notInShape"] = problems
    return entry


def region_problems(d: DesiredState, obs: Observed, region: str) -> list[str]:
    """What is not as the spec asks in one region: each table's presence and state, its
    tags, deletion protection, KMS key, read capacity and PITR (settings AWS keeps per
    replica)."""
    out: list[str] = []
    for t in d.tables:
        o = obs.table(t.kind, region)
        if o is None:
            out.append(f"table {t.name} is missing")
            continue
        if _in_the_way(d, obs, t, o):
            # someone's table where a replica is wanted: none of its settings are ours to show
            out.append(
                f"table {t.name} is not a replica of {t.name} in {d.primary_region}: "
                "a table of its own"
            )
            continue
        if o.status != "ACTIVE":
            out.append(f"table {t.name} is {o.status}")
        tags = _tags_problem(d, obs, t, o)
        if tags:
            out.append(tags)
        want = t.deletion_protection
        if want is not None and o.deletion_protection != want:
            out.append(
                f"deletion protection of {t.name} is {_on(o.deletion_protection)} "
                f"(spec: {_on(want)})"
            )
        key = _kms_problem(t, o, obs)
        if key:
            out.append(key)
        read = t.replica_read_capacity.get(region)
        if read and o.billing_mode == "PROVISIONED" and o.read_capacity != read:
            out.append(f"read capacity of {t.name} is {o.read_capacity} (spec: {read})")
        pitr, have = d.pitr, obs.pitr.get((t.kind, region))
        if pitr is not None and have is not None:
            if have.enabled != pitr.enabled:
                out.append(f"PITR of {t.name} is {_on(have.enabled)} (spec: {_on(pitr.enabled)})")
            elif (
                pitr.enabled
                and have.recovery_period_days is not None
                and have.recovery_period_days != pitr.recovery_period_days
            ):
                out.append(
                    f"PITR period of {t.name} is {have.recovery_period_days} days "
                    f"(spec: {pitr.recovery_period_days})"
                )
    return out


def _tags_problem(d: DesiredState, obs: Observed, t: DesiredTable, o: ObservedTable) -> str | None:
    """Another resource's ownership record on the table, or the resource's tags it lacks
    (where they were read: every table that is not being created or deleted)."""
    if o.tags is None:
        return None
    primary = d.primary_region
    theirs = foreign_record(d, o) and not (
        o.region != primary
        and (p := obs.table(t.kind, primary)) is not None
        and owns_replica(d, p, o)  # an earlier record of this name: re-tagged (replica_tags)
    )
    if theirs:
        return f"table {t.name} belongs to ForumDatabase {describe_owner(o.tags)}"
    missing = missing_tags(t, o.tags)
    if missing and not (o.region != primary and sent_not_listed(obs, t.name, o.region)):
        return f"tags of {t.name} not set: {', '.join(sorted(missing))}"
    return None


def _kms_problem(t: DesiredTable, o: ObservedTable, obs: Observed) -> str | None:
    """The table's KMS key in its region when it is not the one the spec asks for there."""
    if t.kms_key is None:
        return None  # encryption not managed
    want = t.replica_kms_keys.get(o.region, t.kms_key)
    if not want:
        return None if o.kms_key is None else f"{t.name} uses KMS key {o.kms_key} (spec: none)"
    if o.kms_key in (want, obs.kms_arns.get((o.region, want))):
        return None
    return f"{t.name} uses KMS key {o.kms_key or 'the AWS owned key'} (spec: {want})"


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _pitr_summary(obs: Observed) -> str:
    pitr_states = [p.enabled for p in obs.pitr.values()]
    if not pitr_states:
        return "Unknown"
    if all(pitr_states):
        return "Enabled"
    if not any(pitr_states):
        return "Disabled"
    return "Partial"


def _table_summary(
    d: DesiredState, obs: Observed, t: DesiredTable, regions: list[str]
) -> dict[str, Any]:
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
            item.update(
                arn=o.arn,
                itemCount=o.item_count,
                sizeBytes=o.size_bytes,
                deletionProtection=o.deletion_protection,
            )
        if p is not None:
            item["pitr"] = "ENABLED" if p.enabled else "DISABLED"
            if p.enabled and p.recovery_period_days is not None:
                item["pitrRecoveryPeriodDays"] = p.recovery_period_days
        entry["regions"].append(item)
    return entry


def _backup_summary(d: DesiredState, obs: Observed) -> dict[str, Any]:
    """lastBackup and backups (vaults, plan, selection, last recovery point), when managed;
    None (a merge patch removes the field) when the spec no longer asks for backups, so an
    earlier status's vault and plan do not linger; left as they were when AWS was not read."""
    if d.backups is None:
        return {"lastBackup": None, "backups": None}
    if obs.backups is None:
        return {}
    ob = obs.backups
    b = d.backups
    rp = ob.last_recovery_point
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
    return {
        "lastBackup": _iso(rp.get("CreationDate")) if rp else "never",
        "backups": {k: v for k, v in backups.items() if v is not None},
    }


def _alarm_summary(d: DesiredState, obs: Observed) -> dict[str, Any]:
    """The alarms and their topic; None once the spec no longer asks for alarms."""
    if d.alarms is None:
        return {"alarms": None}
    if obs.alarms is None:
        return {}
    a, oa = d.alarms, obs.alarms
    topic = a.topic_arn or oa.topic_arn
    # ours in a region that left the spec stay listed (and looked for) until removed
    regions = oa.regions_of_ours(a.region, a.regions or ())
    alarms: dict[str, Any] = {
        "items": [
            {"name": n, "region": region, "state": x.get("StateValue", "UNKNOWN")}
            for region in regions
            for n, x in sorted(oa.alarms_in(region, a.region).items())
        ]
    }
    shared_user = a.shared is not None and a.shared.user_key in oa.shared_tags
    if oa.shared is not None and shared_user:  # the account-level alarm it shares with others
        alarms["items"].append(
            {
                "name": oa.shared["AlarmName"],
                "region": a.region,
                "state": oa.shared.get("StateValue", "UNKNOWN"),
            }
        )
    if topic:
        alarms["topicArn"] = topic
    # None: a merge patch removes the record (the addresses left the spec), so putting one
    # back asks again also after a restart that reads the live status
    alarms["subscriptions"] = _subscription_states(d, obs) or None
    return {"alarms": alarms}


def _subscription_states(d: DesiredState, obs: Observed) -> list[dict[str, str]]:
    """Each e-mail of the spec per topic region, as SNS lists it, where the operator asked for
    it or SNS lists it: the record that keeps it from asking twice (diff.alarms). Addresses
    that left the spec are forgotten (putting one back asks again)."""
    a, oa = d.alarms, obs.alarms
    if a is None or oa is None:
        return []
    regions = a.topic_regions or ((a.region,) if a.topic_arn else ())
    out = []
    for region in regions:
        listed = oa.subscriptions_in(region, a.region)
        for email in a.emails:
            arn = listed.get(email)
            if arn is None and (region, email) not in obs.subscriptions_asked:
                continue
            state = {
                None: "NotListed",  # asked once; unconfirmed for 48 h, or unsubscribed long ago
                SUBSCRIPTION_DELETED: "Unsubscribed",
                SUBSCRIPTION_PENDING: "PendingConfirmation",
            }.get(arn, "Confirmed")
            out.append({"endpoint": email, "region": region, "state": state})
    return out


def subscriptions_asked(previous: Mapping[str, Any]) -> frozenset[tuple[str, str]]:
    """(region, e-mail) subscriptions the last status records (asked for, or seen listed)."""
    alarms = previous.get("alarms")
    if not isinstance(alarms, Mapping):
        return frozenset()
    return frozenset(
        (str(s.get("region")), str(s.get("endpoint")))
        for s in alarms.get("subscriptions") or []
        if isinstance(s, Mapping) and s.get("region") and s.get("endpoint")
    )


def held_back(conds: Sequence[Cond], plan: Plan) -> frozenset[str]:
    """The conditions a non-blocking problem holds False (e.g. BackupsConfigured while a plan
    of the same name is another's): their features wait for the user, the rest goes on."""
    reasons = {p.reason for p in plan.problems if not p.blocking}
    return frozenset(
        c.type for c in conds if c.type != "Ready" and not c.ok and c.reason in reasons
    )


def in_shape(conds: Sequence[Cond], plan: Plan) -> bool:
    """Everything the resource asks for is in shape but the features a non-blocking problem
    holds back, and no problem blocks: the tables, replicas and PITR serve as the spec says.
    The reconcile records readyGeneration on this (so drift repairs and the health monitor's
    automatic failover are armed), not on phase Ready alone: a backup plan name taken by
    someone else must not leave failover unarmed."""
    if plan.blocked:
        return False
    held = held_back(conds, plan)
    return all(c.ok for c in conds if c.type != "Ready" and c.type not in held)


def phase_for(conds: Sequence[Cond], plan: Plan, was_ready: bool) -> str:
    """Failed: a blocking problem (the user must act before anything goes on).
    Ready: every condition True.
    Degraded: was Ready for this spec and something is out of shape (being repaired), or only
    features a non-blocking problem holds back are out of shape (their condition, the Ready
    condition and a Warning event say why).
    Provisioning: a new spec is being brought about."""
    if plan.blocked:
        return "Failed"
    if all(c.ok for c in conds):
        return "Ready"
    return "Degraded" if was_ready or in_shape(conds, plan) else "Provisioning"


def pitr_seen_enabled(previous: Mapping[str, Any]) -> frozenset[tuple[str, str]]:
    """(table, region) pairs whose PITR the last status showed ENABLED."""
    seen = set()
    for table in previous.get("tables") or []:
        if not isinstance(table, Mapping):
            continue
        for r in table.get("regions") or []:
            if isinstance(r, Mapping) and r.get("pitr") == "ENABLED":
                seen.add((str(table.get("name")), str(r.get("region"))))
    return frozenset(seen)
