"""The emulator's TransactWriteItems: time per call against the size of the table (run by hand).

    .venv/bin/python bench/transact_write_bench.py [--calls 60] [--out FILE.md]

In-process, a Posts table seeded with N items (1,000 and 10,000); then calls of the kind the
services make on every create of a post (the post and its guard item, both conditional),
half of them cancelled by a taken id. Measured with moto's own TransactWriteItems (which
copies every table it names on each call) and with the emulator's
(forumdb_emulator.transactions: copies only the items it writes). Goal: the emulator's time
per call does not grow with N.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend

from forumdb.tables import POSTS, create_table_request
from forumdb_emulator import mock_aws_ext, transactions

SIZES = (1_000, 10_000)
TABLE = "bench-Posts"


def seed(client: Any, count: int) -> None:
    for start in range(0, count, 25):
        requests = [
            {
                "PutRequest": {
                    "Item": {
                        "postId": {"N": str(i)},
                        "threadId": {"N": str(1 + i % 50)},
                        "userId": {"N": "1"},
                        "createdAt": {"S": "2026-01-01T00:00:00Z"},
                        "text": {"S": "x" * 200},
                    }
                }
            }
            for i in range(start, min(count, start + 25))
        ]
        client.batch_write_item(RequestItems={TABLE: requests})


def one_call(client: Any, post_id: int) -> float:
    """A create of post `post_id` with its guard; ids below the seeded count are taken."""
    condition = {
        "ConditionExpression": "attribute_not_exists(postId)",
    }
    items = [
        {
            "Put": {
                "TableName": TABLE,
                "Item": {"postId": {"N": str(post_id)}, "threadId": {"N": "1"}},
                **condition,
            }
        },
        {
            "Put": {
                "TableName": TABLE,
                "Item": {
                    "postId": {"N": str(-(post_id + 1))},
                    "threadId": {"N": "0"},
                    "forumdbGuard": {"S": "postId"},
                },
                **condition,
            }
        },
    ]
    start = time.perf_counter()
    try:
        client.transact_write_items(TransactItems=items)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "TransactionCanceledException":
            raise
    return time.perf_counter() - start


def measure(count: int, calls: int, emulator_path: bool) -> list[float]:
    DynamoDBBackend.transact_write_items = (  # type: ignore[method-assign]
        transactions._transact_write_items if emulator_path else transactions._original
    )
    with mock_aws_ext():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**create_table_request(POSTS, TABLE))
        seed(client, count)
        # every other call reuses a seeded id (cancelled), the others are new ids
        return [
            one_call(client, i if i % 2 else count + 1_000_000 + i) for i in range(1, calls + 1)
        ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("bench/results/transact_write.md"))
    args = parser.parse_args()
    rows = []
    for count in SIZES:
        for emulator_path in (False, True):
            times = measure(count, args.calls, emulator_path)
            ms = sorted(t * 1000 for t in times)
            rows.append(
                (
                    f"{count:,}",
                    "emulator" if emulator_path else "moto 5.2",
                    statistics.median(ms),
                    ms[int(len(ms) * 0.99) - 1],
                    statistics.fmean(ms),
                )
            )
    DynamoDBBackend.transact_write_items = transactions._transact_write_items  # type: ignore[method-assign]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Emulator: TransactWriteItems time per call against the table's size",
        "",
        f"Run {stamp} on {platform.machine()}, Python {platform.python_version()}, "
        f"in-process, {args.calls} calls per row (a post and its guard item, both "
        "conditional; every other call cancelled by a taken id). Shared 2-core machine: "
        "compare rows, not runs.",
        "",
        "| items in the table | TransactWriteItems | p50 ms | p99 ms | mean ms |",
        "| ---: | --- | ---: | ---: | ---: |",
        *(
            f"| {c} | {who} | {p50:.2f} | {p99:.2f} | {mean:.2f} |"
            for c, who, p50, p99, mean in rows
        ),
        "",
        "moto copies every table a transaction names before it runs (`copy.deepcopy` in "
        "`DynamoDBBackend.transact_write_items`), so its time grows with the table; the "
        "emulator copies the items the transaction writes (`forumdb_emulator.transactions`).",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
