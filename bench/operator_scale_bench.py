"""The operator at scale (issue 14): forum-operator against the real kube-apiserver and the
emulator's server, with and without a per-call latency.

Run by hand, after `make setup`:

    .venv/bin/python bench/operator_scale_bench.py [--count 100] [--latency-ms 0,20]
                                                   [--steady-seconds 300]

For each latency (the emulator's latency fault on every call):
- `kubectl apply` -> Ready for examples/forumdatabase.yaml;
- `--count` copies applied at once (each its own name and table prefix) -> all Ready: time,
  the operator's peak RSS (VmHWM) and CPU time;
- the steady state of those resources: AWS calls a minute (reads and writes, by operation) from
  the operator's Prometheus counter over `--steady-seconds` (the drift interval, 300 s by
  default, so each resource's drift check falls in the window once);
- throttling: calls the emulator's per-account rate limits refused (retried by botocore) and
  throttling errors in the operator's log.
Results to bench/results/operator_scale.md, with the machine's load average (the machine is
shared: compare figures of one run only).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))

from history import write_with_history  # noqa: E402
from operator_bench import EXAMPLE, many, proc_stats, wait_all_ready  # noqa: E402

from harness.apiserver import ApiServer  # noqa: E402
from harness.motoserver import MotoServer  # noqa: E402
from harness.operator_runner import OperatorRunner  # noqa: E402
from harness.provision import require_tool  # noqa: E402

RESULTS = REPO / "bench" / "results" / "operator_scale.md"
DRIFT_INTERVAL = 300.0  # the operator's default
CALLS = re.compile(r"^forumdb_aws_calls_total\{([^}]*)\} ([0-9.e+]+)$", re.M)


def aws_calls(metrics_url: str) -> Counter[tuple[str, str, str]]:
    """(service, operation, kind) -> calls so far, from the operator's /metrics."""
    text = requests.get(metrics_url, timeout=10).text
    out: Counter[tuple[str, str, str]] = Counter()
    for labels, value in CALLS.findall(text):
        got = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        out[(got["service"], got["operation"], got["kind"])] += int(float(value))
    return out


def gauge(metrics_url: str, name: str) -> float:
    """One unlabelled series of the operator's /metrics (0 where absent)."""
    found = re.search(rf"^{name} ([0-9.e+]+)$", requests.get(metrics_url, timeout=10).text, re.M)
    return float(found.group(1)) if found else 0.0


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def run_latency(
    api: Any, kubectl: Any, moto: MotoServer, runner: OperatorRunner, latency: int, args: Any
) -> dict[str, Any]:
    moto.reset()
    if latency:
        moto.control.set_fault(latency_ms=latency)
    one, ns = f"one-{latency}ms", f"many-{latency}ms"
    for n in (one, ns):
        kubectl("create", "namespace", n)
    op = runner.start(
        "--namespace",
        one,
        "--namespace",
        ns,
        "--workers",
        str(args.workers),
        FORUMDB_DRIFT_INTERVAL=str(DRIFT_INTERVAL),
    )
    op.wait_healthy(timeout=120)
    out: dict[str, Any] = {"latency": latency, "load_start": load()}
    t0 = time.monotonic()
    kubectl("apply", "-n", one, "-f", str(EXAMPLE))
    # as a user waits for it: a watch, not a poll (a 0.5 s poll adds 0.25 s on average)
    name = yaml.safe_load(EXAMPLE.read_text())["metadata"]["name"]
    kubectl(
        "wait",
        "-n",
        one,
        f"forumdb/{name}",
        "--for=jsonpath={.status.phase}=Ready",
        f"--timeout={int(args.timeout)}s",
        timeout=args.timeout + 30,
    )
    out["one_ready_s"] = time.monotonic() - t0

    before = proc_stats(op.pid)
    t0 = time.monotonic()
    kubectl("apply", "-n", ns, "-f", "-", input=many(args.count), timeout=300)
    out["all_ready_s"] = wait_all_ready(kubectl, ns, args.count, args.timeout)
    after = proc_stats(op.pid)
    out["cpu_to_ready_s"] = after["cpu_s"] - before["cpu_s"]
    out["load_ready"] = load()

    # Replica tags queued behind the account's TagResource rate (replica_tagger): sent after
    # Ready; the steady state starts once the queue is empty.
    out["tags_queued"] = gauge(op.metrics_url, "forumdb_replica_tags_queued_total")
    while gauge(op.metrics_url, "forumdb_replica_tags_pending") > 0:
        time.sleep(0.5)
    out["tags_sent_s"] = time.monotonic() - t0

    # Steady state: a window of one drift interval after every resource is Ready (and the
    # Ready reconciles' own wake-ups are over).
    time.sleep(args.settle)
    start = aws_calls(op.metrics_url)
    t0 = time.monotonic()
    time.sleep(args.steady_seconds)
    end = aws_calls(op.metrics_url)
    minutes = (time.monotonic() - t0) / 60
    delta = end - start
    out["steady_minutes"] = minutes
    out["steady_reads_per_min"] = sum(v for k, v in delta.items() if k[2] == "read") / minutes
    out["steady_writes"] = sum(v for k, v in delta.items() if k[2] == "write")
    out["steady_by_op"] = {f"{s}:{o}": v / minutes for (s, o, _), v in delta.most_common()}
    final = proc_stats(op.pid)
    out["peak_rss_mib"] = final["peak_rss_mib"]
    out["cpu_total_s"] = final["cpu_s"]
    out["rate_limited"] = moto.control.stats()["injected"].get("rate_limited", 0)
    out["throttle_log_lines"] = len(re.findall(r"ThrottlingException", op.logs()))
    out["load_end"] = load()
    op.stop()
    for n in (one, ns):
        kubectl("delete", "namespace", n, "--wait=false")
    return out


