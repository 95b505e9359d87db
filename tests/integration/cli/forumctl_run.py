"""Running forumctl against the harness's moto server: in this process (click's CliRunner,
fast) or as its own process (to kill it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from click.testing import CliRunner

from forumctl.main import cli


def forumctl(*args: str, expect: int = 0) -> Any:
    """In-process; returns the parsed JSON output (pass `-o json`) or the raw stdout."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == expect, (
        f"forumctl {' '.join(map(str, args))} exited {result.exit_code}, expected {expect}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    try:
        return json.loads(result.stdout)
    except ValueError:
        return result.stdout


def forumctl_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "forumctl.main", *map(str, args)]


def spawn(*args: str) -> subprocess.Popen[str]:
    """forumctl as a process of its own session (the harness's AWS_* env is inherited)."""
    return subprocess.Popen(
        forumctl_argv(*args),
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
