"""Fault injection per region and operation: throttling, 5xx, latency, regional outage."""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError, EndpointConnectionError

from forumdb_emulator import hooks
from harness.emulator_support import (
    EAST,
    TABLE,
    WEST,
    add_replica,
    create_table,
    error_code,
    key,
    post,
    wait_settled,
)


def test_low_throttle_rate_is_survived_by_retries(ext):
    dynamodb = ext.client("dynamodb", EAST)  # standard retry mode, 8 retries
    create_table(dynamodb)
    ext.control.set_fault(
        region=EAST, service="dynamodb", operation="PutItem", throttle_rate=0.3, seed=7
    )

    retries = sum(
        dynamodb.put_item(TableName=TABLE, Item=post(n))["ResponseMetadata"]["RetryAttempts"]
        for n in range(30)
    )

    assert dynamodb.scan(TableName=TABLE, Select="COUNT")["Count"] == 30
    throttled = ext.control.stats()["injected"]["throttle"]
    assert throttled > 0
    assert retries == throttled  # every injected throttle cost exactly one retry


@pytest.mark.parametrize(
    ("service", "call", "kind", "code", "status"),
    [
        ("dynamodb", "scan", "throttle", "ProvisionedThroughputExceededException", 400),
        ("dynamodb", "describe_table", "throttle", "ThrottlingException", 400),
        ("dynamodb", "scan", "error", "InternalServerError", 500),
        ("backup", "list_backup_vaults", "throttle", "ThrottlingException", 400),
        ("backup", "list_backup_vaults", "error", "ServiceUnavailable", 503),
        ("sns", "list_topics", "throttle", "ThrottlingException", 400),
        ("cloudwatch", "describe_alarms", "error", "ServiceUnavailable", 503),
        ("kms", "list_keys", "throttle", "ThrottlingException", 400),
    ],
)
def test_each_fault_kind_returns_the_aws_error(ext, service, call, kind, code, status):
    create_table(ext.client("dynamodb", EAST))
    client = ext.client(service, EAST, retries=0)
    kwargs = {"TableName": TABLE} if service == "dynamodb" else {}
    ext.control.fail_next(1, kind=kind, region=EAST, service=service)

    with pytest.raises(ClientError) as err:
        getattr(client, call)(**kwargs)

    assert error_code(err) == code
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    getattr(client, call)(**kwargs)  # only the next call was to fail


@pytest.mark.parametrize("kind", ["throttle", "error"])
def test_retries_ride_out_a_burst_of_failures(ext, kind):
    dynamodb = ext.client("dynamodb", EAST, retries=8)
    create_table(dynamodb)
    ext.control.fail_next(3, kind=kind, operation="PutItem")

    response = dynamodb.put_item(TableName=TABLE, Item=post(1))

    assert response["ResponseMetadata"]["RetryAttempts"] == 3
    assert dynamodb.get_item(TableName=TABLE, Key=key(1))["Item"] == post(1)


def test_retries_give_up_when_throttling_persists(ext):
    dynamodb = ext.client("dynamodb", EAST, retries=2)
    create_table(dynamodb)
    ext.control.set_fault(operation="PutItem", throttle_rate=1.0)
    with pytest.raises(ClientError) as err:
        dynamodb.put_item(TableName=TABLE, Item=post(1))
    assert error_code(err) == "ProvisionedThroughputExceededException"
    assert err.value.response["ResponseMetadata"]["RetryAttempts"] == 2


def test_faults_are_scoped_to_region_and_operation(ext):
    east, west = ext.client("dynamodb", EAST, retries=0), ext.client("dynamodb", WEST, retries=0)
    create_table(east)
    create_table(west)
    ext.control.set_fault(region=EAST, operation="PutItem", throttle_rate=1.0)

    with pytest.raises(ClientError):
        east.put_item(TableName=TABLE, Item=post(1))
    west.put_item(TableName=TABLE, Item=post(1))  # other region
    east.get_item(TableName=TABLE, Key=key(1))  # other operation
    ext.control.clear_faults()
    east.put_item(TableName=TABLE, Item=post(1))


