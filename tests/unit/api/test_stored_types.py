"""Records written by other tools (a restored backup, a script) may hold DynamoDB types the
API never writes itself: Binary, and string, number and binary sets. They must still read
as JSON, and survive an update of another field with their DynamoDB type unchanged."""

from __future__ import annotations

import base64
from typing import Any

import boto3
import pytest

from .conftest import REGION, TABLE_PREFIX, Forum, create_tables, dynamo_watcher, forum_of

USERS_TABLE = TABLE_PREFIX + "Users"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


@pytest.fixture
def forum(mocked_aws: None) -> Forum:
    """Only DynamoDB holds binary values and sets."""
    create_tables()
    return forum_of("dynamodb", dynamo_watcher)


@pytest.fixture
def client(forum: Forum) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


ITEM = {
    "userId": {"N": "77"},
    "username": {"S": "marceline"},
    "avatar": {"B": b"\x89PNG\x00\xff"},
    "keys": {"BS": [b"\x02", b"\x01\xfe"]},
    "tags": {"SS": ["vampire", "queen"]},
    "scores": {"NS": ["3", "1.5", "10"]},
    "extra": {"M": {"blob": {"B": b"\x00"}, "list": {"L": [{"B": b"\x01"}, {"N": "2"}]}}},
}


def test_binary_values_and_sets_read_as_json(forum: Forum, client: Any) -> None:
    client.put_item(TableName=USERS_TABLE, Item=ITEM)
    response = forum.users.get("/api/users/77")
    assert response.status_code == 200, response.get_data(as_text=True)
    user = response.get_json()
    assert user["avatar"] == _b64(b"\x89PNG\x00\xff")
    assert user["keys"] == sorted([_b64(b"\x02"), _b64(b"\x01\xfe")])
    assert user["tags"] == ["queen", "vampire"]
    assert user["scores"] == [1.5, 3, 10]
    assert user["extra"] == {"blob": _b64(b"\x00"), "list": [_b64(b"\x01"), 2]}

    listed = forum.users.get("/api/users")
    assert listed.status_code == 200
    assert listed.get_json()[0]["avatar"] == _b64(b"\x89PNG\x00\xff")


def test_an_update_keeps_the_stored_types(forum: Forum, client: Any) -> None:
    client.put_item(TableName=USERS_TABLE, Item=ITEM)
    patched = forum.users.patch("/api/users/77", json={"bio": "rocks"})
    assert patched.status_code == 200, patched.get_data(as_text=True)
    assert patched.get_json()["avatar"] == _b64(b"\x89PNG\x00\xff")
    stored = client.get_item(TableName=USERS_TABLE, Key={"userId": {"N": "77"}})["Item"]
    assert stored["bio"] == {"S": "rocks"}
    for name in ("avatar", "extra"):
        assert stored[name] == ITEM[name]
    assert sorted(stored["keys"]["BS"]) == sorted(ITEM["keys"]["BS"])
    assert sorted(stored["tags"]["SS"]) == sorted(ITEM["tags"]["SS"])
    assert sorted(float(n) for n in stored["scores"]["NS"]) == [1.5, 3, 10]
