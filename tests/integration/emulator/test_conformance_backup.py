"""Conformance: AWS Backup as AWS answers it (each test cites its source; README table rows).

Every test runs in-process and through the server (the `ext` fixture)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness.emulator_support import (
    ACCOUNT,
    EAST,
    ROLE,
    TABLE,
    WEST,
    create_table,
    error_code,
    post,
)


@pytest.fixture
def forum(ext):
    """forum-Posts with an item, vault `forumdb` (us-east-1), `forumdb-dr` (us-west-2)."""
    dynamodb = ext.client("dynamodb", EAST)
    ext.table_arn = create_table(dynamodb)["TableArn"]
    dynamodb.put_item(TableName=TABLE, Item=post(1))
    ext.client("backup", EAST).create_backup_vault(BackupVaultName="forumdb")
    ext.dr_vault_arn = ext.client("backup", WEST).create_backup_vault(BackupVaultName="forumdb-dr")[
        "BackupVaultArn"
    ]
    return ext


def plan_of_the_table(
    forum, name: str, *, rule: str = "daily", selection: str = "tables", copy_to: str | None = None
) -> tuple[str, str]:
    """A backup plan NAME in us-east-1 with one rule into vault `forumdb` (copied to the vault
    ARN `copy_to`), and a selection of forum-Posts: (plan id, selection id)."""
    backup = forum.client("backup", EAST)
    plan_rule: dict[str, Any] = {"RuleName": rule, "TargetBackupVaultName": "forumdb"}
    if copy_to:
        plan_rule["CopyActions"] = [{"DestinationBackupVaultArn": copy_to}]
    plan_id = backup.create_backup_plan(BackupPlan={"BackupPlanName": name, "Rules": [plan_rule]})[
        "BackupPlanId"
    ]
    chosen = backup.create_backup_selection(
        BackupPlanId=plan_id,
        BackupSelection={
            "SelectionName": selection,
            "IamRoleArn": ROLE,
            "Resources": [forum.table_arn],
        },
    )
    return plan_id, chosen["SelectionId"]


def status_of(err: pytest.ExceptionInfo[ClientError]) -> int:
    return err.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_describe_backup_vault_of_a_missing_vault_is_access_denied(ext):
    """A vault that does not exist answers AccessDeniedException, HTTP 403, "Insufficient
    privileges to perform this action." -- not ResourceNotFoundException, even with every
    permission. Sources: aws/aws-sdk-js#2625 (DescribeBackupVault of a fake name: 403
    AccessDeniedException), ansible-collections/amazon.aws#1436 ("the AccessDenied happens even
    when you have permissions if the vault does not exist"), hashicorp/terraform-provider-aws
    #26347 (data source aws_backup_vault: 403 for a non-existent vault)."""
    with pytest.raises(ClientError) as err:
        ext.client("backup", EAST).describe_backup_vault(BackupVaultName="forumdb-nope")
    assert error_code(err) == "AccessDeniedException"
    assert status_of(err) == 403
    assert err.value.response["Error"]["Message"] == (
        "Insufficient privileges to perform this action."
    )


def test_list_recovery_points_of_a_missing_vault_is_access_denied(ext):
    """ListRecoveryPointsByBackupVault of a vault that does not exist: AccessDeniedException
    (403). Source: boto/boto3#2269 ("When I pass BackupVaultName but the vault doesn't exist I
    get ... AccessDeniedException ... Insufficient privileges to perform this action")."""
    with pytest.raises(ClientError) as err:
        ext.client("backup", EAST).list_recovery_points_by_backup_vault(
            BackupVaultName="forumdb-nope"
        )
    assert error_code(err) == "AccessDeniedException"
    assert status_of(err) == 403


def test_the_access_denied_rule_can_be_switched_off(ext):
    """The rule is a setting (AwsRules.backup_missing_vault_access_denied): off, the call
    answers moto's ResourceNotFoundException again; an existing vault is described either way."""
    backup = ext.client("backup", EAST)
    backup.create_backup_vault(BackupVaultName="forumdb")
    assert backup.describe_backup_vault(BackupVaultName="forumdb")["BackupVaultName"] == "forumdb"
    ext.control.configure(backup_missing_vault_access_denied=False)
    with pytest.raises(ClientError) as err:
        backup.describe_backup_vault(BackupVaultName="forumdb-nope")
    assert error_code(err) == "ResourceNotFoundException"


