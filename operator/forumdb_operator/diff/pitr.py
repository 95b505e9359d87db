"""Point-in-time recovery of a table in every region: on or off, and its recovery period."""

from __future__ import annotations

from typing import Any

from forumdb_operator.desired import DesiredState, DesiredTable
from forumdb_operator.diff.model import Action, Plan
from forumdb_operator.diff.ownership import stands_apart
from forumdb_operator.observed import Observed


def pitr_actions(d: DesiredState, t: DesiredTable, obs: Observed, plan: Plan) -> None:
    want = d.pitr
    if want is None:
        return
    primary = obs.table(t.kind, d.primary_region)
    for region in (d.primary_region, *d.replica_regions):
        o = obs.table(t.kind, region)
        have = obs.pitr.get((t.kind, region))
        if o is None or have is None:
            continue
        if primary is not None and stands_apart(d, primary, o):
            continue  # a table of its own there, no replica of ours: never touched
        if o.status != "ACTIVE":
            continue
        if (t.name, region) in obs.just_created and want.enabled and not have.enabled:
            # AWS refuses UpdateContinuousBackups right after CreateTable ("Backups are being
            # enabled for the table"): the next reconcile sets it; the rest goes on meanwhile.
            plan.waiting.append(f"PITR of {t.name} in {region}: the table was just created")
            continue
        period_differs = (
            want.enabled
            and have.recovery_period_days is not None
            and have.recovery_period_days != want.recovery_period_days
        )
        if have.enabled == want.enabled and not period_differs:
            continue
        spec: dict[str, Any] = {"PointInTimeRecoveryEnabled": want.enabled}
        if want.enabled:
            spec["RecoveryPeriodInDays"] = want.recovery_period_days
        if have.enabled != want.enabled and want.enabled:
            # a repair only where PITR was seen on before; a new table's first setting is not
            why = (
                "it was disabled"
                if (t.name, region) in obs.pitr_seen_enabled
                else f"{want.recovery_period_days} days"
            )
            summary = f"enable PITR on {t.name} in {region} ({why})"
        elif have.enabled != want.enabled:
            summary = f"disable PITR on {t.name} in {region} (it was enabled)"
        else:
            summary = (
                f"set the PITR period of {t.name} in {region} to {want.recovery_period_days} days "
                f"(it was {have.recovery_period_days})"
            )
        plan.actions.append(
            Action(
                "pitr",
                "dynamodb",
                region,
                "update_continuous_backups",
                {"TableName": t.name, "PointInTimeRecoverySpecification": spec},
                summary,
            )
        )
