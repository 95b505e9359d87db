"""Spec rules that follow AWS's own (issue 13): backup schedules as AWS Backup accepts them
(six fields, one day field `?`, at most hourly) and ARNs in the partition of the region they
are used in (aws, aws-cn, aws-us-gov). Refused before any AWS call, naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from forumdb_operator.backup_schedule import schedule_problem
from forumdb_operator.spec import SpecInvalid, parse_spec, partition_of

BASE: dict[str, Any] = {"primaryRegion": "us-east-1"}


def refused(raw: dict[str, Any]) -> str:
    with pytest.raises(SpecInvalid) as info:
        parse_spec({**BASE, **raw})
    return "; ".join(info.value.errors)


@pytest.mark.parametrize(
    "schedule",
    [
        "cron(0 5 * * ? *)",
        "cron(30 2 ? * MON-FRI *)",
        "cron(0 */6 * * ? *)",
        "cron(0 5 1,15 * ? *)",
        "cron(0 5 L * ? *)",
        "cron(15 3 ? * 2#1 *)",
        "cron(0 0 ? jan-mar sun 2027)",
    ],
)
def test_schedules_aws_backup_accepts_pass(schedule: str):
    assert schedule_problem(schedule) is None
    parse_spec({**BASE, "backups": {"schedule": schedule}})


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ("cron(0 5 * * * *)", "exactly one of them must be ?"),  # both day fields set
        ("cron(0 5 ? * ? *)", "exactly one of them must be ?"),
        ("cron(*/15 * * * ? *)", "more often than hourly"),
        ("cron(0,30 5 * * ? *)", "more often than hourly"),
        ("cron(0 24 * * ? *)", "hours 24 is out of range 0-23"),
        ("cron(0 5 32 * ? *)", "day-of-month 32 is out of range"),
        ("cron(0 5 * 13 ? *)", "month 13 is out of range"),
        ("cron(0 5 ? * 8 *)", "day-of-week '8' is not a valid field"),
        ("cron(0 5 * * ? 1969)", "year 1969 is out of range"),
        ("cron(0 5 * * ? x)", "year 'x' is not a valid field"),
    ],
)
def test_schedules_aws_backup_refuses_are_refused_naming_the_field(schedule: str, why: str):
    message = refused({"backups": {"schedule": schedule}})
    assert message.startswith("spec.backups.schedule: "), message
    assert why in message


def test_partition_follows_the_region():
    assert partition_of("us-east-1") == "aws"
    assert partition_of("cn-north-1") == "aws-cn"
    assert partition_of("us-gov-west-1") == "aws-us-gov"


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (
            {"backups": {"iamRoleArn": "arn:aws-cn:iam::123456789012:role/backup"}},
            "spec.backups.iamRoleArn",
        ),
        (
            {"alarms": {"snsTopicArn": "arn:aws-us-gov:sns:us-east-1:123456789012:t"}},
            "spec.alarms.snsTopicArn",
        ),
        (
            {"encryption": {"kmsKeyId": "arn:aws-cn:kms:us-east-1:123456789012:key/k"}},
            "spec.encryption.kmsKeyId",
        ),
    ],
)
def test_an_arn_of_another_partition_is_refused(raw: dict[str, Any], path: str):
    message = refused(raw)
    assert f"{path}: the ARN is in partition" in message
    assert "us-east-1 is in aws" in message


def test_arns_of_the_regions_partition_pass():
    parse_spec(
        {
            "primaryRegion": "cn-north-1",
            "backups": {"iamRoleArn": "arn:aws-cn:iam::123456789012:role/backup"},
        }
    )
    assert "in aws-cn" in refused(
        {
            "primaryRegion": "cn-north-1",
            "backups": {"iamRoleArn": "arn:aws:iam::123456789012:role/backup"},
        }
    )


def test_the_default_backup_role_is_in_the_partition_of_the_plans_region():
    """AWSBackupDefaultServiceRole's ARN in cn-north-1 is arn:aws-cn:...: an arn:aws role names
    nothing there, so a selection holding one is replaced."""
    from op_factories import desired, in_shape

    from forumdb_operator.diff import diff

    d = desired(
        primaryRegion="cn-north-1",
        replicaRegions=[],
        backups={"schedule": "cron(0 5 * * ? *)", "retentionDays": 35},
    )
    plan = diff(d, in_shape(d))  # in_shape holds the arn:aws role
    roles = [
        a.params["BackupSelection"]["IamRoleArn"]
        for a in plan.actions
        if "BackupSelection" in a.params
    ]
    assert roles, plan.actions
    assert all(r.startswith("arn:aws-cn:iam::") for r in roles), roles
