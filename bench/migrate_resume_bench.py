"""forumctl migrate killed mid-run and resumed, at 50,000 items (run by hand).

    .venv/bin/python bench/migrate_resume_bench.py [--users 5000 --threads 15000 --posts 30000]
        [--out bench/results/migrate_resume.md]

The scenario of tests/integration/cli/test_forumctl_migrate_server.py (shared in
tests/harness/migrate_resume.py) at the size that used to sit in the suite, where it took
140-300 s: seed, migrate as a process, SIGKILL inside the threads table, resume with verify
(exact counts and checksums), a third run that writes nothing. Its checks run here too;
the seconds per phase go to the results file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from forumctl.main import cli  # noqa: E402
from harness import migrate_resume  # noqa: E402
from harness.motoserver import MotoServer  # noqa: E402


def forumctl(*args: Any) -> Any:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    if result.exit_code != 0:
        raise RuntimeError(f"forumctl {args} exited {result.exit_code}:\n{result.output}")
    try:
        return json.loads(result.stdout)
    except ValueError:
        return result.stdout


def spawn(*args: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "forumctl.main", *map(str, args)],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--threads", type=int, default=15_000)
    parser.add_argument("--posts", type=int, default=30_000)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/migrate_resume.md")
    args = parser.parse_args()
    sizes = {"users": args.users, "threads": args.threads, "posts": args.posts}

    server = MotoServer.start()
    try:
        os.environ.update(server.env)
        ddb = boto3.client("dynamodb")
        load_before = os.getloadavg()[0]
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            run = migrate_resume.kill_and_resume(sizes, Path(tmp) / "data", ddb, forumctl, spawn)
        total = time.perf_counter() - t0
        migrate_resume.check(run, sizes, ddb)
    finally:
        server.stop()

    items = sum(sizes.values())
    lines = [
        "# migrate killed mid-run and resumed",
        "",
        f"Run by hand: `.venv/bin/python bench/migrate_resume_bench.py` ({items:,} items: "
        f"{sizes['users']:,} users, {sizes['threads']:,} threads, {sizes['posts']:,} posts), "
        "one moto server (the project's emulator) on 127.0.0.1, 2 shared cores; 1-minute load "
        f"average {load_before:.1f} at the start. All checks of the test passed.",
        "",
        f"Killed with {run.partial} items in the tables.",
        "",
        "| phase | seconds |",
        "| --- | ---: |",
        *(f"| {phase} | {secs:.1f} |" for phase, secs in run.seconds.items()),
        f"| **total** | {total:.1f} |",
        "",
    ]
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
