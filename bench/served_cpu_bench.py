"""Server CPU per request of `forum-service users`, served, against another revision.

    .venv/bin/python bench/served_cpu_bench.py --before ee35483 [--rounds 3] [--duration 8]

Both versions run as `forum-service users` (2 workers of 32 threads, JSON mode on the
classic sample's users with one user added first, so a journal exists as in any store that
took writes, LOG_LEVEL=INFO with the access lines to a file), side by side; wrk (1 thread,
32 connections) loads one route of one of them at a time, in rounds that alternate the
versions. The figure is the CPU time of the server's processes during a run over the
requests it answered: unlike requests/s it depends little on what else the machine runs.
The peer benchmark (`http_bench.py peer`) measures the same against Koa, with req/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from httpkit import (
    FORUM_SERVICE,
    REPO,
    free_port,
    json_store_env,
    load_average,
    process_group,
    revision_source,
    run_wrk,
    tree_cpu_seconds,
    wait_until_up,
)

SAMPLE = REPO / "examples" / "sample-data"
ROUTES = ("/api/users", "/api/users/2")


def _argv(port: int, source: Path | None) -> list[str]:
    options = ["users", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    if source is None:
        return [str(FORUM_SERVICE), *options]
    main = "import sys; from forumdb_services.api.serve import main; sys.exit(main())"
    return [sys.executable, "-c", main, *options]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="forumdb-served-cpu-"))
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    load_before = load_average()
    cpu: dict[tuple[str, str], list[float]] = {}
    rps: dict[tuple[str, str], list[float]] = {}
    try:
        with contextlib.ExitStack() as exits:
            servers: dict[str, tuple[str, int]] = {}
            for name, source in (
                ("before", revision_source(args.before, workdir / "before")),
                ("after", None),
            ):
                port = free_port()
                env = json_store_env(SAMPLE, workdir / f"data-{name}", source)
                process = exits.enter_context(
                    process_group(_argv(port, source), env, workdir / f"{name}.log")
                )
                url = f"http://127.0.0.1:{port}"
                wait_until_up(f"{url}/healthz", process)
                made = requests.post(f"{url}/api/users", json={"username": "journal"}, timeout=10)
                made.raise_for_status()
                servers[name] = (url, process.pid)
            for _ in range(args.rounds):
                for route in ROUTES:
                    for name, (url, pid) in servers.items():
                        before = tree_cpu_seconds(pid)
                        run = run_wrk(f"{url}{route}", args.duration, args.connections)
                        spent = tree_cpu_seconds(pid) - before
                        per = spent / run.requests * 1e6 if run.requests else float("nan")
                        cpu.setdefault((route, name), []).append(per)
                        rps.setdefault((route, name), []).append(run.rps)
                        seen = {"route": route, "version": name, "cpu_us": per, "rps": run.rps}
                        print(json.dumps({**seen, "errors": run.errors}), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    lines = [
        f"Run {started} UTC by `bench/served_cpu_bench.py --before {args.before}` "
        f"({args.rounds} rounds of {args.duration} s per route and version, wrk -t1 "
        f"-c{args.connections}; load average {load_before} at the start, {load_average()} at "
        f"the end; Python {platform.python_version()}). Server CPU µs per request, medians "
        "(each round's in brackets):",
        "",
        f"| route | {args.before} | this checkout | ratio | req/s {args.before} | req/s now |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for route in ROUTES:
        b, a = cpu[(route, "before")], cpu[(route, "after")]
        mb, ma = statistics.median(b), statistics.median(a)
        lines.append(
            f"| GET {route} | {mb:.0f} ({', '.join(f'{x:.0f}' for x in b)}) | {ma:.0f} "
            f"({', '.join(f'{x:.0f}' for x in a)}) | {ma / mb:.2f} | "
            f"{statistics.median(rps[(route, 'before')]):,.0f} | "
            f"{statistics.median(rps[(route, 'after')]):,.0f} |"
        )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
