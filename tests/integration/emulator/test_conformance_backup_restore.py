"""Conformance: recovery point ARNs of DynamoDB backups follow the account's advanced DynamoDB
backup setting, and AWS Backup restore jobs restore them (each test cites its source; README
table rows).

Every test runs in-process and through the server (the `ext` fixture)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness.emulator_support import (
    EAST,
    ROLE,
    TABLE,
    WEST,
    create_table,
    error_code,
    post,
)

BACKUP_ARN = re.compile(r"^arn:aws:backup:us-east-1:\d{12}:recovery-point:[0-9A-Fa-f-]{36}$")
DYNAMODB_ARN = re.compile(rf"^arn:aws:dynamodb:us-east-1:\d{{12}}:table/{TABLE}/backup/.+$")


@pytest.fixture
def forum(ext):
    """forum-Posts with two items, vault `forumdb` (us-east-1); jobs take no time."""
    ext.control.configure(job_created_seconds=0, job_running_seconds=0)
    dynamodb = ext.client("dynamodb", EAST)
    ext.table_arn = create_table(dynamodb)["TableArn"]
    dynamodb.put_item(TableName=TABLE, Item=post(1))
    dynamodb.put_item(TableName=TABLE, Item=post(2))
    ext.client("backup", EAST).create_backup_vault(BackupVaultName="forumdb")
    return ext


def _advanced(ext: Any, on: bool, region: str = EAST) -> None:
    ext.client("backup", region).update_region_settings(
        ResourceTypeManagementPreference={"DynamoDB": on}
    )


def _backed_up(forum: Any) -> str:
    """A completed backup job of forum-Posts into `forumdb`: its recovery point ARN."""
    backup = forum.client("backup", EAST)
    started = backup.start_backup_job(
        BackupVaultName="forumdb", ResourceArn=forum.table_arn, IamRoleArn=ROLE
    )
    job = backup.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["State"] == "COMPLETED"
    return str(job["RecoveryPointArn"])


def _until_finished(backup: Any, job_id: str, timeout: float = 30) -> tuple[list[str], Any]:
    """DescribeRestoreJob until the job finishes: (every Status seen, in order; the last answer)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        job = backup.describe_restore_job(RestoreJobId=job_id)
        if not seen or seen[-1] != job["Status"]:
            seen.append(job["Status"])
        if job["Status"] in ("COMPLETED", "FAILED", "ABORTED") or time.monotonic() > deadline:
            return seen, job
        time.sleep(0.02)


def test_recovery_points_are_aws_backup_resources_while_advanced_backup_is_on(forum):
    """With advanced DynamoDB backup on (a new account's default), a backup's recovery point is
    an AWS Backup resource: "Backup resource names (ARNs) will change from arn:aws:dynamodb to
    arn:aws:backup" (DynamoDB developer guide, Using AWS Backup with DynamoDB, usage notes),
    in the form of the API reference's example (arn:aws:backup:REGION:ACCOUNT:recovery-point:
    ID). StartBackupJob returns it at once ("only returned for Amazon EFS and Advanced DynamoDB
    resources"), and DynamoDB's own backup list does not show it."""
    backup = forum.client("backup", EAST)
    started = backup.start_backup_job(
        BackupVaultName="forumdb", ResourceArn=forum.table_arn, IamRoleArn=ROLE
    )
    assert BACKUP_ARN.match(started["RecoveryPointArn"]), started
    job = backup.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["RecoveryPointArn"] == started["RecoveryPointArn"]
    (point,) = backup.list_recovery_points_by_backup_vault(BackupVaultName="forumdb")[
        "RecoveryPoints"
    ]
    assert point["RecoveryPointArn"] == started["RecoveryPointArn"]
    # BackupType: ListBackups lists USER backups unless asked (botocore model; list_backups.py)
    listed = forum.client("dynamodb", EAST).list_backups(TableName=TABLE, BackupType="AWS_BACKUP")[
        "BackupSummaries"
    ]
    assert listed == []


def test_recovery_points_are_dynamodb_backups_while_advanced_backup_is_off(forum):
    """With advanced DynamoDB backup off, AWS Backup's backup of a table is a DynamoDB backup
    (arn:aws:dynamodb:...:table/T/backup/ID, type AWS_BACKUP) that DynamoDB lists and
    RestoreTableFromBackup restores (developer guide, Advanced DynamoDB backup; DynamoDB
    ListBackups BackupType AWS_BACKUP)."""
    _advanced(forum, False)
    arn = _backed_up(forum)
    assert DYNAMODB_ARN.match(arn), arn
    dynamodb = forum.client("dynamodb", EAST)
    # ListBackups lists USER backups unless BackupType says otherwise (API reference)
    listed = dynamodb.list_backups(TableName=TABLE, BackupType="AWS_BACKUP")["BackupSummaries"]
    (summary,) = listed
    assert (summary["BackupArn"], summary["BackupType"]) == (arn, "AWS_BACKUP")
    dynamodb.restore_table_from_backup(TargetTableName="restored", BackupArn=arn)
    assert dynamodb.scan(TableName="restored")["Count"] == 2


