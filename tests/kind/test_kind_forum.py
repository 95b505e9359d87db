"""helm install forum with the operator, apply examples/forumdatabase.yaml, wait for Ready.

One body for both clusters of the `cluster` fixture: on kind every step runs, pods included;
on the envtest apiserver the operator runs as a local process under the chart's
ServiceAccount, and the steps that need pods are skipped.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.kind import Cluster
from harness.kube import FORUMDB_RESOURCE, delete_namespace
from harness.motoserver import FAKE_CREDENTIALS
from harness.node_cluster import service_url
from harness.operator_runner import OperatorRunner
from harness.procs import free_port, run_tool, start_group, stop_group, wait_for
from harness.scenario import (
    apply_and_wait_ready,
    check_configmap,
    check_tables,
    example_forumdatabase,
    table_names,
)

pytestmark = pytest.mark.slow  # `kind` or `apiserver` comes with the cluster parameter

REPO_ROOT = Path(__file__).resolve().parents[2]
RELEASE = "forum"
SERVICES = ("users", "threads", "posts")
READY_TIMEOUT = 300
FORUMCTL = str(Path(sys.executable).with_name("forumctl"))


@pytest.fixture
def release_namespace(cluster: Cluster) -> Iterator[str]:
    name = f"kind-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    yield name
    # also after a failed test: the release's cluster-scoped objects (peering, webhook
    # configurations, ClusterRoles) would block the next install on a session's cluster
    cluster.helm("uninstall", RELEASE, "-n", name, "--wait", timeout=300, check=False)
    delete_namespace(cluster.kubectl, name, [FORUMDB_RESOURCE])


def _install(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl(
        *("create", "secret", "generic", "forumdb-aws", "-n", namespace),
        *(f"--from-literal={k}={v}" for k, v in FAKE_CREDENTIALS.items()),
    )
    # No --wait: the service pods mount the operator's ConfigMap, which exists only once the
    # ForumDatabase is applied and reconciled; the test waits for the rollouts after that.
    cluster.helm(
        *("install", RELEASE, str(REPO_ROOT / "charts" / "forum"), "-n", namespace),
        *cluster.image_values,
        "--set=operator.enabled=true",
        "--set=operator.driftInterval=10",
        "--set=database.mode=dynamodb",
        "--set=database.forumDatabase=forum",
        "--set=persistence.enabled=false",
        f"--set=aws.region={cluster.moto.region}",
        f"--set=aws.endpointUrl={cluster.moto.url}",
        "--set=aws.existingSecret=forumdb-aws",
        # No OIDC issuer runs in the cluster: this scenario is about the database, and says so
        # on purpose (the chart refuses an install without auth settings).
        "--set=auth.mode=none",
        # readiness checked every 2 s rather than 10: rollouts finish sooner (test time only)
        "--set=services.readinessProbe.periodSeconds=2",
        "--set=services.readinessProbe.initialDelaySeconds=1",
        timeout=READY_TIMEOUT,
    )


def _operator_as_chart_service_account(
    cluster: Cluster, namespace: str, workdir: Path
) -> OperatorRunner:
    """Run forum-operator locally with the chart's Deployment arguments and ServiceAccount."""
    assert cluster.apiserver is not None
    deployment = cluster.kubectl.json("get", "deployment", f"{RELEASE}-operator", "-n", namespace)
    pod = deployment["spec"]["template"]["spec"]
    args = list(pod["containers"][0]["args"])
    for flag in ("--health-port", "--metrics-port"):  # the runner picks free ports
        i = args.index(flag)
        del args[i : i + 2]
    token = cluster.kubectl(
        "create", "token", pod["serviceAccountName"], "-n", namespace
    ).stdout.strip()
    kubeconfig = cluster.apiserver.token_kubeconfig(token, workdir / "operator.kubeconfig")
    runner = OperatorRunner(
        kube_env={**cluster.apiserver.env, "KUBECONFIG": str(kubeconfig)},
        aws_env=cluster.moto.env,
        workdir=workdir,
        standalone="--peering" not in args,
    )
    runner.start(*args, FORUMDB_DRIFT_INTERVAL="5")
    return runner


