"""The pieces of a regional-failover run, shared by the integration tests and
bench/failover_bench.py: the ForumDatabase, a kubelet stand-in that mirrors the operator's
ConfigMap into a folder, a real forum-service reading that folder, and a client that writes
steadily through it and remembers every acknowledged write.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

import requests
from kubernetes import config as kube_config
from kubernetes.client import CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from forumdb import naming
from harness.procs import GiveUp, free_port, start_group, stop_group, tail, wait_for

PRIMARY, DR = "us-east-1", "us-west-2"
NAME = "forum"
FORUM_SERVICE = Path(sys.executable).with_name("forum-service")
_SCRUB = ("AWS_", "PROMETHEUS_", "FORUMDB_", "STORAGE_MODE", "TABLE_PREFIX", "DATA_DIR")


def forumdatabase(
    *,
    mode: str = "Automatic",
    interval: int = 1,
    threshold: int = 3,
    name: str = NAME,
    replicas: tuple[str, ...] = (DR,),
    backups: bool = False,
) -> dict[str, Any]:
    """A small ForumDatabase (tables, replicas and PITR: quick to become Ready); with
    `backups`, an AWS Backup plan copying into the DR region."""
    manifest: dict[str, Any] = {
        "apiVersion": "forumdb.io/v1alpha1",
        "kind": "ForumDatabase",
        "metadata": {"name": name},
        "spec": {
            "primaryRegion": PRIMARY,
            "replicaRegions": list(replicas),
            "pointInTimeRecovery": {"enabled": True},
            "failover": {
                "mode": mode,
                "healthCheckIntervalSeconds": interval,
                "failureThreshold": threshold,
            },
        },
    }
    if backups:
        manifest["spec"]["backups"] = {"enabled": True, "copyRegion": replicas[0]}
    return manifest


class StatusReader:
    """The ForumDatabase's status through the Python client: a read costs milliseconds (no
    kubectl process), so a test can follow the health monitor check by check."""

    def __init__(self, kubeconfig: Path, namespace: str, name: str = NAME) -> None:
        self.api = CustomObjectsApi(kube_config.new_client_from_config(config_file=str(kubeconfig)))
        self.namespace, self.name = namespace, name

    def status(self) -> dict[str, Any]:
        obj = self.api.get_namespaced_custom_object(
            naming.GROUP, naming.VERSION, self.namespace, naming.PLURAL, self.name
        )
        return obj.get("status") or {}

    def failures(self, region: str) -> int:
        """consecutiveFailures of `region`'s health checks, as the operator last published."""
        for item in self.status().get("regionHealth", []):
            if item["region"] == region:
                return int(item["consecutiveFailures"])
        raise LookupError(f"no regionHealth for {region} in {self.namespace}/{self.name}")


_PROBE_CALLS = re.compile(
    r'^forumdb_aws_calls_total\{(?=[^}]*operation="GetItem")(?=[^}]*region="([^"]+)")'
    r"[^}]*\} (\S+)$",
    re.M,
)


def probe_calls(metrics_url: str, region: str) -> float:
    """GetItem calls the operator made in `region` (its /metrics): the health check's data-plane
    probe reads the sentinel item once per region and interval (forumdb_operator.probes), so
    the count tells how many checks have run; nothing else in the operator calls GetItem."""
    text = requests.get(metrics_url, timeout=5).text
    return sum(float(v) for r, v in _PROBE_CALLS.findall(text) if r == region)


def wait_for_health_checks(metrics_url: str, region: str, checks: int, timeout: float = 60) -> None:
    """Wait for `checks` more health checks of `region` (one probe call each)."""
    start = probe_calls(metrics_url, region)
    wait_for(
        lambda: probe_calls(metrics_url, region) >= start + checks,
        timeout=timeout,
        what=f"{checks} more health checks of {region}",
    )


class ConfigMirror:
    """What the kubelet does for a mounted ConfigMap: keep one file per key in a folder (each
    written atomically), here polled every `interval` seconds; remembers when AWS_REGION
    changed (monotonic time)."""

    def __init__(
        self, kubeconfig: Path, namespace: str, name: str, folder: Path, interval: float = 0.1
    ) -> None:
        self.core = CoreV1Api(kube_config.new_client_from_config(config_file=str(kubeconfig)))
        self.namespace, self.name, self.folder, self.interval = namespace, name, folder, interval
        self.region: str | None = None
        self.switches: list[tuple[float, str]] = []  # (monotonic time, new AWS_REGION)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="config-mirror", daemon=True)
        folder.mkdir(parents=True, exist_ok=True)

    def sync(self) -> bool:
        try:
            data = self.core.read_namespaced_config_map(self.name, self.namespace).data or {}
        except ApiException:
            return False
        for key, value in data.items():
            path = self.folder / key
            if not path.exists() or path.read_text() != value:
                tmp = self.folder / f".{key}.tmp"
                tmp.write_text(value)
                os.replace(tmp, path)
        region = data.get("AWS_REGION")
        if region != self.region:
            self.switches.append((time.monotonic(), region or ""))
            self.region = region
        return True

    def start(self) -> ConfigMirror:
        wait_for(self.sync, timeout=60, what=f"ConfigMap {self.namespace}/{self.name}")
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sync()

    def switched_to(self, region: str) -> float | None:
        return next((t for t, r in self.switches if r == region), None)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


