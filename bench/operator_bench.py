"""Benchmark of forum-operator against the real kube-apiserver and the moto server.

Run by hand, after `make setup`:

    .venv/bin/python bench/operator_bench.py [--count 100] [--workers 8] [--repeat 3]

Measures (results to bench/results/operator_bench.md):
- time from `kubectl apply -f examples/forumdatabase.yaml` to phase Ready (`--repeat` runs);
- `--count` ForumDatabases applied at once (each its own table prefix, two regions, PITR,
  backups, alarms): time until all are Ready, and the operator's peak RSS (VmHWM) and CPU time;
- AWS calls per steady-state reconcile (from the operator's `reconciled` log lines): reads and
  writes (writes must be 0).
Everything runs on 127.0.0.1 and shares the CPU (moto's server is the bottleneck), so compare
figures from the same machine only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from harness.apiserver import ApiServer  # noqa: E402
from harness.motoserver import MotoServer  # noqa: E402
from harness.operator_runner import OperatorRunner  # noqa: E402
from harness.provision import require_tool  # noqa: E402

RESULTS = REPO / "bench" / "results" / "operator_bench.md"
EXAMPLE = REPO / "examples" / "forumdatabase.yaml"


def proc_stats(pid: int) -> dict[str, float]:
    """Peak RSS (MiB) and CPU seconds of a live process, from /proc."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            out["peak_rss_mib"] = int(line.split()[1]) / 1024
        if line.startswith("VmRSS:"):
            out["rss_mib"] = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    out["cpu_s"] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def phases(kubectl: Any, namespace: str) -> dict[str, str]:
    items = kubectl.json("get", "forumdb", "-n", namespace)["items"]
    return {i["metadata"]["name"]: (i.get("status") or {}).get("phase", "") for i in items}


def wait_all_ready(kubectl: Any, namespace: str, count: int, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        got = phases(kubectl, namespace)
        if len(got) == count and all(p == "Ready" for p in got.values()):
            return time.monotonic() - start
        time.sleep(0.5)
    raise TimeoutError(f"not all Ready after {timeout}s: {phases(kubectl, namespace)}")


def reconcile_lines(log: str) -> list[dict[str, Any]]:
    out = []
    for line in log.splitlines():
        if '"reconciled"' in line:
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
    return out


def many(count: int) -> str:
    base = yaml.safe_load(EXAMPLE.read_text())
    docs = []
    for i in range(count):
        doc = json.loads(json.dumps(base))
        doc["metadata"]["name"] = f"forum-{i:03d}"
        doc["spec"]["tablePrefix"] = f"forum-{i:03d}-"
        docs.append(doc)
    return yaml.safe_dump_all(docs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()

    api = ApiServer.start(kube_apiserver=require_tool("kube-apiserver"), etcd=require_tool("etcd"))
    moto = MotoServer.start()
    work = Path(tempfile.mkdtemp(prefix="operator-bench-"))
    runner = OperatorRunner(kube_env=api.env, aws_env=moto.env, workdir=work)
    kubectl = api.kubectl(require_tool("kubectl"))
    api.apply_crds(kubectl, REPO / "crds")
    lines: list[str] = []
    try:
        # 1. one ForumDatabase, apply -> Ready
        singles = []
        for i in range(args.repeat):
            moto.reset()
            ns = f"bench-one-{i}"
            kubectl("create", "namespace", ns)
            op = runner.start(
                "--namespace", ns, "--workers", str(args.workers), FORUMDB_DRIFT_INTERVAL="300"
            )
            op.wait_healthy()
            t0 = time.monotonic()
            kubectl("apply", "-n", ns, "-f", str(EXAMPLE))
            wait_all_ready(kubectl, ns, 1, args.timeout)
            singles.append(time.monotonic() - t0)
            op.stop()

        # 2. many at once
        moto.reset()
        ns = "bench-many"
        kubectl("create", "namespace", ns)
        op = runner.start(
            "--namespace", ns, "--workers", str(args.workers), FORUMDB_DRIFT_INTERVAL="60"
        )
        op.wait_healthy()
        before = proc_stats(op.pid)
        t0 = time.monotonic()
        kubectl("apply", "-n", ns, "-f", "-", input=many(args.count), timeout=300)
        all_ready = wait_all_ready(kubectl, ns, args.count, args.timeout)
        after_ready = proc_stats(op.pid)
        # 3. steady state: wait for a full drift round over every resource
        ready_at = len(reconcile_lines(op.logs()))
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            steady = [r for r in reconcile_lines(op.logs())[ready_at:] if r.get("phase") == "Ready"]
            if len({r["resource"] for r in steady}) >= args.count:
                break
            time.sleep(2)
        final = proc_stats(op.pid)
        op.stop()
        steady = [r for r in reconcile_lines(op.logs())[ready_at:] if r.get("phase") == "Ready"]
        calls = [r["aws_calls"] for r in steady]
        writes = [r["aws_writes"] for r in steady]
        secs = [r["seconds"] for r in steady]
        first = [r for r in reconcile_lines(op.logs()) if r.get("applied")]

        lines += [
            "# forum-operator benchmark",
            "",
            f"- run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}; kube-apiserver 1.20 + "
            "etcd and the moto server (forumdb extension) on 127.0.0.1, sharing the CPU with the "
            "operator",
            f"- operator: `forum-operator --namespace NS --workers {args.workers}`; each "
            "ForumDatabase = examples/forumdatabase.yaml (3 tables, us-east-1 + us-west-2 replica, "
            "PITR, backup vaults/plan/selection with a copy, 13 alarms)",
            "",
            "| measurement | value |",
            "| --- | --- |",
            f"| apply -> Ready, one resource ({args.repeat} runs) | "
            + ", ".join(f"{s:.1f} s" for s in singles)
            + f" (median {statistics.median(singles):.1f} s) |",
            f"| {args.count} resources applied at once -> all Ready | {all_ready:.1f} s "
            f"({args.count / all_ready:.2f} resources/s) |",
            f"| operator peak RSS (VmHWM) | {final['peak_rss_mib']:.0f} MiB "
            f"(idle before: {before['peak_rss_mib']:.0f} MiB) |",
            f"| operator CPU time to get {args.count} Ready | "
            f"{after_ready['cpu_s'] - before['cpu_s']:.1f} s |",
            f"| AWS calls in the first (creating) reconciles | "
            f"{sum(r['aws_calls'] for r in first)} over {len(first)} reconciles |",
            f"| steady-state reconciles observed | {len(steady)} |",
            f"| AWS calls per steady-state reconcile | min {min(calls)}, median "
            f"{statistics.median(calls):.0f}, max {max(calls)} (all reads) |"
            if calls
            else "| AWS calls per steady-state reconcile | none observed |",
            f"| AWS writes per steady-state reconcile | max {max(writes) if writes else 'n/a'} |",
            f"| steady-state reconcile wall time | median {statistics.median(secs):.2f} s |"
            if secs
            else "",
            "",
        ]
    finally:
        runner.stop_all()
        moto.stop()
        api.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(line for line in lines if line is not None) + "\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
