"""What the HTTP benchmarks share: servers in their own process groups, wrk runs parsed,
and the two probes of a serving stack (idle connections, keep-alive)."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
FORUM_SERVICE = Path(sys.executable).with_name("forum-service")

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
class WrkRun:
    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


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
def process_group(
    argv: Sequence[str], env: dict[str, str], log: Path, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        process = subprocess.Popen(
            list(argv),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=cwd,
        )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by process `root` and every live descendant
    (Linux /proc): what a server spent, whatever its processes and threads."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return sum(times.get(pid, 0.0) for pid in tree)


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PROMETHEUS_"))
        and k
        not in {
            "STORAGE_MODE",
            "DATA_DIR",
            "TABLE_PREFIX",
            "FORUMDB_CONFIG_DIR",
            "PORT",
            "LOG_LEVEL",
        }
    }


_DURATION = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * _DURATION[unit]


def run_wrk(url: str, duration: int, connections: int, script: Path | None = None) -> WrkRun:
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
    return WrkRun(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        requests=int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(percentiles["50"]) if "50" in percentiles else float("nan"),
        p99_ms=_ms(percentiles["99"]) if "99" in percentiles else float("nan"),
        errors=(int(errors.group(1)) if errors else 0)
        + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0),
    )


def median_run(runs: Sequence[WrkRun]) -> WrkRun:
    """The median of each figure over interleaved rounds."""
    return WrkRun(
        rps=statistics.median(r.rps for r in runs),
        requests=sum(r.requests for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        errors=sum(r.errors for r in runs),
    )


@contextlib.contextmanager
def _held_connections(port: int, heads: Sequence[bytes]) -> Iterator[None]:
    """One connection per head, each sending its head (b"": nothing) and then stopping; held
    open (after half a second for the server to take them) until the block ends."""
    held = []
    try:
        for head in heads:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if head:
                sock.sendall(head)
            held.append(sock)
        time.sleep(0.5)
        yield
    finally:
        for sock in held:
            sock.close()


def _answer_times(
    calls: Sequence[tuple[str, Callable[[], requests.Response]]], wait: float
) -> dict[str, str]:
    """Label -> "STATUS in S s" of each call in turn, or that none came within `wait`."""
    found = {}
    for label, call in calls:
        started = time.monotonic()
        try:
            response = call()
            found[label] = f"{response.status_code} in {time.monotonic() - started:.2f} s"
        except requests.RequestException:
            found[label] = f"no answer in {wait:g} s"
    return found


def idle_probe(port: int, idle: int = 200, wait: float = 10.0) -> dict[str, str]:
    """Opens `idle` connections (half send nothing, half a request head cut short), then
    times /healthz and GET /api/users on fresh connections. Each answer's time, or that
    none came within `wait` seconds."""
    partial = b"GET /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    base = f"http://127.0.0.1:{port}"
    calls = [(path, functools.partial(requests.get, f"{base}{path}", timeout=wait))
             for path in ("/healthz", "/api/users")]  # fmt: skip
    with _held_connections(port, [partial if i % 2 else b"" for i in range(idle)]):
        return _answer_times(calls, wait)


def stalled_body_probe(port: int, clients: int = 100, wait: float = 10.0) -> dict[str, str]:
    """Opens `clients` connections that each send a POST head and half its body, then stop;
    then times /healthz and a whole POST on fresh connections."""
    head = (
        b"POST /api/users HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 40\r\n\r\n{"username": "stall'
    )
    base = f"http://127.0.0.1:{port}"
    whole = {"username": "whole"}
    calls = [("/healthz", functools.partial(requests.get, f"{base}/healthz", timeout=wait)),
             ("POST", functools.partial(requests.post, f"{base}/api/users", json=whole,
                                        timeout=wait))]  # fmt: skip
    with _held_connections(port, [head] * clients):
        return _answer_times(calls, wait)


def keepalive_probe(port: int, requests_: int = 5) -> str:
    """How many requests one connection carried before the server closed it."""
    raw = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    served = 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        buffer = b""
        for _ in range(requests_):
            try:
                sock.sendall(raw)
                while b"\r\n\r\n" not in buffer:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return f"closed after {served}"
                    buffer += chunk
            except OSError:
                return f"closed after {served}"
            head, _, rest = buffer.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            while len(rest) < length:
                rest += sock.recv(65536)
            buffer = rest[length:]
            served += 1
            if re.search(rb"(?i)^connection: *close", head, re.M):
                return f"closed after {served}"
    return f"{served} of {requests_}"


def revision_source(revision: str, target: Path) -> Path:
    """That revision's core/ and services/, exported to the folder `target` (made here)."""
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "core", "services"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def json_store_env(sample: Path, data: Path, source: Path | None) -> dict[str, str]:
    """forum-service's environment in JSON mode on a copy of `sample` at `data` (made here),
    with access lines on; `source`: another revision's code (revision_source) to serve."""
    shutil.copytree(sample, data)
    env = {**clean_env(), "STORAGE_MODE": "json", "DATA_DIR": str(data), "LOG_LEVEL": "INFO"}
    if source is not None:
        env["PYTHONPATH"] = f"{source / 'core'}{os.pathsep}{source / 'services'}"
    return env
