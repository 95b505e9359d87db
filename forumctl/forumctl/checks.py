"""The checks of `forumctl verify`, each a small function returning `Check` results.

A check that cannot run because AWS answered with an error fails with that error as its
reason (a missing table is a finding, not a crash); credential and region problems still
abort the command (exit 3), since no check could mean anything then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel

from forumctl.clients import ClientPool
from forumdb.ownership import OwnerRecord, plans_named, record_tags, remembered_plan_holds
from forumdb.tables import KINDS, RECORDS_ONLY_FILTER, Kind, table_def

Outcome = Literal["pass", "fail", "skip"]
_FATAL_CODES = {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException"}


class Check(BaseModel):
    name: str
    outcome: Outcome
    detail: str


class Plan(BaseModel):
    """What verify expects; built from flags, the environment and the ForumDatabase."""

    region: str  # the region being checked
    primary_region: str
    replica_regions: tuple[str, ...] = ()
    tables: dict[Kind, str]
    exact_counts: bool = False
    expect_items: dict[Kind, int] = {}
    backup_plan: str | None = None
    # status.backups.planId of the ForumDatabase: looked up first, as the operator does
    backup_plan_id: str | None = None
    # whose the plan must be (its tags, forumdb.ownership): None, the name alone is checked
    owner_record: OwnerRecord | None = None
    backup_vault: str | None = None  # the vault in the checked region
    max_backup_age: timedelta = timedelta(hours=26)
    alarm_prefix: str | None = None
    alarm_names: tuple[str, ...] = ()  # exact names expected in the checked region, if known

    @property
    def is_replica_side(self) -> bool:
        return self.region != self.primary_region


def _aws_reason(exc: ClientError) -> str:
    err = exc.response.get("Error", {})
    return f"{exc.operation_name}: {err.get('Code')}: {err.get('Message', '')}".strip()


def guarded(name: str, fn: Callable[[], Iterator[Check]]) -> Iterator[Check]:
    """Runs a check; an AWS error becomes its failure (credentials errors propagate)."""
    try:
        yield from fn()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _FATAL_CODES:
            raise
        yield Check(name=name, outcome="fail", detail=_aws_reason(exc))


def table_checks(pool: ClientPool, plan: Plan, kind: Kind) -> Iterator[Check]:
    client = pool.get()
    name = plan.tables[kind]
    where = f"{name} in {plan.region}"
    try:
        desc = client.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        side = "replica " if plan.is_replica_side else ""
        yield Check(
            name=f"table/{kind}",
            outcome="fail",
            detail=f"{side}table {where} does not exist",
        )
        return
    status = desc.get("TableStatus")
    yield Check(
        name=f"table/{kind}",
        outcome="pass" if status == "ACTIVE" else "fail",
        detail=f"{where} is {status}",
    )
    have = {g["IndexName"]: g.get("IndexStatus") for g in desc.get("GlobalSecondaryIndexes") or []}
    want = [i.name for i in table_def(kind).indexes]
    bad = [f"{i} {have.get(i, 'missing')}" for i in want if have.get(i) != "ACTIVE"]
    yield Check(
        name=f"indexes/{kind}",
        outcome="fail" if bad else "pass",
        detail=f"{where}: " + (", ".join(bad) if bad else ", ".join(f"{i} ACTIVE" for i in want)),
    )
    yield from guarded(f"items/{kind}", lambda: _count_check(client, plan, kind, desc))
    yield from guarded(f"pitr/{kind}", lambda: _pitr_check(client, plan, kind))
    yield _replica_check(plan, kind, desc)


def _count_check(client: Any, plan: Plan, kind: Kind, desc: dict[str, Any]) -> Iterator[Check]:
    name = plan.tables[kind]
    # An expected count is checked against a Scan's: DynamoDB's ItemCount lags by hours and
    # counts the services' guard items, which are no records.
    if plan.exact_counts or kind in plan.expect_items:
        # Records only: the services' guard items (forumdb.tables.GUARD_ATTR) are no records.
        count, kwargs = 0, {"TableName": name, "Select": "COUNT", **RECORDS_ONLY_FILTER}
        while True:
            resp = client.scan(**kwargs)
            count += resp.get("Count", 0)
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        how = "counted by Scan"
    else:
        count = desc.get("ItemCount", 0)
        how = "as DynamoDB last reported it, about every 6 h, guard items included"
    expected = plan.expect_items.get(kind)
    if expected is not None and expected != count:
        yield Check(
            name=f"items/{kind}",
            outcome="fail",
            detail=f"{name} in {plan.region} holds {count} items ({how}), expected {expected}",
        )
    else:
        yield Check(name=f"items/{kind}", outcome="pass", detail=f"{name}: {count} items ({how})")


def _pitr_check(client: Any, plan: Plan, kind: Kind) -> Iterator[Check]:
    name = plan.tables[kind]
    desc = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    status = desc.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    yield Check(
        name=f"pitr/{kind}",
        outcome="pass" if status == "ENABLED" else "fail",
        detail=f"point-in-time recovery on {name} in {plan.region} is {status or 'unknown'}",
    )


def _replica_check(plan: Plan, kind: Kind, desc: dict[str, Any]) -> Check:
    name = plan.tables[kind]
    others = [r for r in (plan.primary_region, *plan.replica_regions) if r != plan.region]
    listed = {r["RegionName"]: r.get("ReplicaStatus") for r in desc.get("Replicas") or []}
    if not others:
        extra = f"; table lists replicas {listed}" if listed else ""
        return Check(
            name=f"replicas/{kind}",
            outcome="skip",
            detail=f"no replica regions configured (REPLICA_REGIONS / --replica-region){extra}",
        )
    problems = [
        f"{r} {listed.get(r, 'not a replica')}" for r in others if listed.get(r) != "ACTIVE"
    ]
    seen = ", ".join(f"{r} {s}" for r, s in sorted(listed.items())) or "none"
    return Check(
        name=f"replicas/{kind}",
        outcome="fail" if problems else "pass",
        detail=f"{name} in {plan.region}: "
        + (f"{'; '.join(problems)} (listed: {seen})" if problems else seen),
    )


def backup_checks(pool: ClientPool, plan: Plan) -> Iterator[Check]:
    backup = pool.get("backup")
    if plan.is_replica_side:
        yield Check(
            name="backup-plan",
            outcome="skip",
            detail=f"plans live in the primary region {plan.primary_region}",
        )
    elif not plan.backup_plan:
        yield Check(
            name="backup-plan",
            outcome="skip",
            detail="no backup plan name known (use --forumdb, --owner NS/NAME or --backup-plan)",
        )
    else:
        yield from guarded("backup-plan", lambda: _plan_check(backup, plan))
    if not plan.backup_vault:
        yield Check(
            name="recovery-point",
            outcome="skip",
            detail="no backup vault name known (use --forumdb, --owner or --backup-vault)",
        )
    else:
        yield from guarded("recovery-point", lambda: _recovery_point_check(backup, plan))


def _plan_check(backup: Any, plan: Plan) -> Iterator[Check]:
    """The deployment's plan by the operator's rule (forumdb.ownership): the id its status
    remembers, else the plan of that name whose tags carry the ownership record. A plan of
    that name that is someone else's fails the check, naming whose it is."""
    name, region = str(plan.backup_plan), plan.region
    if plan.backup_plan_id and remembered_plan_holds(
        _plan_by_id(backup, plan.backup_plan_id), name
    ):
        yield Check(
            name="backup-plan",
            outcome="pass",
            detail=f"backup plan {name} present in {region}, id {plan.backup_plan_id} "
            "as the ForumDatabase's status remembers it",
        )
        return
    listed: list[dict[str, Any]] = []
    for page in backup.get_paginator("list_backup_plans").paginate():
        listed.extend(page.get("BackupPlansList", []))
    record = plan.owner_record
    if record is None:
        found = any(p.get("BackupPlanName") == name for p in listed)
        yield Check(
            name="backup-plan",
            outcome="pass" if found else "fail",
            detail=f"backup plan {name} "
            + (
                f"present in {region}; whose it is not checked: pass --owner or --forumdb"
                if found
                else f"not found in {region}"
            ),
        )
        return
    foreign = []
    for seen, ours in plans_named(listed, name, record, lambda arn: _plan_tags(backup, arn)):
        if ours:
            yield Check(
                name="backup-plan",
                outcome="pass",
                detail=f"backup plan {name} present in {region}, id {seen.plan_id}, "
                f"tagged {record.as_tags()}",
            )
            return
        foreign.append(seen)
    if not foreign:
        detail = f"backup plan {name} not found in {region}"
    else:
        detail = (
            f"backup plan {name} in {region} is not this deployment's: "
            + "; ".join(f"plan {p.plan_id} has {record_tags(p.tags)}" for p in foreign)
            + f"; the operator's would carry {record.as_tags()}"
        )
    yield Check(name="backup-plan", outcome="fail", detail=detail)