def test_helm_install_then_example_forumdatabase_becomes_ready(
    cluster: Cluster, release_namespace: str, tmp_path: Path
) -> None:
    ns = release_namespace
    cluster.moto.reset()
    if cluster.moto.extended:  # replicas go ACTIVE quickly rather than after minutes
        cluster.moto.control.set_replication(replica_activation_calls=1, lag_seconds=0)
    _install(cluster, ns)

    deployments = {
        d["metadata"]["name"] for d in cluster.kubectl.json("get", "deploy", "-n", ns)["items"]
    }
    assert deployments == {f"{RELEASE}-{s}" for s in (*SERVICES, "operator")}

    runner = (
        None if cluster.runs_pods else _operator_as_chart_service_account(cluster, ns, tmp_path)
    )
    try:
        manifest = example_forumdatabase()
        status = apply_and_wait_ready(cluster.kubectl, ns, manifest, timeout=READY_TIMEOUT)
        assert status["configMap"] == "forumdb-forum"
        check_configmap(cluster.kubectl, ns, manifest)

        def dynamodb(region: str):
            return cluster.moto.client("dynamodb", region)

        check_tables(dynamodb, manifest["spec"])

        if cluster.runs_pods:
            # services' readiness is /readyz, which reads the store through the ConfigMap
            for service in (*SERVICES, "operator"):
                cluster.kubectl(
                    "rollout",
                    "status",
                    f"deployment/{RELEASE}-{service}",
                    "-n",
                    ns,
                    f"--timeout={READY_TIMEOUT}s",
                    timeout=READY_TIMEOUT + 30,
                )
            _check_api_answers(cluster, ns, tmp_path)
            # (no --logs: the test pod is deleted once it succeeded, hook-delete-policy)
            tested = cluster.helm(*("test", RELEASE, "-n", ns, "--timeout=120s"), timeout=180)
            assert "Phase:          Succeeded" in tested.stdout, tested.stdout
            # the backup plan's first run, as AWS Backup's scheduler would: a recovery point
            # (and its copy) for verify to find
            cluster.moto.control.run_backup_plan_now(
                status["backups"]["planId"], region=manifest["spec"]["primaryRegion"]
            )
            _check_forumctl_verify(cluster, ns, manifest["spec"])

        # Retain (the example's deletionPolicy): deleting the resource keeps the tables.
        cluster.kubectl(
            "delete", FORUMDB_RESOURCE, "forum", "-n", ns, "--timeout=120s", timeout=150
        )
        for table in table_names(manifest["spec"]).values():
            assert dynamodb(manifest["spec"]["primaryRegion"]).describe_table(TableName=table)
    finally:
        if runner is not None:
            runner.stop_all()
            print(*(h.logs() for h in runner.handles), sep="\n")
    cluster.helm("uninstall", RELEASE, "-n", ns, "--wait", timeout=300)


def _check_forumctl_verify(cluster: Cluster, namespace: str, spec: dict) -> None:
    """`forumctl verify` on the tables the pods use (the ConfigMap's names and regions)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KUBE"))},
        **cluster.moto.env,
        "KUBECONFIG": str(cluster.kubectl.kubeconfig),
    }
    verified = run_tool(
        [
            *(FORUMCTL, "verify", "--forumdb", "forum", "-n", namespace, "-o", "json"),
            "--expect=users=1",
        ],
        env=env,
        check=False,
        timeout=120,
    )
    report = json.loads(verified.stdout or "{}")
    failed = [c for c in report.get("checks", []) if c.get("outcome") == "fail"]
    assert verified.returncode == 0, f"forumctl verify failed: {failed or verified.stderr}"
    assert report.get("checks"), verified.stdout


def _check_api_answers(cluster: Cluster, namespace: str, workdir: Path) -> None:
    """GET /api/users of each service: on the node through its Service's cluster IP (what
    kube-proxy routes), on kind through `kubectl port-forward`."""
    if cluster.flavour == "node":
        urls = {
            service: f"{service_url(cluster, namespace, f'{RELEASE}-{service}')}/api/{service}"
            for service in SERVICES
        }
        for service, url in urls.items():
            response = requests.get(url, timeout=10)
            assert response.status_code == 200, f"{service}: {response.text}"
            assert isinstance(response.json(), list), response.text
        # a write goes through a pod to the pods' table, and reads back through the Service
        created = requests.post(urls["users"], json={"username": "on-the-node"}, timeout=10)
        assert created.status_code == 201, created.text
        read = requests.get(f"{urls['users']}/{created.json()['id']}", timeout=10)
        assert read.status_code == 200, read.text
        assert read.json()["username"] == "on-the-node"
        return
    port = free_port()
    forward = start_group(
        [
            *(cluster.kubectl.binary, "--kubeconfig", cluster.kubectl.kubeconfig),
            *("port-forward", "-n", namespace, f"service/{RELEASE}-users", f"{port}:80"),
        ],
        log_file=workdir / "port-forward.log",
        name="kubectl port-forward",
    )
    try:
        response = wait_for(
            lambda: requests.get(f"http://127.0.0.1:{port}/api/users", timeout=5),
            timeout=60,
            what="the users service through port-forward",
        )
        assert response.status_code == 200, response.text
        assert "users" in response.json()
    finally:
        stop_group(forward)
