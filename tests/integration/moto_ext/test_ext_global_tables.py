"""Global tables version 2019.11.21: replica lifecycle, DescribeTable fields, preconditions."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from harness.emulator_support import (
    CENTRAL,
    EAST,
    TABLE,
    WEST,
    add_replica,
    autoscale_writes,
    create_table,
    describe,
    error_code,
    key,
    post,
    wait_settled,
)


@pytest.fixture(autouse=True)
def _no_entry_delay(ext):
    """These tests are about what replica changes do, driven by DescribeTable calls; when AWS
    shows them is tests/integration/emulator/test_conformance_global_tables.py's subject."""
    ext.control.configure(
        replica_entry_delay_seconds=0, replica_region_linger_seconds=0, pitr_unavailable_seconds=0
    )


def test_replica_create_goes_creating_then_active(ext):
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    ext.control.set_replication(replica_activation_calls=2)
    create_table(east)
    east.put_item(TableName=TABLE, Item=post(1))

    created = add_replica(east, WEST)

    assert created["TableStatus"] == "UPDATING"
    assert created["GlobalTableVersion"] == "2019.11.21"
    assert [(r["RegionName"], r["ReplicaStatus"]) for r in created["Replicas"]] == [
        (WEST, "CREATING")
    ]
    # AWS turns on the stream global tables replicate through
    assert created["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    # the replica table really exists in the other region (only DescribeTable answers there
    # while it is CREATING)
    replica = describe(west)
    assert replica["TableStatus"] == "CREATING"
    assert [r["RegionName"] for r in replica["Replicas"]] == [EAST]
    assert {i["IndexName"] for i in replica["GlobalSecondaryIndexes"]} == {
        "ThreadIndex",
        "UserIndex",
    }

    first = describe(east)  # second observation (the west describe above was the first)
    assert first["TableStatus"] == "ACTIVE"
    assert first["Replicas"] == [{"RegionName": WEST, "ReplicaStatus": "ACTIVE"}]
    assert describe(west)["TableStatus"] == "ACTIVE"
    # with the items the table had
    assert west.get_item(TableName=TABLE, Key=key(1))["Item"] == post(1)


def test_replica_activation_by_seconds(ext):
    east = ext.client("dynamodb", EAST)
    ext.control.set_replication(replica_activation_seconds=3600)
    create_table(east)
    add_replica(east, WEST)
    for _ in range(5):  # calls do not count in seconds mode
        assert describe(east)["Replicas"][0]["ReplicaStatus"] == "CREATING"

    ext.control.set_replication(replica_activation_seconds=0)
    # already-started updates keep their deadline; a new one with 0 s completes at once
    add_replica_table = ext.client("dynamodb", CENTRAL)
    create_table(add_replica_table, "other")
    add_replica(add_replica_table, EAST, "other")
    assert describe(add_replica_table, "other")["TableStatus"] == "ACTIVE"


def test_third_region_and_replicas_lists(ext):
    east, west, central = (ext.client("dynamodb", r) for r in (EAST, WEST, CENTRAL))
    ext.control.set_replication(replica_activation_calls=0)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)
    add_replica(west, CENTRAL)  # any replica can add another
    wait_settled(east)

    assert [r["RegionName"] for r in describe(east)["Replicas"]] == [CENTRAL, WEST]
    assert [r["RegionName"] for r in describe(west)["Replicas"]] == [CENTRAL, EAST]
    assert [r["RegionName"] for r in describe(central)["Replicas"]] == [EAST, WEST]


def test_replica_delete_goes_deleting_then_gone(ext):
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    ext.control.set_replication(replica_activation_calls=2)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)

    deleting = east.update_table(TableName=TABLE, ReplicaUpdates=[{"Delete": {"RegionName": WEST}}])
    assert deleting["TableDescription"]["Replicas"][0]["ReplicaStatus"] == "DELETING"
    assert deleting["TableDescription"]["TableStatus"] == "UPDATING"
    assert describe(west)["TableStatus"] == "DELETING"

    settled = wait_settled(east)
    assert "Replicas" not in settled
    assert "GlobalTableVersion" not in settled
    with pytest.raises(ClientError) as gone:
        describe(west)
    assert error_code(gone) == "ResourceNotFoundException"


def test_delete_table_in_replica_region_leaves_the_others(ext):
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    ext.control.set_replication(replica_activation_calls=0)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)

    west.delete_table(TableName=TABLE)

    assert "Replicas" not in describe(east)
    east.put_item(TableName=TABLE, Item=post(2))  # no replica to replicate to any more
    assert west.list_tables()["TableNames"] == []


