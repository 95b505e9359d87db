"""How long `forumctl dev up` takes, step by step (run by hand; README quotes the result).

    .venv/bin/python bench/dev_up_bench.py [--runs 3] [--out bench/results/dev_up.md]

Each run is what README's `make demo` does once set up: `forumctl dev up` (the full stack,
free ports, a state folder of its own) as its own process, with `-o json`, whose document
holds the seconds of each step and the whole; then `forumctl dev down`. The 1-minute load
average before each run goes into the results too: on a shared machine it decides most of
the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FORUMCTL = Path(sys.executable).with_name("forumctl")


def _dev(*args: str, state_dir: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(FORUMCTL), "dev", *args, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"forumctl dev {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
        )
    return done


def one_run() -> dict[str, Any]:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="forumdb-dev-bench-") as tmp:
        state_dir = Path(tmp) / "state"
        started = time.perf_counter()
        try:
            doc = json.loads(_dev("up", "--free-ports", "-o", "json", state_dir=state_dir,
                                  timeout=600).stdout)  # fmt: skip
            wall = time.perf_counter() - started  # with forumctl's own start-up
        finally:
            if (state_dir / "state.json").exists():
                _dev("down", state_dir=state_dir, timeout=120)
    return {"load": load, "seconds": doc["seconds"], "wall": wall, "steps": doc["steps"]}


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def report(runs: list[dict[str, Any]]) -> str:
    steps = [s["step"] for s in runs[0]["steps"]]
    by_step = {step: [next(s["seconds"] for s in r["steps"] if s["step"] == step) for r in runs]
               for step in steps}  # fmt: skip
    loads = ", ".join(f"{r['load']:.1f}" for r in runs)
    totals = ", ".join(f"{r['wall']:.1f}" for r in runs)
    return "\n".join(
        [
            "# forumctl dev up",
            "",
            f"{len(runs)} runs of `python bench/dev_up_bench.py`: `forumctl dev up --free-ports "
            "-o json` (the full stack) then `dev down`, on 2 shared cores; 1-minute load "
            f"average before each run: {loads}. Wall-clock seconds of the `forumctl dev up` "
            f"process: {totals}.",
            "",
            "| step | median (min-max) s |",
            "| --- | --- |",
            *(f"| {step} | {_spread(secs)} |" for step, secs in by_step.items()),
            f"| all steps (dev up's own total) | {_spread([r['seconds'] for r in runs])} |",
            f"| **`forumctl dev up`, wall clock** | {_spread([r['wall'] for r in runs])} |",
            "",
            "The steps follow each other, so the whole is their sum and forumctl's own "
            "start-up; slow starts overlap (moto starts while kube-apiserver does, the services "
            "while the sample data is migrated), which shows as a short later step. What it "
            "depends on: the machine's load (every step is CPU-bound: etcd and kube-apiserver "
            "start-up, the operator's reconcile against the emulator, Python start-up of each "
            "process); the ForumDatabase step waits for the operator to create the three tables "
            "with their replicas, PITR, backup plan and alarms in the emulator; the last step "
            "waits for a reconcile that reports the first backup.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/dev_up.md")
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        runs.append(one_run())
        print(f"run {i + 1}: {runs[-1]['wall']:.1f} s (load {runs[-1]['load']:.1f})")
    text = report(runs)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
