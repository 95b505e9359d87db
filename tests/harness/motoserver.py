"""The project's AWS emulator (forumdb_emulator: moto extended) as its own server process, on
127.0.0.1 unless told otherwise.

`python -m forumdb_emulator.server --port 0` picks its own port and prints
`forumdb-moto ready on http://127.0.0.1:N` once it serves; the URL is read from that line.
Without the emulator installed (no `dev` extra), plain `python -m moto.server` on a free port
is used, polled until it answers.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any

import boto3
import requests

from harness.procs import (
    GiveUp,
    discard_on_failure,
    free_port,
    start_group,
    stop_group,
    tail,
    wait_for,
)

READY_LINE = re.compile(r"forumdb-moto ready on (http://\S+)")
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DEFAULT_REGION = "us-east-1"


def extension_available() -> bool:
    return importlib.util.find_spec("forumdb_emulator") is not None


@dataclass
class MotoServer:
    """A running moto server. Build it with `MotoServer.start()`."""

    url: str
    workdir: Path
    process: Popen[bytes]
    extended: bool
    region: str = DEFAULT_REGION

    @property
    def env(self) -> dict[str, str]:
        """What a boto3 client (or a process) needs to talk to this server and nothing else."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            **FAKE_CREDENTIALS,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client of this server with the fake credentials, whatever the environment
        says (for tests that do not patch it with the `aws` fixture)."""
        session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=region or self.region,
        )
        return session.client(service, endpoint_url=self.url)

    @property
    def control(self) -> Any:
        """The extension's control client (faults, replication, backup runs, reset)."""
        if not self.extended:
            raise RuntimeError(
                f"the moto server at {self.url} runs without the forumdb extension "
                "(forumdb_emulator is not installed): no control API"
            )
        from forumdb_emulator.control import ExtControl

        return ExtControl(self.url)

    @classmethod
    def start(cls, *, host: str = "127.0.0.1", timeout: float = 60) -> MotoServer:
        """Start it on `host` (another address than loopback when pods in a kind cluster must
        reach it) and wait until it serves."""
        workdir = Path(tempfile.mkdtemp(prefix="forumdb-moto-"))
        log_file = workdir / "moto.log"
        extended = extension_available()
        if extended:
            argv = [sys.executable, "-m", "forumdb_emulator.server", "--host", host, "--port", "0"]
        else:
            port = free_port()
            argv = [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "PYTHONUNBUFFERED": "1",
        }
        process = start_group(argv, log_file=log_file, env=env, name="moto server")

        def served_url() -> str | None:
            if process.poll() is not None:
                raise GiveUp(f"moto server exited with {process.returncode}:\n{tail(log_file)}")
            if extended:
                match = READY_LINE.search(log_file.read_text(errors="replace"))
                return match.group(1) if match else None
            url = f"http://{host}:{port}"
            requests.get(f"{url}/moto-api/", timeout=2)
            return url

        with discard_on_failure(workdir, [process]):
            url = wait_for(served_url, timeout=timeout, interval=0.05, what="the moto server")
        return cls(
            url=url,
            workdir=workdir,
            process=process,
            extended=extended,
        )

    def reset(self) -> None:
        """Forget every resource (all services, all regions), and the extension's faults,
        outages and replication settings; AWS's rules back to the emulator's (strict)
        defaults."""
        response = requests.post(f"{self.url}/moto-api/reset", timeout=30)
        response.raise_for_status()
        if self.extended:
            self.control.reset()

    def logs(self) -> str:
        return (self.workdir / "moto.log").read_text(errors="replace")

    def stop(self) -> None:
        stop_group(self.process, grace=10)
        shutil.rmtree(self.workdir, ignore_errors=True)
