"""Run the `forum-operator` console script as its own process against test servers.

    runner = OperatorRunner(kube_env=apiserver.env, aws_env=moto_server.env, workdir=tmp)
    op = runner.start("--namespace", ns, FORUMDB_DRIFT_INTERVAL="1")
    op.wait_for_log(r"reconciled")      # raises with the logs if the operator exits first
    op.stop()                           # SIGTERM, then SIGKILL after a grace period

Positional arguments are extra command-line arguments; keywords override environment
variables (None removes one). Each operator gets `--standalone` (no peering; unless the runner
says otherwise) and its own free health and metrics ports, so several can run at once, also
under pytest-xdist.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import requests

from harness.procs import GiveUp, free_port, kill_group, start_group, stop_group, tail, wait_for

DEFAULT_DRIFT_INTERVAL = "2"
# Settings of the developer's own shell that must never reach an operator under test: real AWS
# credentials or profiles, or a kubeconfig pointing at a real cluster.
_SCRUBBED_PREFIXES = ("AWS_", "KUBECONFIG", "KUBECACHEDIR", "FORUMDB_")


class OperatorExited(GiveUp):
    """The operator process ended while a test was waiting for it."""


def operator_executable() -> Path:
    """The venv's `forum-operator` script (next to the interpreter running the tests)."""
    script = Path(sys.executable).parent / "forum-operator"
    if not os.access(script, os.X_OK):
        raise FileNotFoundError(
            f"{script} not found: install the package into this venv (`make setup`)"
        )
    return script


@dataclass
class OperatorHandle:
    """One running (or finished) operator process."""

    process: Popen[bytes]
    log_file: Path
    argv: list[str]
    health_url: str
    metrics_url: str

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def logs(self) -> str:
        """Everything it wrote to stdout and stderr so far."""
        return self.log_file.read_text(errors="replace")

    def _exited(self, waiting_for: str) -> OperatorExited:
        return OperatorExited(
            f"forum-operator (pid {self.pid}) exited with {self.returncode} before {waiting_for}; "
            f"its logs:\n{tail(self.log_file)}"
        )

    def wait_for_log(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        """Wait until the logs match the regular expression `pattern`; return the match."""
        regex = re.compile(pattern)
        what = f"logging /{pattern}/"

        def matched() -> re.Match[str] | None:
            found = regex.search(self.logs())
            if found is None and not self.alive:
                found = regex.search(self.logs())  # it may have written the line and exited
                if found is None:
                    raise self._exited(what)
            return found

        try:
            return wait_for(matched, timeout=timeout, interval=0.1, what=what)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\nforum-operator logs:\n{tail(self.log_file)}") from None

    def wait_healthy(self, timeout: float = 30) -> None:
        """Wait until its liveness endpoint answers 200."""

        def healthy() -> bool:
            if not self.alive:
                raise self._exited(f"answering {self.health_url}")
            return requests.get(self.health_url, timeout=2).status_code == 200

        wait_for(healthy, timeout=timeout, interval=0.1, what=f"{self.health_url} to answer 200")

    def stop(self, grace: float = 10) -> int:
        """SIGTERM its process group, SIGKILL after `grace` seconds; the exit code."""
        return stop_group(self.process, grace=grace)

    def kill(self) -> int:
        """SIGKILL at once, as a crash would (no finalizers or cleanup run)."""
        return kill_group(self.process)


@dataclass
class OperatorRunner:
    """Starts operators against one Kubernetes API and one AWS endpoint; `stop_all()` at the end."""

    kube_env: Mapping[str, str]
    aws_env: Mapping[str, str]
    workdir: Path
    # Another program to run in its place (the runner's own tests use a stand-in).
    executable: Path | None = None
    # False: no --standalone, so the operator uses Kopf peering (`--peering NAME` in args).
    standalone: bool = True
    handles: list[OperatorHandle] = field(default_factory=list)
    _counter: itertools.count = field(default_factory=itertools.count)

    def environment(self, overrides: Mapping[str, str | None]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
        env.update(self.kube_env)
        env.update(self.aws_env)
        env["FORUMDB_DRIFT_INTERVAL"] = DEFAULT_DRIFT_INTERVAL
        env["PYTHONUNBUFFERED"] = "1"
        for key, value in overrides.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = str(value)
        return env

    def start(self, *args: str, **env_overrides: str | None) -> OperatorHandle:
        health_port, metrics_port = free_port(), free_port()
        argv = [
            str(self.executable or operator_executable()),
            *(["--standalone"] if self.standalone else []),
            *("--health-port", str(health_port)),
            *("--metrics-port", str(metrics_port)),
            *args,
        ]
        log_file = self.workdir / f"operator-{next(self._counter)}.log"
        process = start_group(
            argv, log_file=log_file, env=self.environment(env_overrides), name="forum-operator"
        )
        handle = OperatorHandle(
            process=process,
            log_file=log_file,
            argv=argv,
            health_url=f"http://127.0.0.1:{health_port}/healthz",
            metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
        )
        self.handles.append(handle)
        return handle

    __call__ = start

    def stop_all(self) -> None:
        for handle in self.handles:
            handle.stop()
