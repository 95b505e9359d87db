"""Running the real `forum-service` console script (granian) as its own process group."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import Any

import pytest
import requests

from forumdb.config import SETTINGS_ENV_NAMES
from harness.procs import GiveUp, free_port, start_group, stop_group, tail, wait_for

FORUM_SERVICE = Path(sys.executable).with_name("forum-service")


@dataclass
class ServiceProcess:
    service: str
    url: str
    process: Popen[bytes]
    log_file: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace")

    def access_lines(self) -> list[dict[str, Any]]:
        """The JSON access-log lines written so far."""
        lines = []
        for raw in self.logs().splitlines():
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if entry.get("logger") == "forumdb.api.access":
                lines.append(entry)
        return lines


@dataclass
class ServiceRunner:
    workdir: Path
    started: list[ServiceProcess] = field(default_factory=list)

    def start(
        self,
        service: str,
        env: dict[str, str],
        *,
        workers: int = 1,
        timeout: float = 60,
        args: tuple[str, ...] = (),
    ) -> ServiceProcess:
        """`forum-service SERVICE --port N --workers W [args]` with `env` over a clean
        environment; returns once /healthz answers."""
        if not FORUM_SERVICE.exists():
            pytest.fail(f"{FORUM_SERVICE} is missing: install the package (make setup)")
        port = free_port()
        log_file = self.workdir / f"{service}-{port}.log"
        argv = [FORUM_SERVICE, service, "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", str(workers), *args]
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "PROMETHEUS_")) and k not in _CONFIG_NAMES
        }
        process = start_group(
            argv, log_file=log_file, env={**base, **env}, name=f"forum-service {service}"
        )
        handle = ServiceProcess(service, f"http://127.0.0.1:{port}", process, log_file)
        self.started.append(handle)

        def healthy() -> bool:
            if process.poll() is not None:
                raise GiveUp(
                    f"forum-service {service} exited with {process.returncode}:\n{tail(log_file)}"
                )
            return requests.get(f"{handle.url}/healthz", timeout=2).status_code == 200

        wait_for(healthy, timeout=timeout, interval=0.1, what=f"forum-service {service} /healthz")
        return handle

    def stop_all(self) -> None:
        for handle in self.started:
            stop_group(handle.process, grace=15)


_CONFIG_NAMES = {*SETTINGS_ENV_NAMES, "WEB_CONCURRENCY"}


@pytest.fixture
def service_runner() -> Iterator[ServiceRunner]:
    """Factory of forum-service processes; all stopped at teardown, their logs printed."""
    runner = ServiceRunner(Path(tempfile.mkdtemp(prefix="forumdb-service-")))
    try:
        yield runner
    finally:
        runner.stop_all()
        for handle in runner.started:
            print(f"---- forum-service {handle.service} ({handle.url})")
            print(tail(handle.log_file))
        shutil.rmtree(runner.workdir, ignore_errors=True)
