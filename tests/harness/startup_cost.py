"""Measure what each fixture costs to start and stop; print a Markdown table.

    PYTHONPATH=tests .venv/bin/python -m harness.startup_cost [--runs 3] [--out FILE]

apiserver: etcd + kube-apiserver until /readyz, then the repository's CRDs applied and
Established. moto server: process start until it serves. operator: `forum-operator` process
start until /healthz answers (against the two servers above). Wall-clock seconds, with the
load average alongside since the machine's other work shifts them a lot, and CPU seconds.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from harness.apiserver import ApiServer
from harness.motoserver import MotoServer
from harness.operator_runner import OperatorRunner
from harness.provision import REPO_ROOT, require_tool

T = TypeVar("T")


@dataclass
class Sample:
    start: float  # wall-clock seconds until usable
    stop: float  # wall-clock seconds to stop
    cpu: float  # CPU seconds of its processes over start and stop (independent of load)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _start_apiserver() -> ApiServer:
    api = ApiServer.start(kube_apiserver=require_tool("kube-apiserver"), etcd=require_tool("etcd"))
    api.apply_crds(api.kubectl(require_tool("kubectl")), REPO_ROOT / "crds")
    return api


def _lifecycle(start: Callable[[], T], stop: Callable[[T], object]) -> Sample:
    """Start, then stop; children's CPU counts once they are reaped, i.e. after the stop."""
    cpu0, t0 = _children_cpu(), time.monotonic()
    thing = start()
    t1 = time.monotonic()
    stop(thing)
    return Sample(t1 - t0, time.monotonic() - t1, _children_cpu() - cpu0)


def measure(runs: int) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = {"apiserver": [], "moto server": [], "operator": []}
    for _ in range(runs):
        out["apiserver"].append(_lifecycle(_start_apiserver, ApiServer.stop))
        out["moto server"].append(_lifecycle(MotoServer.start, MotoServer.stop))
        api, moto = _start_apiserver(), MotoServer.start()
        with tempfile.TemporaryDirectory(prefix="forumdb-startup-") as tmp:
            runner = OperatorRunner(kube_env=api.env, aws_env=moto.env, workdir=Path(tmp))
            out["operator"].append(
                _lifecycle(
                    lambda r=runner: r.start().wait_healthy(timeout=120),
                    lambda _, r=runner: r.stop_all(),
                )
            )
        moto.stop()
        api.stop()
    return out


def table(results: dict[str, list[Sample]]) -> str:
    lines = [
        "| fixture | start median (min-max) s | stop median s | CPU median s |",
        "| --- | --- | --- | --- |",
    ]
    for name, samples in results.items():
        starts = [s.start for s in samples]
        lines.append(
            f"| {name} | {statistics.median(starts):.1f} ({min(starts):.1f}-{max(starts):.1f}) "
            f"| {statistics.median(s.stop for s in samples):.1f} "
            f"| {statistics.median(s.cpu for s in samples):.1f} |"
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
        "process start until /healthz answers. CPU: user+system seconds of the fixture's own "
        "processes from start to stop (kubectl calls included for the apiserver); unlike "
        "wall-clock time it hardly depends on what else runs.\n"
    )
    print(report)
    if args.out:
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
