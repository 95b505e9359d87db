"""Conformance: eventually consistent tags, and point-in-time recovery right after CreateTable.

Every test runs in-process and through the server (the `ext` fixture)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from harness.emulator_support import (
    EAST,
    TABLE,
    WEST,
    add_replica,
    create_table,
    describe,
    error_code,
    wait_settled,
    wait_until,
)


def tags_of(client, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in client.list_tags_of_resource(ResourceArn=arn)["Tags"]}


def test_tags_given_to_create_table_are_listed_only_after_a_while(ext):
    """ListTagsOfResource is eventually consistent: right after CreateTable (tags included) it
    may answer an empty set. Source: TagResource, botocore DynamoDB model ("If you issue a
    ListTagsOfResource request immediately after a TagResource request, DynamoDB might return
    your previous tag set, if there was one, or an empty tag set ... the metadata for your tags
    or table might not be available at that moment")."""
    ext.control.configure(tags_settle_seconds=2)
    dynamodb = ext.client("dynamodb", EAST)
    arn = create_table(dynamodb, tags={"app": "forum", "owner": "ns1/forum"})["TableArn"]

    assert tags_of(dynamodb, arn) == {}
    wait_until(lambda: tags_of(dynamodb, arn) == {"app": "forum", "owner": "ns1/forum"}, "tags")


def test_a_table_made_again_has_another_table_id(ext):
    """TableId (TableDescription, in CreateTable's and DescribeTable's answers) identifies the
    table itself: the same at each look, another one once a table of the name is deleted and
    made again. Source: DescribeTable / CreateTable API reference ("TableId: Unique identifier
    for the table")."""
    dynamodb = ext.client("dynamodb", EAST)
    made = create_table(dynamodb)["TableId"]
    assert made
    assert describe(dynamodb)["TableId"] == made == describe(dynamodb)["TableId"]
    dynamodb.delete_table(TableName=TABLE)
    again = create_table(dynamodb)["TableId"]
    assert again
    assert again != made
    assert describe(dynamodb)["TableId"] == again


def test_tag_resource_shows_the_previous_set_for_a_while(ext):
    """After TagResource (and UntagResource) ListTagsOfResource answers the previous tag set
    for a while, then the new one ("The application or removal of tags using TagResource and
    UntagResource APIs is eventually consistent. ListTagsOfResource API will only reflect the
    changes after a few seconds." -- TagResource, botocore DynamoDB model). A key tagged again
    takes its new value (one tag per key)."""
    ext.control.configure(tags_settle_seconds=0)
    dynamodb = ext.client("dynamodb", EAST)
    arn = create_table(dynamodb, tags={"app": "forum"})["TableArn"]
    ext.control.configure(tags_settle_seconds=2)

    dynamodb.tag_resource(ResourceArn=arn, Tags=[{"Key": "app", "Value": "forum2"}])
    assert tags_of(dynamodb, arn) == {"app": "forum"}
    wait_until(lambda: tags_of(dynamodb, arn) == {"app": "forum2"}, "new tag value")

    dynamodb.untag_resource(ResourceArn=arn, TagKeys=["app"])
    assert tags_of(dynamodb, arn) == {"app": "forum2"}
    wait_until(lambda: tags_of(dynamodb, arn) == {}, "tag removed")


def test_pitr_is_unavailable_for_a_few_seconds_after_create_table(ext):
    """UpdateContinuousBackups right after CreateTable answers ContinuousBackupsUnavailable-
    Exception "Backups are being enabled for the table" (model: "Backups have not yet been
    enabled for this table"); it works a few seconds later. Sources: aws-amplify/amplify-backend
    #1654, nasa/cumulus#1116 ("the feature fails to be enabled if it is running against newly
    created tables"), scalar-labs/scalardb#347 (wait for continuous backups before enabling
    PITR)."""
    ext.control.configure(pitr_unavailable_seconds=2)
    dynamodb = ext.client("dynamodb", EAST, retries=0)
    create_table(dynamodb)
    enable = {"PointInTimeRecoveryEnabled": True}

    with pytest.raises(ClientError) as err:
        dynamodb.update_continuous_backups(TableName=TABLE, PointInTimeRecoverySpecification=enable)
    assert error_code(err) == "ContinuousBackupsUnavailableException"
    assert err.value.response["Error"]["Message"] == "Backups are being enabled for the table"

    refusals: list[str] = []

    def enabled() -> bool:
        try:
            dynamodb.update_continuous_backups(
                TableName=TABLE, PointInTimeRecoverySpecification=enable
            )
        except ClientError as again:
            refusals.append(again.response["Error"]["Code"])
            return False
        return True

    wait_until(enabled, "PITR enabled")
    assert set(refusals) <= {"ContinuousBackupsUnavailableException"}


@pytest.mark.parametrize("days", [1, 35])
def test_recovery_period_within_1_to_35_days_is_accepted(ext, days):
    """RecoveryPeriodInDays: "any value between 1 and 35 days" (UpdateContinuousBackups, botocore
    DynamoDB model: RecoveryPeriodInDays min 1, max 35)."""
    ext.control.configure(pitr_unavailable_seconds=0)
    dynamodb = ext.client("dynamodb", EAST)
    create_table(dynamodb)
    described = dynamodb.update_continuous_backups(
        TableName=TABLE,
        PointInTimeRecoverySpecification={
            "PointInTimeRecoveryEnabled": True,
            "RecoveryPeriodInDays": days,
        },
    )["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert described["RecoveryPeriodInDays"] == days


def test_recovery_period_over_35_days_is_refused(ext):
    """RecoveryPeriodInDays 36 is a ValidationException (botocore checks only the model's
    minimum on the client; AWS enforces the maximum 35)."""
    ext.control.configure(pitr_unavailable_seconds=0)
    dynamodb = ext.client("dynamodb", EAST)
    create_table(dynamodb)
    with pytest.raises(ClientError) as err:
        dynamodb.update_continuous_backups(
            TableName=TABLE,
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True,
                "RecoveryPeriodInDays": 36,
            },
        )
    assert error_code(err) == "ValidationException"
    assert "less than or equal to 35" in str(err.value)


def test_a_replica_has_none_of_the_sources_tags_and_is_tagged_in_its_region(ext):
    """A replica of a global table (2019.11.21) is a table of its own in its region with its
    own ARN, made without the source's tags: ReplicaUpdates' Create
    (CreateReplicationGroupMemberAction, botocore DynamoDB model) takes no Tags, CloudFormation's
    AWS::DynamoDB::GlobalTable takes Tags per replica (ReplicaSpecification.Tags), Terraform
    tags a replica by its ARN in its region (aws_dynamodb_tag). Tagging one leaves the other."""
    ext.control.configure(tags_settle_seconds=0, replica_entry_delay_seconds=0)
    ext.control.set_replication(replica_activation_seconds=0)
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    source = create_table(east, tags={"app": "forum"})["TableArn"]
    add_replica(east, WEST)
    wait_settled(east)
    replica = describe(west)["TableArn"]

    assert replica != source
    assert f":{WEST}:" in replica
    assert tags_of(west, replica) == {}
    west.tag_resource(ResourceArn=replica, Tags=[{"Key": "owner", "Value": "ns1/forum"}])
    assert tags_of(west, replica) == {"owner": "ns1/forum"}
    assert tags_of(east, source) == {"app": "forum"}
