"""HTTP benchmarks of forum-service: storage modes, serving stacks, and the Koa peer.

Run by hand (needs `wrk`: `apt-get install -y wrk`), one of:

    .venv/bin/python bench/http_bench.py modes  [--duration 10] [--connections 8]
    .venv/bin/python bench/http_bench.py stacks [--duration 10] [--connections 32] [--rounds 3]
    .venv/bin/python bench/http_bench.py peer   [--duration 10] [--connections 32] [--rounds 3]
                                                [--baseline REVISION]

- `modes`: `forum-service users` in JSON mode against DynamoDB on a moto server, scenario by
  scenario (GET one user, GET a page of 50, POST a user): bench/results/http_bench.md.
- `stacks`: the same users app (JSON mode, the classic sample's four users) under each serving
  stack: forum-service's own (granian, RSGI bridge), granian's WSGI interface, gunicorn sync
  (forum-service before), gunicorn gthread with keep-alive, waitress. GET /api/users in
  interleaved rounds, plus what 200 idle connections do to /healthz and whether keep-alive
  holds. Stacks that are not installed are left out (`.venv/bin/pip install gunicorn
  waitress` for all): bench/results/serving.md.
- `peer`: the classic sample's Koa users service (bench/koa-users, `npm ci --prefix
  bench/koa-users`) against forum-service users, both on the sample's users/db.json, in
  interleaved rounds: GET /api/users, GET /api/users/2, then POST (forum-service only; the
  sample has no write route): bench/results/http_peer.md. `--baseline REV` adds
  forum-service as that git revision had it, in the same rounds, for a before/after.

Every wrk run is bounded in time (`--duration` seconds). wrk shares the CPU with the servers,
so ratios are the figures to compare across machines, not the absolute requests/s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests
from history import write_with_history
from httpkit import (
    FORUM_SERVICE,
    POST_SCRIPT,
    REPO,
    WrkRun,
    clean_env,
    free_port,
    idle_probe,
    json_store_env,
    keepalive_probe,
    load_average,
    median_run,
    process_group,
    revision_source,
    run_wrk,
    stalled_body_probe,
    tree_cpu_seconds,
    wait_until_up,
)

from forumdb.tables import KINDS, create_table_request, table_def

RESULTS = REPO / "bench" / "results"
SAMPLE = REPO / "examples" / "sample-data"
KOA = REPO / "bench" / "koa-users"
BIN = Path(sys.executable).parent
PREFIX = "bench-"
REGION = "us-east-1"
SEED_USERS = 200
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": REGION}


@dataclass
class Result:
    scenario: str
    mode: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


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


def write_report(
    results: list[Result], baseline: dict[str, float], args: argparse.Namespace, started: str
) -> str:
    lines = [
        "# HTTP benchmark: forum-service users, JSON mode vs DynamoDB on a moto server",
        "",
        f"Run {started} UTC by `bench/http_bench.py`: "
        f"{os.cpu_count()} CPU cores shared by wrk, moto and both services "
        f"(load average at the start: {args.load_before}). forum-service workers: "
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


def run_modes(args: argparse.Namespace) -> str:
    """JSON mode against DynamoDB on a moto server (see the module's docstring)."""
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    args.load_before = load_average()
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
                        measured.rps,
                        measured.p50_ms,
                        measured.p99_ms,
                        measured.requests,
                        measured.errors,
                    )
                    results.append(result)
                    print(json.dumps(result.__dict__), flush=True)
            baseline = moto_baseline(moto_url, servers["dynamodb"][1], min(args.duration, 5))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return write_report(results, baseline, args, started)


# ---- stacks: one app, several servers ----------------------------------------------------


@dataclass(frozen=True)
class Stack:
    name: str
    executable: str  # in the venv's bin; the stack is left out when missing
    argv: Callable[[int], list[str]]
    multiprocess: bool  # several worker processes: PROMETHEUS_MULTIPROC_DIR is needed