def test_list_backups_lists_the_backup_type_asked_for_user_by_default(forum):
    """ListBackups lists the BackupType asked for (botocore DynamoDB model, ListBackupsInput):
    "USER - On-demand backup created by you. (The default setting if no other backup types are
    specified.)" and "ALL - All types of on-demand backups (USER and SYSTEM)", so neither the
    default nor ALL lists the AWS_BACKUP backup AWS Backup made (advanced backup off)."""
    _advanced(forum, False)
    made_by_backup = _backed_up(forum)
    dynamodb = forum.client("dynamodb", EAST)
    user = dynamodb.create_backup(TableName=TABLE, BackupName="by-hand")["BackupDetails"]

    def listed(**kwargs: str) -> set[tuple[str, str]]:
        summaries = dynamodb.list_backups(TableName=TABLE, **kwargs)["BackupSummaries"]
        return {(s["BackupArn"], s["BackupType"]) for s in summaries}

    assert listed() == {(user["BackupArn"], "USER")}
    assert listed(BackupType="USER") == {(user["BackupArn"], "USER")}
    assert listed(BackupType="ALL") == {(user["BackupArn"], "USER")}
    assert listed(BackupType="SYSTEM") == set()
    assert listed(BackupType="AWS_BACKUP") == {(made_by_backup, "AWS_BACKUP")}


def test_restore_table_from_backup_refuses_an_aws_backup_recovery_point(forum):
    """RestoreTableFromBackup restores DynamoDB backups only: an arn:aws:backup recovery point
    is not one ("restore advanced DynamoDB backups" through AWS Backup, developer guide), so
    DynamoDB answers BackupNotFoundException ("Backup not found for the given BackupARN",
    botocore DynamoDB model; RestoreTableFromBackup's BackupArn has no pattern, so the ARN
    passes validation and the lookup fails). Modelled on the API reference: no published probe
    of this exact call was found. No table is created."""
    arn = _backed_up(forum)
    dynamodb = forum.client("dynamodb", EAST)
    with pytest.raises(ClientError) as err:
        dynamodb.restore_table_from_backup(TargetTableName="restored", BackupArn=arn)
    assert error_code(err) == "BackupNotFoundException"
    assert arn in err.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as described:
        dynamodb.describe_backup(BackupArn=arn)
    assert error_code(described) == "BackupNotFoundException"
    assert dynamodb.list_tables()["TableNames"] == [TABLE]


def test_restore_job_goes_pending_running_completed_and_makes_the_table(forum):
    """StartRestoreJob (PUT /restore-jobs) with the recovery point ARN, the IAM role and the
    DynamoDB metadata targetTableName answers a RestoreJobId; DescribeRestoreJob shows Status
    PENDING -> RUNNING -> COMPLETED over time (RestoreJobStatus in the botocore model) and
    CreatedResourceArn, the new table, which holds the recovery point's items (not writes made
    after it). Sources: StartRestoreJob / DescribeRestoreJob API references; developer guide,
    "Restore testing inferred metadata" (DynamoDB: targetTableName, encryptionType)."""
    point_arn = _backed_up(forum)
    dynamodb = forum.client("dynamodb", EAST)
    dynamodb.put_item(TableName=TABLE, Item=post(3))  # after the backup: not restored
    forum.control.configure(job_created_seconds=0.3, job_running_seconds=0.5)
    backup = forum.client("backup", EAST)
    started = backup.start_restore_job(
        RecoveryPointArn=point_arn,
        IamRoleArn=ROLE,
        Metadata={"targetTableName": "forum-Posts-restored", "encryptionType": "Default"},
        ResourceType="DynamoDB",
    )
    seen, job = _until_finished(backup, started["RestoreJobId"])
    assert seen == ["PENDING", "RUNNING", "COMPLETED"]
    assert job["RecoveryPointArn"] == point_arn
    assert job["IamRoleArn"] == ROLE
    assert job["ResourceType"] == "DynamoDB"
    assert job["CreatedResourceArn"].endswith(":table/forum-Posts-restored")
    table = dynamodb.describe_table(TableName="forum-Posts-restored")["Table"]
    assert table["TableArn"] == job["CreatedResourceArn"]
    assert table["RestoreSummary"]["SourceBackupArn"] == point_arn
    keys = {
        item["postId"]["N"] for item in dynamodb.scan(TableName="forum-Posts-restored")["Items"]
    }
    assert keys == {"1", "2"}
    listed = backup.list_restore_jobs(ByStatus="COMPLETED")["RestoreJobs"]
    assert [j["RestoreJobId"] for j in listed] == [started["RestoreJobId"]]


