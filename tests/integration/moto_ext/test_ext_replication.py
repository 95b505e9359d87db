"""Writes in any replica region reach the others: at once with lag 0, later with a lag."""

from __future__ import annotations

import time

import pytest

from harness.emulator_support import (
    CENTRAL,
    EAST,
    TABLE,
    WEST,
    add_replica,
    create_table,
    key,
    post,
    wait_settled,
)


@pytest.fixture
def replicated(ext):
    """forum-Posts in us-east-1 with ACTIVE replicas in us-west-2 and eu-central-1."""
    ext.control.set_replication(replica_activation_calls=0, lag_seconds=0)
    east = ext.client("dynamodb", EAST)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)
    add_replica(east, CENTRAL)
    wait_settled(east)
    return ext


@pytest.fixture(autouse=True)
def _no_entry_delay(ext):
    """These tests are about what replica changes do, driven by DescribeTable calls; when AWS
    shows them is tests/integration/emulator/test_conformance_global_tables.py's subject."""
    ext.control.configure(replica_entry_delay_seconds=0, replica_region_linger_seconds=0)


def item(client, post_id, thread_id=1):
    return client.get_item(TableName=TABLE, Key=key(post_id, thread_id)).get("Item")


def test_every_write_call_replicates_with_lag_zero(replicated):
    east, west, central = (replicated.client("dynamodb", r) for r in (EAST, WEST, CENTRAL))

    east.put_item(TableName=TABLE, Item=post(1))
    east.update_item(
        TableName=TABLE,
        Key=key(1),
        UpdateExpression="SET #t = :t",
        ExpressionAttributeNames={"#t": "text"},
        ExpressionAttributeValues={":t": {"S": "edited"}},
    )
    east.batch_write_item(
        RequestItems={TABLE: [{"PutRequest": {"Item": post(n)}} for n in (2, 3, 4)]}
    )
    east.batch_write_item(RequestItems={TABLE: [{"DeleteRequest": {"Key": key(4)}}]})
    east.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": post(5)}},
            {"Delete": {"TableName": TABLE, "Key": key(3)}},
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": key(2),
                    "UpdateExpression": "SET #t = :t",
                    "ExpressionAttributeNames": {"#t": "text"},
                    "ExpressionAttributeValues": {":t": {"S": "in a transaction"}},
                }
            },
        ]
    )
    east.put_item(TableName=TABLE, Item=post(6))
    east.delete_item(TableName=TABLE, Key=key(6))

    for replica in (west, central):
        assert item(replica, 1)["text"] == {"S": "edited"}
        assert item(replica, 2)["text"] == {"S": "in a transaction"}
        assert item(replica, 3) is None
        assert item(replica, 4) is None
        assert item(replica, 5) == post(5)
        assert item(replica, 6) is None
        # the replica's own indexes see the replicated items
        by_thread = replica.query(
            TableName=TABLE,
            IndexName="ThreadIndex",
            KeyConditionExpression="threadId = :t",
            ExpressionAttributeValues={":t": {"N": "1"}},
        )
        assert sorted(int(i["postId"]["N"]) for i in by_thread["Items"]) == [1, 2, 5]


def test_writes_in_a_replica_region_reach_the_origin(replicated):
    east, west = replicated.client("dynamodb", EAST), replicated.client("dynamodb", WEST)
    west.put_item(TableName=TABLE, Item=post(7, text="from the west"))
    assert item(east, 7)["text"] == {"S": "from the west"}
    assert item(replicated.client("dynamodb", CENTRAL), 7)["text"] == {"S": "from the west"}


def test_failed_write_replicates_nothing(replicated):
    east, west = replicated.client("dynamodb", EAST), replicated.client("dynamodb", WEST)
    east.put_item(TableName=TABLE, Item=post(8, text="v1"))
    with pytest.raises(east.exceptions.ConditionalCheckFailedException):
        east.put_item(
            TableName=TABLE,
            Item=post(8, text="v2"),
            ConditionExpression="attribute_not_exists(postId)",
        )
    assert item(west, 8)["text"] == {"S": "v1"}


def test_lag_holds_writes_back_until_due(replicated):
    east, west = replicated.client("dynamodb", EAST), replicated.client("dynamodb", WEST)
    replicated.control.set_replication(lag_seconds=3600)

    east.put_item(TableName=TABLE, Item=post(9))

    assert item(east, 9) == post(9)
    assert item(west, 9) is None
    assert replicated.control.stats()["pending_writes"] == 2  # one per other replica
    assert replicated.control.flush_replication() == {"applied": 2}
    assert item(west, 9) == post(9)


def test_short_lag_is_applied_by_later_calls(replicated):
    east, west = replicated.client("dynamodb", EAST), replicated.client("dynamodb", WEST)
    replicated.control.set_replication(lag_seconds=0.2)
    east.put_item(TableName=TABLE, Item=post(10))
    deadline = time.monotonic() + 10
    while item(west, 10) is None:  # any call applies the writes that are due
        assert time.monotonic() < deadline, "replicated write never became visible"
        time.sleep(0.05)
    assert item(west, 10) == post(10)


def test_last_writer_wins(replicated):
    east, west = replicated.client("dynamodb", EAST), replicated.client("dynamodb", WEST)
    replicated.control.set_replication(lag_seconds=3600)

    east.put_item(TableName=TABLE, Item=post(11, text="east, first"))
    west.put_item(TableName=TABLE, Item=post(11, text="west, later"))
    replicated.control.flush_replication()

    assert item(east, 11)["text"] == {"S": "west, later"}
    assert item(west, 11)["text"] == {"S": "west, later"}
    assert item(replicated.client("dynamodb", CENTRAL), 11)["text"] == {"S": "west, later"}


def test_tables_outside_a_global_table_are_not_replicated(ext):
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST)
    create_table(east)
    create_table(west)  # same name, but no replica relation
    east.put_item(TableName=TABLE, Item=post(12))
    assert item(west, 12) is None


def test_pitr_restore_in_a_replica_region_leaves_out_later_replicated_writes(replicated):
    """RestoreTableToPointInTime in a replica region gives the replica as it was at T: a write
    made in another region and replicated after T is not in the restored table."""
    east, west = replicated.client("dynamodb", EAST), replicated.client("dynamodb", WEST)
    replicated.control.configure(pitr_unavailable_seconds=0)
    west.update_continuous_backups(
        TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    east.put_item(TableName=TABLE, Item=post(1))
    time.sleep(0.05)
    moment = time.time()
    time.sleep(0.05)
    east.put_item(TableName=TABLE, Item=post(2))
    assert west.get_item(TableName=TABLE, Key=key(2))["Item"] == post(2)

    west.restore_table_to_point_in_time(
        SourceTableName=TABLE, TargetTableName="restored", RestoreDateTime=moment
    )

    items = west.scan(TableName="restored")["Items"]
    assert [i["postId"]["N"] for i in items] == ["1"]