def report(results: list[dict[str, Any]], args: Any) -> str:
    lines = [
        "# forum-operator at scale (issue 14)",
        "",
        f"- run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs shared with other work (load average 1/5/15 min shown per "
        f"phase), Python {platform.python_version()}; kube-apiserver + etcd and the emulator's "
        "server on 127.0.0.1, on the same CPUs as the operator",
        f"- operator: `forum-operator --namespace ... --workers {args.workers}`, drift interval "
        f"{DRIFT_INTERVAL:.0f} s (the default); each ForumDatabase = examples/forumdatabase.yaml "
        "(3 tables, us-east-1 + us-west-2 replica, PITR, backup vaults/plan/selection with a "
        "copy, 13 alarms, failover Manual, health every 10 s)",
        f"- latency: the emulator's latency fault on every AWS call; steady state: the "
        f"operator's `forumdb_aws_calls_total` over {args.steady_seconds:.0f} s after all Ready "
        f"and every queued replica tag sent (+{args.settle:.0f} s settling)",
        "- one example: `kubectl apply`, then `kubectl wait --for=jsonpath={.status.phase}=Ready` "
        "(a watch); the many: `kubectl get` every 0.5 s until all are Ready",
        "",
        "| measurement | goal | " + " | ".join(f"{r['latency']} ms" for r in results) + " |",
        "| --- | --- | " + " | ".join("---" for _ in results) + " |",
    ]

    def row(name: str, goal: str, fmt: Any) -> None:
        lines.append(f"| {name} | {goal} | " + " | ".join(fmt(r) for r in results) + " |")

    row("apply -> Ready, one example", "< 5 s", lambda r: f"{r['one_ready_s']:.1f} s")
    row(
        f"{args.count} applied at once -> all Ready",
        "< 60 s",
        lambda r: f"{r['all_ready_s']:.1f} s",
    )
    row(
        "replica tags queued behind TagResource's rate / all sent, from the apply",
        "",
        lambda r: f"{r['tags_queued']:.0f} / {r['tags_sent_s']:.1f} s",
    )
    row("operator peak RSS (VmHWM)", "< 200 MB", lambda r: f"{r['peak_rss_mib']:.0f} MiB")
    row(
        f"operator CPU time, {args.count} to Ready",
        "",
        lambda r: f"{r['cpu_to_ready_s']:.1f} s",
    )
    row(
        "calls refused by the emulator's rate limits",
        "0",
        lambda r: str(r["rate_limited"]),
    )
    row(
        "ThrottlingException lines in the operator log", "0", lambda r: str(r["throttle_log_lines"])
    )
    row(
        f"steady-state AWS calls a minute, {args.count} resources",
        "<= 600",
        lambda r: f"{r['steady_reads_per_min'] + r['steady_writes'] / r['steady_minutes']:.0f}",
    )
    row("steady-state writes", "0", lambda r: str(r["steady_writes"]))
    row(
        "load average at start / all Ready / end",
        "",
        lambda r: f"{r['load_start']} / {r['load_ready']} / {r['load_end']}",
    )
    lines += ["", "Steady-state calls a minute by operation:", ""]
    ops = sorted({op for r in results for op in r["steady_by_op"]})
    lines.append("| operation | " + " | ".join(f"{r['latency']} ms" for r in results) + " |")
    lines.append("| --- | " + " | ".join("---" for _ in results) + " |")
    for op in ops:
        lines.append(
            f"| {op} | " + " | ".join(f"{r['steady_by_op'].get(op, 0):.1f}" for r in results) + " |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--latency-ms", default="0,20")
    ap.add_argument("--steady-seconds", type=float, default=DRIFT_INTERVAL)
    ap.add_argument("--settle", type=float, default=15.0)
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()

    api = ApiServer.start(kube_apiserver=require_tool("kube-apiserver"), etcd=require_tool("etcd"))
    moto = MotoServer.start()
    runner = OperatorRunner(
        kube_env=api.env, aws_env=moto.env, workdir=Path(tempfile.mkdtemp(prefix="op-scale-"))
    )
    kubectl = api.kubectl(require_tool("kubectl"))
    api.apply_crds(kubectl, REPO / "crds")
    results = []
    try:
        for latency in (int(x) for x in args.latency_ms.split(",") if x.strip()):
            results.append(run_latency(api, kubectl, moto, runner, latency, args))
            print(results[-1], flush=True)
    finally:
        runner.stop_all()
        moto.stop()
        api.stop()
    text = report(results, args)
    write_with_history(RESULTS, text)
    print(text)


if __name__ == "__main__":
    main()
