"""Child processes for the harness: the product's own process-group helpers
(forumctl.dev.procs, shared with `forumctl dev up`), re-exported under their harness
names so that tests import them from one place."""

import os

from forumctl.dev.procs import (
    FREE_PORT_RANGE_ENV,
    GiveUp,
    ToolError,
    discard_on_failure,
    free_port,
    group_alive,
    kill_group,
    kill_leftovers,
    leftover_groups,
    listen_range,
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


# The product's free_port picks at random in its listen range; with pytest-xdist, two workers
# could pick the same port and the second process to bind it would die ("Address already in
# use", seen in CI runs). Each worker takes a slice of its own, through the product's
# FORUMDB_FREE_PORT_RANGE, so that what it starts (`forumctl dev up`, an operator) picks
# there too; the product's free_port never hands out one port twice in a process.
def _slice(ports: range) -> range:
    """This worker's share of `ports`."""
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1))
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    index = int(worker) % workers if worker.isdigit() else 0
    size = max(1, len(ports) // workers)
    start = ports.start + size * index
    return range(start, min(ports.stop, start + size))


def share_ports() -> None:
    """Narrow FORUMDB_FREE_PORT_RANGE to this worker's slice; run once, at import."""
    part = _slice(listen_range())
    os.environ[FREE_PORT_RANGE_ENV] = f"{part.start}-{part.stop - 1}"


share_ports()
