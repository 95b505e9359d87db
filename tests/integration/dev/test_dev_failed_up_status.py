"""A `dev up` that failed leaves its state folder (for `dev down`, and its logs for diagnosis):
`dev status` reports that attempt, its error and where the logs are, instead of "no stack"."""

from __future__ import annotations

import json
import socket

from devcli import DevCli


def test_a_failed_up_is_reported_by_status_until_down(dev: DevCli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = dev.run("up", "--json-mode", "--port-base", str(port - 1))
    assert done.returncode == 3
    assert "forumctl dev down" in done.stderr  # what the error says about the state folder
    text = dev.run("status")
    assert text.returncode == 1, "a failed up is not a healthy stack"
    assert f"the last `forumctl dev up` failed: port {port}" in text.stdout
    assert "`forumctl dev down` removes" in text.stdout
    as_json = dev.run("status", "--output", "json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["running"] is False
    assert report["complete"] is False
    failed = report["failed"]
    assert f"port {port} (for users) is already in use" in failed["error"]
    assert "--free-ports" in failed["hint"]
    dev.ok("down")
    assert not dev.state_dir.exists()
    assert dev.status() == {"stateDir": str(dev.state_dir), "running": False, "processes": []}


def test_a_successful_up_reports_no_failure(dev: DevCli) -> None:
    dev.up("--json-mode")
    assert dev.status()["failed"] is None
    dev.ok("down")
