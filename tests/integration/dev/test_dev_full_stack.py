"""`forumctl dev up` end to end: kube-apiserver + etcd, moto with replicas, the operator, the
services on the operator's ConfigMap, the sample data; then `dev down` leaves nothing."""

from __future__ import annotations

import os
import re
from pathlib import Path

import boto3
import pytest
import requests
from boto3.dynamodb.conditions import Attr
from devcli import FORUMCTL, DevCli, alive_pids

from forumctl.dev.procs import run_tool, wait_for
from harness.kube import Kubectl
from harness.provision import require_tool

pytestmark = [pytest.mark.apiserver, pytest.mark.slow]

FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def _dynamodb(endpoint: str, region: str):  # type: ignore[no-untyped-def]
    session = boto3.session.Session(
        region_name=region,
        aws_access_key_id=FAKE_AWS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS["AWS_SECRET_ACCESS_KEY"],
    )
    return session.resource("dynamodb", endpoint_url=endpoint)


def _readyz(url: str) -> dict:
    return requests.get(f"{url}/readyz", timeout=10).json()


def test_dev_up_runs_the_forum_on_replicated_tables_and_down_leaves_nothing(
    dev: DevCli,
) -> None:
    # no drift check during the test: it would undo the test's own ConfigMap edit
    up = dev.up("--drift-interval", "3600")
    shown = up.stdout
    # each step with its time, then the whole time (README's dev-up figure comes from these)
    assert re.search(r"^✓ etcd \+ kube-apiserver \(\d+\.\ds\)$", up.stderr, re.M), up.stderr
    assert re.search(r"^✓ dynamodb stack up in \d+\.\ds \(slowest: ", up.stderr, re.M), up.stderr
    report = dev.status()
    assert report["running"] is True
    assert report["mode"] == "dynamodb"
    kubeconfig = Path(report["kubeconfig"])
    assert f"export KUBECONFIG={kubeconfig}" in shown
    assert "kubectl get forumdb" in shown
    assert "forumctl verify --forumdb forum" in shown
    assert {p["name"] for p in report["processes"]} == {
        "etcd",
        "kube-apiserver",
        "moto",
        "forum-operator",
        "configsync",
        "oidc",
        "service-users",
        "service-threads",
        "service-posts",
    }
    assert all(p["alive"] for p in report["processes"])

    # the ForumDatabase is Ready, and the services run on the tables of its ConfigMap
    kubectl = Kubectl(require_tool("kubectl"), kubeconfig, cache_dir=dev.state_dir / "kcache")
    resource = kubectl.json("get", "forumdb", "forum", "-n", "default")
    assert resource["status"]["phase"] == "Ready"
    # dev up asked the operator for a fresh status: the first backup and the migrated data
    # show at once, not after the drift interval (3600 s here)
    assert resource["status"]["lastBackup"] != "never"
    counts = {t["kind"]: t["regions"][0]["itemCount"] for t in resource["status"]["tables"]}
    assert counts["users"] > 0, counts
    configmap = kubectl.json("get", "configmap", "forumdb-forum", "-n", "default")["data"]
    assert configmap["STORAGE_MODE"] == "dynamodb"
    assert configmap["REPLICA_REGIONS"] == "us-west-2"

    # README's operator section applies crds/ again: the CRDs dev up made are unchanged, with
    # no warning about a missing last-applied annotation
    crds = Path(__file__).resolve().parents[3] / "crds"
    applied = kubectl("apply", "-f", str(crds))
    assert applied.stderr == "", applied.stderr
    lines = applied.stdout.splitlines()
    assert len(lines) == 3, applied.stdout
    assert all(line.endswith(" unchanged") for line in lines), applied.stdout

    urls = report["services"]
    readyz = _readyz(urls["posts"])
    assert readyz["status"] == "ready", readyz
    assert readyz["storage"]["region"] == "us-east-1"
    users = requests.get(f"{urls['users']}/api/users", timeout=10).json()
    assert "marceline" in {u["username"] for u in users}  # the sample data was migrated

    # writes need a token of the stack's issuer, and write as its user (README's quick start)
    body = {"thread": 1, "text": "written in us-east-1"}
    anonymous = requests.post(f"{urls['posts']}/api/posts", json=body, timeout=10)
    assert anonymous.status_code == 401, anonymous.text
    assert "forumctl dev token --user 4" in shown
    token = dev.ok("token", "--user", "2").stdout.strip()
    created = requests.post(
        f"{urls['posts']}/api/posts",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert created.json()["user"] == 2
    post_id = created.json()["id"]
    in_thread = requests.get(f"{urls['posts']}/api/posts/in-thread/1", timeout=10).json()
    assert post_id in [p["id"] for p in in_thread]

    # the post reached the global table's replica in us-west-2
    replica = _dynamodb(report["awsEndpoint"], "us-west-2").Table(configmap["POSTS_TABLE"])
    items = wait_for(
        lambda: replica.scan(FilterExpression=Attr("postId").eq(post_id))["Items"],
        timeout=20,
        what=f"post {post_id} in the us-west-2 replica",
    )
    assert items[0]["text"] == "written in us-east-1"

    # what `up` told the user to try works in a plain shell: `eval "$(forumctl dev env)"`,
    # kubectl get forumdb, forumctl verify (the first backup ran, so every check passes)
    script = (
        f'eval "$({FORUMCTL} dev env --state-dir {dev.state_dir})" && '
        "kubectl get forumdb && forumctl verify --forumdb forum"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBE"))}
    clean["PATH"] = "/usr/bin:/bin"
    tried = run_tool(["bash", "-c", script], env=clean, check=False)
    assert tried.returncode == 0, tried.stdout + tried.stderr
    assert re.search(r"forum\s+Ready\s+us-east-1", tried.stdout), tried.stdout

    # a region switch in the ConfigMap reaches the running services (configsync, reload)
    kubectl(
        *("patch", "configmap", "forumdb-forum", "-n", "default", "--type=merge"),
        *("-p", '{"data":{"AWS_REGION":"us-west-2"}}'),
    )
    wait_for(
        lambda: _readyz(urls["posts"])["storage"]["region"] == "us-west-2",
        timeout=30,
        what="the posts service to use us-west-2",
    )
    in_replica = requests.get(f"{urls['posts']}/api/posts/in-thread/1", timeout=10).json()
    assert post_id in [p["id"] for p in in_replica]

    # up again: harmless, the same stack and the same information
    again = dev.up("--drift-interval", "3600")
    assert "running already" in again.stderr
    assert again.stdout == shown
    assert dev.status()["processes"] == report["processes"]

    pids = [p["pid"] for p in report["processes"]]
    dev.ok("down", timeout=120)
    assert not dev.state_dir.exists()
    assert alive_pids(pids) == []
