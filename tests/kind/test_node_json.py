"""JSON mode with persistence on the real node: each service's data file lives on its
PersistentVolumeClaim, so a user written before the pod is replaced is there after it.

The node has no dynamic provisioner: the test makes one hostPath PersistentVolume per claim,
in a StorageClass of its own, and removes them afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.kind import Cluster
from harness.kube import delete_namespace
from harness.node_cluster import NODE_MARKS, service_url
from harness.procs import wait_for

pytestmark = [pytest.mark.slow, *NODE_MARKS]

CHART = Path(__file__).resolve().parents[2] / "charts" / "forum"
RELEASE = "forum"
SERVICES = ("users", "threads", "posts")
STORAGE_CLASS = "forumdb-test-hostpath"


def _volume(name: str, path: Path) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"forumdb-test": "json"}},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": STORAGE_CLASS,
            "hostPath": {"path": str(path), "type": "Directory"},
        },
    }


@pytest.fixture(scope="module")
def json_release(node: Cluster) -> Iterator[tuple[Cluster, str]]:
    assert node.node is not None
    ns = f"json-{uuid.uuid4().hex[:8]}"
    node.kubectl("create", "namespace", ns)
    try:
        for service in SERVICES:
            path = node.node.workdir / "volumes" / ns / service
            path.mkdir(parents=True)
            path.chmod(0o777)  # hostPath ignores fsGroup: the pods run as uid 10001
            node.kubectl.apply(_volume(f"{ns}-{service}", path))
        node.helm(
            *("install", RELEASE, str(CHART), "-n", ns, *node.image_values),
            *("--set=database.mode=json", "--set=operator.enabled=false"),
            *("--set=persistence.enabled=true", f"--set=persistence.storageClass={STORAGE_CLASS}"),
            "--set=auth.mode=none",
            "--set=services.readinessProbe.periodSeconds=2",
            "--set=services.readinessProbe.initialDelaySeconds=1",
            timeout=120,
        )
        for service in SERVICES:
            node.kubectl(
                *("rollout", "status", f"deployment/{RELEASE}-{service}", "-n", ns),
                "--timeout=180s",
                timeout=190,
            )
        yield node, ns
    finally:
        node.helm("uninstall", RELEASE, "-n", ns, "--wait", "--timeout=120s", check=False)
        node.kubectl("delete", "pvc", "--all", "-n", ns, "--wait=false", check=False)
        delete_namespace(node.kubectl, ns, [])
        node.kubectl("delete", "pv", "-l", "forumdb-test=json", "--wait=false", check=False)


def test_json_mode_keeps_its_data_across_a_pod_restart(json_release: tuple[Cluster, str]) -> None:
    cluster, ns = json_release
    url = f"{service_url(cluster, ns, f'{RELEASE}-users')}/api/users"
    name = f"kept-{uuid.uuid4().hex[:6]}"
    created = requests.post(url, json={"username": name}, timeout=10)
    assert created.status_code == 201, created.text
    selector = "app.kubernetes.io/component=users"
    old = cluster.kubectl.json("get", "pods", "-n", ns, "-l", selector)["items"]
    cluster.kubectl("delete", "pods", "-n", ns, "-l", selector, "--wait=true", timeout=60)

    def replaced_and_ready() -> bool:
        pods = cluster.kubectl.json("get", "pods", "-n", ns, "-l", selector)["items"]
        fresh = [p for p in pods if p["metadata"]["uid"] not in {o["metadata"]["uid"] for o in old}]
        return bool(fresh) and all(
            c["ready"] for p in fresh for c in p["status"].get("containerStatuses", [])
        )

    wait_for(replaced_and_ready, timeout=45, interval=0.5, what="a new users pod, Ready")
    user_id = created.json()["id"]
    kept = wait_for(
        lambda: requests.get(f"{url}/{user_id}", timeout=5),
        timeout=15,
        what=f"user {user_id} from the new pod",
    )
    assert kept.status_code == 200, kept.text
    assert kept.json()["username"] == name
