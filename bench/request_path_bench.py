"""CPU per request inside one service process, before and after a change: the app alone
(no server, no network), called as a worker calls it, so the figure is the request path's
own cost.

    .venv/bin/python bench/request_path_bench.py --before 43655ff [--rounds 5]

`--before` is a git revision: its core/ and services/ are exported to a temporary folder and
measured in a child process, in rounds interleaved with this checkout's. Each measurement is
process CPU time (user + system) per request, the best of a round's repeats: unlike wall
time it hardly depends on what else runs on the machine. Both versions serve JSON mode on
the sample's users with LOG_LEVEL=INFO (access lines to /dev/null) and prometheus_client in
multiprocess mode, as forum-service runs them. Results: bench/results/request_path.md.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "request_path.md"
# The last one runs after the POSTs: a page of 50 out of the hundreds of users they made.
SCENARIOS = (
    "GET /healthz",
    "GET /api/users",
    "GET /api/users/2",
    "POST /api/users",
    "GET /api/users?limit=50",
)


def _environ(method: str, target: str, body: bytes = b"") -> dict[str, Any]:
    path, _, query = target.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "HTTP_HOST": "127.0.0.1:8080",
        "HTTP_ACCEPT": "*/*",
        "HTTP_USER_AGENT": "wrk/4.1.0",
    }
    if body:
        environ["CONTENT_TYPE"] = "application/json"
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def _worker_app() -> Any:
    """The WSGI app as the version's worker builds it."""
    try:
        from forumdb_services.api.server import ServerOptions, build_worker_app
    except ImportError:  # before: gunicorn's worker configured logging, then made the app
        from forumdb.config import load_settings
        from forumdb.logs import configure_logging
        from forumdb_services.api.app import create_app

        configure_logging(load_settings().log_level)
        return create_app("users")
    return build_worker_app("users", ServerOptions()).app


def measure(repeats: int, source: Path) -> dict[str, float]:
    """CPU microseconds per request of each scenario, in this process."""
    import forumdb_services

    loaded = Path(forumdb_services.__file__).resolve()
    if not loaded.is_relative_to(source.resolve()):
        raise SystemExit(f"forumdb_services came from {loaded}, not from {source}")
    app = _worker_app()
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for logger in (logging.getLogger(), logging.getLogger("forumdb.api.access")):
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(devnull)

    def call(method: str, path: str, body: bytes = b"") -> int:
        status: list[str] = []
        result = app(_environ(method, path, body), lambda s, h, e=None: status.append(s))
        b"".join(result)
        getattr(result, "close", lambda: None)()
        return int(status[0].split()[0])

    found = {}
    for scenario in SCENARIOS:
        method, path = scenario.split()
        posting = method == "POST"
        count = 100 if posting else 1000
        best = float("inf")
        for repeat in range(repeats + 1):
            started = time.process_time()
            for i in range(count):
                body = b'{"username": "u%d_%d"}' % (repeat, i) if posting else b""
                status = call(method, path, body)
                assert status in (200, 201), (scenario, status)
            if repeat:  # the first repeat warms up
                best = min(best, (time.process_time() - started) / count * 1e6)
        found[scenario] = best
    found.update(_through_the_bridge(repeats))
    found.update(_storage_alone(repeats))
    return found


# Rows of whole requests through the RSGI bridge, granian's side played by stand-ins: the
# hand-over to a thread and back, or (with the edge cache) the answer on the event loop.
BRIDGE_ROWS = ("bridge: GET /api/users", "bridge: GET /api/users/2")


class _Headers:
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def items(self) -> list[tuple[str, str]]:
        return self._pairs


class _Protocol:
    status = 0

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status


