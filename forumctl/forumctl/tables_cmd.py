"""`forumctl tables create|list|delete`: the three tables of forumdb.tables, without the
operator (development against moto or a plain account)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click
from botocore.exceptions import ClientError
from rich.console import Console

from forumctl.context import App, common_options
from forumctl.errors import AwsError
from forumctl.output import print_table, table
from forumdb.tables import KINDS, TableDef, create_table_request, key_schema, table_def


def describe(client: Any, name: str) -> dict[str, Any] | None:
    try:
        return client.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise


def layout_problems(td: TableDef, desc: dict[str, Any]) -> list[str]:
    """How an existing table differs from the layout (keys and indexes), empty if it matches."""
    problems = []
    if desc.get("KeySchema") != key_schema(td.key_attrs):
        problems.append(f"key schema {desc.get('KeySchema')} != {key_schema(td.key_attrs)}")
    have = {g["IndexName"]: g["KeySchema"] for g in desc.get("GlobalSecondaryIndexes") or []}
    for idx in td.indexes:
        if idx.name not in have:
            problems.append(f"index {idx.name} missing")
        elif have[idx.name] != key_schema(idx.key_attrs):
            problems.append(f"index {idx.name} has key schema {have[idx.name]}")
    return problems


@click.group()
def tables() -> None:
    """Create, list or delete the three forumdb tables (Users, Threads, Posts)."""


# Right after CreateTable, DynamoDB may refuse continuous-backup calls for a short while.
_PITR_NOT_YET = ("ContinuousBackupsUnavailableException", "TableNotFoundException")


def pitr_status(client: Any, name: str) -> str | None:
    """ENABLED/DISABLED/..., or None when the table cannot report it yet."""
    try:
        desc = client.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _PITR_NOT_YET:
            return None
        raise
    return desc.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")


def enable_pitr(
    client: Any, name: str, *, attempts: int = 20, sleep: Callable[[float], None] = time.sleep
) -> None:
    """Switch point-in-time recovery on, retrying while the new table cannot take it yet."""
    for attempt in range(attempts):
        try:
            client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
            return
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in _PITR_NOT_YET or attempt == attempts - 1:
                raise
            sleep(min(2.0**attempt, 10.0))


@tables.command("create")
@click.option(
    "--billing-mode",
    type=click.Choice(["PAY_PER_REQUEST", "PROVISIONED"]),
    default="PAY_PER_REQUEST",
    show_default=True,
    help="On-demand (PAY_PER_REQUEST) or PROVISIONED capacity (then give both capacities).",
)
@click.option("--read-capacity", type=click.IntRange(min=1), help="PROVISIONED only.")
@click.option("--write-capacity", type=click.IntRange(min=1), help="PROVISIONED only.")
@click.option(
    "--pitr/--no-pitr",
    default=True,
    show_default=True,
    help="Switch point-in-time recovery on (what `forumctl verify` checks), also on tables "
    "that exist already. --no-pitr leaves it as it is; it never switches PITR off.",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until ACTIVE. With --no-wait, PITR is switched on only on tables that are "
    "ACTIVE already: run the command again later for the others.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be created; create nothing.")
@common_options
def create(
    app: App,
    billing_mode: str,
    read_capacity: int | None,
    write_capacity: int | None,
    pitr: bool,
    wait: bool,
    dry_run: bool,
) -> None:
    """Create the tables (keys and indexes from forumdb.tables) and switch on their
    point-in-time recovery. Idempotent: tables that exist with the right layout are left
    alone (PITR is switched on if it is off); one with another layout is an error."""
    if billing_mode == "PROVISIONED" and not (read_capacity and write_capacity):
        raise click.UsageError(
            "--billing-mode PROVISIONED needs --read-capacity and --write-capacity"
        )
    if billing_mode != "PROVISIONED" and (read_capacity or write_capacity):
        # PAY_PER_REQUEST tables take no capacity: dropping the flags silently would hide
        # that the tables are not what was asked for.
        raise click.UsageError(
            "--read-capacity and --write-capacity need --billing-mode PROVISIONED "
            f"(the tables would be {billing_mode}, which has no capacity to set)"
        )
    tgt = app.target
    client = tgt.pool().get()
    rows = []
    for kind in KINDS:
        td, name = table_def(kind), tgt.tables[kind]
        desc = describe(client, name)
        if desc is not None:
            problems = layout_problems(td, desc)
            if problems:
                raise AwsError(
                    f"table {name} in {tgt.region} exists with another layout: "
                    + "; ".join(problems),
                    hint="use another --table-prefix, or delete the table if it holds nothing "
                    "you need",
                )
            rows.append(
                {"kind": kind, "table": name, "action": "exists", "status": desc["TableStatus"]}
            )
            continue
        req = create_table_request(
            td,
            name,
            billing_mode=billing_mode,  # type: ignore[arg-type]
            read_capacity=read_capacity,
            write_capacity=write_capacity,
        )
        if dry_run:
            rows.append({"kind": kind, "table": name, "action": "would create", "status": None})
            continue
        status = client.create_table(**req)["TableDescription"]["TableStatus"]
        rows.append({"kind": kind, "table": name, "action": "created", "status": status})
    if wait and not dry_run:
        waiter = client.get_waiter("table_exists")
        for row in rows:
            waiter.wait(TableName=row["table"], WaiterConfig={"Delay": 1, "MaxAttempts": 300})
            row["status"] = client.describe_table(TableName=row["table"])["Table"]["TableStatus"]
    for row in rows:
        row["pitr"] = _pitr(client, row, want=pitr, dry_run=dry_run)
    result = {"target": tgt.describe(), "dryRun": dry_run, "pitr": pitr, "tables": rows}

    def human(c: Console) -> None:
        print_table(
            c,
            table(
                f"tables in {tgt.region}" + (" (dry run)" if dry_run else ""),
                ["kind", "table", "action", "status", "pitr"],
                [[r["kind"], r["table"], r["action"], r["status"], r["pitr"]] for r in rows],
            ),
        )

    app.output.emit(result, human)


def _pitr(client: Any, row: dict[str, Any], *, want: bool, dry_run: bool) -> str:
    """PITR of one table after `create`: ENABLED (was on), enabled (switched on now),
    would enable (dry run), pending (not ACTIVE yet, --no-wait), or its status as left."""
    if row["action"] == "would create":
        return "would enable" if want else "DISABLED"
    current = pitr_status(client, row["table"])
    if current == "ENABLED" or not want:
        return current or "unknown"
    if dry_run:
        return "would enable"
    if row["status"] != "ACTIVE":
        return "pending"
    enable_pitr(client, row["table"])
    return "enabled"


@tables.command("list")
@common_options
def list_tables(app: App) -> None:
    """Show the three tables: status, item count (as DynamoDB last reported it), indexes."""
    tgt = app.target
    client = tgt.pool().get()
    rows = []
    for kind in KINDS:
        desc = describe(client, tgt.tables[kind])
        rows.append(
            {
                "kind": kind,
                "table": tgt.tables[kind],
                "status": desc["TableStatus"] if desc else "MISSING",
                "itemCount": desc.get("ItemCount") if desc else None,
                "indexes": {
                    g["IndexName"]: g.get("IndexStatus")
                    for g in (desc or {}).get("GlobalSecondaryIndexes") or []
                },
            }
        )

    def human(c: Console) -> None:
        print_table(
            c,
            table(
                f"tables in {tgt.region}",
                ["kind", "table", "status", "items", "indexes"],
                [
                    [
                        r["kind"],
                        r["table"],
                        r["status"],
                        r["itemCount"],
                        ", ".join(f"{k} {v}" for k, v in r["indexes"].items()),
                    ]
                    for r in rows
                ],
            ),
        )

    app.output.emit({"target": tgt.describe(), "tables": rows}, human)


@tables.command("delete")
@click.option("--yes", is_flag=True, help="Really delete (all data in them is lost).")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@common_options
def delete(app: App, yes: bool, dry_run: bool) -> None:
    """Delete the three tables and everything in them. Needs --yes (or --dry-run)."""
    if not (yes or dry_run):
        raise click.UsageError("deleting tables loses their data: pass --yes (or --dry-run)")
    tgt = app.target
    client = tgt.pool().get()
    rows = []
    for kind in KINDS:
        name = tgt.tables[kind]
        if describe(client, name) is None:
            rows.append({"kind": kind, "table": name, "action": "absent"})
        elif dry_run:
            rows.append({"kind": kind, "table": name, "action": "would delete"})
        else:
            client.delete_table(TableName=name)
            rows.append({"kind": kind, "table": name, "action": "deleted"})

    def human(c: Console) -> None:
        print_table(
            c,
            table(
                f"tables in {tgt.region}",
                ["kind", "table", "action"],
                [[r["kind"], r["table"], r["action"]] for r in rows],
            ),
        )

    app.output.emit({"target": tgt.describe(), "dryRun": dry_run, "tables": rows}, human)
