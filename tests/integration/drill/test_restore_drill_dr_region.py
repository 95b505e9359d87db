"""restore-drill in a DR region (after a failover): the backup vault there holds only
cross-region copies of the primary region's tables, AWS Backup recovery points
(arn:aws:backup:...) that the drill restores through AWS Backup restore jobs in that region;
with no recovery point at all (e.g. no copy was made while advanced DynamoDB backup was off)
the drill still fails."""

from __future__ import annotations

import json
from typing import Any

import boto3
from click.testing import CliRunner

from forumctl.main import cli
from harness.backups import daily_backup_plan

EAST, WEST = "us-east-1", "us-west-2"
USERS = "forum-Users"


def _forumctl(*args: str) -> tuple[int, Any, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    out = result.stdout
    return result.exit_code, json.loads(out) if out.startswith("{") else out, result.stderr


def _tables_in_both_regions() -> None:
    for region in (EAST, WEST):
        code, _, err = _forumctl("tables", "create", "--region", region)
        assert code == 0, err
        boto3.client("dynamodb", region_name=region).put_item(
            TableName=USERS, Item={"userId": {"N": "1"}, "email": {"S": "a@example.org"}}
        )


def _copy_to_dr_vault(aws: Any) -> str:
    """A plan in us-east-1 backing forum-Users up and copying it to `forumdb-dr` in us-west-2."""
    table_arn = boto3.client("dynamodb", region_name=EAST).describe_table(TableName=USERS)["Table"][
        "TableArn"
    ]
    plan = daily_backup_plan(
        boto3.client("backup", region_name=EAST),
        plan_name="forumdb-daily",
        vault="forumdb",
        resources=[table_arn],
        copy_to=boto3.client("backup", region_name=WEST),
        copy_vault="forumdb-dr",
    )
    aws.control.run_backup_plan_now(plan.plan_id, region=EAST)
    west = boto3.client("backup", region_name=WEST)
    (copy,) = west.list_recovery_points_by_backup_vault(BackupVaultName="forumdb-dr")[
        "RecoveryPoints"
    ]
    assert copy["ResourceArn"] == table_arn  # a copy names the primary region's table
    return str(copy["RecoveryPointArn"])


def _drill(*extra: str) -> tuple[int, Any, str]:
    return _forumctl(
        "restore-drill",
        *("-o", "json", "--region", WEST, "--table", "users", "--poll-interval", "0.1"),
        *extra,
    )


def test_dr_region_with_only_copies_restores_the_newest_copy(aws: Any) -> None:
    _tables_in_both_regions()
    copy_arn = _copy_to_dr_vault(aws)
    assert copy_arn.startswith(f"arn:aws:backup:{WEST}:")

    code, report, err = _drill("--backup-vault", "forumdb-dr")

    assert code == 0, (report, err)
    assert report["ok"] is True
    rows = {r["method"]: r for r in report["tables"]}
    assert rows["pitr"]["state"] == "pass"
    restored = rows["recovery-point"]
    assert restored["state"] == "pass", restored
    assert restored["recoveryPointArn"] == copy_arn
    assert restored["sourceCount"] == restored["restoredCount"] == 1
    job = boto3.client("backup", region_name=WEST).describe_restore_job(
        RestoreJobId=restored["restoreJobId"]
    )
    assert job["Status"] == "COMPLETED"
    assert job["RecoveryPointArn"] == copy_arn
    assert restored["cleanedUp"] is True
    assert (
        report["summary"] == "verified: forum-Users pitr, forum-Users recovery-point; failed: none"
    )
    dynamodb = boto3.client("dynamodb", region_name=WEST)
    assert sorted(dynamodb.list_tables()["TableNames"]) == [
        "forum-Posts",
        "forum-Threads",
        USERS,
    ]


def test_dr_region_text_report_shows_both_restores(aws: Any) -> None:
    _tables_in_both_regions()
    _copy_to_dr_vault(aws)

    result = CliRunner().invoke(
        cli,
        [
            "restore-drill",
            *("--region", WEST, "--table", "users", "--poll-interval", "0.1"),
            *("--backup-vault", "forumdb-dr"),
        ],
        catch_exceptions=False,
    )

    assert result.exit_code == 0, result.output
    assert "verified: forum-Users pitr, forum-Users recovery-point" in result.stdout
    assert "skipped" not in result.stdout


def test_dr_region_without_any_recovery_point_still_fails(aws: Any) -> None:
    _tables_in_both_regions()
    boto3.client("backup", region_name=WEST).create_backup_vault(BackupVaultName="forumdb-dr")

    code, report, _ = _drill("--backup-vault", "forumdb-dr")

    assert code == 1
    assert report["ok"] is False
    rows = {r["method"]: r for r in report["tables"]}
    assert rows["recovery-point"]["state"] == "fail"
    assert "no completed recovery point" in rows["recovery-point"]["reason"]


def test_dr_region_without_copies_made_while_advanced_backup_was_off_fails(aws: Any) -> None:
    """With advanced DynamoDB backup off in the primary region, the plan's backups are DynamoDB
    backups there and their copies to the DR vault fail (AWS Backup developer guide, Advanced
    DynamoDB backup): the DR vault holds nothing to restore and the recovery-point half fails."""
    _tables_in_both_regions()
    east = boto3.client("backup", region_name=EAST)
    east.update_region_settings(ResourceTypeManagementPreference={"DynamoDB": False})
    table_arn = boto3.client("dynamodb", region_name=EAST).describe_table(TableName=USERS)["Table"][
        "TableArn"
    ]
    plan = daily_backup_plan(
        east,
        plan_name="forumdb-daily",
        vault="forumdb",
        resources=[table_arn],
        copy_to=boto3.client("backup", region_name=WEST),
        copy_vault="forumdb-dr",
    )
    run = aws.control.run_backup_plan_now(plan.plan_id, region=EAST)
    assert [job["State"] for job in run["copy_jobs"]] == ["FAILED"]

    code, report, _ = _drill("--backup-vault", "forumdb-dr")

    assert code == 1
    rows = {r["method"]: r for r in report["tables"]}
    assert rows["pitr"]["state"] == "pass"
    assert rows["recovery-point"]["state"] == "fail"
    assert "no completed recovery point" in rows["recovery-point"]["reason"]
