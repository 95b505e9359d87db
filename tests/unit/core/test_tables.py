"""The one table layout: names, keys, indexes and the record <-> item mapping."""

import boto3
import pytest
from moto import mock_aws

from forumdb.tables import (
    KINDS,
    POSTS,
    TABLES,
    THREADS,
    USERS,
    create_table_request,
    table_def,
    table_name,
)


def test_design_layout_keys_and_indexes():
    assert (USERS.hash_key.name, USERS.range_key) == ("userId", None)
    # DESIGN.md's EmailIndex, and SubjectIndex (issue 17: the OIDC subject owning a user)
    assert [i.name for i in USERS.indexes] == ["EmailIndex", "SubjectIndex"]
    assert USERS.index("EmailIndex").hash_key.name == "email"
    assert USERS.index("SubjectIndex").hash_key.name == "subject"
    assert THREADS.hash_key.name == "threadId"
    assert THREADS.index("CreatedAtIndex").range_key.name == "createdAt"
    assert (POSTS.hash_key.name, POSTS.range_key.name) == ("postId", "threadId")
    assert {i.name: (i.hash_key.name, i.range_key.name) for i in POSTS.indexes} == {
        "ThreadIndex": ("threadId", "createdAt"),
        "UserIndex": ("userId", "createdAt"),
    }


def test_table_names_use_prefix():
    assert table_name("users") == "forum-Users"
    assert table_name("posts", "test-") == "test-Posts"
    with pytest.raises(ValueError, match="unknown table kind 'comments'"):
        table_def("comments")


def test_record_item_round_trip_keeps_api_field_names():
    record = {"id": 7, "thread": 3, "user": 4, "text": "hi", "createdAt": "x"}
    item = POSTS.to_item(record)
    assert item == {"postId": 7, "threadId": 3, "userId": 4, "text": "hi", "createdAt": "x"}
    assert POSTS.from_item(item) == record
    assert POSTS.key_of(record) == {"postId": 7, "threadId": 3}


def test_thread_items_carry_the_feed_partition_and_hide_it_again():
    item = THREADS.to_item({"id": 1, "title": "t", "createdAt": "c"})
    assert item["entity"] == "thread"
    assert "entity" not in THREADS.from_item(item)


def test_none_fields_are_not_written():
    assert "email" not in USERS.to_item({"id": 1, "email": None})


def test_provisioned_needs_capacity():
    with pytest.raises(ValueError, match="read_capacity"):
        create_table_request(USERS, "x", billing_mode="PROVISIONED")


@mock_aws
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("billing", ["PAY_PER_REQUEST", "PROVISIONED"])
def test_create_table_request_is_accepted_by_dynamodb(kind, billing):
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    req = create_table_request(
        TABLES[kind],
        table_name(kind),
        billing_mode=billing,
        read_capacity=5 if billing == "PROVISIONED" else None,
        write_capacity=5 if billing == "PROVISIONED" else None,
        stream=True,
        kms_key="alias/forum",
        deletion_protection=True,
        tags={"owner": "forumdb"},
    )
    desc = ddb.create_table(**req)["TableDescription"]
    assert desc["TableName"] == table_name(kind)
    got = {g["IndexName"] for g in desc["GlobalSecondaryIndexes"]}
    assert got == {i.name for i in TABLES[kind].indexes}
    assert desc["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert desc["DeletionProtectionEnabled"] is True