def test_backup_job_goes_created_running_completed_over_time(forum):
    """A backup job is CREATED, then RUNNING, then COMPLETED, as time passes (not at once);
    its recovery point is listed only once it completed. Sources: the BackupJobState enum of
    the botocore service model (CREATED, PENDING, RUNNING, ..., COMPLETED); StartBackupJob API
    reference (the job is started asynchronously; poll DescribeBackupJob)."""
    forum.control.configure(job_created_seconds=1.0, job_running_seconds=2.0)
    backup = forum.client("backup", EAST)
    started = backup.start_backup_job(
        BackupVaultName="forumdb", ResourceArn=forum.table_arn, IamRoleArn=ROLE
    )
    seen: list[str] = []
    points_while_unfinished: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = backup.describe_backup_job(BackupJobId=started["BackupJobId"])
        if not seen or seen[-1] != job["State"]:
            seen.append(job["State"])
        if job["State"] == "COMPLETED":
            break
        listed = backup.list_recovery_points_by_backup_vault(BackupVaultName="forumdb")
        # a listing counts only if the job is still unfinished after it: on a loaded machine
        # the job may complete between the describe above and the listing
        after = backup.describe_backup_job(BackupJobId=started["BackupJobId"])["State"]
        if seen[-1] != after:
            seen.append(after)
        if after != "COMPLETED":
            points_while_unfinished.append(len(listed["RecoveryPoints"]))
        else:
            break
        time.sleep(0.05)
    assert seen == ["CREATED", "RUNNING", "COMPLETED"]
    assert points_while_unfinished  # the listing was tried while the job ran
    assert set(points_while_unfinished) == {0}
    (point,) = backup.list_recovery_points_by_backup_vault(BackupVaultName="forumdb")[
        "RecoveryPoints"
    ]
    assert point["Status"] == "COMPLETED"


def test_start_backup_job_answers_no_recovery_point_arn_for_dynamodb(forum):
    """StartBackupJob's RecoveryPointArn "is only returned for Amazon EFS and Advanced DynamoDB
    resources" (StartBackupJob API reference, output): with advanced DynamoDB backup off, none;
    the job shows it once it runs. (On, it is returned: test_conformance_backup_restore.py.)"""
    backup = forum.client("backup", EAST)
    backup.update_region_settings(ResourceTypeManagementPreference={"DynamoDB": False})
    started = backup.start_backup_job(
        BackupVaultName="forumdb", ResourceArn=forum.table_arn, IamRoleArn=ROLE
    )
    assert "RecoveryPointArn" not in started
    assert started["BackupJobId"]


def test_copy_job_starts_when_the_backup_job_completes(forum):
    """A plan rule's copy runs after its backup job completed (CopyActions copy the recovery
    point the rule created; CopyJobState CREATED -> RUNNING -> COMPLETED in the service model).
    run_backup_plan_now(wait=False) shows the scheduler's first moment: backup jobs CREATED, no
    copy yet; wait=True returns once both have completed."""
    forum.control.configure(job_created_seconds=0.5, job_running_seconds=0.5)
    plan_id, _ = plan_of_the_table(forum, "forumdb-daily", copy_to=forum.dr_vault_arn)

    first = forum.control.run_backup_plan_now(plan_id, region=EAST, wait=False)
    assert [job["State"] for job in first["backup_jobs"]] == ["CREATED"]
    assert first["copy_jobs"] == []

    done = forum.control.run_backup_plan_now(plan_id, region=EAST)
    assert [job["State"] for job in done["backup_jobs"]] == ["COMPLETED"]
    assert [job["State"] for job in done["copy_jobs"]] == ["COMPLETED"]
    west_points = forum.client("backup", WEST).list_recovery_points_by_backup_vault(
        BackupVaultName="forumdb-dr"
    )["RecoveryPoints"]
    assert done["copy_jobs"][0]["DestinationRecoveryPointArn"] in {
        p["RecoveryPointArn"] for p in west_points
    }


