"""forumctl restore-drill and AWS Backup recovery points (arn:aws:backup:...:recovery-point:ID,
what AWS Backup makes while the account's advanced DynamoDB backup is on): restored through
StartRestoreJob with the backups' IAM role, never through RestoreTableFromBackup (which
refuses them), against in-process moto with the forumdb extension."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from conftest import REGION, SAMPLE_DIR, forumctl

from forumctl.errors import ExitCode
from forumctl.restore_drill import run as restore_drill_run
from harness.backups import ROLE, daily_backup_plan

SOURCES = ["forum-Posts", "forum-Threads", "forum-Users"]
OTHER_ROLE = "arn:aws:iam::123456789012:role/forumdb-restore"


@pytest.fixture
def backed_up(dynamodb: Any, moto: Any) -> Any:
    """The sample data, backed up by a plan into vault `forumdb-drill` (advanced DynamoDB
    backup on, the default); the backup client."""
    forumctl("tables", "create")
    forumctl("migrate", "--from", str(SAMPLE_DIR))
    backup = boto3.client("backup", region_name=REGION)
    arns = [dynamodb.describe_table(TableName=n)["Table"]["TableArn"] for n in SOURCES]
    plan = daily_backup_plan(backup, plan_name="drill", vault="forumdb-drill", resources=arns)
    moto.run_backup_plan_now(plan.plan_id)
    return backup


def _users_point(backup: Any) -> str:
    points = backup.list_recovery_points_by_backup_vault(BackupVaultName="forumdb-drill")
    (arn,) = [
        p["RecoveryPointArn"]
        for p in points["RecoveryPoints"]
        if p["ResourceArn"].endswith(":table/forum-Users")
    ]
    assert arn.startswith(f"arn:aws:backup:{REGION}:")
    return str(arn)


def _tables(dynamodb: Any) -> list[str]:
    return sorted(dynamodb.list_tables()["TableNames"])


def test_an_explicit_backup_recovery_point_restores_through_a_restore_job(
    backed_up: Any, dynamodb: Any
) -> None:
    """--from-recovery-point arn:aws:backup:... without a vault: the vault is found through
    ListRecoveryPointsByResource, the restore runs as an AWS Backup restore job assuming the
    role the backup used (the plan's selection role), and the drill table is compared and
    deleted."""
    arn = _users_point(backed_up)
    report = forumctl(
        "restore-drill",
        *("-o", "json", "--poll-interval", "0.05", "--table", "users"),
        *("--method", "recovery-point", "--from-recovery-point", arn),
    ).json
    (row,) = report["tables"]
    assert row["ok"] is True, row
    assert row["recoveryPointArn"] == arn
    assert row["sourceCount"] == row["restoredCount"] == 4
    job = backed_up.describe_restore_job(RestoreJobId=row["restoreJobId"])
    assert (job["Status"], job["IamRoleArn"]) == ("COMPLETED", ROLE)
    assert row["cleanedUp"] is True
    assert _tables(dynamodb) == SOURCES


def test_the_restore_role_can_be_given(backed_up: Any) -> None:
    """--iam-role-arn names the role AWS Backup assumes for the restore job."""
    report = forumctl(
        "restore-drill",
        *("-o", "json", "--poll-interval", "0.05", "--table", "users"),
        *("--method", "recovery-point", "--backup-vault", "forumdb-drill"),
        *("--iam-role-arn", OTHER_ROLE),
    ).json
    (row,) = report["tables"]
    assert row["ok"] is True, row
    job = backed_up.describe_restore_job(RestoreJobId=row["restoreJobId"])
    assert job["IamRoleArn"] == OTHER_ROLE


def test_a_failed_restore_job_fails_the_row_with_aws_backups_message(
    backed_up: Any, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore job that goes FAILED is a finding (exit 1) naming the job, the table and AWS
    Backup's StatusMessage, and what it left is deleted."""
    real_start = restore_drill_run.start_restore_job

    def target_taken_meanwhile(backup: Any, plan: Any) -> str:
        dynamodb.create_table(
            TableName=plan.target,
            KeySchema=[{"AttributeName": "userId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "userId", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        return str(real_start(backup, plan))

    monkeypatch.setattr(restore_drill_run, "start_restore_job", target_taken_meanwhile)
    run = forumctl(
        "restore-drill",
        *("-o", "json", "--poll-interval", "0.05", "--table", "users"),
        *("--method", "recovery-point", "--backup-vault", "forumdb-drill"),
        expect=ExitCode.CHECK_FAILED,
    )
    (row,) = run.json["tables"]
    assert row["state"] == "fail"
    assert f"restore job {row['restoreJobId']} into {row['target']} FAILED" in row["reason"]
    assert "already exists" in row["reason"]
    assert _tables(dynamodb) == SOURCES


def test_restore_table_from_backup_is_never_asked_for_a_backup_recovery_point(
    backed_up: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DynamoDB restore is not attempted for an arn:aws:backup point (AWS would answer
    BackupNotFoundException): the AWS Backup path alone restores it."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("RestoreTableFromBackup asked for an AWS Backup recovery point")

    monkeypatch.setattr(restore_drill_run, "start_restore", refuse)
    report = forumctl(
        "restore-drill",
        *("-o", "json", "--poll-interval", "0.05"),
        *("--method", "recovery-point", "--backup-vault", "forumdb-drill"),
    ).json
    assert [r["ok"] for r in report["tables"]] == [True, True, True]


def test_interrupt_after_the_restore_job_started_but_before_its_answer_still_cleans_up(
    backed_up: Any, dynamodb: Any, moto: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS Backup took StartRestoreJob but the answer never arrived (Ctrl-C): the drill has no
    job id, finds the recovery point's unfinished job (ListRestoreJobs), waits for it and
    deletes the table it made, which appears only once the job runs."""
    moto.configure(job_created_seconds=0.5, job_running_seconds=0.5)
    real_start = restore_drill_run.start_restore_job

    def answer_lost(backup: Any, plan: Any) -> str:
        real_start(backup, plan)  # AWS Backup took the request...
        raise KeyboardInterrupt  # ...but the answer never arrived

    monkeypatch.setattr(restore_drill_run, "start_restore_job", answer_lost)
    forumctl(
        "restore-drill",
        *("--poll-interval", "0.05", "--table", "users"),
        *("--method", "recovery-point", "--backup-vault", "forumdb-drill"),
        expect=130,  # 128 + SIGINT
    )
    (job,) = backed_up.list_restore_jobs()["RestoreJobs"]
    assert job["Status"] == "COMPLETED"  # it ran to the end while the drill waited
    assert _tables(dynamodb) == SOURCES