def test_restore_job_of_a_dynamodb_backup_arn_works_too(forum):
    """A recovery point managed by DynamoDB (arn:aws:dynamodb..., advanced backup off) restores
    through AWS Backup as well (developer guide, Restore a DynamoDB table: "If your backup is
    managed by DynamoDB (its ARN begins with arn:aws:dynamodb) ...")."""
    _advanced(forum, False)
    point_arn = _backed_up(forum)
    backup = forum.client("backup", EAST)
    started = backup.start_restore_job(
        RecoveryPointArn=point_arn, IamRoleArn=ROLE, Metadata={"targetTableName": "again"}
    )
    seen, job = _until_finished(backup, started["RestoreJobId"])
    assert seen[-1] == "COMPLETED", job
    assert forum.client("dynamodb", EAST).scan(TableName="again")["Count"] == 2


def test_restore_job_needs_a_target_table_name_and_a_known_recovery_point(forum):
    """Metadata is required and must name the new table (targetTableName): without it
    StartRestoreJob answers MissingParameterValueException (one of its errors in the botocore
    model; AWS's message is not published); an unknown recovery point is
    ResourceNotFoundException. Neither starts a job."""
    point_arn = _backed_up(forum)
    backup = forum.client("backup", EAST)
    with pytest.raises(ClientError) as missing:
        backup.start_restore_job(RecoveryPointArn=point_arn, IamRoleArn=ROLE, Metadata={})
    assert error_code(missing) == "MissingParameterValueException"
    unknown = point_arn[:-4] + "0000" if not point_arn.endswith("0000") else point_arn[:-4] + "1111"
    with pytest.raises(ClientError) as not_found:
        backup.start_restore_job(
            RecoveryPointArn=unknown, IamRoleArn=ROLE, Metadata={"targetTableName": "x"}
        )
    assert error_code(not_found) == "ResourceNotFoundException"
    assert backup.list_restore_jobs()["RestoreJobs"] == []


def test_restore_job_into_an_existing_table_fails(forum):
    """A restore job whose target table exists goes FAILED with a StatusMessage naming the table
    (AWS's text is not published); the existing table is untouched."""
    point_arn = _backed_up(forum)
    backup = forum.client("backup", EAST)
    started = backup.start_restore_job(
        RecoveryPointArn=point_arn, IamRoleArn=ROLE, Metadata={"targetTableName": TABLE}
    )
    seen, job = _until_finished(backup, started["RestoreJobId"])
    assert seen[-1] == "FAILED"
    assert TABLE in job["StatusMessage"]
    assert "CreatedResourceArn" not in job


def test_a_cross_region_copy_restores_through_a_restore_job_in_its_region(forum):
    """A copy is a recovery point of its own in the destination vault (arn:aws:backup:...) and
    restores there through AWS Backup (developer guide, Restore a DynamoDB table: "When
    restoring a cross-Region backup ...")."""
    backup = forum.client("backup", EAST)
    west = forum.client("backup", WEST)
    dr_vault = west.create_backup_vault(BackupVaultName="forumdb-dr")["BackupVaultArn"]
    point_arn = _backed_up(forum)
    copy_job = backup.start_copy_job(
        RecoveryPointArn=point_arn,
        SourceBackupVaultName="forumdb",
        DestinationBackupVaultArn=dr_vault,
        IamRoleArn=ROLE,
    )
    copied = backup.describe_copy_job(CopyJobId=copy_job["CopyJobId"])["CopyJob"]
    assert copied["State"] == "COMPLETED", copied
    started = west.start_restore_job(
        RecoveryPointArn=copied["DestinationRecoveryPointArn"],
        IamRoleArn=ROLE,
        Metadata={"targetTableName": "forum-Posts-dr"},
    )
    seen, job = _until_finished(west, started["RestoreJobId"])
    assert seen[-1] == "COMPLETED", job
    assert forum.client("dynamodb", WEST).scan(TableName="forum-Posts-dr")["Count"] == 2
