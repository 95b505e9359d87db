"""forumctl restore-drill against in-process moto (with the forumdb extension for AWS Backup):
passes on a good deployment, fails with a reason when the restored content differs, never
leaves drill tables behind, and creates nothing in a dry run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import REGION, SAMPLE_DIR, forumctl

from forumctl.errors import ExitCode
from forumctl.restore_drill import run as restore_drill_run
from forumctl.restore_drill.compare import written_after
from forumdb import naming
from forumdb.ids import format_ts
from harness.backups import daily_backup_plan
from harness.emulator_support import wait_until

SOURCES = ["forum-Posts", "forum-Threads", "forum-Users"]
COUNTS = {"users": 4, "threads": 3, "posts": 6}


@pytest.fixture
def deployment(dynamodb: Any) -> Any:
    """The sample data in the three tables, PITR on."""
    forumctl("tables", "create")
    forumctl("migrate", "--from", str(SAMPLE_DIR))
    for name in SOURCES:
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
    return dynamodb


def _backups(dynamodb: Any) -> None:
    for name in SOURCES:
        dynamodb.create_backup(TableName=name, BackupName=f"{name}-manual")


def _tables(dynamodb: Any) -> list[str]:
    return sorted(dynamodb.list_tables()["TableNames"])


def _drill(*args: str, expect: int = 0) -> dict[str, Any]:
    return forumctl(
        "restore-drill", "-o", "json", "--poll-interval", "0.05", *args, expect=expect
    ).json


def test_drill_passes_for_pitr_and_latest_backup_and_cleans_up(deployment: Any) -> None:
    _backups(deployment)
    report = _drill()
    assert report["ok"] is True
    rows = {(r["kind"], r["method"]): r for r in report["tables"]}
    assert len(rows) == 6
    for (kind, method), row in rows.items():
        assert row["ok"] is True, row
        assert row["sourceCount"] == row["restoredCount"] == COUNTS[kind]
        assert row["checksumMatch"] is True
        assert row["comparison"]["missing"] == row["comparison"]["extra"] == 0
        assert row["layoutProblems"] == []
        assert row["target"].startswith(f"{row['source']}-drill-{report['drillId']}-")
        assert row["created"] is True
        assert row["cleanedUp"] is True
        assert row["durationSeconds"] is not None
        if method == "recovery-point":
            assert "/backup/" in row["recoveryPointArn"]
    assert _tables(deployment) == SOURCES


@pytest.mark.parametrize("advanced", [True, False], ids=["advanced", "not-advanced"])
def test_drill_takes_the_newest_recovery_point_of_the_operators_vault(
    deployment: Any, moto: Any, advanced: bool
) -> None:
    """With AWS Backup's advanced DynamoDB backup on (the default), the vault's recovery points
    are arn:aws:backup resources restored through AWS Backup restore jobs; off, DynamoDB
    backups restored with RestoreTableFromBackup."""
    backup = pytest.importorskip("boto3").client("backup", region_name=REGION)
    backup.update_region_settings(ResourceTypeManagementPreference={"DynamoDB": advanced})
    vault = naming.vault_name("shop", "forum")
    arns = [deployment.describe_table(TableName=n)["Table"]["TableArn"] for n in SOURCES]
    plan = daily_backup_plan(
        backup, plan_name=naming.plan_name("shop", "forum"), vault=vault, resources=arns
    )
    moto.run_backup_plan_now(plan.plan_id)
    points = backup.list_recovery_points_by_backup_vault(BackupVaultName=vault)["RecoveryPoints"]
    report = _drill("--owner", "shop/forum", "--method", "recovery-point", "--keep")
    assert report["ok"] is True
    assert report["kept"] is True
    assert {r["recoveryPointArn"] for r in report["tables"]} == {
        p["RecoveryPointArn"] for p in points
    }
    for row in report["tables"]:
        assert row["ok"] is True, row
        assert row["sourceCount"] == row["restoredCount"] == COUNTS[row["kind"]]
        if advanced:
            assert row["recoveryPointArn"].startswith(f"arn:aws:backup:{REGION}:")
            job = backup.describe_restore_job(RestoreJobId=row["restoreJobId"])
            assert job["Status"] == "COMPLETED"
            assert job["RecoveryPointArn"] == row["recoveryPointArn"]
            assert job["CreatedResourceArn"].endswith(f":table/{row['target']}")
        else:
            assert "/backup/" in row["recoveryPointArn"]
            assert row["restoreJobId"] is None
    users = next(r for r in report["tables"] if r["kind"] == "users")
    arn = deployment.describe_table(TableName=users["target"])["Table"]["TableArn"]

    def tags_listed() -> dict[str, str]:
        listed = deployment.list_tags_of_resource(ResourceArn=arn)["Tags"]
        return {t["Key"]: t["Value"] for t in listed} or None

    # ListTagsOfResource is eventually consistent (TagResource API reference): the tags of the
    # table just restored are listed a few seconds later
    tags = wait_until(tags_listed, f"tags of {users['target']} listed")
    assert tags["forumdb.io/drill"] == report["drillId"]
    assert tags["forumdb.io/owner"] == "shop/forum"
    assert tags["forumdb.io/drill-source"] == "forum-Users"
    assert tags["forumdb.io/drill-method"] == "recovery-point"
    assert len(_tables(deployment)) == 6  # kept


@pytest.mark.parametrize("advanced", [True, False], ids=["advanced", "not-advanced"])
def test_without_a_vault_the_drill_finds_the_recovery_points_aws_backup_made(
    deployment: Any, moto: Any, advanced: bool
) -> None:
    """No vault known (no --forumdb, --owner, --backup-vault) and the tables' only backups made
    by AWS Backup into a vault the drill does not know: DynamoDB's ListBackups does not list
    them (USER backups by default; ALL is USER and SYSTEM), AWS Backup's
    ListRecoveryPointsByResource does, advanced (arn:aws:backup) or not (a DynamoDB backup of
    type AWS_BACKUP)."""
    backup = pytest.importorskip("boto3").client("backup", region_name=REGION)
    backup.update_region_settings(ResourceTypeManagementPreference={"DynamoDB": advanced})
    arns = [deployment.describe_table(TableName=n)["Table"]["TableArn"] for n in SOURCES]
    plan = daily_backup_plan(
        backup, plan_name="someone-elses-plan", vault="someone-elses-vault", resources=arns
    )
    moto.run_backup_plan_now(plan.plan_id)
    points = backup.list_recovery_points_by_backup_vault(BackupVaultName="someone-elses-vault")[
        "RecoveryPoints"
    ]
    assert len(points) == len(SOURCES)
    report = _drill("--method", "recovery-point")
    assert report["ok"] is True, report
    assert {r["recoveryPointArn"] for r in report["tables"]} == {
        p["RecoveryPointArn"] for p in points
    }
    for row in report["tables"]:
        assert row["ok"] is True, row
        assert row["sourceCount"] == row["restoredCount"] == COUNTS[row["kind"]]
        assert (row["restoreJobId"] is not None) is advanced
    assert _tables(deployment) == SOURCES


def test_drill_fails_with_the_reason_when_restored_content_differs(
    deployment: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_start = restore_drill_run.start_restore

    def start_then_damage(dynamodb: Any, plan: Any) -> dict[str, Any]:
        desc = real_start(dynamodb, plan)
        if plan.kind == "threads":  # the restore "loses" a title
            dynamodb.update_item(
                TableName=plan.target,
                Key={"threadId": {"N": "1"}},
                UpdateExpression="SET title = :t",
                ExpressionAttributeValues={":t": {"S": "corrupted"}},
            )
        return desc

    monkeypatch.setattr(restore_drill_run, "start_restore", start_then_damage)
    run = forumctl("restore-drill", "-o", "json", "--method", "pitr", expect=ExitCode.CHECK_FAILED)
    report = run.json
    assert report["ok"] is False
    bad = [r for r in report["tables"] if not r["ok"]]
    assert [r["kind"] for r in bad] == ["threads"]
    assert bad[0]["checksumMatch"] is False
    assert bad[0]["comparison"]["different"] == 1
    assert "1 different" in bad[0]["reason"]
    assert "1 different" in run.stderr
    assert _tables(deployment) == SOURCES  # cleaned up on failure too


def test_a_write_after_the_backup_without_timestamp_is_missing_from_the_restore(
    deployment: Any,
) -> None:
    _backups(deployment)
    deployment.put_item(TableName="forum-Users", Item={"userId": {"N": "77"}})
    report = _drill("--table", "users", "--method", "recovery-point", expect=ExitCode.CHECK_FAILED)
    (row,) = report["tables"]
    assert (row["sourceCount"], row["restoredCount"]) == (5, 4)
    assert row["comparison"]["missing"] == 1
    assert "1 missing" in row["reason"]
    assert _tables(deployment) == SOURCES


def test_source_items_changed_after_the_restore_point_are_left_out(deployment: Any) -> None:
    _backups(deployment)
    later = format_ts(datetime.now(UTC) + timedelta(seconds=5))
    deployment.update_item(
        TableName="forum-Users",
        Key={"userId": {"N": "1"}},
        UpdateExpression="SET bio = :b, updatedAt = :u",
        ExpressionAttributeValues={":b": {"S": "edited"}, ":u": {"S": later}},
    )
    report = _drill("--table", "users", "--method", "recovery-point")
    (row,) = report["tables"]
    assert row["ok"] is True
    assert row["comparison"]["changedSince"] == 1
    assert row["comparison"]["compared"] == 3


def test_text_report_shows_a_row_per_restore(deployment: Any) -> None:
    _backups(deployment)
    out = forumctl("restore-drill", "--table", "threads", "--poll-interval", "0.05").stdout
    assert "restore drill" in out
    assert out.count("match") == 2  # one row per method
    assert "FAIL" not in out


def test_dry_run_creates_nothing(deployment: Any) -> None:
    _backups(deployment)
    report = _drill("--dry-run")
    assert report["dryRun"] is True
    assert report["ok"] is True
    assert len(report["tables"]) == 6
    assert all(not r["created"] and r["restoredCount"] is None for r in report["tables"])
    assert _tables(deployment) == SOURCES


def test_pitr_off_and_no_backup_are_reported_not_crashed(dynamodb: Any) -> None:
    forumctl("tables", "create", "--no-pitr")
    report = _drill("--table", "users", expect=ExitCode.CHECK_FAILED)
    reasons = {r["method"]: r["reason"] for r in report["tables"]}
    assert "point-in-time recovery of forum-Users" in reasons["pitr"]
    assert "DISABLED" in reasons["pitr"]
    assert "no completed recovery point of forum-Users" in reasons["recovery-point"]
    assert _tables(dynamodb) == SOURCES


def test_point_in_time_outside_the_window_is_refused(deployment: Any) -> None:
    report = _drill(
        "--table",
        "users",
        "--method",
        "pitr",
        "--point-in-time",
        "2001-01-01T00:00:00Z",
        expect=ExitCode.CHECK_FAILED,
    )
    assert "outside the restorable window of forum-Users" in report["tables"][0]["reason"]


def test_interrupt_deletes_the_drill_tables(
    deployment: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _backups(deployment)

    def interrupted(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(restore_drill_run, "compare_tables", interrupted)
    run = forumctl("restore-drill", "--poll-interval", "0.05", expect=130)  # 128 + SIGINT
    assert "deleting the drill tables" in run.stderr
    assert _tables(deployment) == SOURCES


def test_interrupt_between_the_restore_request_and_its_answer_still_cleans_up(
    deployment: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_start = restore_drill_run.start_restore

    def answer_lost(dynamodb: Any, plan: Any) -> dict[str, Any]:
        real_start(dynamodb, plan)  # AWS took the request...
        raise KeyboardInterrupt  # ...but the answer never arrived

    monkeypatch.setattr(restore_drill_run, "start_restore", answer_lost)
    forumctl("restore-drill", "--method", "pitr", expect=130)  # 128 + SIGINT
    assert _tables(deployment) == SOURCES


def test_explicit_recovery_point_needs_one_table() -> None:
    run = forumctl("restore-drill", "--from-recovery-point", "arn:x", expect=ExitCode.USAGE)
    assert "--table" in run.stderr
    forumctl("restore-drill", "--point-in-time", "2026-01-01", "--latest", expect=ExitCode.USAGE)


def test_written_after_reads_the_store_timestamps() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    assert written_after({"updatedAt": {"S": "2026-01-01T00:00:01.000000Z"}}, moment)
    assert not written_after({"updatedAt": {"S": "2025-12-31T23:59:59.000000Z"}}, moment)
    assert written_after({"createdAt": {"S": "2026-02-01T00:00:00Z"}}, moment)
    assert not written_after({"title": {"S": "no stamp"}}, moment)
