"""AWS Backup: selections, on-demand and plan-run jobs, recovery points, cross-region copies."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from harness.backups import daily_backup_plan
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

DAY = 86_400


@pytest.fixture
def setup(ext):
    """forum-Posts with one item, vault `forumdb` in us-east-1 and `forumdb-dr` in us-west-2,
    and a plan whose rule copies to the DR vault. Jobs finish by the next call: these tests are
    about what jobs do; tests/integration/emulator/test_conformance_backup.py about when."""
    ext.control.configure(job_created_seconds=0, job_running_seconds=0)
    dynamodb = ext.client("dynamodb", EAST)
    table_arn = create_table(dynamodb, tags={"app": "forum"})["TableArn"]
    dynamodb.put_item(TableName=TABLE, Item=post(1))
    plan = daily_backup_plan(
        ext.client("backup", EAST),
        plan_name="forumdb-daily",
        vault="forumdb",
        copy_to=ext.client("backup", WEST),
        copy_vault="forumdb-dr",
        keep_days=35,
        copy_keep_days=90,
    )
    dr_vault_arn = plan.copy_vault_arn
    ext.table_arn, ext.dr_vault_arn, ext.plan = table_arn, dr_vault_arn, plan
    return ext


def select(backup, plan_id, **selection):
    return backup.create_backup_selection(
        BackupPlanId=plan_id,
        BackupSelection={"SelectionName": "forumdb-tables", "IamRoleArn": ROLE, **selection},
    )


def test_selection_create_get_list_delete(setup):
    backup, plan_id = setup.client("backup", EAST), setup.plan.plan_id

    created = select(backup, plan_id, Resources=[setup.table_arn])

    got = backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert got["BackupSelection"]["Resources"] == [setup.table_arn]
    assert got["BackupPlanId"] == plan_id
    listed = backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"]
    assert [(s["SelectionId"], s["SelectionName"]) for s in listed] == [
        (created["SelectionId"], "forumdb-tables")
    ]
    backup.delete_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert backup.list_backup_selections(BackupPlanId=plan_id)["BackupSelectionsList"] == []
    with pytest.raises(ClientError) as gone:
        backup.get_backup_selection(BackupPlanId=plan_id, SelectionId=created["SelectionId"])
    assert error_code(gone) == "ResourceNotFoundException"


def test_selection_needs_an_existing_plan(setup):
    with pytest.raises(ClientError) as err:
        select(setup.client("backup", EAST), "no-such-plan", Resources=[setup.table_arn])
    assert error_code(err) == "ResourceNotFoundException"


@pytest.mark.parametrize("advanced", [True, False], ids=["advanced", "not-advanced"])
def test_on_demand_backup_job_makes_a_restorable_recovery_point(setup, advanced: bool):
    """With advanced DynamoDB backup on, the recovery point restores through an AWS Backup
    restore job; off, it is a DynamoDB backup that RestoreTableFromBackup restores."""
    backup, dynamodb = setup.client("backup", EAST), setup.client("dynamodb", EAST)
    backup.update_region_settings(ResourceTypeManagementPreference={"DynamoDB": advanced})

    started = backup.start_backup_job(
        BackupVaultName="forumdb",
        ResourceArn=setup.table_arn,
        IamRoleArn=ROLE,
        Lifecycle={"DeleteAfterDays": 7},
    )

    job = backup.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["State"] == "COMPLETED"
    points = backup.list_recovery_points_by_backup_vault(BackupVaultName="forumdb")
    (point,) = points["RecoveryPoints"]
    assert point["RecoveryPointArn"] == job["RecoveryPointArn"]
    assert point["ResourceArn"] == setup.table_arn
    assert point["Lifecycle"] == {"DeleteAfterDays": 7}
    deleted_after = point["CalculatedLifecycle"]["DeleteAt"] - point["CreationDate"]
    assert round(deleted_after.total_seconds()) == 7 * DAY
    if advanced:  # an AWS Backup resource: restored by AWS Backup
        assert job["RecoveryPointArn"].startswith(f"arn:aws:backup:{EAST}:{ACCOUNT}:")
        restore = backup.start_restore_job(
            RecoveryPointArn=job["RecoveryPointArn"],
            IamRoleArn=ROLE,
            Metadata={"targetTableName": "forum-Posts-restored"},
        )
        restored_job = backup.describe_restore_job(RestoreJobId=restore["RestoreJobId"])
        assert restored_job["Status"] == "COMPLETED"
    else:  # a DynamoDB backup that DynamoDB restores
        assert ":table/forum-Posts/backup/" in job["RecoveryPointArn"]
        dynamodb.restore_table_from_backup(
            TargetTableName="forum-Posts-restored", BackupArn=job["RecoveryPointArn"]
        )
    restored = dynamodb.scan(TableName="forum-Posts-restored")["Items"]
    assert restored == [post(1)]


def test_backup_job_of_a_missing_table_fails_with_the_cause(setup):
    backup = setup.client("backup", EAST)
    missing = f"arn:aws:dynamodb:{EAST}:{ACCOUNT}:table/forum-Nope"
    started = backup.start_backup_job(
        BackupVaultName="forumdb", ResourceArn=missing, IamRoleArn=ROLE
    )
    job = backup.describe_backup_job(BackupJobId=started["BackupJobId"])
    assert job["State"] == "FAILED"
    assert "forum-Nope" in job["StatusMessage"]
    assert backup.list_backup_jobs(ByState="FAILED")["BackupJobs"][0]["ResourceArn"] == missing
    assert backup.list_backup_jobs(ByState="COMPLETED")["BackupJobs"] == []


def test_backup_job_into_a_missing_vault_is_refused(setup):
    with pytest.raises(ClientError) as err:
        setup.client("backup", EAST).start_backup_job(
            BackupVaultName="nope", ResourceArn=setup.table_arn, IamRoleArn=ROLE
        )
    assert error_code(err) == "ResourceNotFoundException"


def test_run_plan_now_backs_up_selected_tables_and_copies_to_the_dr_region(setup):
    backup, backup_west = setup.client("backup", EAST), setup.client("backup", WEST)
    plan_id = setup.plan.plan_id
    select(backup, plan_id, Resources=[setup.table_arn])

    run = setup.control.run_backup_plan_now(plan_id)

    assert run["region"] == EAST
    (job,) = backup.list_backup_jobs(ByResourceArn=setup.table_arn)["BackupJobs"]
    assert job["State"] == "COMPLETED"
    assert job["CreatedBy"]["BackupPlanId"] == plan_id
    assert [j["BackupJobId"] for j in run["backup_jobs"]] == [job["BackupJobId"]]
    (copy,) = backup.list_copy_jobs()["CopyJobs"]
    assert copy["State"] == "COMPLETED"
    assert copy["SourceRecoveryPointArn"] == job["RecoveryPointArn"]
    assert copy["DestinationBackupVaultArn"] == setup.dr_vault_arn
    (copied,) = backup_west.list_recovery_points_by_backup_vault(BackupVaultName="forumdb-dr")[
        "RecoveryPoints"
    ]
    assert copied["RecoveryPointArn"] == copy["DestinationRecoveryPointArn"]
    assert copied["RecoveryPointArn"] != job["RecoveryPointArn"]
    assert copied["RecoveryPointArn"].startswith(f"arn:aws:backup:{WEST}:{ACCOUNT}:recovery-point:")
    assert copied["ResourceArn"] == setup.table_arn
    assert copied["Lifecycle"] == {"DeleteAfterDays": 90}
    source = backup.describe_recovery_point(
        BackupVaultName="forumdb", RecoveryPointArn=job["RecoveryPointArn"]
    )
    assert source["Lifecycle"] == {"DeleteAfterDays": 35}
    by_resource = backup.list_recovery_points_by_resource(ResourceArn=setup.table_arn)
    assert [p["RecoveryPointArn"] for p in by_resource["RecoveryPoints"]] == [
        job["RecoveryPointArn"]
    ]
    vaults = {v["BackupVaultName"]: v for v in backup.list_backup_vaults()["BackupVaultList"]}
    assert vaults["forumdb"]["NumberOfRecoveryPoints"] == 1
    assert backup.describe_backup_vault(BackupVaultName="forumdb")["NumberOfRecoveryPoints"] == 1


def test_selection_by_wildcard_and_tags(setup):
    backup, dynamodb = setup.client("backup", EAST), setup.client("dynamodb", EAST)
    plan_id = setup.plan.plan_id
    other_arn = create_table(dynamodb, "other-Posts")["TableArn"]
    select(
        backup,
        plan_id,
        Resources=[f"arn:aws:dynamodb:{EAST}:{ACCOUNT}:table/forum-*"],
        NotResources=[other_arn],
    )
    backup.create_backup_selection(
        BackupPlanId=plan_id,
        BackupSelection={
            "SelectionName": "tagged",
            "IamRoleArn": ROLE,
            "ListOfTags": [
                {"ConditionType": "STRINGEQUALS", "ConditionKey": "app", "ConditionValue": "forum"}
            ],
        },
    )

    run = setup.control.run_backup_plan_now(plan_id, region=EAST)

    assert [j["ResourceArn"] for j in run["backup_jobs"]] == [setup.table_arn, setup.table_arn]


def finished_backup(backup, vault: str, resource_arn: str) -> dict:
    started = backup.start_backup_job(
        BackupVaultName=vault, ResourceArn=resource_arn, IamRoleArn=ROLE
    )
    return backup.describe_backup_job(BackupJobId=started["BackupJobId"])


def test_copy_into_a_missing_vault_fails(setup):
    backup = setup.client("backup", EAST)
    job = finished_backup(backup, "forumdb", setup.table_arn)
    copy = backup.start_copy_job(
        RecoveryPointArn=job["RecoveryPointArn"],
        SourceBackupVaultName="forumdb",
        DestinationBackupVaultArn=f"arn:aws:backup:{WEST}:{ACCOUNT}:backup-vault:missing",
        IamRoleArn=ROLE,
    )
    described = backup.describe_copy_job(CopyJobId=copy["CopyJobId"])["CopyJob"]
    assert described["State"] == "FAILED"
    assert "missing" in described["StatusMessage"]


def test_update_backup_plan_changes_rules_and_version(setup):
    backup, plan_id = setup.client("backup", EAST), setup.plan.plan_id
    select(backup, plan_id, Resources=[setup.table_arn])

    updated = backup.update_backup_plan(
        BackupPlanId=plan_id,
        BackupPlan={
            "BackupPlanName": "forumdb-daily",
            "Rules": [{"RuleName": "hourly", "TargetBackupVaultName": "forumdb"}],
        },
    )

    assert updated["VersionId"] != setup.plan.version_id
    rules = backup.get_backup_plan(BackupPlanId=plan_id)["BackupPlan"]["Rules"]
    assert [r["RuleName"] for r in rules] == ["hourly"]
    run = setup.control.run_backup_plan_now(plan_id)
    assert run["copy_jobs"] == []  # the new rule has no copy action
    assert run["backup_jobs"][0]["CreatedBy"]["BackupPlanVersion"] == updated["VersionId"]


def test_delete_recovery_point(setup):
    backup = setup.client("backup", EAST)
    job = finished_backup(backup, "forumdb", setup.table_arn)
    backup.delete_recovery_point(
        BackupVaultName="forumdb", RecoveryPointArn=job["RecoveryPointArn"]
    )
    listed = backup.list_recovery_points_by_backup_vault(BackupVaultName="forumdb")
    assert listed["RecoveryPoints"] == []


def test_run_plan_now_of_an_unknown_plan_is_refused(setup):
    from forumdb_emulator.control import ControlError

    with pytest.raises((ControlError, LookupError), match="not found"):
        setup.control.run_backup_plan_now("no-such-plan")