def test_delete_backup_plan_with_a_selection_is_refused(forum):
    """DeleteBackupPlan: "A backup plan can only be deleted after all associated selections of
    resources have been deleted" (API reference); AWS answers InvalidRequestException "Related
    backup plan selections must be deleted prior to backup plan deletion"
    (hashicorp/terraform-provider-aws#10414)."""
    backup = forum.client("backup", EAST)
    plan_id, selection_id = plan_of_the_table(forum, "p", rule="r", selection="s")
    with pytest.raises(ClientError) as err:
        backup.delete_backup_plan(BackupPlanId=plan_id)
    assert error_code(err) == "InvalidRequestException"
    assert "selections must be deleted prior to backup plan deletion" in str(err.value)
    assert backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlanId"] == plan_id

    backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=selection_id)
    assert backup.delete_backup_plan(BackupPlanId=plan_id)["BackupPlanId"] == plan_id


def test_delete_backup_vault_with_recovery_points_is_refused(forum):
    """DeleteBackupVault: "A vault can be deleted only if it is empty" (API reference); AWS
    answers InvalidRequestException "Backup vault cannot be deleted because it contains recovery
    points." (gruntwork-io/cloud-nuke#730)."""
    forum.control.configure(job_created_seconds=0, job_running_seconds=0)
    backup = forum.client("backup", EAST)
    started = backup.start_backup_job(
        BackupVaultName="forumdb", ResourceArn=forum.table_arn, IamRoleArn=ROLE
    )
    job = backup.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["State"] == "COMPLETED"

    with pytest.raises(ClientError) as err:
        backup.delete_backup_vault(BackupVaultName="forumdb")
    assert error_code(err) == "InvalidRequestException"
    assert "contains recovery points" in str(err.value)

    backup.delete_recovery_point(
        BackupVaultName="forumdb", RecoveryPointArn=job["RecoveryPointArn"]
    )
    backup.delete_backup_vault(BackupVaultName="forumdb")
    with pytest.raises(ClientError) as gone:
        backup.describe_backup_vault(BackupVaultName="forumdb")
    assert error_code(gone) == "AccessDeniedException"


def test_backup_job_of_a_table_in_another_account_fails(forum):
    """A job whose resource is not in the vault's account and region fails with its cause
    (emulated: only same-account, same-region DynamoDB tables are backed up)."""
    forum.control.configure(job_created_seconds=0, job_running_seconds=0)
    backup = forum.client("backup", EAST)
    foreign = f"arn:aws:dynamodb:{EAST}:{ACCOUNT[:-1]}9:table/{TABLE}"
    started = backup.start_backup_job(
        BackupVaultName="forumdb", ResourceArn=foreign, IamRoleArn=ROLE
    )
    job = backup.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["State"] == "FAILED"
    assert "not in this account and region" in job["StatusMessage"]


def test_recovery_points_of_a_vault_can_be_listed_by_backup_plan(forum):
    """ListRecoveryPointsByBackupVault(ByBackupPlanId=...) lists only the points that plan made
    (the ListRecoveryPointsByBackupVault API reference: "ByBackupPlanId: This returns only
    recovery points that match the specified backup plan ID"; botocore Backup model, querystring
    backupPlanId): two plans sharing a vault each see their own."""
    backup = forum.client("backup", EAST)
    plans = []
    for name in ("forumdb-a", "forumdb-b"):
        plan_id, _ = plan_of_the_table(forum, name)
        forum.control.run_backup_plan_now(plan_id, region=EAST)
        plans.append(plan_id)
    everything = backup.list_recovery_points_by_backup_vault(BackupVaultName="forumdb")
    assert len(everything["RecoveryPoints"]) == 2
    for plan_id in plans:
        mine = backup.list_recovery_points_by_backup_vault(
            BackupVaultName="forumdb", ByBackupPlanId=plan_id
        )["RecoveryPoints"]
        assert [p["CreatedBy"]["BackupPlanId"] for p in mine] == [plan_id]


def _copying_plan(forum) -> str:
    """A plan into `forumdb` (us-east-1) whose rule copies to `forumdb-dr` (us-west-2), with the
    table selected."""
    backup = forum.client("backup", EAST)
    plan_id = backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": "forumdb-copied",
            "Rules": [
                {
                    "RuleName": "daily",
                    "TargetBackupVaultName": "forumdb",
                    "CopyActions": [{"DestinationBackupVaultArn": forum.dr_vault_arn}],
                }
            ],
        }
    )["BackupPlanId"]
    backup.create_backup_selection(
        BackupPlanId=plan_id,
        BackupSelection={"SelectionName": "t", "IamRoleArn": ROLE, "Resources": [forum.table_arn]},
    )
    return str(plan_id)


