"""The moto server fixture: answers on 127.0.0.1, resets between tests, has the extension."""

from __future__ import annotations

import os

import boto3
import pytest

from forumdb.aws import client_config
from harness.motoserver import MotoServer, extension_available

TABLE = {
    "TableName": "harness-probe",
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


def test_env_names_the_server_and_fake_credentials(moto_server: MotoServer) -> None:
    env = moto_server.env
    assert env["AWS_ENDPOINT_URL"] == moto_server.url
    assert moto_server.url.startswith("http://127.0.0.1:")
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_REGION"] == "us-east-1"


def test_aws_fixture_points_boto3_at_the_server(aws: MotoServer) -> None:
    assert os.environ["AWS_ENDPOINT_URL"] == aws.url
    dynamodb = boto3.client("dynamodb")  # no endpoint given: it comes from the environment
    dynamodb.create_table(**TABLE)
    assert dynamodb.list_tables()["TableNames"] == ["harness-probe"]


def test_reset_forgets_tables_in_every_region(aws: MotoServer) -> None:
    for region in ("us-east-1", "eu-west-1"):
        boto3.client("dynamodb", region_name=region).create_table(**TABLE)
    aws.reset()
    for region in ("us-east-1", "eu-west-1"):
        assert boto3.client("dynamodb", region_name=region).list_tables()["TableNames"] == []


@pytest.mark.skipif(
    not extension_available(), reason="forumdb_emulator (the dev extra) is not installed"
)
def test_extension_control_injects_throttling_and_reset_clears_it(aws: MotoServer) -> None:
    assert aws.extended
    dynamodb = boto3.client("dynamodb", config=client_config(max_attempts=1))
    aws.control.set_fault(region="us-east-1", operation="ListTables", throttle_rate=1.0)
    with pytest.raises(dynamodb.exceptions.ClientError, match=r"Throttl|ProvisionedThroughput"):
        dynamodb.list_tables()
    aws.reset()
    assert dynamodb.list_tables()["TableNames"] == []
