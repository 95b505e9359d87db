"""`forumctl dev up --json-mode`: the three services on the sample data in JSON files."""

from __future__ import annotations

import requests
from devcli import DevCli, alive_pids


def test_json_mode_serves_the_sample_data_and_down_leaves_nothing(dev: DevCli) -> None:
    shown = dev.up("--json-mode").stdout
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
