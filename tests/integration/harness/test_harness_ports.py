"""Each pytest-xdist worker picks ports in a slice of its own, and what it starts inherits it."""

from __future__ import annotations

import os
import subprocess
import sys

from forumctl.dev.procs import _LISTEN_PORTS
from harness import procs


def test_the_workers_slices_do_not_overlap(monkeypatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    slices = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        slices.append(set(procs._slice(range(20000, 32000))))
    assert all(len(s) == 4000 for s in slices)
    assert len(set().union(*slices)) == 12000  # no port in two slices


def test_a_child_process_picks_in_this_workers_slice() -> None:
    low, high = map(int, os.environ[procs.FREE_PORT_RANGE_ENV].split("-"))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    assert high - low + 1 <= len(_LISTEN_PORTS) // workers
    code = "from forumctl.dev.procs import free_port; print(free_port())"
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert low <= int(child.stdout) <= high
