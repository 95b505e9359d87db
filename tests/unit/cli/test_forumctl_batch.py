"""BatchWriteItem/BatchGetItem retries: unprocessed work is resent with growing, jittered
delays, and reported loudly (never dropped) when the attempts run out."""

from __future__ import annotations

import random
from typing import Any

import pytest
from botocore.exceptions import ClientError

from forumctl.batch import RetriesExhausted, RetryPolicy, get_batch, write_batch
from forumctl.errors import ExitCode


class FlakyClient:
    """Leaves the last `leave` items of each request unprocessed, `times` times."""

    def __init__(self, times: int, leave: int = 3) -> None:
        self.times = times
        self.leave = leave
        self.calls: list[int] = []
        self.stored: dict[str, dict[str, Any]] = {}
        self.meta = type("Meta", (), {"region_name": "eu-west-1"})()

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, reqs),) = RequestItems.items()
        self.calls.append(len(reqs))
        keep = reqs[: -self.leave] if self.times > 0 else reqs
        for r in keep:
            item = r["PutRequest"]["Item"]
            self.stored[item["id"]["N"]] = item
        if self.times > 0:
            self.times -= 1
            return {"UnprocessedItems": {table: reqs[-self.leave :]}}
        return {"UnprocessedItems": {}}

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, req),) = RequestItems.items()
        keys = req["Keys"]
        self.calls.append(len(keys))
        served = keys[: -self.leave] if self.times > 0 else keys
        found = [self.stored[k["id"]["N"]] for k in served if k["id"]["N"] in self.stored]
        resp: dict[str, Any] = {"Responses": {table: found}}
        if self.times > 0:
            self.times -= 1
            resp["UnprocessedKeys"] = {table: {**req, "Keys": keys[-self.leave :]}}
        return resp


def items(n: int) -> list[dict[str, Any]]:
    return [{"id": {"N": str(i)}, "v": {"S": "x"}} for i in range(n)]


def test_unprocessed_items_are_resent_until_written() -> None:
    client, sleeps = FlakyClient(times=4), []
    assert write_batch(client, "T", items(25), sleep=sleeps.append) == 25
    assert sorted(client.stored, key=int) == [str(i) for i in range(25)]
    assert client.calls == [25, 3, 3, 3, 3]
    assert len(sleeps) == 4


def test_retries_running_out_fail_loudly_with_table_region_and_count() -> None:
    client = FlakyClient(times=100)
    policy = RetryPolicy(max_attempts=5)
    with pytest.raises(RetriesExhausted) as err:
        write_batch(client, "forum-Posts", items(10), policy=policy, sleep=lambda s: None)
    assert err.value.left == 3
    assert err.value.code == ExitCode.AWS
    text = str(err.value)
    assert "forum-Posts" in text
    assert "eu-west-1" in text
    assert "3 item(s)" in text


def test_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0)
    rng = random.Random(1)
    for attempt in range(1, 12):
        cap = min(1.0, 0.1 * 2**attempt)
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # spread over the whole range, not a constant
        assert len(set(delays)) > 150


def test_batches_above_the_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="at most 25"):
        write_batch(FlakyClient(0), "T", items(26))
    with pytest.raises(ValueError, match="at most 100"):
        get_batch(FlakyClient(0), "T", [{"id": {"N": "1"}}] * 101)


def test_unprocessed_keys_are_read_again() -> None:
    client = FlakyClient(times=0)
    write_batch(client, "T", items(20))
    client.times, client.calls = 2, []
    got = get_batch(client, "T", [{"id": {"N": str(i)}} for i in range(20)], sleep=lambda s: None)
    assert sorted(int(it["id"]["N"]) for it in got) == list(range(20))
    assert client.calls == [20, 3, 3]


class ThrottledClient(FlakyClient):
    """Raises the throttling error botocore gives up with, `times` times."""

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        if self.times > 0:
            self.times -= 1
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "BatchWriteItem",
            )
        return super().batch_write_item(RequestItems)


def test_a_request_still_throttled_after_botocore_is_retried_too() -> None:
    client, sleeps = ThrottledClient(times=3), []
    assert write_batch(client, "T", items(5), sleep=sleeps.append) == 5
    assert len(client.stored) == 5
    assert len(sleeps) == 3


def test_other_client_errors_are_not_retried() -> None:
    class Refusing(FlakyClient):
        def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "ValidationException"}}, "BatchWriteItem")

    with pytest.raises(ClientError):
        write_batch(Refusing(0), "T", items(2), sleep=lambda s: None)
