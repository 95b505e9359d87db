"""Child processes for the harness: the product's own process-group helpers
(forumctl.dev.procs, shared with `forumctl dev up`), re-exported under their harness
names so that tests import them from one place; `free_port` is the harness's own."""

import os
import random
import socket
import threading

from forumctl.dev.procs import (
    _LISTEN_PORTS,
    GiveUp,
    ToolError,
    _ephemeral_low,
    discard_on_failure,
    group_alive,
    kill_group,
    kill_leftovers,
    leftover_groups,
    port_open,
    process_running,
    process_start_ticks,
    run_tool,
    start_group,
    stop_group,
    stop_pid_group,
    stop_pid_groups,
    tail,
    wait_for,
)

__all__ = [
    "GiveUp",
    "ToolError",
    "discard_on_failure",
    "free_port",
    "group_alive",
    "kill_group",
    "kill_leftovers",
    "leftover_groups",
    "port_open",
    "process_running",
    "process_start_ticks",
    "run_tool",
    "start_group",
    "stop_group",
    "stop_pid_group",
    "stop_pid_groups",
    "tail",
    "wait_for",
]


# The product's free_port picks at random below the ephemeral range; with pytest-xdist, two
# workers can pick the same port and the second process to bind it dies ("Address already in
# use", seen once in a CI run). Each worker here takes ports from a slice of its own, and never
# hands out the same port twice in one run.
_given: set[int] = set()
_given_lock = threading.Lock()


def _slice() -> range:
    """This worker's share of the product's listen range (below the ephemeral range)."""
    end = min(_LISTEN_PORTS.stop, _ephemeral_low())
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) if worker.isdigit() else 0
    size = max(1, (end - _LISTEN_PORTS.start) // max(1, workers))
    start = _LISTEN_PORTS.start + size * (index % max(1, workers))
    return range(start, min(end, start + size))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, from this worker's slice, not handed out before."""
    ports = _slice()
    with _given_lock:
        for _ in range(200):
            port = random.choice(ports)
            if port in _given:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _given.add(port)
            return port
    with socket.socket() as s:  # the slice is used up: let the kernel pick
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
