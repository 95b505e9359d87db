"""The server module and the control transport; the patches stay inert outside the extension."""

from __future__ import annotations

import signal

import boto3
import pytest
import requests
from moto import mock_aws

from forumdb_emulator import mock_aws_ext
from forumdb_emulator.control import CONTROL_PREFIX, ControlError, ExtControl
from harness.emulator_support import (
    EAST,
    TABLE,
    WEST,
    add_replica,
    create_table,
    describe,
    start_server,
    wait_settled,
)


def test_server_announces_itself_and_exits_cleanly_on_sigterm():
    server = start_server()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        assert ExtControl(server.url).stats()["regions_down"] == []
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=10) == 0
    finally:
        server.stop()


def test_control_errors_name_the_operation(ext_server):
    control = ExtControl(ext_server.url)
    with pytest.raises(ControlError, match="unknown control operation 'nope'"):
        control._call("nope")
    with pytest.raises(ControlError, match="400"):
        control.set_fault(throttle_rate=2.0)
    assert requests.get(f"{ext_server.url}{CONTROL_PREFIX}/stats", timeout=5).status_code == 405


def test_unreachable_server_is_a_control_error():
    with pytest.raises(ControlError, match="stats"):
        ExtControl("http://127.0.0.1:9", timeout=1).stats()


def test_plain_mock_aws_keeps_moto_behaviour():
    with mock_aws_ext():
        pass  # installs the patches in this process
    with mock_aws():
        east = boto3.client("dynamodb", region_name=EAST)
        create_table(east)
        add_replica(east, WEST)  # moto accepts and ignores it
        table = describe(east)
        assert "Replicas" not in table
        assert boto3.client("dynamodb", region_name=WEST).list_tables()["TableNames"] == []
        with pytest.raises(NotImplementedError):
            boto3.client("backup", region_name=EAST).list_backup_jobs()
        assert table["TableName"] == TABLE


@mock_aws_ext()
def _replicas_inside_a_decorated_function() -> list[str]:
    east = boto3.client("dynamodb", region_name=EAST)
    create_table(east)
    add_replica(east, WEST)
    return [r["RegionName"] for r in wait_settled(east)["Replicas"]]


def test_mock_aws_ext_works_as_a_decorator():
    assert _replicas_inside_a_decorated_function() == [WEST]