def _plan_by_id(backup: Any, plan_id: str) -> dict[str, Any] | None:
    try:
        got: dict[str, Any] = backup.get_backup_plan(BackupPlanId=plan_id)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return None
    return got


def _plan_tags(backup: Any, arn: str) -> dict[str, str]:
    return dict(backup.list_tags(ResourceArn=arn).get("Tags") or {})


def _recovery_point_check(backup: Any, plan: Plan) -> Iterator[Check]:
    vault, newest = plan.backup_vault, None
    arns = set()
    kwargs: dict[str, Any] = {"BackupVaultName": vault}
    while True:
        page = backup.list_recovery_points_by_backup_vault(**kwargs)
        for rp in page.get("RecoveryPoints", []):
            if rp.get("Status") not in (None, "COMPLETED"):
                continue
            arns.add(rp.get("ResourceArn", ""))
            created = rp.get("CreationDate")
            if isinstance(created, datetime) and (newest is None or created > newest):
                newest = created
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    kind_of_copy = "copy " if plan.is_replica_side else ""
    if newest is None:
        yield Check(
            name="recovery-point",
            outcome="fail",
            detail=f"no completed {kind_of_copy}recovery point in vault {vault} in {plan.region}",
        )
        return
    age = datetime.now(UTC) - newest.astimezone(UTC)
    hours = age.total_seconds() / 3600
    ok = age <= plan.max_backup_age
    limit = plan.max_backup_age.total_seconds() / 3600
    yield Check(
        name="recovery-point",
        outcome="pass" if ok else "fail",
        detail=f"newest {kind_of_copy}recovery point in {vault} ({plan.region}) is {hours:.1f} h "
        f"old" + ("" if ok else f", older than the {limit:g} h allowed (--max-backup-age)"),
    )


