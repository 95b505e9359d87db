"""Helpers for the moto extension's tests: forumdb's Posts layout, items, polling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from forumdb.tables import POSTS, create_table_request

T = TypeVar("T")

ACCOUNT = "123456789012"
EAST, WEST, CENTRAL = "us-east-1", "us-west-2", "eu-central-1"
TABLE = "forum-Posts"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/forumdb-backup"
TESTS_DIR = Path(__file__).resolve().parents[2]
READY_PREFIX = "forumdb-moto ready on "


def create_table(client: Any, name: str = TABLE, **options: Any) -> dict[str, Any]:
    """A table of forumdb's Posts layout (hash + range key, two GSIs)."""
    return client.create_table(**create_table_request(POSTS, name, **options))["TableDescription"]


def post(post_id: int, thread_id: int = 1, text: str = "hello") -> dict[str, Any]:
    return {
        "postId": {"N": str(post_id)},
        "threadId": {"N": str(thread_id)},
        "userId": {"N": "4"},
        "createdAt": {"S": f"2026-01-01T00:00:{post_id % 60:02d}Z"},
        "text": {"S": text},
    }


def key(post_id: int, thread_id: int = 1) -> dict[str, Any]:
    return {"postId": {"N": str(post_id)}, "threadId": {"N": str(thread_id)}}


def describe(client: Any, name: str = TABLE) -> dict[str, Any]:
    return client.describe_table(TableName=name)["Table"]


def wait_settled(client: Any, name: str = TABLE, timeout: float = 30.0) -> dict[str, Any]:
    """DescribeTable until the table and every replica it lists are ACTIVE (each call counts
    toward replica progress in calls mode; in seconds mode time passes between calls)."""
    deadline = time.monotonic() + timeout
    table: dict[str, Any] = {}
    while time.monotonic() < deadline:
        table = describe(client, name)
        replicas = [r["ReplicaStatus"] for r in table.get("Replicas", [])]
        if table["TableStatus"] == "ACTIVE" and all(s == "ACTIVE" for s in replicas):
            return table
        time.sleep(0.05)
    raise AssertionError(
        f"{name} still {table.get('TableStatus')} (replicas {table.get('Replicas')}) after "
        f"{timeout} s"
    )


POLL_SECONDS = 0.15  # under DynamoDB's 10/s per-account limit of the calls polled most


def wait_until(check: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Call `check` until it returns something other than None (or False); fail naming `what`.
    Polls at most ~7 times a second, below AWS's API rate limits (the emulator holds them)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not so after {timeout} s")
        time.sleep(POLL_SECONDS)


def enable_pitr(client: Any, name: str = TABLE, timeout: float = 30.0) -> dict[str, Any]:
    """UpdateContinuousBackups as a client must on AWS: a table just created answers
    ContinuousBackupsUnavailableException for a few seconds, so try again until it works."""
    from botocore.exceptions import ClientError

    def enabled() -> dict[str, Any] | None:
        try:
            return client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "ContinuousBackupsUnavailableException":
                raise
            return None

    return wait_until(enabled, f"PITR enabled on {name}", timeout)


def add_replica(client: Any, region: str, name: str = TABLE, **spec: Any) -> dict[str, Any]:
    return client.update_table(
        TableName=name, ReplicaUpdates=[{"Create": {"RegionName": region, **spec}}]
    )["TableDescription"]


def autoscale_writes(
    autoscaling: Any, name: str = TABLE, indexes: tuple[str, ...] = ("ThreadIndex", "UserIndex")
) -> None:
    """Write capacity auto scaling (a scalable target and a target-tracking policy) on the
    table and its GSIs, which a PROVISIONED table needs before it gets a replica."""
    resources = [(f"table/{name}", "dynamodb:table:WriteCapacityUnits")] + [
        (f"table/{name}/index/{index}", "dynamodb:index:WriteCapacityUnits") for index in indexes
    ]
    for resource_id, dimension in resources:
        autoscaling.register_scalable_target(
            ServiceNamespace="dynamodb",
            ResourceId=resource_id,
            ScalableDimension=dimension,
            MinCapacity=5,
            MaxCapacity=50,
        )
        autoscaling.put_scaling_policy(
            PolicyName=f"{resource_id}-writes",
            ServiceNamespace="dynamodb",
            ResourceId=resource_id,
            ScalableDimension=dimension,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 70.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "DynamoDBWriteCapacityUtilization"
                },
            },
        )


def error_code(exc_info: Any) -> str:
    return exc_info.value.response["Error"]["Code"]


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    url: str

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=5)


def start_server() -> ServerProcess:
    """`python -m forumdb_emulator.server` on a free port; waits for its ready line."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "forumdb_emulator.server", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until the ready line, or EOF if it died
    if not line.startswith(READY_PREFIX):
        process.kill()
        raise RuntimeError(f"moto extension server did not start: {line!r}")
    return ServerProcess(process, line[len(READY_PREFIX) :].strip())
