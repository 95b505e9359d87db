"""TransactWriteItems: all or nothing (TransactWriteItems API reference: "either all of them
succeed or none of them do"), without moto's copy of every table it names on each call
(forumdb_emulator.transactions)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from forumdb.tables import POSTS, create_table_request
from forumdb_emulator import mock_aws_ext
from harness.emulator_support import ACCOUNT, EAST, TABLE, create_table, key, post


def items(client: Any) -> list[dict[str, Any]]:
    found = client.scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return sorted(found, key=lambda it: (it["postId"]["N"], it["threadId"]["N"]))


def put(post_id: int, **condition: Any) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": post(post_id), **condition}}


def update(post_id: int, text: str) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": key(post_id),
            "UpdateExpression": "SET #t = :t",
            "ExpressionAttributeNames": {"#t": "text"},
            "ExpressionAttributeValues": {":t": {"S": text}},
        }
    }


def delete(post_id: int) -> dict[str, Any]:
    return {"Delete": {"TableName": TABLE, "Key": key(post_id)}}


MISSING = {"ConditionExpression": "attribute_not_exists(postId)"}


@pytest.fixture
def table(ext: Any) -> Any:
    client = ext.client("dynamodb", EAST)
    create_table(client)
    for post_id in (1, 2, 3):
        client.put_item(TableName=TABLE, Item=post(post_id))
    return client


def test_a_failed_condition_cancels_every_write_before_and_after_it(table: Any) -> None:
    before = items(table)
    with pytest.raises(ClientError) as err:
        table.transact_write_items(
            TransactItems=[put(10), update(1, "changed"), delete(2), put(3, **MISSING), put(11)]
        )
    assert err.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [r["Code"] for r in err.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed", "None"]
    assert items(table) == before


def test_a_validation_error_midway_leaves_nothing_written(table: Any) -> None:
    before = items(table)
    bad_key = {"Put": {"TableName": TABLE, "Item": {**post(12), "threadId": {"S": "one"}}}}
    with pytest.raises(ClientError) as err:
        table.transact_write_items(TransactItems=[put(10), update(1, "changed"), bad_key])
    assert err.value.response["Error"]["Code"] in (
        "ValidationException",
        "TransactionCanceledException",
    )
    assert items(table) == before


def test_the_same_item_twice_is_refused_with_nothing_written(table: Any) -> None:
    before = items(table)
    with pytest.raises(ClientError) as err:
        table.transact_write_items(TransactItems=[put(10), update(1, "x"), delete(1)])
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert items(table) == before


def test_a_transaction_that_succeeds_writes_everything(table: Any) -> None:
    table.transact_write_items(TransactItems=[put(10, **MISSING), update(1, "changed"), delete(2)])
    found = {it["postId"]["N"]: it for it in items(table)}
    assert sorted(found) == ["1", "10", "3"]
    assert found["1"]["text"] == {"S": "changed"}


def test_no_table_is_copied_and_a_cancelled_transaction_keeps_the_tables_and_streams(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """moto copies every table a transaction names on each call (its cost grows with the
    table); the emulator copies the items it writes. The table objects stay in place (the
    emulator keeps PITR change logs on them) and a cancelled transaction adds no stream
    record."""
    with mock_aws_ext() as _:
        import boto3

        client = boto3.client("dynamodb", region_name=EAST)
        client.create_table(
            **create_table_request(POSTS, TABLE),
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        for post_id in range(1, 50):
            client.put_item(TableName=TABLE, Item=post(post_id))
        moto_table = dynamodb_backends[ACCOUNT][EAST].tables[TABLE]
        streamed = len(moto_table.stream_shard.items)

        def no_copy(self: Table, memo: dict[int, Any]) -> Table:
            raise AssertionError("TransactWriteItems copied a whole table")

        monkeypatch.setattr(Table, "__deepcopy__", no_copy, raising=False)
        snapshot = [copy.deepcopy(it) for it in items(client)]
        with pytest.raises(ClientError):
            client.transact_write_items(
                TransactItems=[put(100), update(1, "changed"), delete(2), put(3, **MISSING)]
            )
        assert dynamodb_backends[ACCOUNT][EAST].tables[TABLE] is moto_table
        assert len(moto_table.stream_shard.items) == streamed
        assert items(client) == snapshot
        client.transact_write_items(TransactItems=[put(100, **MISSING), delete(2)])
        assert len(moto_table.stream_shard.items) == streamed + 2
