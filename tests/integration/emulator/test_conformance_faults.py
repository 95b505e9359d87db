"""Conformance: API rate limits, partial batches, a 5xx after the write, atomic conditional
writes, and where CloudWatch alarms start.

Every test runs in-process and through the server (the `ext` fixture), except the ones that
need one of them (named so)."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

from forumdb_emulator import ratelimits
from forumdb_emulator.state import STATE
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


class FrozenClock:
    """A monotonic clock that moves only when told (for the limiter's one-second window)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def frozen(monkeypatch):
    clock = FrozenClock()
    monkeypatch.setattr(ratelimits, "time", clock)
    return clock


def calls_until_throttled(call, attempts: int) -> tuple[int, list[str]]:
    admitted, codes = 0, []
    for _ in range(attempts):
        try:
            call()
            admitted += 1
        except ClientError as err:
            codes.append(err.response["Error"]["Code"])
    return admitted, codes


@pytest.mark.parametrize(("operation", "limit"), [("ListTagsOfResource", 10), ("TagResource", 5)])
def test_per_account_rate_limits_answer_throttling(ext, frozen, operation, limit):
    """ListTagsOfResource "up to 10 times per second, per account", TagResource "up to five
    times per second, per account" (botocore DynamoDB model, each operation's documentation);
    beyond, ThrottlingException (which botocore's retry modes retry). In-process the limiter's
    clock is frozen, so the window is exact; the server's own clock is tested below."""
    if ext.mode != "inprocess":
        pytest.skip("the frozen clock is this process's; the server runs its own")
    dynamodb = ext.client("dynamodb", EAST, retries=0)
    arn = create_table(dynamodb)["TableArn"]
    calls = {
        "ListTagsOfResource": lambda: dynamodb.list_tags_of_resource(ResourceArn=arn),
        "TagResource": lambda: dynamodb.tag_resource(
            ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}]
        ),
    }

    admitted, codes = calls_until_throttled(calls[operation], limit + 3)
    assert admitted == limit
    assert codes == ["ThrottlingException"] * 3

    frozen.now += 1.0  # the next second
    assert calls_until_throttled(calls[operation], 1) == (1, [])
    ext.control.configure(api_rate_limits=False)
    assert calls_until_throttled(calls[operation], limit + 3) == (limit + 3, [])


def test_the_server_admits_at_most_ten_list_tags_calls_per_second(ext):
    """Through the server: of a burst of ListTagsOfResource calls, any eleven admitted ones
    spanned at least a second (client-side send/receive times bound the server's)."""
    if ext.mode != "server":
        pytest.skip("the in-process limiter is tested with a frozen clock above")
    dynamodb = ext.client("dynamodb", EAST, retries=0)
    arn = create_table(dynamodb)["TableArn"]
    admitted: list[tuple[float, float]] = []
    refusals: list[str] = []
    for _ in range(25):
        sent = time.monotonic()
        try:
            dynamodb.list_tags_of_resource(ResourceArn=arn)
            admitted.append((sent, time.monotonic()))
        except ClientError as err:
            refusals.append(err.response["Error"]["Code"])
    for first, eleventh in zip(admitted, admitted[10:], strict=False):
        assert eleventh[1] - first[0] >= ratelimits.WINDOW_SECONDS
    assert set(refusals) <= {"ThrottlingException"}


def test_batch_write_item_returns_unprocessed_items(ext):
    """BatchWriteItem "is not [atomic] as a whole. If any requested operations fail because the
    table's provisioned throughput is exceeded or an internal processing failure occurs, the
    failed operations are returned in the UnprocessedItems response parameter" (BatchWriteItem,
    botocore DynamoDB model). A fault rule with unprocessed_rate makes it happen."""
    dynamodb = ext.client("dynamodb", EAST)
    create_table(dynamodb)
    ext.control.set_fault(operation="BatchWriteItem", unprocessed_rate=0.4)
    requests = [{"PutRequest": {"Item": post(i)}} for i in range(10)]

    answer = dynamodb.batch_write_item(RequestItems={TABLE: requests})

    unprocessed = answer["UnprocessedItems"][TABLE]
    assert unprocessed == requests[6:]
    written = dynamodb.scan(TableName=TABLE)["Items"]
    assert sorted(int(i["postId"]["N"]) for i in written) == list(range(6))
    ext.control.clear_faults()
    assert dynamodb.batch_write_item(RequestItems={TABLE: unprocessed})["UnprocessedItems"] == {}
    assert dynamodb.scan(TableName=TABLE)["Count"] == 10


def test_a_5xx_after_the_write_leaves_the_write_applied(ext):
    """A 5xx does not mean the write did not happen (DynamoDB error handling: "the request might
    have succeeded"; retries of conditional writes can then fail on their own write). A rule
    with fail_kind "error_after_write" applies the call, then answers InternalServerError."""
    dynamodb = ext.client("dynamodb", EAST, retries=0)
    create_table(dynamodb)
    ext.control.fail_next(1, kind="error_after_write", operation="PutItem")
    with pytest.raises(ClientError) as err:
        dynamodb.put_item(
            TableName=TABLE, Item=post(1), ConditionExpression="attribute_not_exists(postId)"
        )
    assert error_code(err) == "InternalServerError"
    assert dynamodb.get_item(TableName=TABLE, Key=key(1))["Item"] == post(1)
    with pytest.raises(ClientError) as retry:
        dynamodb.put_item(
            TableName=TABLE, Item=post(1), ConditionExpression="attribute_not_exists(postId)"
        )
    assert error_code(retry) == "ConditionalCheckFailedException"


