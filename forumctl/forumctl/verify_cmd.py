"""`forumctl verify`: is a deployment in shape, in the primary or in a DR region?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import click
from rich.console import Console

from forumctl.checks import Check, Plan, run_all
from forumctl.context import App, common_options
from forumctl.errors import AwsError, CheckFailed
from forumctl.kube import ForumDbTarget
from forumctl.output import print_table, table
from forumdb.config import load_settings
from forumdb.ownership import OwnerRecord
from forumdb.tables import KINDS, Kind

_MARK = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "skip": "[yellow]skip[/]"}


def _naming() -> Any:
    from forumdb import naming

    return naming


def _parse_expect(values: tuple[str, ...]) -> dict[Kind, int]:
    out: dict[Kind, int] = {}
    for v in values:
        kind, _, n = v.partition("=")
        if kind not in KINDS or not n.isdigit():
            raise click.BadParameter(f"{v!r}: expected KIND=N with KIND in {', '.join(KINDS)}")
        out[kind] = int(n)  # type: ignore[index]
    return out


@dataclass
class _Known:
    """What a ForumDatabase says about the names and regions verify needs."""

    primary: str | None = None
    owner: str | None = None
    uid: str | None = None  # metadata.uid, compared with the plan's owner-uid tag
    plan: str | None = None
    plan_id: str | None = None  # status.backups.planId
    vault: str | None = None
    copy_region: str | None = None
    alarm_names: tuple[str, ...] = ()
    backups: bool = True  # False: the resource manages no backups, so none are expected
    alarms: bool = True


def _from_forumdb(fdb: ForumDbTarget | None, region: str) -> _Known:
    if fdb is None:
        return _Known()
    spec, status = fdb.spec, fdb.status
    backups_spec = spec.get("backups") or {}
    alarms_spec = spec.get("alarms") or {}
    status_backups = status.get("backups") or {}
    items = (status.get("alarms") or {}).get("items") or []
    return _Known(
        primary=spec.get("primaryRegion")
        or status.get("primaryRegion")
        or fdb.config.get("AWS_REGION"),
        owner=f"{fdb.namespace}/{fdb.name}",
        uid=fdb.uid or None,
        plan=status_backups.get("planName"),
        plan_id=status_backups.get("planId"),
        vault=status_backups.get("vaultName") or backups_spec.get("vaultName"),
        copy_region=backups_spec.get("copyRegion"),
        alarm_names=tuple(
            a["name"] for a in items if a.get("name") and a.get("region") in (None, region)
        ),
        backups=bool(backups_spec.get("enabled", bool(backups_spec))),
        alarms=bool(alarms_spec.get("enabled", bool(alarms_spec))),
    )


def build_plan(
    app: App,
    *,
    primary_region: str | None,
    replica_regions: tuple[str, ...],
    owner: str | None,
    backup_plan: str | None,
    backup_vault: str | None,
    alarm_prefix: str | None,
    exact_counts: bool,
    expect: dict[Kind, int],
    max_backup_age_hours: float,
) -> Plan:
    """Flags first, then the ForumDatabase, then names derived from NAMESPACE/NAME
    (forumdb.naming), then the environment."""
    tgt = app.target
    if not tgt.region:
        raise AwsError("no region to verify", hint="pass --region or set AWS_REGION")
    known = _from_forumdb(tgt.forumdb, tgt.region)
    primary = primary_region or known.primary or load_settings().aws_region or tgt.region
    owner = owner or known.owner
    plan_name, vault = backup_plan or known.plan, backup_vault or known.vault
    alarm_names = known.alarm_names
    record = None
    if owner:
        ns, _, name = owner.partition("/")
        if not name:
            raise click.BadParameter(f"{owner!r}: expected NAMESPACE/NAME", param_hint="--owner")
        naming = _naming()
        plan_name = plan_name or naming.plan_name(ns, name)
        vault = vault or naming.vault_name(ns, name)
        alarm_prefix = alarm_prefix or naming.alarm_prefix(ns, name)
        # The UID where the ForumDatabase read is this owner; the cluster id is in the plan's
        # name (naming.base_name), not known here.
        uid = known.uid if owner == known.owner else None
        record = OwnerRecord.of(ns, name, uid=uid, cluster=None)
    if not known.backups:
        plan_name = vault = None
    if not known.alarms:
        alarm_prefix, alarm_names = None, ()
    replicas = [r for r in dict.fromkeys((*tgt.replica_regions, *replica_regions)) if r != primary]
    if tgt.region != primary:
        # The replica side: it must itself be a replica; a copy vault exists only in the
        # backup copy region.
        if known.copy_region and known.copy_region != tgt.region:
            vault = None
        replicas.append(tgt.region)
    return Plan(
        region=tgt.region,
        primary_region=primary,
        replica_regions=tuple(r for r in dict.fromkeys(replicas) if r != tgt.region),
        tables=dict(tgt.tables),
        exact_counts=exact_counts,
        expect_items=expect,
        backup_plan=plan_name,
        backup_plan_id=known.plan_id if plan_name else None,
        owner_record=record,
        backup_vault=vault,
        max_backup_age=timedelta(hours=max_backup_age_hours),
        alarm_prefix=alarm_prefix,
        alarm_names=alarm_names,
    )


@click.command()
@click.option(
    "--primary-region",
    help="The primary region (default: the ForumDatabase's, else AWS_REGION). Verifying "
    "another --region checks the replica side.",
)
@click.option(
    "--replica-region",
    "replica_regions",
    multiple=True,
    help="A region that must hold ACTIVE replicas (repeatable; adds to REPLICA_REGIONS).",
)
@click.option(
    "--owner",
    metavar="NAMESPACE/NAME",
    help="Derive backup plan, vault and alarm names from this ForumDatabase without reading it.",
)
@click.option(
    "--backup-plan",
    help="AWS Backup plan name that must exist; with --owner or --forumdb it must carry the "
    "deployment's owner tags, as the operator requires.",
)
@click.option("--backup-vault", help="Backup vault whose newest recovery point is checked.")
@click.option("--alarm-prefix", help="CloudWatch alarm name prefix of the deployment.")
@click.option(
    "--max-backup-age",
    "max_backup_age_hours",
    type=click.FloatRange(min=0),
    default=26.0,
    show_default=True,
    help="Hours the newest recovery point may be old.",
)
@click.option(
    "--exact-counts",
    is_flag=True,
    help="Count records by Scan (costs reads); without it the count is DynamoDB's ItemCount, "
    "updated about every 6 h and including the services' guard items (one per post and per "
    "user with an e-mail).",
)
@click.option(
    "--expect",
    multiple=True,
    metavar="KIND=N",
    help="Fail unless the table of KIND holds N records, counted by Scan (repeatable).",
)
@common_options
def verify(
    app: App,
    primary_region: str | None,
    replica_regions: tuple[str, ...],
    owner: str | None,
    backup_plan: str | None,
    backup_vault: str | None,
    alarm_prefix: str | None,
    max_backup_age_hours: float,
    exact_counts: bool,
    expect: tuple[str, ...],
) -> None:
    """Check a deployment: tables and indexes ACTIVE, item counts, point-in-time recovery,
    replicas ACTIVE in every region, backup plan present and newest recovery point recent,
    alarms present.

    Run with --region set to a DR region to check the replica side: the tables there, their
    view of the other replicas, and the copied recovery points. Exit 0 only when every check
    passes (skipped checks, whose names are unknown, do not fail); otherwise exit 1, and
    each failed check says what and why.
    """
    plan = build_plan(
        app,
        primary_region=primary_region,
        replica_regions=replica_regions,
        owner=owner,
        backup_plan=backup_plan,
        backup_vault=backup_vault,
        alarm_prefix=alarm_prefix,
        exact_counts=exact_counts,
        expect=_parse_expect(expect),
        max_backup_age_hours=max_backup_age_hours,
    )
    checks = run_all(app.target.pool(plan.region), plan)
    failed = [c for c in checks if c.outcome == "fail"]
    result = {
        "region": plan.region,
        "primaryRegion": plan.primary_region,
        "side": "replica" if plan.is_replica_side else "primary",
        "target": app.target.describe(),
        "ok": not failed,
        "checks": [c.model_dump() for c in checks],
    }

    def human(c: Console) -> None:
        side = "replica side" if plan.is_replica_side else "primary"
        print_table(
            c,
            table(
                f"verify {plan.region} ({side})",
                ["check", "result", "detail"],
                [[ch.name, _MARK[ch.outcome], ch.detail] for ch in checks],
            ),
        )

    app.output.emit(result, human)
    if failed:
        raise CheckFailed(
            f"{len(failed)} of {len(checks)} checks failed in {plan.region}: "
            + "; ".join(f"{c.name}: {c.detail}" for c in failed)
        )


__all__ = ["Check", "verify"]
