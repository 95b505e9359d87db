"""The parts of an ARN the operator reads, in one place."""

from __future__ import annotations

import pytest

from forumdb_operator.arns import partition_of, region_of, table_of

TABLE = "arn:aws:dynamodb:eu-west-1:123456789012:table/forum-users"


@pytest.mark.parametrize(
    ("arn", "table"),
    [
        (TABLE, "forum-users"),
        (f"{TABLE}/stream/2026-12-05T00:00:00.000", "forum-users"),
        (f"{TABLE}/index/by-email", "forum-users"),
        ("arn:aws:sns:eu-west-1:123456789012:table/not-a-table", ""),
        ("arn:aws:backup:eu-west-1:123456789012:backup-vault:forum", ""),
        ("forum-users", ""),
        (None, ""),
    ],
)
def test_table_of(arn, table) -> None:
    assert table_of(arn) == table


def test_region_and_partition() -> None:
    assert region_of(TABLE) == "eu-west-1"
    assert partition_of("arn:aws-cn:sns:cn-north-1:123456789012:alerts") == "aws-cn"
    assert region_of("arn:aws:iam::123456789012:role/x") is None  # global
    assert region_of("alias/forum") is None
    assert partition_of("alias/forum") == "aws"
    # a KMS key ARN's resource holds no colon, a CloudWatch alarm's does
    assert region_of("arn:aws:cloudwatch:us-east-1:123456789012:alarm:forum/x") == "us-east-1"