def _through_the_bridge(repeats: int) -> dict[str, float]:
    import asyncio
    from types import SimpleNamespace

    from forumdb_services.api.server import ServerOptions, build_worker_app

    bridge = build_worker_app("users", ServerOptions())
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    for handler in logging.getLogger("forumdb.api.access").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(devnull)
    loop = asyncio.new_event_loop()
    bridge.__rsgi_init__(loop)
    headers = _Headers([("host", "127.0.0.1:8080"), ("accept", "*/*"), ("user-agent", "wrk")])

    async def serve(path: str, count: int) -> None:
        scope = SimpleNamespace(
            proto="http", http_version="1.1", scheme="http", server="127.0.0.1:8080",
            client="127.0.0.1:40000", authority=None, method="GET", path=path,
            query_string="", headers=headers,
        )  # fmt: skip
        for _ in range(count):
            protocol = _Protocol()
            await bridge.__rsgi__(scope, protocol)
            assert protocol.status == 200, (path, protocol.status)

    found = {}
    try:
        for row in BRIDGE_ROWS:
            path = row.split()[-1]
            best = float("inf")
            for repeat in range(repeats + 1):
                started = time.process_time()
                loop.run_until_complete(serve(path, 1000))
                if repeat:
                    best = min(best, (time.process_time() - started) / 1000 * 1e6)
            found[row] = best
    finally:
        bridge.__rsgi_del__(loop)
        loop.close()
    return found


# Rows of the storage layer's share: the same reads, straight from the store.
STORAGE_ROWS = ("storage alone: get one user", "storage alone: list 50 users")


def _storage_alone(repeats: int) -> dict[str, float]:
    from forumdb.config import load_settings
    from forumdb_services.storage import open_store

    users = open_store(load_settings()).collection("users")
    calls = {STORAGE_ROWS[0]: lambda: users.get(2), STORAGE_ROWS[1]: lambda: users.list(50)}
    found = {}
    for row, call in calls.items():
        best = float("inf")
        for repeat in range(repeats + 1):
            started = time.process_time()
            for _ in range(1000):
                call()
            if repeat:
                best = min(best, (time.process_time() - started) / 1000 * 1e6)
        found[row] = best
    return found


def _child(source: Path, repeats: int, data: Path) -> dict[str, float]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PROMETHEUS_"))},
        "PYTHONPATH": f"{source / 'core'}{os.pathsep}{source / 'services'}",
        "STORAGE_MODE": "json",
        "DATA_DIR": str(data),
        "LOG_LEVEL": "INFO",
        "PROMETHEUS_MULTIPROC_DIR": str(data.parent / f"metrics-{data.name}"),
    }
    env.pop("FORUMDB_CONFIG_DIR", None)
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(exist_ok=True)
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(repeats), "--source", str(source)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)  # the child's side
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.source)))
        return 0
    if not args.before:
        parser.error("--before REVISION is required")
    workdir = Path(tempfile.mkdtemp(prefix="forumdb-request-path-"))
    try:
        before = workdir / "before"
        before.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", args.before, "core", "services"],
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
        sources = {"before": before, "after": REPO}
        runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        for round_ in range(args.rounds):
            for version, source in sources.items():
                data = workdir / f"data-{version}-{round_}"
                shutil.copytree(REPO / "examples" / "sample-data", data)
                runs[version].append(_child(source, args.repeats, data))
                print(version, json.dumps(runs[version][-1]), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report = _report(args, runs, load)
    args.output.write_text(report)
    print(report)
    return 0


def _report(args: argparse.Namespace, runs: dict[str, list[dict[str, float]]], load: str) -> str:
    lines = [
        "# The request path: CPU per request inside the users service",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC by "
        f"`bench/request_path_bench.py --before {args.before}`: before = that revision's core/ "
        "and services/, after = this checkout. The app alone, called as a worker calls it (no "
        "server, no socket), JSON mode on the sample's four users (the last row: a page of 50 "
        "once the POSTs have made hundreds), LOG_LEVEL=INFO (access lines "
        "to /dev/null), prometheus_client in multiprocess mode. Process CPU time per request, "
        f"best of {args.repeats} repeats (1,000 requests, 100 for POST) per round, "
        f"{args.rounds} rounds alternating before and after; medians over rounds. Load average "
        f"{load} at the start; Python {platform.python_version()}. The bridge rows are whole "
        "requests through the RSGI bridge (granian's side played by stand-ins, one at a time; "
        "run after the POSTs, so GET /api/users is a page of 50 there). "
        "The storage rows are the store's own calls (`collection.get`, `collection.list`), "
        "part of the rows above.",
        "",
        "| scenario | before µs | after µs | after / before |",
        "| --- | ---: | ---: | ---: |",
    ]
    for scenario in (*SCENARIOS, *BRIDGE_ROWS, *STORAGE_ROWS):
        b = statistics.median(r[scenario] for r in runs["before"])
        a = statistics.median(r[scenario] for r in runs["after"])
        lines.append(f"| {scenario} | {b:.0f} | {a:.0f} | {a / b:.2f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