def alarm_checks(pool: ClientPool, plan: Plan) -> Iterator[Check]:
    if not (plan.alarm_prefix or plan.alarm_names):
        yield Check(
            name="alarms",
            outcome="skip",
            detail="no alarm names known (use --forumdb, --owner NS/NAME or --alarm-prefix)",
        )
        return
    if plan.is_replica_side and not plan.alarm_names:
        yield Check(
            name="alarms",
            outcome="skip",
            detail=f"alarms live in the primary region {plan.primary_region}",
        )
        return
    yield from guarded("alarms", lambda: _alarm_check(pool.get("cloudwatch"), plan))


def _alarm_check(cw: Any, plan: Plan) -> Iterator[Check]:
    found: set[str] = set()
    kwargs: dict[str, Any] = {}
    if plan.alarm_prefix:
        kwargs["AlarmNamePrefix"] = plan.alarm_prefix
    for page in cw.get_paginator("describe_alarms").paginate(**kwargs):
        found.update(a["AlarmName"] for a in page.get("MetricAlarms", []))
        found.update(a["AlarmName"] for a in page.get("CompositeAlarms", []))
    # Names the prefix does not cover (the account-level alarm the resources share): by name.
    outside = sorted(
        n for n in plan.alarm_names if plan.alarm_prefix and not n.startswith(plan.alarm_prefix)
    )
    for i in range(0, len(outside), 100):  # DescribeAlarms: at most 100 AlarmNames
        for page in cw.get_paginator("describe_alarms").paginate(AlarmNames=outside[i : i + 100]):
            found.update(a["AlarmName"] for a in page.get("MetricAlarms", []))
    if plan.alarm_names:
        missing = sorted(set(plan.alarm_names) - found)
        what = f"{len(plan.alarm_names)} expected alarms"
    else:
        # Only the prefix is known: every table needs alarms of its own.
        missing = [
            f"alarms for {plan.tables[k]}"
            for k in KINDS
            if not any(f"/{plan.tables[k]}/" in name for name in found)
        ]
        what = f"alarms under {plan.alarm_prefix} for the three tables"
    yield Check(
        name="alarms",
        outcome="fail" if missing else "pass",
        detail=(
            f"missing in {plan.region}: {', '.join(missing)}"
            if missing
            else f"{what} present in {plan.region} ({len(found)} found)"
        ),
    )


def run_all(pool: ClientPool, plan: Plan) -> list[Check]:
    checks: list[Check] = []
    for kind in KINDS:
        checks.extend(table_checks(pool, plan, kind))
    checks.extend(backup_checks(pool, plan))
    checks.extend(alarm_checks(pool, plan))
    return checks
