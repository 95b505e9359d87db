"""Starting one process of the local stack, recording it in the state folder at once, and
waiting until it serves (or saying, with its log, why it never will)."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from subprocess import Popen
from typing import TypeVar

import requests

from forumctl.dev.errors import DevStackError
from forumctl.dev.procs import GiveUp, process_start_ticks, start_group, wait_for
from forumctl.dev.state import DevState, ProcessRecord, save_state
from forumdb.config import SETTINGS_ENV_NAMES

T = TypeVar("T")
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Settings of the user's shell that must not reach the stack's processes: real AWS accounts,
# a kubeconfig of a real cluster, or storage settings meant for something else.
_SCRUBBED_PREFIXES = ("AWS_", "KUBECONFIG", "KUBECACHEDIR", "FORUMDB_", "PROMETHEUS_MULTIPROC")
_SCRUBBED = {*SETTINGS_ENV_NAMES, "WEB_CONCURRENCY"}


def base_env(**extra: str) -> dict[str, str]:
    """This process's environment without the settings above, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def console_script(name: str) -> Path:
    """`forum-operator`, `forum-service`, `forumctl` of this installation."""
    beside = Path(sys.executable).parent / name
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found is None:
        raise DevStackError(
            f"the {name} command is not installed next to {sys.executable} nor on PATH",
            hint="install the package into this environment (`make setup`)",
        )
    return Path(found)


class Launcher:
    """Starts processes for one stack and records each in its state file right away."""

    def __init__(self, state_dir: Path, state: DevState) -> None:
        self.state_dir = state_dir
        self.state = state
        self.log_dir = state_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        env: Mapping[str, str],
        *,
        url: str | None = None,
    ) -> tuple[Popen[bytes], ProcessRecord]:
        log = self.log_file(name)
        try:
            proc = start_group(argv, log_file=log, env=env, name=name)
        except OSError as exc:
            raise DevStackError(f"cannot start {name} ({argv[0]}): {exc}", log=log) from None
        return proc, self.adopt(name, proc, log, url=url)

    def adopt(
        self, name: str, proc: Popen[bytes], log: Path, *, url: str | None = None
    ) -> ProcessRecord:
        """Record a process started elsewhere (etcd and kube-apiserver)."""
        record = ProcessRecord(
            name=name, pid=proc.pid, start_ticks=process_start_ticks(proc.pid), log=log, url=url
        )
        self.state.processes.append(record)
        save_state(self.state_dir, self.state)
        return record


def _exited(name: str, proc: Popen[bytes]) -> GiveUp:
    return GiveUp(f"{name} exited with code {proc.returncode}")


def wait_http_ok(
    name: str, proc: Popen[bytes], log: Path, url: str, *, timeout: float = 60
) -> None:
    """Wait until GET url answers 200; fail at once if the process ends."""

    def ok() -> bool:
        if proc.poll() is not None:
            raise _exited(name, proc)
        return requests.get(url, timeout=2).status_code == 200

    _wait(name, log, ok, timeout, f"{url} to answer 200")


def wait_log_line(
    name: str, proc: Popen[bytes], log: Path, pattern: re.Pattern[str], *, timeout: float = 60
) -> re.Match[str]:
    """Wait until the process's log has a line matching `pattern`."""

    def matched() -> re.Match[str] | None:
        found = pattern.search(log.read_text(errors="replace"))
        if found is None and proc.poll() is not None:
            raise _exited(name, proc)
        return found

    return _wait(name, log, matched, timeout, f"its log to say /{pattern.pattern}/")


def _wait(name: str, log: Path, predicate: Callable[[], T], timeout: float, what: str) -> T:
    try:
        return wait_for(predicate, timeout=timeout, interval=0.1, what=what)
    except GiveUp as exc:
        raise DevStackError(str(exc), log=log) from None
    except TimeoutError:
        raise DevStackError(
            f"{name}: no answer after {timeout:.0f}s waiting for {what}", log=log
        ) from None
