"""`forumctl tables create|list|delete`: the three tables of forumdb.tables, without the
operator (development against moto or a plain account)."""

from __future__ import annotations

from typing import Any

import click
from botocore.exceptions import ClientError
from rich.console import Console

from forumdb.cli.app import App, common_options
from forumdb.cli.errors import AwsError
from forumdb.cli.output import table
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


@tables.command("create")
@click.option(
    "--billing-mode",
    type=click.Choice(["PAY_PER_REQUEST", "PROVISIONED"]),
    default="PAY_PER_REQUEST",
    show_default=True,
)
@click.option("--read-capacity", type=click.IntRange(min=1), help="PROVISIONED only.")
@click.option("--write-capacity", type=click.IntRange(min=1), help="PROVISIONED only.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait until ACTIVE.")
@click.option("--dry-run", is_flag=True, help="Say what would be created; create nothing.")
@common_options
def create(
    app: App,
    billing_mode: str,
    read_capacity: int | None,
    write_capacity: int | None,
    wait: bool,
    dry_run: bool,
) -> None:
    """Create the tables (keys and indexes from forumdb.tables). Idempotent: tables that
    exist with the right layout are left alone; one with another layout is an error."""
    if billing_mode == "PROVISIONED" and not (read_capacity and write_capacity):
        raise click.UsageError(
            "--billing-mode PROVISIONED needs --read-capacity and --write-capacity"
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
    result = {"target": tgt.describe(), "dryRun": dry_run, "tables": rows}

    def human(c: Console) -> None:
        c.print(
            table(
                f"tables in {tgt.region}" + (" (dry run)" if dry_run else ""),
                ["kind", "table", "action", "status"],
                [[r["kind"], r["table"], r["action"], r["status"]] for r in rows],
            )
        )

    app.output.emit(result, human)


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
        c.print(
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
            )
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
        c.print(
            table(
                f"tables in {tgt.region}",
                ["kind", "table", "action"],
                [[r["kind"], r["table"], r["action"]] for r in rows],
            )
        )

    app.output.emit({"target": tgt.describe(), "dryRun": dry_run, "tables": rows}, human)
