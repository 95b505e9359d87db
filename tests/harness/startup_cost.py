"""Measure what each fixture costs to start and stop; print a Markdown table.

    PYTHONPATH=tests .venv/bin/python -m harness.startup_cost [--runs 3] [--out FILE]

apiserver: etcd + kube-apiserver until /readyz, then the repository's CRDs applied and
Established. moto server: process start until it serves. operator: `forum-operator` process
start until /healthz answers (against the two servers above). Wall-clock seconds; the load
average is printed alongside, since the machine's other work shifts these figures a lot.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness.apiserver import ApiServer
from harness.motoserver import MotoServer
from harness.operator_runner import OperatorRunner
from harness.provision import REPO_ROOT, require_tool


def measure(runs: int) -> dict[str, list[tuple[float, float]]]:
    """fixture -> [(start seconds, stop seconds)] per run."""
    out: dict[str, list[tuple[float, float]]] = {"apiserver": [], "moto server": [], "operator": []}
    clock = time.monotonic
    for _ in range(runs):
        t0 = clock()
        api = ApiServer.start(
            kube_apiserver=require_tool("kube-apiserver"), etcd=require_tool("etcd")
        )
        api.apply_crds(api.kubectl(require_tool("kubectl")), REPO_ROOT / "crds")
        t1 = clock()
        moto = MotoServer.start()
        t2 = clock()
        with tempfile.TemporaryDirectory(prefix="forumdb-startup-") as tmp:
            runner = OperatorRunner(kube_env=api.env, aws_env=moto.env, workdir=Path(tmp))
            runner.start().wait_healthy(timeout=120)
            t3 = clock()
            runner.stop_all()
            t4 = clock()
        moto.stop()
        t5 = clock()
        api.stop()
        t6 = clock()
        out["apiserver"].append((t1 - t0, t6 - t5))
        out["moto server"].append((t2 - t1, t5 - t4))
        out["operator"].append((t3 - t2, t4 - t3))
    return out


def table(results: dict[str, list[tuple[float, float]]]) -> str:
    lines = [
        "| fixture | start median (min-max) s | stop median s |",
        "| --- | --- | --- |",
    ]
    for name, samples in results.items():
        starts = [s for s, _ in samples]
        stops = [s for _, s in samples]
        lines.append(
            f"| {name} | {statistics.median(starts):.1f} ({min(starts):.1f}-{max(starts):.1f}) "
            f"| {statistics.median(stops):.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="start-up cost of the test fixtures")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the report to this Markdown file")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    results = measure(args.runs)
    report = (
        "# Test fixture start-up cost\n\n"
        f"{args.runs} runs, `python -m harness.startup_cost`; 1-minute load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2 cores, shared).\n\n"
        f"{table(results)}\n\n"
        "apiserver includes applying crds/ and waiting until Established; operator is "
        "process start until /healthz answers.\n"
    )
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
