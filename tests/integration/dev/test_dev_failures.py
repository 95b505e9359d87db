"""`forumctl dev` when something is wrong: every failure names its cause (and the log to read),
exits 3, and leaves no process behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from devcli import FORUMCTL, DevCli, alive_pids

from harness.provision import require_tool

REPO_ROOT = Path(__file__).resolve().parents[3]


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (a state folder)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args and "pytest" not in args:
            found.append(args)
    return found


def _fake_checkout(root: Path) -> Path:
    """A checkout that has the sources but where `make setup` never ran (no .tools)."""
    (root / "core" / "forumdb").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "pyproject.toml", root)
    shutil.copytree(REPO_ROOT / "examples", root / "examples")
    shutil.copytree(REPO_ROOT / "crds", root / "crds")
    return root


def test_outside_a_checkout_up_says_what_it_needs(tmp_path: Path) -> None:
    done = subprocess.run(
        [FORUMCTL, "dev", "up", "--checkout", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 3
    assert f"{tmp_path} is not a forumdb source checkout" in done.stderr
    assert "make setup" in done.stderr


def test_without_make_setup_up_names_the_missing_tool(tmp_path: Path) -> None:
    checkout = _fake_checkout(tmp_path / "clone")
    env = {k: v for k, v in os.environ.items() if k != "KUBEBUILDER_ASSETS"}
    done = subprocess.run(
        [FORUMCTL, "dev", "up", "--checkout", str(checkout), "--free-ports"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 3, done.stderr
    assert f"etcd is not provisioned in {checkout / '.tools' / 'bin'}" in done.stderr
    assert "make setup" in done.stderr
    assert (checkout / ".forumdb-dev" / "state.json").is_file()  # for `dev down` to clear


def test_a_taken_port_is_named(dev: DevCli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = dev.run("up", "--json-mode", "--port-base", str(port - 1))
    assert done.returncode == 3
    assert f"port {port} (for users) is already in use" in done.stderr
    assert "--free-ports" in done.stderr
    assert "forumctl dev down" in done.stderr  # what the error says about the state folder
    # `dev status` reports the failed attempt (logs kept for diagnosis) until `dev down`.
    text = dev.run("status")
    assert text.returncode == 1, "a failed up is not a healthy stack"
    assert f"the last `forumctl dev up` failed: port {port}" in text.stdout
    assert "`forumctl dev down` removes" in text.stdout
    as_json = dev.run("status", "--output", "json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert (report["running"], report["complete"]) == (False, False)
    assert f"port {port} (for users) is already in use" in report["failed"]["error"]
    assert "--free-ports" in report["failed"]["hint"]
    dev.ok("down")
    assert not dev.state_dir.exists()
    assert dev.status() == {"stateDir": str(dev.state_dir), "running": False, "processes": []}


def test_a_successful_up_reports_no_failure(dev: DevCli) -> None:
    dev.up("--json-mode")
    assert dev.status()["failed"] is None
    dev.ok("down")


def test_a_folder_that_is_not_a_state_folder_is_left_alone(dev: DevCli) -> None:
    dev.state_dir.mkdir()
    (dev.state_dir / "notes.txt").write_text("mine")
    done = dev.run("up", "--json-mode", "--free-ports")
    assert done.returncode == 3
    assert "is not a dev state folder" in done.stderr
    assert (dev.state_dir / "notes.txt").read_text() == "mine"
    assert dev.run("down").returncode == 0  # nothing recorded: nothing removed
    assert (dev.state_dir / "notes.txt").exists()


@pytest.mark.apiserver
def test_a_failing_step_says_why_and_where_its_log_is(dev: DevCli, tmp_path: Path) -> None:
    assets = tmp_path / "assets"  # KUBEBUILDER_ASSETS with a kube-apiserver that cannot start
    assets.mkdir()
    (assets / "etcd").symlink_to(require_tool("etcd"))
    broken = assets / "kube-apiserver"
    broken.write_text("#!/bin/sh\necho 'kube-apiserver: bad flag --nope' >&2\nexit 7\n")
    broken.chmod(0o755)
    done = subprocess.run(
        [FORUMCTL, "dev", "up", "--free-ports", "--state-dir", str(dev.state_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "KUBEBUILDER_ASSETS": str(assets)},
    )
    assert done.returncode == 3, done.stderr
    log = dev.state_dir / "apiserver" / "apiserver.log"
    assert "✗ etcd + kube-apiserver: kube-apiserver exited with 7" in done.stderr
    assert f"log: {log}" in done.stderr.replace("\n", "")
    assert "bad flag --nope" in log.read_text()
    assert _processes_mentioning(str(dev.state_dir)) == []  # etcd was stopped again
    dev.ok("down")
    assert not dev.state_dir.exists()


def test_a_stack_with_a_dead_process_is_reported_and_replaced(dev: DevCli) -> None:
    dev.up("--json-mode")
    before = dev.status()
    victim = next(p for p in before["processes"] if p["name"] == "service-threads")
    os.killpg(victim["pid"], signal.SIGKILL)

    status = dev.run("status")
    assert status.returncode == 1
    assert "DOWN service-threads" in status.stdout

    again = dev.up("--json-mode")
    assert "incomplete (service-threads)" in again.stderr
    after = dev.status()
    assert after["running"] is True
    assert victim["pid"] not in [p["pid"] for p in after["processes"]]
    assert alive_pids([p["pid"] for p in before["processes"]]) == []
    dev.ok("down")