def test_a_seed_makes_failures_repeatable(ext):
    client = ext.client("dynamodb", EAST, retries=0)

    def outcomes() -> list[bool]:
        ext.control.clear_faults()
        ext.control.set_fault(operation="ListTables", throttle_rate=0.5, seed=1234)
        results = []
        for _ in range(20):
            try:
                client.list_tables()
                results.append(True)
            except ClientError:
                results.append(False)
        return results

    first = outcomes()
    assert first == outcomes()
    assert True in first
    assert False in first


def test_added_latency(ext, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(hooks, "_sleep", slept.append)  # in-process only; the server sleeps
    dynamodb = ext.client("dynamodb", EAST)
    create_table(dynamodb)
    ext.control.set_fault(region=EAST, operation="GetItem", latency_ms=40)

    for _ in range(3):
        dynamodb.get_item(TableName=TABLE, Key=key(1))
    dynamodb.describe_table(TableName=TABLE)  # not delayed

    injected = ext.control.stats()["injected"]
    assert injected["delayed"] == 3
    assert injected["latency_ms"] == 120
    if ext.mode == "inprocess":
        assert slept == [0.04, 0.04, 0.04]


def test_region_outage_fails_every_call_there_until_lifted(ext):
    east, west = ext.client("dynamodb", EAST), ext.client("dynamodb", WEST, retries=2)
    ext.control.set_replication(replica_activation_calls=0)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)

    ext.control.region_outage(WEST)
    with pytest.raises((EndpointConnectionError, ClientError)) as err:
        west.describe_table(TableName=TABLE)
    if ext.mode == "inprocess":
        assert isinstance(err.value, EndpointConnectionError)
    else:
        assert error_code(err) == "ServiceUnavailable"
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert ext.control.stats()["injected"]["outage"] == 3  # botocore retried twice
    east.put_item(TableName=TABLE, Item=post(1))  # the other region works

    assert ext.control.region_outage(WEST, down=False) == {"regions_down": []}
    assert west.get_item(TableName=TABLE, Key=key(1))["Item"] == post(1)


def test_control_is_never_faulted(ext):
    ext.control.set_fault(throttle_rate=1.0)
    ext.control.region_outage(EAST)
    assert ext.control.stats()["regions_down"] == [EAST]
    ext.control.reset()
    ext.client("dynamodb", EAST, retries=0).list_tables()


def test_reset_clears_the_extension_and_moto(ext):
    east = ext.client("dynamodb", EAST)
    ext.control.set_replication(lag_seconds=60, replica_activation_calls=9)
    create_table(east)
    add_replica(east, WEST)
    ext.control.set_fault(operation="Scan", throttle_rate=1.0)

    ext.control.reset()

    stats = ext.control.stats()
    assert stats["fault_rules"] == 0
    assert stats["global_tables"] == {}
    assert stats["injected"] == {}
    assert stats["replication"]["lag_seconds"] == 0
    assert east.list_tables()["TableNames"] == []
    assert ext.client("dynamodb", WEST).list_tables()["TableNames"] == []
    create_table(east)
    east.scan(TableName=TABLE)


def test_motos_own_reset_clears_the_extension_too(ext):
    ext.control.set_fault(operation="Scan", throttle_rate=1.0)
    assert ext.control.stats()["fault_rules"] == 1
    if ext.mode == "server":
        requests.post(f"{ext.endpoint_url}/moto-api/reset", timeout=10).raise_for_status()
    else:
        from moto.moto_api._internal import moto_api_backend

        moto_api_backend.reset()
    assert ext.control.stats()["fault_rules"] == 0
    create_table(ext.client("dynamodb", EAST))
    ext.client("dynamodb", EAST, retries=0).scan(TableName=TABLE)


def test_invalid_fault_rule_is_refused(ext):
    from pydantic import ValidationError

    from forumdb_emulator.control import ControlError

    with pytest.raises((ValidationError, ControlError), match="throttle_rate"):
        ext.control.set_fault(throttle_rate=0.8, error_rate=0.5)