def _stacks(workers: int, threads: int) -> list[Stack]:
    w, t = str(workers), str(threads)
    return [
        Stack(
            "forum-service (granian, RSGI bridge)",
            "forum-service",
            lambda port: [
                *("users", "--host", "127.0.0.1", "--port", str(port)),
                *("--workers", w, "--threads", t),
            ],
            False,  # it prepares its own folder
        ),
        Stack(
            "granian WSGI",
            "granian",
            lambda port: [
                *("--interface", "wsgi", "--factory", "--http", "1", "--no-ws"),
                *("--workers", w, "--blocking-threads", t, "--log-level", "warning"),
                *("--host", "127.0.0.1", "--port", str(port), "stack_apps:users"),
            ],
            True,
        ),
        Stack(
            "gunicorn sync (forum-service before)",
            "gunicorn",
            lambda port: ["-w", w, "-b", f"127.0.0.1:{port}", "stack_apps:users()"],
            True,
        ),
        Stack(
            "gunicorn gthread, keep-alive 5 s",
            "gunicorn",
            lambda port: [
                *("-w", w, "-k", "gthread", "--threads", t, "--keep-alive", "5"),
                *("-b", f"127.0.0.1:{port}", "stack_apps:users()"),
            ],
            True,
        ),
        Stack(
            "waitress (one process)",
            "waitress-serve",
            lambda port: [
                f"--listen=127.0.0.1:{port}",
                f"--threads={t}",
                "--connection-limit=1000",
                "--call",
                "stack_apps:users",
            ],
            False,
        ),
    ]


