"""What only a kubelet shows: the chart's pods on the harness's real node (harness.node).

One release for the module (helm install with the operator's admission webhook on, the example
ForumDatabase Ready, every Deployment rolled out); each test then looks at one behaviour of the
running pods. Probes run faster than the chart's defaults (install-time values) so that a
probe-driven restart fits in a test.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from forumdb import naming
from harness.kind import Cluster
from harness.kube import FORUMDB_RESOURCE, delete_namespace
from harness.motoserver import FAKE_CREDENTIALS
from harness.node_cluster import NODE_MARKS, service_url
from harness.procs import wait_for
from harness.scenario import example_forumdatabase, wait_for_phase
from harness.webhook_certs import webhook_secret_data

pytestmark = [pytest.mark.slow, *NODE_MARKS]

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts" / "forum"
RELEASE = "forum"
SERVICES = ("users", "threads", "posts")
FAST_PROBES = (
    "--set=services.livenessProbe.periodSeconds=2",
    "--set=services.livenessProbe.timeoutSeconds=1",
    "--set=services.livenessProbe.failureThreshold=2",
    "--set=services.readinessProbe.periodSeconds=2",
    "--set=services.readinessProbe.initialDelaySeconds=1",
)


@dataclass
class Release:
    cluster: Cluster
    namespace: str

    def kubectl(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl("-n", self.namespace, *args, **kw)

    def json(self, *args: str) -> Any:
        return self.cluster.kubectl.json(*args, "-n", self.namespace)

    def pods(self, component: str) -> list[dict]:
        selector = f"app.kubernetes.io/component={component}"
        return [
            p
            for p in self.json("get", "pods", "-l", selector)["items"]
            if not p["metadata"].get("deletionTimestamp")
        ]

    def service_url(self, service: str) -> str:
        return service_url(self.cluster, self.namespace, f"{RELEASE}-{service}")

    def rollout(self, deployment: str, timeout: int = 50) -> None:
        self.kubectl(
            *("rollout", "status", f"deployment/{RELEASE}-{deployment}"),
            f"--timeout={timeout}s",
            timeout=timeout + 10,
        )


@pytest.fixture(scope="module")
def release(node: Cluster) -> Iterator[Release]:
    ns = f"node-{uuid.uuid4().hex[:8]}"
    node.kubectl("create", "namespace", ns)
    rel = Release(node, ns)
    try:
        node.moto.reset()
        node.moto.control.set_replication(replica_activation_calls=1, lag_seconds=0)
        node.kubectl(
            *("create", "secret", "generic", "forumdb-aws", "-n", ns),
            *(f"--from-literal={k}={v}" for k, v in FAKE_CREDENTIALS.items()),
        )
        certs = webhook_secret_data(f"{RELEASE}-operator-webhook", ns)
        node.kubectl(
            *("create", "secret", "generic", "forum-webhook-tls", "-n", ns),
            *(f"--from-literal={k}={v}" for k, v in certs.items()),
        )
        node.helm(
            *("install", RELEASE, str(CHART), "-n", ns, *node.image_values),
            *("--set=operator.enabled=true", "--set=operator.driftInterval=10"),
            "--set=operator.webhook.enabled=true",
            "--set=operator.webhook.certSecret=forum-webhook-tls",
            *("--set=database.mode=dynamodb", "--set=database.forumDatabase=forum"),
            "--set=persistence.enabled=false",
            f"--set=aws.region={node.moto.region}",
            f"--set=aws.endpointUrl={node.moto.url}",
            "--set=aws.existingSecret=forumdb-aws",
            "--set=auth.mode=none",
            *FAST_PROBES,
            timeout=120,
        )
        rel.rollout("operator", timeout=120)
        node.kubectl.apply(example_forumdatabase(), namespace=ns)
        wait_for_phase(node.kubectl, "forum", ns, "Ready", timeout=120)
        for service in SERVICES:
            rel.rollout(service, timeout=180)
        yield rel
    finally:
        node.helm("uninstall", RELEASE, "-n", ns, "--wait", "--timeout=120s", check=False)
        delete_namespace(node.kubectl, ns, [FORUMDB_RESOURCE])


def test_webhook_refuses_a_bad_spec_through_its_service(release: Release) -> None:
    """The API server calls the operator's pod through the Service (no host DNS involved) and
    refuses the spec with the operator's message, instead of failing open."""
    name = f"{RELEASE}-operator.{release.namespace}.forumdb.io"
    wait_for(
        lambda: release.cluster.kubectl.json("get", "validatingwebhookconfiguration", name).get(
            "webhooks"
        ),
        timeout=30,
        what=f"the operator's webhooks in {name}",
    )
    config = release.cluster.kubectl.json("get", "validatingwebhookconfiguration", name)
    client = config["webhooks"][0]["clientConfig"]
    assert client["service"]["name"] == f"{RELEASE}-operator-webhook"
    assert client["service"]["namespace"] == release.namespace
    assert "url" not in client
    bad = example_forumdatabase("bad", replicaRegions=["us-east-1"])
    refused = release.kubectl("apply", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert refused.returncode != 0, refused.stdout
    assert "spec.replicaRegions[0]: us-east-1 is the primary region" in refused.stderr
    assert "admission webhook" in refused.stderr


def test_pods_run_as_10001_on_a_read_only_root_and_still_work(release: Release) -> None:
    probe = (
        "import os, tempfile; print(os.getuid(), os.getgid());"
        "tempfile.NamedTemporaryFile(dir='/tmp').close();"
        "open('/opt/forumdb/x', 'w')"
    )
    result = release.kubectl(
        *("exec", f"deployment/{RELEASE}-users", "-c", "users", "--", "python3", "-c", probe),
        check=False,
    )
    assert result.stdout.split()[:2] == ["10001", "10001"], result.stdout + result.stderr
    assert "Read-only file system" in result.stderr
    # and it serves: a write through the Service lands in the pods' table
    url = release.service_url("users") + "/api/users"
    created = requests.post(url, json={"username": f"ro-{uuid.uuid4().hex[:6]}"}, timeout=10)
    assert created.status_code == 201, created.text


def test_a_hung_service_container_is_restarted_by_its_liveness_probe(release: Release) -> None:
    """SIGSTOP the server (it stops answering, the process stays): only the kubelet's liveness
    probe can notice, restart the container, and the pod becomes Ready again."""
    pod = release.pods("threads")[0]
    name = pod["metadata"]["name"]
    status = next(c for c in pod["status"]["containerStatuses"] if c["name"] == "threads")
    restarts = status["restartCount"]
    container_id = status["containerID"].split("://", 1)[1]
    node = release.cluster.node
    assert node is not None
    node.ctr("tasks", "kill", "--all", "--signal", "SIGSTOP", container_id)

    def restarted_and_ready() -> bool:
        got = release.json("get", "pod", name)
        c = next(c for c in got["status"]["containerStatuses"] if c["name"] == "threads")
        return c["restartCount"] > restarts and c["ready"]

    wait_for(restarted_and_ready, timeout=50, interval=1, what=f"{name} restarted and Ready")
    events = release.json("get", "events", "--field-selector", f"involvedObject.name={name}")
    messages = " ".join(e.get("message", "") for e in events["items"])
    assert "Liveness probe failed" in messages, messages


def test_helm_upgrade_with_requests_running_loses_none(release: Release) -> None:
    """A rolling update of the services (a new pod annotation) while a client keeps calling the
    users Service: readiness gates the new pod, the old one keeps serving while its endpoint is
    withdrawn (preStop), then finishes its requests; not one request fails."""
    url = release.service_url("users") + "/api/users"
    outcomes: list[int | str] = []
    stop = threading.Event()

    def client() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    outcomes.append(session.get(url, timeout=5).status_code)
                except requests.RequestException as exc:
                    outcomes.append(type(exc).__name__)
                time.sleep(0.02)

    before = {p["metadata"]["name"] for p in release.pods("users")}
    worker = threading.Thread(target=client, daemon=True)
    worker.start()
    try:
        release.cluster.helm(
            *("upgrade", RELEASE, str(CHART), "-n", release.namespace, "--reuse-values"),
            f"--set-string=services.podAnnotations.rolled={uuid.uuid4().hex[:8]}",
            timeout=60,
        )
        release.rollout("users", timeout=50)
        # and the old pod is gone (its requests finished), not just the new one ready
        wait_for(
            lambda: (
                not before & {p["metadata"]["name"] for p in release.pods("users")}
                and not release.kubectl(
                    "get", "pods", "-l", "app.kubernetes.io/component=users", "-o", "name"
                ).stdout.count("\n")
                > 1
            ),
            timeout=30,
            what="the old users pod to finish",
        )
    finally:
        stop.set()
        worker.join(timeout=10)
    failed = [o for o in outcomes if o != 200]
    assert len(outcomes) > 50, outcomes
    assert not failed, f"{len(failed)} of {len(outcomes)} requests failed: {failed[:10]}"


def test_operator_pod_stops_by_itself_on_sigterm(release: Release) -> None:
    """Deleted with a long grace period, the operator's pod is gone long before it: the
    process ends on SIGTERM (its daemons honour the stop), it is not killed at the deadline."""
    grace = 300
    pod = release.pods("operator")[0]["metadata"]["name"]
    t0 = time.monotonic()
    release.kubectl("delete", "pod", pod, f"--grace-period={grace}", "--wait=false")
    wait_for(
        lambda: release.kubectl("get", "pod", pod, check=False).returncode != 0,
        timeout=45,
        interval=0.5,
        what=f"operator pod {pod} to stop on SIGTERM (grace period {grace}s)",
    )
    print(f"operator pod gone {time.monotonic() - t0:.1f}s after its deletion")
    release.rollout("operator", timeout=50)
    # the new operator keeps the webhook served: a bad spec is still refused
    bad = example_forumdatabase("bad", replicaRegions=["us-east-1"])
    wait_for(
        lambda: release.kubectl(
            "apply", "-f", "-", input=yaml.safe_dump(bad), check=False
        ).stderr.count("is the primary region"),
        timeout=30,
        what="the new operator to refuse a bad spec",
    )
    assert release.kubectl("get", FORUMDB_RESOURCE, "bad", check=False).returncode != 0


def test_operator_restarted_mid_reconcile_converges_without_duplicates(release: Release) -> None:
    """The operator pod is deleted while its first reconcile of a new ForumDatabase hangs in
    AWS (CreateBackupPlan slowed down); the next pod finishes the job: Ready, and one backup
    plan, one selection, one set of tables, not two."""
    moto = release.cluster.moto
    moto.control.set_fault(service="backup", operation="CreateBackupPlan", latency_ms=8000)
    manifest = example_forumdatabase("second", tablePrefix="second-")
    release.cluster.kubectl.apply(manifest, namespace=release.namespace)
    pod = release.pods("operator")[0]["metadata"]["name"]
    wait_for(
        lambda: moto.control.stats()["injected"].get("delayed", 0) >= 1,
        timeout=40,
        interval=0.2,
        what="the operator's reconcile of ForumDatabase second to reach CreateBackupPlan",
    )
    release.kubectl("delete", "pod", pod, "--wait=false")
    moto.control.clear_faults()
    wait_for_phase(release.cluster.kubectl, "second", release.namespace, "Ready", timeout=50)
    backup = moto.client("backup", manifest["spec"]["primaryRegion"])
    plan = naming.plan_name(release.namespace, "second")
    plans = [
        p for p in backup.list_backup_plans()["BackupPlansList"] if p["BackupPlanName"] == plan
    ]
    assert len(plans) == 1, plans
    selections = backup.list_backup_selections(BackupPlanId=plans[0]["BackupPlanId"])
    assert len(selections["BackupSelectionsList"]) == 1, selections
    dynamodb = moto.client("dynamodb", manifest["spec"]["primaryRegion"])
    tables = [t for t in dynamodb.list_tables()["TableNames"] if t.startswith("second-")]
    assert len(tables) == 3, tables


# ---- regional failover reaching running pods (these come last: they move the region) ------


def _pod_regions(release: Release) -> dict[str, str | None]:
    """Each running service pod's view of its region: storage.region of its own /readyz."""
    seen: dict[str, str | None] = {}
    for service in SERVICES:
        for pod in release.pods(service):
            ip = pod["status"].get("podIP")
            try:
                body = requests.get(f"http://{ip}:8080/readyz", timeout=3).json()
                seen[pod["metadata"]["name"]] = (body.get("storage") or {}).get("region")
            except (requests.RequestException, ValueError):
                seen[pod["metadata"]["name"]] = None
    return seen


def _fail_over(release: Release, down: str, to: str) -> dict[str, float]:
    """Take region `down` out in the emulator; wait for the operator's ConfigMap to name `to`
    and then for every service pod to use it. Returns when each happened (s after the outage)."""
    moto = release.cluster.moto
    for region in (down, to):
        moto.control.region_outage(region, down=region == down)
    t0 = time.monotonic()
    wait_for(
        lambda: release.json("get", "configmap", "forumdb-forum")["data"]["AWS_REGION"] == to,
        timeout=40,
        interval=0.2,
        what=f"the operator to switch forumdb-forum to {to}",
    )
    configmap = time.monotonic() - t0
    wait_for(
        lambda: set(_pod_regions(release).values()) == {to},
        timeout=50,
        interval=0.2,
        what=f"every service pod to use {to}",
    )
    return {"configmap": configmap, "pods": time.monotonic() - t0}


@pytest.fixture(scope="module")
def automatic(release: Release) -> Release:
    release.kubectl(
        *("patch", FORUMDB_RESOURCE, "forum", "--type=merge", "-p"),
        '{"spec":{"failover":{"mode":"Automatic","healthCheckIntervalSeconds":1,'
        '"failureThreshold":2}}}',
    )
    return release


def test_automatic_failover_reaches_pods_through_the_configmap_volume(automatic: Release) -> None:
    seen = _fail_over(automatic, down="us-east-1", to="us-west-2")
    print(f"FAILOVER configmap-volume {seen}")
    # the services answer from the new region through their Services
    # (the pods were unready during the outage: their endpoints come back a moment later)
    url = automatic.service_url("users") + "/api/users"
    created = wait_for(
        lambda: requests.post(url, json={"username": "west"}, timeout=10),
        timeout=20,
        what=f"a write through {url} in us-west-2",
    )
    assert created.status_code == 201, created.text


@pytest.fixture(scope="module")
def config_sync(automatic: Release) -> Release:
    """The same release, failed back to the primary by hand (automatic failover never returns
    to it), with database.configSync on: an init container and a sidecar copy the ConfigMap
    through the API instead of the kubelet's volume refresh."""
    automatic.cluster.moto.control.region_outage("us-east-1", down=False)
    automatic.kubectl(
        *("patch", FORUMDB_RESOURCE, "forum", "--type=merge"),
        # The operator kept its decision in status; a person's spec.activeRegion takes over.
        *("-p", '{"spec":{"activeRegion":"us-east-1"}}'),
    )
    wait_for(
        lambda: (
            automatic.json("get", "configmap", "forumdb-forum")["data"]["AWS_REGION"] == "us-east-1"
        ),
        timeout=40,
        what="the manual failback to us-east-1",
    )
    automatic.cluster.helm(
        *("upgrade", RELEASE, str(CHART), "-n", automatic.namespace, "--reuse-values"),
        "--set=database.configSync.enabled=true",
        timeout=120,
    )
    for service in SERVICES:
        automatic.rollout(service, timeout=180)
    wait_for(
        lambda: (
            all(
                "config-sync" in [c["name"] for c in p["spec"]["containers"]]
                for s in SERVICES
                for p in automatic.pods(s)
            )
            and len([p for s in SERVICES for p in automatic.pods(s)]) >= len(SERVICES)
        ),
        timeout=60,
        what="only config-sync pods running",
    )
    return automatic


def test_automatic_failover_reaches_pods_through_config_sync(config_sync: Release) -> None:
    seen = _fail_over(config_sync, down="us-east-1", to="us-west-2")
    print(f"FAILOVER config-sync {seen}")
