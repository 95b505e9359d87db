"""`forumctl dev` as a user runs it: the console script as its own process, with a given state
folder and free ports."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forumctl.dev.procs import group_alive

FORUMCTL = Path(sys.executable).with_name("forumctl")
# One scenario must fit in ~90 s here; the slack is for a loaded machine.
UP_TIMEOUT = 240


@dataclass
class DevCli:
    state_dir: Path

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(FORUMCTL), "dev", *args, "--state-dir", str(self.state_dir)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def ok(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        done = self.run(*args, timeout=timeout)
        assert done.returncode == 0, (
            f"forumctl dev {' '.join(args)} exited {done.returncode}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}\n{self.logs()}"
        )
        return done

    def up(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.ok("up", "--free-ports", *args, timeout=UP_TIMEOUT)

    def status(self) -> dict[str, Any]:
        return json.loads(self.ok("status", "--output", "json").stdout)

    def logs(self) -> str:
        """Every log of the stack, for failure messages."""
        parts = []
        for log in sorted(self.state_dir.glob("**/*.log")):
            text = log.read_text(errors="replace")
            parts.append(f"---- {log.name}\n{text[-3000:]}")
        return "\n".join(parts)


def alive_pids(pids: list[int]) -> list[int]:
    return [pid for pid in pids if group_alive(pid)]
