"""Child processes for the harness: own process groups, clean stops, polling, tool calls.

Every long-running child (etcd, kube-apiserver, moto server, the operator) is started in a
new session so that stopping it stops whatever it spawned too (gunicorn workers, kopf's
threads' subprocesses). Each started group is remembered until stopped, so the session end
can prove that nothing is left behind (`leftover_groups`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

log = logging.getLogger("harness.procs")

T = TypeVar("T")

# pid -> what it is, for every group started and not yet stopped.
_live_groups: dict[int, str] = {}


class ToolError(subprocess.CalledProcessError):
    """A command-line tool failed; the message carries its command and stderr."""

    def __str__(self) -> str:
        cmd = " ".join(str(c) for c in self.cmd)
        err = (self.stderr or "").strip() or (self.output or "").strip()
        return f"`{cmd}` exited with {self.returncode}: {err}"


def run_tool(
    argv: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input: str | None = None,
    timeout: float = 120,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a tool to completion, text in and out; raise `ToolError` (with stderr) on failure."""
    proc = subprocess.run(
        [str(a) for a in argv],
        env=dict(env) if env is not None else None,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
    if check and proc.returncode != 0:
        raise ToolError(proc.returncode, proc.args, proc.stdout, proc.stderr)
    return proc


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def start_group(
    argv: Sequence[str | os.PathLike[str]],
    *,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    name: str,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start `argv` as the leader of a new process group, stdout+stderr into `log_file`."""
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            [str(a) for a in argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    _live_groups[proc.pid] = name
    log.debug("started %s pid=%d", name, proc.pid)
    return proc


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def group_alive(pid: int) -> bool:
    """True while any process of the group led by `pid` exists (zombies excluded)."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg(0) also succeeds for a zombie leader that nobody reaped; look at the members.
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pid and state != "Z":
            return True
    return False


def stop_group(proc: subprocess.Popen[bytes], *, grace: float = 10.0) -> int:
    """SIGTERM the process group, wait up to `grace` seconds, then SIGKILL it. Returns the
    leader's exit code (negative: the signal that ended it)."""
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            log.warning("pid %d ignored SIGTERM for %.0fs; killing its group", proc.pid, grace)
    return kill_group(proc)


def kill_group(proc: subprocess.Popen[bytes]) -> int:
    """SIGKILL the whole group (children the leader left behind too) and reap the leader."""
    _signal_group(proc.pid, signal.SIGKILL)
    code = proc.wait(timeout=30)
    wait_for(lambda: not group_alive(proc.pid), timeout=10, what=f"group {proc.pid} to exit")
    _live_groups.pop(proc.pid, None)
    return code


@contextmanager
def discard_on_failure(
    workdir: Path, processes: Collection[subprocess.Popen[bytes]]
) -> Iterator[None]:
    """If the block raises (a server failed to start), stop the processes started so far
    (a live view such as `dict.values()` sees those added inside) and remove `workdir`."""
    try:
        yield
    except BaseException:
        for proc in processes:
            stop_group(proc, grace=5)
        shutil.rmtree(workdir, ignore_errors=True)
        raise


def leftover_groups() -> dict[int, str]:
    """Groups started here and never stopped, that still have a live process."""
    return {pid: name for pid, name in _live_groups.items() if group_alive(pid)}


def kill_leftovers() -> dict[int, str]:
    """SIGKILL every group started here and never stopped; returns those that were alive."""
    leftovers = leftover_groups()
    for pid in leftovers:
        _signal_group(pid, signal.SIGKILL)
    _live_groups.clear()
    return leftovers


class GiveUp(Exception):
    """Raised by a `wait_for` predicate when waiting longer cannot help (a process died)."""


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.1,
    *,
    what: str | None = None,
) -> T:
    """Call `predicate` until it returns something truthy and return that value.

    Exceptions from the predicate count as "not yet", except `GiveUp`, which ends the wait at
    once and propagates; on timeout a `TimeoutError` names what
    was awaited and the last value or exception seen.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except GiveUp:
            raise
        except Exception as exc:
            last = exc
        if time.monotonic() >= deadline:
            desc = what or getattr(predicate, "__name__", "condition")
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {desc}; last: {last!r}")
        time.sleep(interval)


def tail(path: Path, max_chars: int = 4000) -> str:
    """The end of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<{path.name} unreadable: {exc}>"
    return text if len(text) <= max_chars else "...\n" + text[-max_chars:]
