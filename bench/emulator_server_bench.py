"""Throughput of the emulator's server (forumdb-emulator): calls a second and the server's CPU
per call, under a mix of the operator's calls from several client threads.

Run by hand, after `make setup`:

    .venv/bin/python bench/emulator_server_bench.py [--threads 8] [--seconds 20] [--repeat 3]

Each thread has its own boto3 clients (connection pools, keep-alive, as the operator's) and
loops over DescribeTable, DescribeTimeToLive, GetItem, PutItem (DynamoDB, us-east-1),
DescribeAlarms (CloudWatch) and DescribeBackupVault (AWS Backup). The load generator runs on the
same CPUs, so the figure to compare across runs of a shared machine is the server's CPU
milliseconds per call (from /proc), not calls a second alone. Results to
bench/results/emulator_server.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from operator_bench import proc_stats  # noqa: E402

from harness.motoserver import MotoServer  # noqa: E402

RESULTS = REPO / "bench" / "results" / "emulator_server.md"
TABLE = "bench-emulator"
VAULT = "bench-emulator-vault"


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its descendants (the server may serve from a worker)."""
    total = proc_stats(pid)["cpu_s"]
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:  # a thread that ended meanwhile
            continue
        for child in children:
            total += tree_cpu_s(int(child))
    return total


def prepare(moto: MotoServer) -> None:
    ddb = moto.client("dynamodb")
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    moto.client("backup").create_backup_vault(BackupVaultName=VAULT)


def worker_calls(moto: MotoServer, index: int) -> list[Any]:
    ddb = moto.client("dynamodb")
    cw = moto.client("cloudwatch")
    backup = moto.client("backup")
    return [
        lambda: ddb.describe_table(TableName=TABLE),
        lambda: ddb.describe_time_to_live(TableName=TABLE),
        lambda: ddb.get_item(TableName=TABLE, Key={"pk": {"S": f"k{index}"}}),
        lambda: ddb.put_item(TableName=TABLE, Item={"pk": {"S": f"k{index}"}, "v": {"N": "1"}}),
        lambda: cw.describe_alarms(AlarmNamePrefix="bench-"),
        lambda: backup.describe_backup_vault(BackupVaultName=VAULT),
    ]


def worker(calls: list[Any], stop: threading.Event, counts: list[int], index: int) -> None:
    n = 0
    while not stop.is_set():
        calls[n % len(calls)]()
        n += 1
    counts[index] = n


def run_once(moto: MotoServer, clients: list[list[Any]], seconds: float) -> dict[str, float]:
    stop = threading.Event()
    counts = [0] * len(clients)
    pool = [
        threading.Thread(target=worker, args=(calls, stop, counts, i), daemon=True)
        for i, calls in enumerate(clients)
    ]
    before = tree_cpu_s(moto.process.pid)
    client_before = time.process_time()
    t0 = time.monotonic()
    for t in pool:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in pool:
        t.join()
    elapsed = time.monotonic() - t0
    cpu = tree_cpu_s(moto.process.pid) - before
    client_cpu = time.process_time() - client_before
    calls = sum(counts)
    return {
        "calls_per_s": calls / elapsed,
        "server_cpu_ms_per_call": 1000 * cpu / calls,
        "client_cpu_ms_per_call": 1000 * client_cpu / calls,
        "calls": calls,
        "load": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--label", default="")
    args = ap.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    moto = MotoServer.start()
    try:
        prepare(moto)
        clients = [worker_calls(moto, i) for i in range(args.threads)]
        run_once(moto, clients, 3)  # warm-up: the server's Flask apps, the connections
        runs = [run_once(moto, clients, args.seconds) for _ in range(args.repeat)]
    finally:
        moto.stop()
    for r in runs:
        print(r, flush=True)
    rate = statistics.median(r["calls_per_s"] for r in runs)
    cpu = statistics.median(r["server_cpu_ms_per_call"] for r in runs)
    client = statistics.median(r["client_cpu_ms_per_call"] for r in runs)
    loads = ", ".join(f"{r['load']:.1f}" for r in runs)
    line = (
        f"| {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} | {args.label} | "
        f"{args.threads} | {rate:.0f} | {cpu:.2f} | {client:.2f} | "
        f"{loads} |"
    )
    print(line)
    header = (
        "# The emulator's server: calls a second and CPU per call\n\n"
        f"`bench/emulator_server_bench.py`: {platform.machine()}, {os.cpu_count()} CPUs shared "
        f"with other work, Python {platform.python_version()}; client threads and server on the "
        "same CPUs; medians of the runs.\n\n"
        "| run | server | client threads | calls/s | server CPU ms/call | client CPU ms/call "
        "| load (1 min) |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n"
    )
    text = RESULTS.read_text() if RESULTS.exists() else header
    RESULTS.write_text(text + line + "\n")


if __name__ == "__main__":
    main()
