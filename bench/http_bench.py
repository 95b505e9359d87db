"""HTTP benchmark of the users service under gunicorn: JSON mode vs DynamoDB on a moto server.

Run by hand (needs `wrk`: `apt-get install -y wrk`):

    .venv/bin/python bench/http_bench.py [--duration 10] [--connections 8] [--workers 2]

It starts a moto server and two `forum-service users` processes on 127.0.0.1 (one per storage
mode), seeds both with the same users, then runs wrk against each in turn, scenario by
scenario (GET one user, GET a page of 50, POST a user), so both servers see the same machine
load. Every run is bounded in time (`--duration` seconds). The load generator shares the CPU
with the servers, so the ratio between the modes is the figure to compare across machines,
not the absolute requests/s. Results go to bench/results/http_bench.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests

from forumdb.tables import KINDS, create_table_request, table_def

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "http_bench.md"
FORUM_SERVICE = Path(sys.executable).with_name("forum-service")
PREFIX = "bench-"
REGION = "us-east-1"
SEED_USERS = 200
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": REGION}

POST_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, '{"username": "bench' .. counter .. '", "bio": "load"}')
end
"""


@dataclass
class Result:
    scenario: str
    mode: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        with contextlib.suppress(requests.RequestException):
            requests.get(url, timeout=2)
            return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


@contextlib.contextmanager
def process_group(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PROMETHEUS_"))
        and k not in {"STORAGE_MODE", "DATA_DIR", "TABLE_PREFIX", "FORUMDB_CONFIG_DIR", "PORT"}
    }


def create_tables(endpoint: str) -> None:
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    for kind in KINDS:
        td = table_def(kind)
        client.create_table(**create_table_request(td, PREFIX + td.logical_name))