def test_replica_update_changes_read_capacity_override(ext):
    east = ext.client("dynamodb", EAST)
    autoscaling = ext.client("application-autoscaling", EAST)
    ext.control.set_replication(replica_activation_calls=1)
    create_table(east, billing_mode="PROVISIONED", read_capacity=5, write_capacity=5)
    autoscale_writes(autoscaling)
    add_replica(east, WEST)
    wait_settled(east)

    updated = east.update_table(
        TableName=TABLE,
        ReplicaUpdates=[
            {
                "Update": {
                    "RegionName": WEST,
                    "ProvisionedThroughputOverride": {"ReadCapacityUnits": 20},
                }
            }
        ],
    )["TableDescription"]

    assert updated["Replicas"][0]["ReplicaStatus"] == "UPDATING"
    replica = wait_settled(east)["Replicas"][0]
    assert replica["ReplicaStatus"] == "ACTIVE"
    assert replica["ProvisionedThroughputOverride"] == {"ReadCapacityUnits": 20}
    # the replica's own table reports its read capacity (DescribeTable in its region)
    west = ext.client("dynamodb", WEST)
    assert describe(west)["ProvisionedThroughput"]["ReadCapacityUnits"] == 20

    # a capacity change of the table reaches every replica, but not over a replica's own
    # read capacity (UpdateTable API reference, ReplicaUpdates: ProvisionedThroughputOverride
    # is "replica-specific ... if not specified, uses the source table's" settings)
    east.update_table(
        TableName=TABLE, ProvisionedThroughput={"ReadCapacityUnits": 8, "WriteCapacityUnits": 5}
    )
    wait_settled(east)
    assert describe(east)["ProvisionedThroughput"]["ReadCapacityUnits"] == 8
    assert describe(west)["ProvisionedThroughput"]["ReadCapacityUnits"] == 20


def test_replica_with_customer_managed_key_per_region(ext):
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    east_key = ext.client("kms", EAST).create_key()["KeyMetadata"]["Arn"]
    west_key = ext.client("kms", WEST).create_key()["KeyMetadata"]["Arn"]
    create_table(east, kms_key=east_key)

    with pytest.raises(ClientError) as missing:
        add_replica(east, WEST)
    assert error_code(missing) == "ValidationException"
    assert "KMSMasterKeyId" in str(missing.value)

    with pytest.raises(ClientError) as wrong_region:
        add_replica(east, WEST, KMSMasterKeyId=east_key)
    assert error_code(wrong_region) == "ValidationException"

    created = add_replica(east, WEST, KMSMasterKeyId=west_key)
    assert created["Replicas"][0]["KMSMasterKeyId"] == west_key
    assert describe(west)["SSEDescription"]["KMSMasterKeyArn"] == west_key


def test_a_replicas_key_changes_by_update_table_in_its_own_region(ext):
    """UpdateTable's SSESpecification (API reference: "the new server-side encryption settings
    for the specified table") switches the key of that regional table only; ReplicaUpdates
    refuses a KMSMasterKeyId (DDB-TABLE-309), so a replica's key is changed in its region."""
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    ext.control.set_replication(replica_activation_calls=0)
    east_key = ext.client("kms", EAST).create_key()["KeyMetadata"]["Arn"]
    west_1 = ext.client("kms", WEST).create_key()["KeyMetadata"]["Arn"]
    west_2 = ext.client("kms", WEST).create_key()["KeyMetadata"]["Arn"]
    create_table(east, kms_key=east_key)
    add_replica(east, WEST, KMSMasterKeyId=west_1)
    wait_settled(east)

    with pytest.raises(ClientError) as through_replica_updates:
        east.update_table(
            TableName=TABLE,
            ReplicaUpdates=[{"Update": {"RegionName": WEST, "KMSMasterKeyId": west_2}}],
        )
    assert error_code(through_replica_updates) == "ValidationException"

    with pytest.raises(ClientError) as other_region:
        west.update_table(
            TableName=TABLE,
            SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": east_key},
        )
    assert error_code(other_region) == "ValidationException"

    west.update_table(
        TableName=TABLE,
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": west_2},
    )
    assert describe(west)["SSEDescription"]["KMSMasterKeyArn"] == west_2
    assert describe(east)["SSEDescription"]["KMSMasterKeyArn"] == east_key


def test_pitr_per_replica_region(ext):
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    ext.control.set_replication(replica_activation_calls=0)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)

    west.update_continuous_backups(
        TableName=TABLE,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )

    def pitr(client):
        backups = client.describe_continuous_backups(TableName=TABLE)
        return backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
            "PointInTimeRecoveryStatus"
        ]

    assert pitr(west) == "ENABLED"
    assert pitr(east) == "DISABLED"


# -- preconditions, with the error codes AWS returns -------------------------------------------