def test_advanced_dynamodb_backup_is_on_for_a_new_account_and_per_region(ext):
    """DescribeRegionSettings (GET /account-settings) answers ResourceTypeManagementPreference
    with "DynamoDB": true for an account new to AWS Backup ("advanced DynamoDB backup features
    are enabled by default to customers who have not created a backup vault prior to November
    21, 2021", developer guide, Advanced DynamoDB backup); UpdateRegionSettings (PUT, empty
    answer) changes the given types in that region only (the API reference: "settings for the
    Region")."""
    east, west = ext.client("backup", EAST), ext.client("backup", WEST)
    assert east.describe_region_settings()["ResourceTypeManagementPreference"]["DynamoDB"] is True
    east.update_region_settings(ResourceTypeManagementPreference={"DynamoDB": False})
    settings = east.describe_region_settings()
    assert settings["ResourceTypeManagementPreference"]["DynamoDB"] is False
    assert settings["ResourceTypeManagementPreference"]["EFS"] is True  # not given: unchanged
    assert settings["ResourceTypeOptInPreference"]["DynamoDB"] is True
    assert west.describe_region_settings()["ResourceTypeManagementPreference"]["DynamoDB"] is True


def test_a_copy_of_a_dynamodb_backup_fails_while_advanced_backup_is_off(forum):
    """Cross-Region copies of DynamoDB backups need AWS Backup's advanced DynamoDB backup in
    the source region (developer guide, Advanced DynamoDB backup: enabling it unlocks
    "cross-Region and cross-account copy"): while ResourceTypeManagementPreference DynamoDB is
    false, the backup job completes and its copy job goes FAILED with a message naming the
    setting; nothing lands in the destination vault. Turned on, the next run's copy completes."""
    backup = forum.client("backup", EAST)
    backup.update_region_settings(ResourceTypeManagementPreference={"DynamoDB": False})
    plan_id = _copying_plan(forum)
    off = forum.control.run_backup_plan_now(plan_id, region=EAST)
    assert [job["State"] for job in off["backup_jobs"]] == ["COMPLETED"]
    assert [job["State"] for job in off["copy_jobs"]] == ["FAILED"]
    assert "advanced features for Amazon DynamoDB backups" in off["copy_jobs"][0]["StatusMessage"]
    west = forum.client("backup", WEST)
    assert (
        west.list_recovery_points_by_backup_vault(BackupVaultName="forumdb-dr")["RecoveryPoints"]
        == []
    )

    backup.update_region_settings(ResourceTypeManagementPreference={"DynamoDB": True})
    on = forum.control.run_backup_plan_now(plan_id, region=EAST)
    assert [job["State"] for job in on["copy_jobs"]] == ["COMPLETED"]


def test_list_tags_answers_the_tags_given_to_a_plan_and_a_vault(ext):
    """ListTags (GET /tags/{resourceArn}/) answers {"Tags": {key: value}} for a backup plan or
    a backup vault, the tags given with BackupPlanTags / BackupVaultTags at creation ("Valid
    targets for ListTags are recovery points, backup plans, and backup vaults", API reference):
    what the operator reads to tell its own plan from a same-named one."""
    backup = ext.client("backup", EAST)
    tags = {"forumdb.io/owner": "ns1/forum", "forumdb.io/owner-uid": "u-1"}
    vault_arn = backup.create_backup_vault(BackupVaultName="tagged", BackupVaultTags=tags)[
        "BackupVaultArn"
    ]
    plan_arn = backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": "tagged",
            "Rules": [{"RuleName": "r", "TargetBackupVaultName": "tagged"}],
        },
        BackupPlanTags=tags,
    )["BackupPlanArn"]
    untagged = backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": "untagged",
            "Rules": [{"RuleName": "r", "TargetBackupVaultName": "tagged"}],
        }
    )["BackupPlanArn"]
    assert backup.list_tags(ResourceArn=plan_arn)["Tags"] == tags
    assert backup.list_tags(ResourceArn=vault_arn)["Tags"] == tags
    assert backup.list_tags(ResourceArn=untagged)["Tags"] == {}