def seed(url: str) -> int:
    """SEED_USERS users; returns the id of one in the middle."""
    session = requests.Session()
    ids = []
    for i in range(SEED_USERS):
        response = session.post(
            f"{url}/api/users",
            json={"username": f"seed{i}", "email": f"seed{i}@bench.test", "bio": "x" * 80},
            timeout=30,
        )
        response.raise_for_status()
        ids.append(response.json()["id"])
    return ids[len(ids) // 2]


def moto_baseline(endpoint: str, some_id: int, seconds: float) -> dict[str, float]:
    """Sequential boto3 calls straight to the moto server, the service left out: what one
    store call costs there (ms per call, median), to tell moto's share from the service's."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    table = PREFIX + table_def("users").logical_name
    calls = {
        "GET item": lambda: client.get_item(
            TableName=table, Key={"userId": {"N": str(some_id)}}, ConsistentRead=True
        ),
        "GET list": lambda: client.scan(TableName=table, Limit=51, ConsistentRead=True),
        "POST": lambda: client.put_item(
            TableName=table,
            Item={"userId": {"N": str(time.time_ns() // 1000)}, "username": {"S": "direct"}},
        ),
    }
    medians = {}
    for scenario, call in calls.items():
        timings: list[float] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and len(timings) < 500:
            t0 = time.perf_counter()
            call()
            timings.append((time.perf_counter() - t0) * 1000)
        medians[scenario] = statistics.median(timings)
    return medians


_DURATION = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * _DURATION[unit]


def run_wrk(url: str, duration: int, connections: int, script: Path | None) -> dict[str, float]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "--latency"]
    if script is not None:
        argv += ["-s", str(script)]
    out = subprocess.run(
        [*argv, url], capture_output=True, text=True, check=True, timeout=duration + 60
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if "50" not in percentiles:  # no request completed in time: keep wrk's words
        print(out, file=sys.stderr)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(percentiles["50"]) if "50" in percentiles else float("nan"),
        "p99": _ms(percentiles["99"]) if "99" in percentiles else float("nan"),
        "errors": (int(errors.group(1)) if errors else 0)
        + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0),
    }


def write_report(
    results: list[Result], baseline: dict[str, float], args: argparse.Namespace, started: str
) -> str:
    lines = [
        "# HTTP benchmark: forum-service users, JSON mode vs DynamoDB on a moto server",
        "",
        f"Run {started} UTC by `bench/http_bench.py`: "
        f"{os.cpu_count()} CPU cores shared by wrk, moto and both services "
        f"(load average at the start: {args.load_before}). gunicorn sync workers: "
        f"{args.workers} per service; wrk: 1 thread, {args.connections} connections, "
        f"{args.duration} s per run; {SEED_USERS} users seeded before the runs; Python "
        f"{platform.python_version()}.",
        "",
        "| scenario | mode | requests/s | p50 ms | p99 ms | requests | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r.scenario} | {r.mode} | {r.requests_per_s:,.0f} | {r.p50_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.requests:,} | {r.errors} |"
        )
    lines += ["", "Ratio JSON / DynamoDB-on-moto (requests/s):", ""]
    by_key = {(r.scenario, r.mode): r for r in results}
    for scenario in dict.fromkeys(r.scenario for r in results):
        j, d = by_key.get((scenario, "json")), by_key.get((scenario, "dynamodb"))
        if j and d and d.requests_per_s:
            lines.append(f"- {scenario}: {j.requests_per_s / d.requests_per_s:.1f}x")
    lines += [
        "",
        "moto alone (sequential boto3 calls to the same server, no service; median ms per"
        " call): " + ", ".join(f"{k} {v:.1f} ms" for k, v in baseline.items()) + ".",
    ]
    lines += [
        "",
        "Reading it: the DynamoDB figures measure moto's server (one Python process that holds",
        "the GIL while it serialises), not DynamoDB; they show the service's own overhead on",
        "top of a slow backend and that nothing fails under load. JSON-mode writes are",
        "fsynced journal appends under a file lock, so POST is bounded by the disk's fsync",
        "rate. On 2 shared cores, repeat runs vary by up to 2x; compare ratios.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per service")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    args.load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    workdir = Path(tempfile.mkdtemp(prefix="forumdb-http-bench-"))
    env = clean_env()
    moto_port, json_port, dynamo_port = free_port(), free_port(), free_port()
    moto_url = f"http://127.0.0.1:{moto_port}"
    service_args = ["users", "--host", "127.0.0.1", "--workers", str(args.workers)]
    post_script = workdir / "post.lua"
    post_script.write_text(POST_SCRIPT)
    results: list[Result] = []
    baseline: dict[str, float] = {}
    try:
        with contextlib.ExitStack() as stack:
            moto = stack.enter_context(
                process_group(
                    [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                    env,
                    workdir / "moto.log",
                )
            )
            wait_until_up(f"{moto_url}/moto-api/", moto)
            create_tables(moto_url)
            json_env = {
                **env,
                "STORAGE_MODE": "json",
                "DATA_DIR": str(workdir / "data"),
                "LOG_LEVEL": "WARNING",
            }
            dynamo_env = {
                **env,
                **FAKE_AWS,
                "AWS_ENDPOINT_URL": moto_url,
                "STORAGE_MODE": "dynamodb",
                "TABLE_PREFIX": PREFIX,
                "LOG_LEVEL": "WARNING",
            }
            servers = {}
            for mode, port, mode_env in (
                ("json", json_port, json_env),
                ("dynamodb", dynamo_port, dynamo_env),
            ):
                process = stack.enter_context(
                    process_group(
                        [str(FORUM_SERVICE), *service_args, "--port", str(port)],
                        mode_env,
                        workdir / f"{mode}.log",
                    )
                )
                url = f"http://127.0.0.1:{port}"
                wait_until_up(f"{url}/healthz", process)
                servers[mode] = (url, seed(url))
            for scenario in ("GET item", "GET list", "POST"):
                for mode, (url, some_id) in servers.items():
                    target, script = {
                        "GET item": (f"{url}/api/users/{some_id}", None),
                        "GET list": (f"{url}/api/users?limit=50", None),
                        "POST": (f"{url}/api/users", post_script),
                    }[scenario]
                    measured = run_wrk(target, args.duration, args.connections, script)
                    result = Result(
                        scenario,
                        mode,
                        measured["rps"],
                        measured["p50"],
                        measured["p99"],
                        int(measured["requests"]),
                        int(measured["errors"]),
                    )
                    results.append(result)
                    print(json.dumps(result.__dict__), flush=True)
            baseline = moto_baseline(moto_url, servers["dynamodb"][1], min(args.duration, 5))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = write_report(results, baseline, args, started)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