def test_one_replica_update_per_call(ext):
    east = ext.client("dynamodb", EAST)
    create_table(east)
    with pytest.raises(ClientError) as err:
        east.update_table(
            TableName=TABLE,
            ReplicaUpdates=[
                {"Create": {"RegionName": WEST}},
                {"Create": {"RegionName": CENTRAL}},
            ],
        )
    assert error_code(err) == "ValidationException"
    assert "Replicas" not in describe(east)


def test_replica_update_while_updating_is_resource_in_use(ext):
    east = ext.client("dynamodb", EAST)
    ext.control.set_replication(replica_activation_calls=5)
    create_table(east)
    add_replica(east, WEST)
    with pytest.raises(ClientError) as err:
        add_replica(east, CENTRAL)
    assert error_code(err) == "ResourceInUseException"


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        ({"Create": {"RegionName": EAST}}, "Cannot add or delete the local region"),
        ({"Create": {"RegionName": "mars-north-1"}}, "Region mars-north-1 is not supported"),
        ({"Delete": {"RegionName": WEST}}, "not part of the global table"),
        ({"Update": {"RegionName": WEST, "TableClassOverride": "STANDARD"}}, "not part of"),
    ],
)
def test_invalid_replica_updates(ext, update, expected):
    east = ext.client("dynamodb", EAST)
    create_table(east)
    with pytest.raises(ClientError) as err:
        east.update_table(TableName=TABLE, ReplicaUpdates=[update])
    assert error_code(err) == "ValidationException"
    assert expected in str(err.value)


def test_create_existing_replica_or_table_is_rejected(ext):
    east, central = ext.client("dynamodb", EAST), ext.client("dynamodb", CENTRAL)
    ext.control.set_replication(replica_activation_calls=0)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)
    create_table(central)  # a plain table of that name already in the target region

    for region in (WEST, CENTRAL):
        with pytest.raises(ClientError) as err:
            add_replica(east, region)
        assert error_code(err) == "ValidationException"
        assert "already existed" in str(err.value)


def test_stream_of_another_view_type_is_kept(ext):
    east = ext.client("dynamodb", EAST)
    request_stream = {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    create_table(east)
    east.update_table(TableName=TABLE, StreamSpecification=request_stream)
    created = add_replica(east, WEST)
    assert created["StreamSpecification"] == request_stream


def test_stream_cannot_be_disabled_on_a_replica(ext):
    east = ext.client("dynamodb", EAST)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)
    with pytest.raises(ClientError) as err:
        east.update_table(TableName=TABLE, StreamSpecification={"StreamEnabled": False})
    assert error_code(err) == "ValidationException"


def test_provisioned_table_needs_write_autoscaling(ext):
    east = ext.client("dynamodb", EAST)
    create_table(east, billing_mode="PROVISIONED", read_capacity=5, write_capacity=5)
    with pytest.raises(ClientError) as err:
        add_replica(east, WEST)
    assert error_code(err) == "ValidationException"
    assert "Pay-Per-Request or AutoScaled" in str(err.value)
    autoscale_writes(ext.client("application-autoscaling", EAST))
    assert add_replica(east, WEST)["TableStatus"] == "UPDATING"


def test_replica_updates_cannot_be_combined(ext):
    east = ext.client("dynamodb", EAST)
    create_table(east)
    with pytest.raises(ClientError) as err:
        east.update_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            ReplicaUpdates=[{"Create": {"RegionName": WEST}}],
        )
    assert error_code(err) == "ValidationException"


def test_missing_table(ext):
    east = ext.client("dynamodb", EAST)
    with pytest.raises(ClientError) as err:
        add_replica(east, WEST, name="nope")
    assert error_code(err) == "ResourceNotFoundException"


def test_billing_and_index_changes_reach_every_replica(ext):
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    ext.control.set_replication(replica_activation_calls=0)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)

    east.update_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "text", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "TextIndex",
                    "KeySchema": [{"AttributeName": "text", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            }
        ],
    )

    assert "TextIndex" in {i["IndexName"] for i in describe(west)["GlobalSecondaryIndexes"]}


def test_read_capacity_override_needs_provisioned_billing(ext):
    east = ext.client("dynamodb", EAST)
    ext.control.set_replication(replica_activation_calls=0)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)
    with pytest.raises(ClientError) as err:
        east.update_table(
            TableName=TABLE,
            ReplicaUpdates=[
                {
                    "Update": {
                        "RegionName": WEST,
                        "ProvisionedThroughputOverride": {"ReadCapacityUnits": 10},
                    }
                }
            ],
        )
    assert error_code(err) == "ValidationException"
    assert "PAY_PER_REQUEST" in str(err.value)
    assert describe(east)["Replicas"][0]["ReplicaStatus"] == "ACTIVE"
