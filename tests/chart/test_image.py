"""Build the image from the Dockerfile and run it the way the chart does (opt-in: minutes).

Runs where podman (or docker with a daemon) is available and FORUMDB_IMAGE_BASE names a
local base image for the `BASE` build argument, e.g. one made without a registry:

    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
bookworm rootfs
    tar -C rootfs -c . | podman import - localhost/debpy:bookworm
    FORUMDB_IMAGE_BASE=localhost/debpy:bookworm pytest tests/chart/test_image.py

FORUMDB_IMAGE_BUILD_CA (a CA bundle file) is mounted into the build for pip, where PyPI is
reached through a TLS-inspecting proxy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from chartkit import REPO_ROOT

from harness.procs import free_port

pytestmark = pytest.mark.slow

BASE = os.environ.get("FORUMDB_IMAGE_BASE", "")
ENGINE = shutil.which("podman") or shutil.which("docker")
# podman on a cgroup v1 host without crun (TESTING.md): runc and explicit ulimits.
RUN_FLAGS = (
    ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
    if ENGINE and ENGINE.endswith("podman")
    else []
)
# How the chart runs every container: non-root, read-only root, /tmp writable, no capabilities.
HARDENED = ["--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL"]
HARDENED += ["--security-opt", "no-new-privileges", "--user", "10001:10001"]


def _engine(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    assert ENGINE
    return subprocess.run(
        [ENGINE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    if not BASE or not ENGINE:
        pytest.skip("set FORUMDB_IMAGE_BASE to a local base image and install podman or docker")
    tag = f"localhost/forumdb-test:{uuid.uuid4().hex[:8]}"
    args = ["build", "--build-arg", f"BASE={BASE}", "-t", tag, "-f", "Dockerfile"]
    if ENGINE.endswith("podman"):
        args += ["--isolation=chroot"]
    ca = os.environ.get("FORUMDB_IMAGE_BUILD_CA")
    if ca:
        args += ["-v", f"{ca}:/etc/ssl/certs/ca-certificates.crt:ro"]
    build = subprocess.run(
        [ENGINE, *args, str(REPO_ROOT)], capture_output=True, text=True, timeout=1200, check=False
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    yield tag
    _engine("rmi", "--force", tag)


def test_runs_as_uid_10001_with_no_pip_in_its_environment(image):
    proc = _engine("run", "--rm", *RUN_FLAGS, image, "sh", "-c", "id -u; ls /opt/forumdb/bin")
    assert proc.returncode == 0, proc.stderr
    uid, *scripts = proc.stdout.split()
    assert uid == "10001"
    assert {"forum-operator", "forum-service", "forumctl"} <= set(scripts)
    assert not {"pip", "pip3"} & set(scripts)


@pytest.mark.parametrize(
    "command",
    [["forumctl", "--help"], ["forum-operator", "--help"], ["forum-service", "--help"]],
    ids=lambda c: c[0],
)
def test_each_command_starts_hardened(image, command):
    proc = _engine("run", "--rm", *RUN_FLAGS, *HARDENED, image, *command)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Usage:")


def test_a_service_serves_json_data_on_a_read_only_root(image, tmp_path: Path):
    data = tmp_path / "users"
    data.mkdir()
    shutil.copy(REPO_ROOT / "examples" / "sample-data" / "users" / "db.json", data / "db.json")
    data.chmod(0o777)
    (data / "db.json").chmod(0o666)
    port = free_port()
    name = f"forumdb-test-{uuid.uuid4().hex[:8]}"
    started = _engine(
        *("run", "-d", "--name", name, "--network", "host", *RUN_FLAGS, *HARDENED),
        *("-e", "STORAGE_MODE=json", "-e", "DATA_DIR=/data", "-v", f"{data}:/data/users"),
        *(image, "forum-service", "users", "--port", str(port), "--workers", "1"),
    )
    assert started.returncode == 0, started.stderr
    try:
        ready = None
        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    ready = json.load(r)
                break
            except OSError:
                time.sleep(0.5)
        assert ready, _engine("logs", name).stderr[-3000:]
        assert ready["status"] == "ready"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/users", timeout=5) as r:
            users = json.load(r)
        assert users[0]["username"] == "marceline"
    finally:
        _engine("rm", "--force", name)