@dataclass
class Service:
    url: str
    process: Popen[bytes]
    log_file: Path

    def ready(self) -> dict[str, Any]:
        return requests.get(f"{self.url}/readyz", timeout=5).json()

    def region_gauge(self) -> dict[str, float]:
        """forumdb_storage_region_info by region, from /metrics."""
        out: dict[str, float] = {}
        for line in requests.get(f"{self.url}/metrics", timeout=5).text.splitlines():
            if line.startswith("forumdb_storage_region_info{"):
                labels, value = line.rsplit(" ", 1)
                region = labels.split('region="', 1)[1].split('"', 1)[0]
                out[region] = float(value)
        return out

    def stop(self) -> None:
        stop_group(self.process, grace=15)


def start_service(
    config_dir: Path, aws_env: dict[str, str], workdir: Path, *, threads: int = 32
) -> Service:
    """`forum-service users` (gunicorn, gthread) reading its settings from `config_dir`."""
    port = free_port()
    log_file = workdir / f"users-{port}.log"
    base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    env = {
        **base,
        **{k: v for k, v in aws_env.items() if k != "AWS_REGION"},
        "FORUMDB_CONFIG_DIR": str(config_dir),
    }
    argv = [FORUM_SERVICE, "users", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", "1", "--threads", str(threads)]
    process = start_group(argv, log_file=log_file, env=env, name="forum-service users")
    service = Service(f"http://127.0.0.1:{port}", process, log_file)

    def healthy() -> bool:
        if process.poll() is not None:
            raise GiveUp(f"forum-service exited with {process.returncode}:\n{tail(log_file)}")
        return requests.get(f"{service.url}/healthz", timeout=2).status_code == 200

    wait_for(healthy, timeout=60, what="forum-service users /healthz")
    return service


@dataclass
class Ack:
    user_id: int
    username: str
    at: float  # monotonic time of the acknowledgement


@dataclass
class Writer:
    """`clients` clients creating users one request after the other each (every request with
    a short timeout, as a web front end would), until stopped."""

    url: str
    clients: int = 4
    timeout: float = 1.0
    acks: list[Ack] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Writer:
        for i in range(self.clients):
            thread = threading.Thread(target=self._run, args=(i,), name=f"writer-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, client: int) -> None:
        n = 0
        session = requests.Session()
        while not self._stop.is_set():
            n += 1
            username = f"writer-{os.getpid()}-{client}-{n}-{time.monotonic_ns()}"
            try:
                r = session.post(
                    f"{self.url}/api/users",
                    json={"username": username, "name": f"Writer {client}/{n}"},
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                self.failures.append((time.monotonic(), type(exc).__name__))
                continue
            if r.status_code == 201:
                self.acks.append(Ack(int(r.json()["id"]), username, time.monotonic()))
            else:
                self.failures.append((time.monotonic(), f"{r.status_code}"))
                time.sleep(0.05)
            time.sleep(0.02)

    def first_ack_after(self, t: float) -> Ack | None:
        return min((a for a in list(self.acks) if a.at > t), key=lambda a: a.at, default=None)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def acked_before(acks: list[Ack], t: float) -> list[Ack]:
    return [a for a in list(acks) if a.at < t]


def acked_since(acks: list[Ack], t: float) -> list[Ack]:
    return [a for a in list(acks) if a.at >= t]


def missing_acks(service_url: str, acks: list[Ack]) -> list[Ack]:
    """Acknowledged writes that the service cannot read back (now, in its current region),
    oldest first. Read newest first: hundreds of reads take seconds, and the newest
    writes are those still replicating, so read last they might land before they are read."""
    missing = []
    session = requests.Session()
    for ack in sorted(acks, key=lambda a: a.at, reverse=True):
        r = session.get(f"{service_url}/api/users/{ack.user_id}", timeout=10)
        if r.status_code != 200 or r.json().get("username") != ack.username:
            missing.append(ack)
    return sorted(missing, key=lambda a: a.at)


@dataclass
class OutageRun:
    """Times (seconds) of one outage of the active region, from the outage's start."""

    detected: float  # the operator switched the ConfigMap
    writes_back: float  # the first write acknowledged after the switch
    acked_before: int
    failed_during: int
    started_at: float  # monotonic time the outage began

    @property
    def switch(self) -> float:
        return self.writes_back - self.detected

    @property
    def switched_at(self) -> float:
        """Monotonic time of the ConfigMap's switch: every write acknowledged before it went to
        the region that went down, every one after it to the new region."""
        return self.started_at + self.detected


def measure_outage(
    control: Any, mirror: ConfigMirror, writer: Writer, *, region: str, to: str, timeout: float
) -> OutageRun:
    """Take `region` down, wait for the switch to `to` and the first write after it."""
    acked_before = len(writer.acks)
    started = time.monotonic()
    control.region_outage(region)
    switched = wait_for(
        lambda: mirror.switched_to(to), timeout=timeout, interval=0.05, what=f"switch to {to}"
    )
    ack = wait_for(
        lambda: writer.first_ack_after(switched),
        timeout=timeout,
        interval=0.05,
        what=f"a write acknowledged in {to}",
    )
    failed = sum(1 for t, _ in list(writer.failures) if t >= started)
    return OutageRun(switched - started, ack.at - started, acked_before, failed, started)
