"""`forumctl dev up --json-mode`: the three services on the sample data in JSON files."""

from __future__ import annotations

import json
import re

import requests
from devcli import DevCli, alive_pids

STEP_DONE = re.compile(r"^✓ .+ \((\d+\.\d)s\)$")
TOTAL = re.compile(r"^✓ json stack up in (\d+\.\d)s \(slowest: .+ \d+\.\ds\)$")


def test_json_mode_serves_the_sample_data_and_down_leaves_nothing(dev: DevCli) -> None:
    up = dev.up("--json-mode")
    shown = up.stdout
    # per-step times on stderr, then the whole time and where it went
    lines = up.stderr.splitlines()
    assert len([line for line in lines if STEP_DONE.match(line)]) == 3, up.stderr
    assert TOTAL.match(lines[-1]), up.stderr
    report = dev.status()
    assert report["running"] is True
    assert report["mode"] == "json"
    urls = report["services"]
    assert set(urls) == {"users", "threads", "posts"}
    for url in urls.values():
        assert url.startswith("http://127.0.0.1:")
        assert url in shown  # up printed where the services are
    assert report["kubeconfig"] is None  # no Kubernetes, no AWS emulation
    assert report["awsEndpoint"] is None
    assert [p["name"] for p in report["processes"]] == [
        "service-users",
        "service-threads",
        "service-posts",
    ]

    users = requests.get(f"{urls['users']}/api/users", timeout=10).json()
    assert "marceline" in {u["username"] for u in users}
    created = requests.post(
        f"{urls['posts']}/api/posts", json={"thread": 2, "user": 1, "text": "dev stack"}, timeout=10
    )
    assert created.status_code == 201, created.text
    in_thread = requests.get(f"{urls['posts']}/api/posts/in-thread/2", timeout=10).json()
    assert "dev stack" in [p["text"] for p in in_thread]

    again = dev.up("--json-mode")
    assert "running already" in again.stderr
    assert dev.status()["processes"] == report["processes"]  # same PIDs: nothing restarted

    pids = [p["pid"] for p in report["processes"]]
    dev.ok("down")
    assert not dev.state_dir.exists()
    assert alive_pids(pids) == []
    assert dev.status() == {"stateDir": str(dev.state_dir), "running": False, "processes": []}


def test_up_json_document_gives_the_step_times(dev: DevCli) -> None:
    doc = json.loads(dev.up("--json-mode", "-o", "json").stdout)
    assert doc["started"] is True
    steps = doc["steps"]
    assert [s["step"] for s in steps] == [
        "checkout has the sample data; ports free",
        "sample data copied for the JSON store",
        "services users, threads, posts (JSON files)",
    ]
    assert all(s["seconds"] >= 0 for s in steps)
    assert doc["seconds"] >= sum(s["seconds"] for s in steps) - 0.2  # rounding: 0.05 a step
    again = json.loads(dev.up("--json-mode", "-o", "json").stdout)
    assert again["started"] is False
    assert again["steps"] == []
    dev.ok("down")
