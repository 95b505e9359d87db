"""forumctl throughput and memory against a moto server on 127.0.0.1 (run by hand).

    .venv/bin/python bench/forumctl_bench.py [--items 20000] [--naive-items 2000]
        [--memory-items 100000] [--rounds 2] [--out bench/results/forumctl.md]

One moto server, one run, interleaved rounds (the machine is shared: compare ratios, not
absolute numbers):
- naive: a sequential put_item loop;
- raw: 8 threads of BatchWriteItem (25 items), nothing else: the ceiling;
- forumctl: the migrate write path (sync_items, 8 workers) into an empty table, and again
  into the full table (compare-before-write: reads only);
- backup: forumctl's segmented, streaming backup vs one sequential Scan;
- memory: peak RSS of `forumctl backup` and `forumctl restore` processes over
  --memory-items items.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from forumctl import sample
from forumctl.clients import ClientPool
from forumctl.codec import Item, serialize_record
from forumctl.sync import sync_items
from forumdb.tables import KINDS, POSTS, create_table_request, table_def

REGION = "us-east-1"
KEYS = ("postId", "threadId")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start")


def posts(n: int) -> list[Item]:
    return [serialize_record(POSTS.to_item(r)) for r in sample.posts(n, 500, 100, seed=1)]


def new_table(pool: ClientPool, name: str) -> str:
    pool.get().create_table(**create_table_request(POSTS, name))
    return name


def naive(pool: ClientPool, table: str, items: list[Item]) -> None:
    client = pool.get()
    for it in items:
        client.put_item(TableName=table, Item=it)


def raw(pool: ClientPool, table: str, items: list[Item]) -> None:
    batches = [items[i : i + 25] for i in range(0, len(items), 25)]

    def send(batch: list[Item]) -> None:
        with pool.lease() as client:
            client.batch_write_item(
                RequestItems={table: [{"PutRequest": {"Item": it}} for it in batch]}
            )

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(send, batches))


def forumctl_write(pool: ClientPool, table: str, items: list[Item]) -> None:
    res = sync_items(pool, table, KEYS, items, workers=8)
    assert res.written == len(items), res


def forumctl_compare(pool: ClientPool, table: str, items: list[Item]) -> None:
    res = sync_items(pool, table, KEYS, items, workers=8)
    assert res.written == 0, res
    assert res.unchanged == len(items), res


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def single_scan(pool: ClientPool, table: str) -> int:
    client, n, kwargs = pool.get(), 0, {"TableName": table}
    while True:
        resp = client.scan(**kwargs)
        n += len(resp["Items"])
        if "LastEvaluatedKey" not in resp:
            return n
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


# A fresh parent per measurement: RUSAGE_CHILDREN's ru_maxrss is the max over all children.
_MEASURE = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=sys.stderr); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def run_cli(env: dict[str, str], *args: str) -> tuple[float, int]:
    """Runs forumctl as a grandchild; returns seconds and its peak RSS in MiB."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "forumctl.main", *args],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"forumctl {' '.join(args)} failed:\n{out.stderr}")
    return time.perf_counter() - t0, int(out.stdout.split()[-1]) // 1024


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--naive-items", type=int, default=2_000)
    ap.add_argument("--memory-items", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("bench/results/forumctl.md"))
    args = ap.parse_args()

    proc, url = start_moto()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
    }
    os.environ.update(env)
    pool = ClientPool(REGION, url)
    raw_pool = ClientPool(REGION, url)  # each side its own clients, both warmed up
    results: dict[str, list[float]] = {k: [] for k in ("naive", "raw", "forumctl", "compare")}
    scans: dict[str, list[float]] = {"single scan": [], "forumctl backup": []}
    try:
        items = posts(args.items)
        warm = posts(400)
        raw(raw_pool, new_table(raw_pool, "warm-raw"), warm)
        forumctl_write(pool, new_table(pool, "warm-cli"), warm)
        load = os.getloadavg()[0]
        for r in range(args.rounds):
            # interleaved, so both see the same machine load
            t = timed(
                lambda r=r: naive(pool, new_table(pool, f"naive-{r}"), items[: args.naive_items])
            )
            results["naive"].append(args.naive_items / t)
            t = timed(lambda r=r: raw(raw_pool, new_table(raw_pool, f"raw-{r}"), items))
            results["raw"].append(len(items) / t)
            name = new_table(pool, f"cli-{r}")
            t = timed(lambda name=name: forumctl_write(pool, name, items))
            results["forumctl"].append(len(items) / t)
            t = timed(lambda name=name: forumctl_compare(pool, name, items))
            results["compare"].append(len(items) / t)
            t = timed(lambda name=name: single_scan(pool, name))
            scans["single scan"].append(len(items) / t)
            with tempfile.TemporaryDirectory() as tmp:
                seconds, _ = run_cli(
                    {**env, "POSTS_TABLE": name},
                    "backup", "--only", "posts", "--out", f"{tmp}/b.jsonl",
                )  # fmt: skip
            scans["forumctl backup"].append(len(items) / seconds)
            print(f"round {r}: { ({k: round(v[-1]) for k, v in {**results, **scans}.items()}) }")

        # memory: a --memory-items table, backed up and restored by child processes
        big = new_table(pool, "big-Posts")
        sync_items(pool, big, KEYS, (serialize_record(POSTS.to_item(r)) for r in
                   sample.posts(args.memory_items, 500, 100, seed=2)), workers=8,
                   track_digests=False)  # fmt: skip
        for kind in KINDS:
            if kind != "posts":
                pool.get().create_table(
                    **create_table_request(table_def(kind), f"big-{table_def(kind).logical_name}")
                )
        with tempfile.TemporaryDirectory() as tmp:
            backup_s, backup_mb = run_cli(
                {**env, "TABLE_PREFIX": "big-"}, "backup", "--only", "posts",
                "--out", f"{tmp}/big.jsonl.gz",
            )  # fmt: skip
            for kind in KINDS:
                pool.get().create_table(
                    **create_table_request(table_def(kind), f"copy-{table_def(kind).logical_name}")
                )
            restore_s, restore_mb = run_cli(
                {**env, "TABLE_PREFIX": "copy-"}, "restore", "--from", f"{tmp}/big.jsonl.gz",
            )  # fmt: skip
            size_mb = Path(f"{tmp}/big.jsonl.gz").stat().st_size / 2**20
    finally:
        proc.kill()
        proc.wait()

    med = {k: statistics.median(v) for k, v in {**results, **scans}.items()}
    labels = {
        "naive": "naive sequential put_item",
        "raw": "raw 8-thread BatchWriteItem",
        "forumctl": "forumctl migrate path, empty table",
        "compare": "forumctl second run (compare only, writes 0)",
    }
    writes = "\n".join(
        row(
            label,
            f"{med[k]:.0f}",
            f"{med[k] / med['naive']:.1f}x",
            f"{med[k] / med['raw']:.2f}x",
        )
        for k, label in labels.items()
    )
    backup_rate = f"{med['forumctl backup']:.0f}"
    report = f"""# forumctl benchmark

Run by hand: `.venv/bin/python bench/forumctl_bench.py --items {args.items} --naive-items \
{args.naive_items} --memory-items {args.memory_items} --rounds {args.rounds}`.
One moto server on 127.0.0.1, {args.rounds} interleaved rounds, medians below; 2 shared cores,
load average {load:.1f} at the start (other engineers' test runs): read the ratios, not the
absolute numbers. Items: forum posts (~300 bytes, table with 2 GSIs).

## Writes ({args.items} items; naive loop over the first {args.naive_items})

| method | items/s | vs naive | vs raw |
| --- | ---: | ---: | ---: |
{writes}

Goal: >= 10x naive and >= 0.8x raw for the migrate path.

## Reads ({args.items} items)

| method | items/s |
| --- | ---: |
{row("one sequential Scan (nothing kept)", f"{med['single scan']:.0f}")}
{row("`forumctl backup` (segmented Scan, checksums, file; with process start)", backup_rate)}

## Memory ({args.memory_items} items, child processes' peak RSS)

| command | seconds | peak RSS (MiB) |
| --- | ---: | ---: |
{row(f"`forumctl backup --out big.jsonl.gz` ({size_mb:.1f} MiB)", f"{backup_s:.1f}", backup_mb)}
{
        row(
            "`forumctl restore --from big.jsonl.gz` (empty tables, verified)",
            f"{restore_s:.1f}",
            restore_mb,
        )
    }

Both stream: a few scan pages or write chunks are in memory at a time.
"""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
