"""Retries (issue 13): waits and retryable AWS errors back off exponentially with jitter
(2 s doubling to 60 s), long operations are polled slowly, and AWS's errors are classed as
retryable or terminal by what each service's API reference says they mean."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from op_factories import spec
from test_op_loops import RecordingKube, Stop, live, ready_outcome, run, runtime
from test_op_reconcile_moto import NAME, NS

from forumdb import aws
from forumdb_operator import backoff, errors, loops, reconcile
from forumdb_operator.awsclients import Clients
from forumdb_operator.reconcile import Outcome, Reconciler

# ---------------------------------------------------------------- the back-off itself


def test_waits_double_from_the_base_up_to_the_cap_with_jitter():
    low = [backoff.delay(2.0, n, rand=lambda: 0.0) for n in range(8)]
    high = [backoff.delay(2.0, n, rand=lambda: 1.0) for n in range(8)]
    assert high == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    assert low == [h / 2 for h in high]  # equal jitter: half fixed, half random
    many = {backoff.delay(2.0, 3) for _ in range(50)}
    assert len(many) > 1  # two resources failing together do not come back together
    assert all(8.0 <= d <= 16.0 for d in many)


def test_long_operations_are_polled_slowly():
    waits = [backoff.delay(reconcile.LONG_WAIT_DELAY, n, rand=lambda: 1.0) for n in range(6)]
    assert waits[0] == 30.0
    assert max(waits) == backoff.LONG_CAP
    assert backoff.delay(3600.0, 0, rand=lambda: 1.0) == 3600.0  # a base past the cap stays


# ---------------------------------------------------------------- classification


def _error(code: str, message: str = "m", status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "Op",
    )


@pytest.mark.parametrize(
    ("code", "service", "delay"),
    [
        ("ThrottlingException", "dynamodb", errors.THROTTLE_DELAY),
        ("ThrottledException", "sns", errors.THROTTLE_DELAY),
        ("SlowDown", "backup", errors.THROTTLE_DELAY),
        ("InternalServerError", "dynamodb", errors.THROTTLE_DELAY),
        ("ResourceInUseException", "dynamodb", errors.IN_PROGRESS_DELAY),
        ("ConflictException", "backup", errors.IN_PROGRESS_DELAY),
        ("ConcurrentUpdateException", "application-autoscaling", errors.IN_PROGRESS_DELAY),
        ("LimitExceededException", "dynamodb", errors.THROTTLE_DELAY),
    ],
)
def test_retryable_answers_start_short(code: str, service: str, delay: float):
    err = errors.classify(_error(code), "x", "us-east-1", service=service)
    assert isinstance(err, errors.TransientError)
    assert err.delay == delay


def test_a_capacity_decrease_beyond_the_days_allowance_waits_an_hour():
    msg = (
        "Subscriber limit exceeded: Provisioned throughput decreases are limited within a "
        "given UTC day"
    )
    err = errors.classify(_error("LimitExceededException", msg), "x", "r", service="dynamodb")
    assert isinstance(err, errors.TransientError)
    assert err.delay == errors.DECREASE_LIMIT_DELAY
    assert "UTC day" in str(err)


@pytest.mark.parametrize(
    ("code", "service"),
    [
        ("LimitExceededException", "application-autoscaling"),
        ("LimitExceededException", "backup"),
        ("LimitExceededFault", "cloudwatch"),
        ("TopicLimitExceeded", "sns"),
    ],
)
def test_account_quotas_are_terminal_with_the_way_out(code: str, service: str):
    err = errors.classify(_error(code), "put x", "eu-west-1", service=service)
    assert isinstance(err, errors.PermanentError)
    assert "eu-west-1" in str(err)
    if code == "LimitExceededException":
        assert err.reason == "QuotaExceeded"
        assert "Service Quotas" in str(err)


# ---------------------------------------------------------------- the reconcile loop


def _waiting(applied: bool = False) -> Outcome:
    out = ready_outcome()
    out.status["phase"] = "Provisioning"
    out.requeue_after = reconcile.WAIT_DELAY
    if applied:
        out.applied = [object()]  # type: ignore[list-item]
    return out


def test_the_loop_backs_off_while_waiting_and_starts_again_after_progress(monkeypatch):
    """Looks in a row without progress wait longer each time (jittered); an applied action
    starts again from the base; a settled resource waits the drift interval."""
    script = [
        _waiting(),
        _waiting(),
        _waiting(),
        _waiting(applied=True),
        _waiting(),
        ready_outcome(),
    ]
    waits: list[float] = []
    kube, stop = RecordingKube(), Stop()
    monkeypatch.setattr(backoff.random, "random", lambda: 1.0)

    async def no_sleep(wake: Any, stopped: Any, delay: float, poke: Any = None) -> None:
        waits.append(delay)
        if len(waits) > len(script):
            stop.set = True
        await asyncio.sleep(0)

    monkeypatch.setattr(loops, "sleep", no_sleep)
    it = iter(script)

    def scripted(**_: Any) -> Outcome:
        return next(it)

    run(loops.reconcile_loop(runtime(kube, scripted), {}, live(), stop, lambda *a: None))
    # the first sleep (0) is the loop's start
    assert waits[1:] == [2.0, 4.0, 8.0, 2.0, 4.0, 3600.0]


# ---------------------------------------------------------------- against the emulator


def test_throttling_that_outlasts_the_clients_retries_is_retried_soon_then_longer(ext):
    """DescribeTable throttled past botocore's own retries: a transient outcome whose first
    wait is seconds (not a fixed 30 s), which the loop then doubles."""
    ext.set_fault(service="dynamodb", operation="DescribeTable", throttle_rate=1.0)
    # two client retries, not the default eight: botocore's backoff between eight throttled
    # tries took most of a minute, and what is tested is the outcome once they are spent
    clients = Clients(config=aws.client_config(max_attempts=2))
    out = Reconciler(clients).reconcile(
        namespace=NS, name=NAME, spec=spec(replicaRegions=[]), generation=1
    )
    assert out.phase == "Provisioning", out.status["message"]
    assert out.requeue_after == errors.THROTTLE_DELAY
    assert any(c["reason"] == "Retrying" for c in out.status["conditions"])


def hold_data(region: str, tables: list[str]) -> None:
    """One item in each table: DescribeTable's ItemCount and TableSizeBytes are no longer 0."""
    ddb = boto3.client("dynamodb", region_name=region)
    for name in tables:
        desc = ddb.describe_table(TableName=name)["Table"]
        types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}
        key = {k["AttributeName"]: {types[k["AttributeName"]]: "1"} for k in desc["KeySchema"]}
        ddb.put_item(TableName=name, Item=key)


def test_a_replica_making_its_first_copy_is_polled_slowly(ext):
    """Replica CREATING of a table that holds data (AWS: minutes to hours for a big table),
    nothing else to do: the reconcile asks to look again in LONG_WAIT_DELAY, not every few
    seconds. (An empty table's replica is polled at the short wait: test_op_call_budget.)"""
    ext.set_replication(replica_activation_seconds=600.0)
    r = Reconciler(Clients())
    raw = spec(backups=None, alarms=None, pointInTimeRecovery=None)
    out = None
    previous: dict[str, Any] = {}
    for _ in range(40):
        out = r.reconcile(namespace=NS, name=NAME, spec=raw, generation=1, previous=previous)
        if not previous:
            assert out.desired is not None
            hold_data(raw["primaryRegion"], [t.name for t in out.desired.tables])
        previous = out.status
        if out.requeue_after == reconcile.LONG_WAIT_DELAY:
            break
        time.sleep(0.25)
    assert out is not None
    assert out.requeue_after == reconcile.LONG_WAIT_DELAY, out.status.get("message")
    assert "CREATING" in out.status["message"]
