"""The real `forum-service` with a bad setting: one line on stderr and exit code 2 before
the server binds its port or starts a worker."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

from harness.procs import free_port

from .conftest import _CONFIG_NAMES, FORUM_SERVICE


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [("STORAGE_MODE", "mongo", "'json' or 'dynamodb'"), ("PORT", "abc", "valid integer")],
)
def test_bad_setting_exits_2_with_one_line(name: str, value: str, allowed: str) -> None:
    if not FORUM_SERVICE.exists():
        pytest.fail(f"{FORUM_SERVICE} is missing: install the package (make setup)")
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "PROMETHEUS_")) and k not in _CONFIG_NAMES
    }
    env[name] = value
    done = subprocess.run(
        [FORUM_SERVICE, "users", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"{name}={value!r}" in lines[0]
    assert allowed in lines[0]
    assert "Listening at" not in done.stdout + done.stderr
    # Nothing is left holding the port.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))