def run_stacks(args: argparse.Namespace) -> str:
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    load_before = load_average()
    candidates = _stacks(args.workers, args.threads)
    stacks = [s for s in candidates if (BIN / s.executable).exists()]
    missing = [s.name for s in candidates if not (BIN / s.executable).exists()]
    workdir = Path(tempfile.mkdtemp(prefix="forumdb-stacks-bench-"))
    runs: dict[str, list[WrkRun]] = {s.name: [] for s in stacks}
    probes: dict[str, dict[str, str]] = {}
    try:
        with contextlib.ExitStack() as exits:
            urls = {}
            for i, stack in enumerate(stacks):
                port = free_port()
                data = workdir / f"data-{i}"
                shutil.copytree(SAMPLE, data)
                env = {
                    **clean_env(),
                    "STORAGE_MODE": "json",
                    "DATA_DIR": str(data),
                    "LOG_LEVEL": "INFO",
                    "PYTHONPATH": str(REPO / "bench"),
                }
                if stack.multiprocess:
                    metrics = workdir / f"metrics-{i}"
                    metrics.mkdir()
                    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
                process = exits.enter_context(
                    process_group(
                        [str(BIN / stack.executable), *stack.argv(port)],
                        env,
                        workdir / f"stack-{i}.log",
                        cwd=REPO / "bench",
                    )
                )
                urls[stack.name] = f"http://127.0.0.1:{port}"
                wait_until_up(f"{urls[stack.name]}/healthz", process)
            for round_ in range(args.rounds):
                for stack in stacks:
                    run = run_wrk(f"{urls[stack.name]}/api/users", args.duration, args.connections)
                    runs[stack.name].append(run)
                    print(json.dumps({"round": round_, "stack": stack.name, **run.__dict__}))
            for stack in stacks:
                port = int(urls[stack.name].rsplit(":", 1)[1])
                probes[stack.name] = {
                    "keep-alive": keepalive_probe(port),
                    **idle_probe(port, wait=args.idle_wait),
                    **{
                        f"stalled {k}": v
                        for k, v in stalled_body_probe(port, wait=args.idle_wait).items()
                    },
                }
                print(json.dumps({"stack": stack.name, **probes[stack.name]}), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _stacks_report(args, runs, probes, missing, started, load_before)


def _stacks_report(
    args: argparse.Namespace,
    runs: dict[str, list[WrkRun]],
    probes: dict[str, dict[str, str]],
    missing: list[str],
    started: str,
    load_before: str,
) -> str:
    lines = [
        "# Serving stacks: the users app under each server",
        "",
        f"Run {started} UTC by `bench/http_bench.py stacks`: {os.cpu_count()} CPU cores shared "
        f"by wrk and every server (load average {load_before} at the start, {load_average()} at "
        f"the end). Each stack: {args.workers} worker processes (waitress: one), "
        f"{args.threads} threads each where it has threads; JSON mode on the sample's four users; "
        "LOG_LEVEL=INFO (one JSON access line per request, to a file). "
        f"wrk: 1 thread, {args.connections} connections, {args.duration} s, "
        f"{args.rounds} interleaved rounds (every stack once per round); medians. "
        f"Python {platform.python_version()}.",
        "",
        "| stack | GET /api/users req/s | p50 ms | p99 ms | errors | req/s of each round |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, measured in runs.items():
        m = median_run(measured)
        each = ", ".join(f"{r.rps:,.0f}" for r in measured)
        lines.append(
            f"| {name} | {m.rps:,.0f} | {m.p50_ms:.1f} | {m.p99_ms:.1f} | {m.errors} | {each} |"
        )
    lines += [
        "",
        "Slow clients and keep-alive (after the load runs). Idle: 200 connections opened and "
        "left (100 send nothing, 100 half a request head), then /healthz and GET /api/users, "
        "each on a new connection. Stalled bodies: 100 connections send a POST head and half "
        "its body, then nothing; then /healthz and a whole POST. Keep-alive: how many of 5 "
        "requests one connection carries.",
        "",
        "| stack | 200 idle: /healthz | 200 idle: GET /api/users | 100 stalled bodies: "
        "/healthz | 100 stalled bodies: POST | keep-alive |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, found in probes.items():
        lines.append(
            f"| {name} | {found['/healthz']} | {found['/api/users']} | "
            f"{found['stalled /healthz']} | {found['stalled POST']} | {found['keep-alive']} |"
        )
    if missing:
        lines += ["", "Not installed here, left out: " + ", ".join(missing) + "."]
    lines += ["", *STACKS_READING]
    return "\n".join(lines) + "\n"


STACKS_READING = """\
## Reading it: why forum-service serves with granian and the RSGI bridge

- Idle and half-open connections: only the granian stacks and waitress keep answering. Their
  connections wait in an event loop (Rust's tokio for granian), not in a worker or a thread;
  gunicorn's sync workers are each taken by a connection that has sent nothing, and a gthread
  worker gives each new connection a thread for up to 5 s before it parks it, one after the
  other.
- Stalled bodies: granian's WSGI interface and gunicorn read a body on the thread that runs
  the request, with no timeout, so enough stalled bodies take every thread. The bridge awaits
  bodies on the event loop within `--body-timeout` (then 408 and the connection is closed);
  waitress buffers bodies in its loop too.
- Throughput: waitress is one Python process (one core at most); the granian stacks answer
  several times gunicorn sync's requests/s, and more than gthread's.
- Errors: gunicorn answers a long request line, large headers or a bad method with its own
  HTML pages and waitress with text; under granian those limits are the app's (the guard's
  JSON 414 and 431), and hyper answers only bytes that are not HTTP, with a bare status.
- Graceful stop: granian's workers stop accepting on SIGTERM, finish the requests in flight
  and close idle connections; waitress has no drain.
""".splitlines()


# ---- peer: the classic sample's Koa service ----------------------------------------------


KOA_NAME = "Koa 1.x (the classic sample)"
OURS = "forum-service users"


def _forum_argv(port: int, args: argparse.Namespace, source: Path | None) -> list[str]:
    options = ["users", "--host", "127.0.0.1", "--port", str(port)]
    options += ["--workers", str(args.workers), "--threads", str(args.threads)]
    if source is None:
        return [str(FORUM_SERVICE), *options]
    # The same command line, run from the exported revision (PYTHONPATH, set by the caller).
    main = "import sys; from forumdb_services.api.serve import main; sys.exit(main())"
    return [sys.executable, "-c", main, *options]


def run_peer(args: argparse.Namespace) -> str:
    if shutil.which("node") is None or not (KOA / "node_modules" / "koa").is_dir():
        raise SystemExit(
            "needs node and the Koa sample's packages: npm ci --prefix bench/koa-users"
        )
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    load_before = load_average()
    workdir = Path(tempfile.mkdtemp(prefix="forumdb-peer-bench-"))
    post_script = workdir / "post.lua"
    post_script.write_text(POST_SCRIPT)
    baseline = f"{OURS} at {args.baseline}" if args.baseline else None
    servers: dict[str, str] = {}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    scenarios = {"GET /api/users": "/api/users", "GET /api/users/2": "/api/users/2"}
    runs: dict[tuple[str, str], list[WrkRun]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}

    def measure(key: tuple[str, str], url: str, script: Path | None = None) -> None:
        before = tree_cpu_seconds(processes[key[1]].pid)
        run = run_wrk(url, args.duration, args.connections, script)
        spent = tree_cpu_seconds(processes[key[1]].pid) - before
        runs.setdefault(key, []).append(run)
        cpu.setdefault(key, []).append(spent / run.requests * 1e6 if run.requests else 0.0)
        print(json.dumps({"scenario": key[0], "server": key[1], **run.__dict__}), flush=True)

    try:
        with contextlib.ExitStack() as exits:
            port = free_port()
            servers[KOA_NAME] = f"http://127.0.0.1:{port}"
            processes[KOA_NAME] = exits.enter_context(
                process_group(
                    ["node", str(KOA / "server.js"), str(port), str(SAMPLE / "users" / "db.json")],
                    clean_env(),
                    workdir / "koa.log",
                )
            )
            forums = {OURS: None}
            if baseline:
                forums[baseline] = revision_source(args.baseline, workdir / "baseline")
            for name, source in forums.items():
                port = free_port()
                env = json_store_env(SAMPLE, workdir / f"data-{port}", source)
                servers[name] = f"http://127.0.0.1:{port}"
                processes[name] = exits.enter_context(
                    process_group(
                        _forum_argv(port, args, source), env, workdir / f"forum-{port}.log"
                    )
                )
            wait_until_up(f"{servers[KOA_NAME]}/api/users", processes[KOA_NAME])
            for name in forums:
                wait_until_up(f"{servers[name]}/healthz", processes[name])
            for _ in range(args.rounds):
                for scenario, path in scenarios.items():
                    for server, url in servers.items():
                        measure((scenario, server), f"{url}{path}")
            # Writes last: they grow the list the GETs read.
            for _ in range(args.rounds):
                for name in forums:
                    measure(("POST /api/users", name), f"{servers[name]}/api/users", post_script)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _peer_report(args, runs, cpu, started, load_before, baseline)


def _peer_report(
    args: argparse.Namespace,
    runs: dict[tuple[str, str], list[WrkRun]],
    cpu: dict[tuple[str, str], list[float]],
    started: str,
    load_before: str,
    baseline: str | None,
) -> str:
    also = (
        f"; {baseline} (the same, from that revision's code) in the same rounds" if baseline else ""
    )
    lines = [
        "# Peer benchmark: forum-service users against the classic sample's Koa service",
        "",
        f"Run {started} UTC by `bench/http_bench.py peer"
        + (f" --baseline {args.baseline}" if baseline else "")
        + f"`: {os.cpu_count()} CPU cores shared by wrk, the servers and other work (load "
        f"average {load_before} at the start, {load_average()} at the end). Koa 1.x and "
        "koa-router 5.x (bench/koa-users/server.js, the sample's routes, its per-request "
        "console line to a file) on one Node process; forum-service users in JSON mode, "
        f"{args.workers} workers of {args.threads} threads, LOG_LEVEL=INFO (one JSON access "
        f"line per request, to a file){also}. Each serves the sample's users/db.json (four "
        "users; forum-service's records carry version and timestamps too: 847 bytes against "
        f"Koa's 419). wrk: 1 thread, {args.connections} connections, {args.duration} s per "
        f"run, {args.rounds} interleaved rounds; medians. Server CPU is the CPU time of the "
        "server's processes during a run over its requests: it depends less on what else the "
        f"machine runs than req/s does. Python {platform.python_version()}.",
        "",
        "| scenario | server | req/s | p50 ms | p99 ms | server CPU µs/req | errors "
        "| req/s of each round |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    medians = {key: median_run(measured) for key, measured in runs.items()}
    for (scenario, server), measured in runs.items():
        m = medians[(scenario, server)]
        each = ", ".join(f"{r.rps:,.0f}" for r in measured)
        spent = statistics.median(cpu[(scenario, server)])
        lines.append(
            f"| {scenario} | {server} | {m.rps:,.0f} | {m.p50_ms:.1f} | {m.p99_ms:.1f} | "
            f"{spent:,.0f} | {m.errors} | {each} |"
        )
    lines += ["", "Against Koa (goal: at least 0.6x the req/s, p99 at most 3x):", ""]
    for server in (OURS, baseline):
        if server is None:
            continue
        for scenario in ("GET /api/users", "GET /api/users/2"):
            k, o = medians.get((scenario, KOA_NAME)), medians.get((scenario, server))
            if k and o and k.rps:
                per_round = [
                    f"{ro.rps / rk.rps:.2f}"
                    for rk, ro in zip(
                        runs[(scenario, KOA_NAME)], runs[(scenario, server)], strict=True
                    )
                ]
                lines.append(
                    f"- {server}, {scenario}: {o.rps / k.rps:.2f}x the req/s (rounds: "
                    f"{', '.join(per_round)}), p99 {o.p99_ms / k.p99_ms:.1f}x"
                )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, connections, output in (
        ("modes", 8, "http_bench.md"),
        ("stacks", 32, "serving.md"),
        ("peer", 32, "http_peer.md"),
    ):
        command = commands.add_parser(name)
        command.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
        command.add_argument("--connections", type=int, default=connections)
        command.add_argument("--workers", type=int, default=2, help="worker processes")
        command.add_argument("--threads", type=int, default=32, help="threads per worker")
        command.add_argument("--rounds", type=int, default=3)
        command.add_argument("--idle-wait", type=float, default=10.0)
        command.add_argument("--output", type=Path, default=RESULTS / output)
        if name == "peer":
            command.add_argument(
                "--baseline",
                metavar="REVISION",
                help="also serve forum-service from this git revision, in the same rounds",
            )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    report = {"modes": run_modes, "stacks": run_stacks, "peer": run_peer}[args.command](args)
    write_with_history(args.output, report)  # earlier runs stay below it
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
