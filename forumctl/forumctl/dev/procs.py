"""Child processes of the local stack and the test harness: own process groups, clean stops,
polling, tool calls.

Every long-running child (etcd, kube-apiserver, moto server, the operator, a service) is
started in a new session so that stopping it stops whatever it spawned too (gunicorn workers,
kopf's threads' subprocesses). Each group started by this process is remembered until stopped,
so a test session can prove that nothing is left behind (`leftover_groups`). Groups started by
another process (`forumctl dev up`, then `dev down`) are stopped by PID with `stop_pid_group`,
which first checks that the PID still is the process that was started (`process_start_ticks`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

log = logging.getLogger("forumdb.devstack.procs")

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


# Ports handed to a process that binds them later are picked below the kernel's ephemeral
# range (ip_local_port_range, 32768-60999 by default): a port the OS picks from that range can
# be taken meanwhile by any outgoing connection's local end ("Address already in use").
_LISTEN_PORTS = range(20000, 32768)
# Runs side by side on one host (pytest-xdist workers, CI jobs) each give this "LOW-HIGH"
# share of the range, so that they never pick the same port; their children inherit it.
FREE_PORT_RANGE_ENV = "FORUMDB_FREE_PORT_RANGE"
# Ports this process handed out: one caller's picks for etcd's two ports and kube-apiserver's
# are all still unbound when the next is picked, so a bind test alone could repeat one.
_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def listen_range() -> range:
    """Where `free_port` picks: $FORUMDB_FREE_PORT_RANGE (LOW-HIGH, inclusive) when set, else
    from 20000 up to the kernel's ephemeral range."""
    given = os.environ.get(FREE_PORT_RANGE_ENV, "").strip()
    if not given:
        return range(_LISTEN_PORTS.start, min(_LISTEN_PORTS.stop, _ephemeral_low()))
    low, _, high = given.partition("-")
    try:
        ports = range(int(low), int(high) + 1)
    except ValueError:
        ports = range(0)
    if not ports or ports.start < 1024 or ports.stop > 65536:
        raise ValueError(
            f"{FREE_PORT_RANGE_ENV}={given!r} is not a port range LOW-HIGH within 1024-65535"
        )
    return ports


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now and never handed out before by this process,
    picked at random in `listen_range()` so that it stays free until the process it is meant
    for binds it. When the range is used up, the kernel picks one."""
    ports = listen_range()
    with _handed_out_lock:
        for _ in range(200):
            port = random.choice(ports)
            if port in _handed_out:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        fields = _stat_fields(stat)
        if fields and int(fields[2]) == pid and fields[0] != "Z":
            return True
    return False


def process_running(pid: int) -> bool:
    """True while process `pid` exists and is not a zombie. A killed orphan stays a zombie
    until its new parent (init, or a container's PID 1) reaps it, which may be never."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return bool(fields) and fields[0] != "Z"


def _stat_fields(stat: Path) -> list[str]:
    """The fields of a /proc/PID/stat file after the command name (state first); [] when
    the process is gone."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


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
    workdir: Path | None, processes: Collection[subprocess.Popen[bytes]]
) -> Iterator[None]:
    """If the block raises (a server failed to start), stop the processes started so far
    (a live view such as `dict.values()` sees those added inside) and remove `workdir`
    (None: keep it, with its logs, for the caller to show)."""
    try:
        yield
    except BaseException:
        for proc in processes:
            stop_group(proc, grace=5)
        if workdir is not None:
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


def process_start_ticks(pid: int) -> int | None:
    """When the process `pid` started (clock ticks since boot, /proc/PID/stat field 22), or
    None if there is no such process. Recorded at start, it tells a later caller whether the
    PID still names that process or was reused by another."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    return int(fields[19]) if fields else None


def stop_pid_group(pid: int, start_ticks: int | None, *, grace: float = 10.0) -> bool:
    """Stop one process group started by another process: see `stop_pid_groups`."""
    return not stop_pid_groups([(pid, start_ticks)], grace=grace)


def stop_pid_groups(groups: Sequence[tuple[int, int | None]], *, grace: float = 10.0) -> list[int]:
    """Stop process groups, given as (leader pid, its `process_start_ticks`), started by another
    process (so not ours to reap): SIGTERM to all in the given order, up to `grace` seconds for
    them to end, then SIGKILL. A leader that is alive but started at another time than
    recorded is someone else's process now: left alone. Returns the pids still alive."""
    ours = []
    for pid, start_ticks in groups:
        ticks = process_start_ticks(pid)
        if ticks is not None and start_ticks is not None and ticks != start_ticks:
            log.warning("pid %d is another process now (started later); not signalled", pid)
        elif group_alive(pid):
            _signal_group(pid, signal.SIGTERM)
            ours.append(pid)
    alive = _wait_groups_gone(ours, grace)
    if alive:
        log.warning("groups %s ignored SIGTERM for %.0fs; killing them", alive, grace)
        for pid in alive:
            _signal_group(pid, signal.SIGKILL)
        alive = _wait_groups_gone(alive, 10)
    return alive


def _wait_groups_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = [pid for pid in pids if group_alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if group_alive(pid)]
    return alive


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