def test_sixteen_concurrent_conditional_updates_lose_nothing(ext):
    """Conditional writes are atomic: 16 clients each read an item's version and write version+1
    on condition version = what they read; every acknowledged write is counted in the final
    version (DynamoDB condition expressions: "the write succeeds only if the condition is met",
    evaluated atomically with the write). The server runs each call under one lock, so writes to
    a table are serialised."""
    if ext.mode != "server":
        pytest.skip("concurrency through HTTP is the server's")
    dynamodb = ext.client("dynamodb", EAST, retries=0)
    create_table(dynamodb)
    dynamodb.put_item(TableName=TABLE, Item={**post(1), "version": {"N": "0"}})
    acknowledged = [0]
    refusals: list[str] = []
    count_lock = threading.Lock()

    def writer() -> None:
        for _ in range(8):
            item = dynamodb.get_item(TableName=TABLE, Key=key(1), ConsistentRead=True)["Item"]
            seen = int(item["version"]["N"])
            try:
                dynamodb.update_item(
                    TableName=TABLE,
                    Key=key(1),
                    UpdateExpression="SET version = :new",
                    ConditionExpression="version = :seen",
                    ExpressionAttributeValues={
                        ":new": {"N": str(seen + 1)},
                        ":seen": {"N": str(seen)},
                    },
                )
            except ClientError as err:
                with count_lock:
                    refusals.append(err.response["Error"]["Code"])
                continue
            with count_lock:
                acknowledged[0] += 1

    threads = [threading.Thread(target=writer) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = int(dynamodb.get_item(TableName=TABLE, Key=key(1))["Item"]["version"]["N"])
    assert acknowledged[0] >= 1
    assert final == acknowledged[0]
    assert set(refusals) <= {"ConditionalCheckFailedException"}


def test_every_call_runs_under_the_state_lock(ext, monkeypatch):
    """The serialisation the test above relies on: moto's UpdateItem runs with the emulator's
    process lock held (a deterministic check of what races cannot show every time)."""
    if ext.mode != "inprocess":
        pytest.skip("the lock is this process's")
    from moto.dynamodb.models import DynamoDBBackend

    held: list[bool] = []
    original = DynamoDBBackend.update_item

    def spy(self, *args, **kwargs):
        held.append(STATE.lock._is_owned())  # RLock: owned by this thread
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", spy)
    dynamodb = ext.client("dynamodb", EAST)
    create_table(dynamodb)
    dynamodb.update_item(
        TableName=TABLE,
        Key=key(1),
        UpdateExpression="SET version = :v",
        ExpressionAttributeValues={":v": {"N": "1"}},
    )
    assert held == [True]


def test_a_new_alarm_starts_in_insufficient_data(ext):
    """PutMetricAlarm: "When this operation creates an alarm, the alarm state is immediately set
    to INSUFFICIENT_DATA" (botocore CloudWatch model); an update leaves the state as it was."""
    cloudwatch = ext.client("cloudwatch", EAST)
    alarm = {
        "AlarmName": "forumdb/ns1/forum/forum-Posts/SystemErrors",
        "Namespace": "AWS/DynamoDB",
        "MetricName": "SystemErrors",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    cloudwatch.put_metric_alarm(**alarm)

    def state() -> str:
        (found,) = cloudwatch.describe_alarms(AlarmNames=[alarm["AlarmName"]])["MetricAlarms"]
        return found["StateValue"]

    assert state() == "INSUFFICIENT_DATA"
    cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue="ALARM", StateReason="test")
    cloudwatch.put_metric_alarm(**{**alarm, "Threshold": 5.0})
    assert state() == "ALARM"


def test_a_table_or_replica_can_be_put_into_a_state_aws_reaches_on_its_own(ext):
    """The control `table_state`: DescribeTable reports the status AWS gives a table it cannot
    serve (INACCESSIBLE_ENCRYPTION_CREDENTIALS when its KMS key is disabled, ...; botocore
    DynamoDB model, TableStatus and ReplicaStatus), in the table's region and in the Replicas
    entry of the other members; None gives the real status back."""
    east = ext.client("dynamodb", EAST)
    create_table(east)
    add_replica(east, WEST)
    wait_settled(east)
    ext.control.table_state(table=TABLE, region=WEST, status="REGION_DISABLED")
    ext.control.table_state(table=TABLE, region=EAST, status="INACCESSIBLE_ENCRYPTION_CREDENTIALS")
    desc = east.describe_table(TableName=TABLE)["Table"]
    assert desc["TableStatus"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS"
    assert [r["ReplicaStatus"] for r in desc["Replicas"]] == ["REGION_DISABLED"]
    west = ext.client("dynamodb", WEST).describe_table(TableName=TABLE)["Table"]
    assert west["TableStatus"] == "REGION_DISABLED"
    ext.control.table_state(table=TABLE, region=EAST, status=None)
    ext.control.table_state(table=TABLE, region=WEST, status=None)
    assert east.describe_table(TableName=TABLE)["Table"]["TableStatus"] == "ACTIVE"
