"""Child processes for the harness: the product's own process-group helpers
(forumctl.dev.procs, shared with `forumctl dev up`), re-exported under their harness
names so that tests import them from one place."""

from forumctl.dev.procs import (
    GiveUp,
    ToolError,
    discard_on_failure,
    free_port,
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
