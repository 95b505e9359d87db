"""The client-side rate limiter (issue 14): a token bucket per region and API, shared by every
client, keeps the operator under AWS's documented per-account rates (which the emulator
enforces: ThrottlingException past 10 ListTagsOfResource calls a second)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from forumdb.tables import create_table_request, table_def
from forumdb_operator import ratelimit
from forumdb_operator.awsclients import Clients


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_bucket_spaces_calls_at_its_rate_and_saves_no_more_than_its_burst():
    clock = FakeClock()
    bucket = ratelimit.TokenBucket(4.0, 1.0, clock, clock.sleep)
    waits = [bucket.take() for _ in range(5)]
    assert waits == [0.0, 0.25, 0.25, 0.25, 0.25]
    clock.now += 60  # idle for a minute: one call at once, then the rate again
    assert [bucket.take() for _ in range(3)] == [0.0, 0.25, 0.25]


def test_the_limiter_uses_the_documented_limits_with_headroom_per_region_and_api():
    clock = FakeClock()
    limiter = ratelimit.RateLimiter(clock=clock, sleep=clock.sleep)
    assert limiter.limit("dynamodb", "ListTagsOfResource") == 10 * ratelimit.HEADROOM
    assert limiter.limit("dynamodb", "TagResource") == 5 * ratelimit.HEADROOM
    assert limiter.limit("dynamodb", "DescribeTable") is None
    for _ in range(20):
        limiter.take("us-east-1", "dynamodb", "DescribeTable")  # no documented limit
    limiter.take("us-east-1", "dynamodb", "TagResource")
    limiter.take("us-west-2", "dynamodb", "TagResource")  # another region's bucket
    assert clock.slept == []
    limiter.take("us-east-1", "dynamodb", "TagResource")
    assert clock.slept == [1 / (5 * ratelimit.HEADROOM)]


def test_many_threads_listing_tags_stay_under_the_emulators_rate_limit(ext: Any):
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    arn = ddb.create_table(**create_table_request(table_def("users"), "forum-Users"))[
        "TableDescription"
    ]["TableArn"]
    limiter = ratelimit.RateLimiter()
    clients = Clients(limiter=limiter)
    before = ext.stats()["injected"].get("rate_limited", 0)

    def list_tags(_: int) -> None:
        clients("dynamodb", "us-east-1").list_tags_of_resource(ResourceArn=arn)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(list_tags, range(30)))
    assert ext.stats()["injected"].get("rate_limited", 0) == before
    assert limiter.waited > 0  # 30 calls at 8 a second: the bucket made them wait
