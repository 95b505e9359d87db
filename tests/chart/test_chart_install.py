"""`helm install` for real against the test kube-apiserver: the objects are created, the RBAC
is accepted, and the operator's RBAC is enough: the operator, authenticated as the chart's
ServiceAccount, reconciles a ForumDatabase.

This apiserver (1.20) serves no policy/v1, so PodDisruptionBudgets are policy/v1beta1 here, and
it runs no kubelet, so the Deployments never get pods (the kind scenario covers that)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from chartkit import AUTH_VALUES, CHART_DIR, SERVICE_NAMES, write_values

from harness.kube import wait_for_phase

pytestmark = [pytest.mark.apiserver, pytest.mark.slow]

RELEASE = "forum"
OPERATOR_SA = "forum-operator"


def _values(namespace: str, **overrides: Any) -> dict[str, Any]:
    return {
        "database": {"mode": "dynamodb", "forumDatabase": "forum"},
        "aws": {"region": "us-east-1"},
        "operator": {"enabled": True, "watchNamespaces": [namespace]},
        "forumDatabase": {
            "create": True,
            "spec": {"tablePrefix": f"{namespace}-", "primaryRegion": "us-east-1"},
        },
        "ingress": {"enabled": True},
        "networkPolicy": {"enabled": True, "allowExternal": False},
        **overrides,
    }


@contextlib.contextmanager
def _installed(
    helm: Any, apiserver: Any, namespace: str, values: Mapping[str, Any], tmp_path: Path
) -> Iterator[str]:
    """helm install; yields helm's output (with NOTES); uninstalls afterwards, so no
    cluster-scoped object outlives the test."""
    cluster_helm = helm.with_cluster(apiserver.env)
    values_file = write_values(tmp_path, values)
    proc = cluster_helm(
        *("install", RELEASE, str(CHART_DIR), "--namespace", namespace),
        *("--values", str(AUTH_VALUES), "--values", str(values_file)),
    )
    try:
        yield proc.stdout
    finally:
        cluster_helm("uninstall", RELEASE, "--namespace", namespace, check=False)


def _can(kubectl: Any, namespace: str, verb: str, resource: str, *, in_ns: str | None) -> bool:
    user = f"system:serviceaccount:{namespace}:{OPERATOR_SA}"
    scope = ["--namespace", in_ns] if in_ns else []
    answer = kubectl("auth", "can-i", verb, resource, "--as", user, *scope, check=False)
    return answer.stdout.strip() == "yes"


def test_helm_install_creates_every_object(helm, apiserver, kubectl, namespace, tmp_path):
    with _installed(helm, apiserver, namespace, _values(namespace), tmp_path) as output:
        assert f"kubectl get forumdb forum --namespace {namespace}" in output
        assert "STATUS: deployed" in output
        # How to uninstall without leaving a ForumDatabase stuck on the operator's finalizer.
        assert f"helm uninstall {RELEASE} --namespace {namespace}" in output
        assert "forumdb.io/finalizer" in output
        # jwt (the tests' auth settings): NOTES name the issuer and give no warning.
        assert "writes need a bearer token from https://issuer.example.com/realms/forum" in output
        assert "auth.mode=none" not in output
        ns = ["--namespace", namespace]

        def names(kind: str) -> set[str]:
            return set(kubectl("get", kind, *ns, "-o", "name").stdout.split())

        services = {f"forum-{n}" for n in SERVICE_NAMES}
        assert names("deployments") == {f"deployment.apps/{n}" for n in services | {OPERATOR_SA}}
        assert names("services") == {f"service/{n}" for n in services}
        assert names("serviceaccounts") >= {"serviceaccount/forum", f"serviceaccount/{OPERATOR_SA}"}
        assert names("networkpolicies") == {
            f"networkpolicy.networking.k8s.io/{n}" for n in services
        }
        assert names("ingresses") == {"ingress.networking.k8s.io/forum"}
        assert names("roles") == {f"role.rbac.authorization.k8s.io/{OPERATOR_SA}"}
        assert names("forumdatabases") == {"forumdatabase.forumdb.io/forum"}
        assert names("kopfpeerings") == {"kopfpeering.kopf.dev/forumdb"}
        cluster_role = f"{namespace}-{OPERATOR_SA}"
        assert kubectl.exists("clusterrole", cluster_role)
        assert kubectl.exists("clusterrolebinding", cluster_role)
        # The ForumDatabase from values passed the CRD's validation in the API server.
        spec = kubectl.json("get", "forumdb", "forum", *ns)["spec"]
        assert spec["primaryRegion"] == "us-east-1"
        assert spec["deletionPolicy"] == "Retain"  # the CRD's default


def test_operator_rbac_grants_what_it_needs_and_nothing_more(
    helm, apiserver, kubectl, namespace, tmp_path
):
    with _installed(helm, apiserver, namespace, _values(namespace), tmp_path):
        granted = [
            ("watch", "forumdatabases.forumdb.io", namespace),
            ("patch", "forumdatabases.forumdb.io", namespace),
            ("patch", "forumdatabases.forumdb.io/status", namespace),
            ("update", "forumdatabases.forumdb.io/finalizers", namespace),
            ("create", "configmaps", namespace),
            ("delete", "configmaps", namespace),
            ("create", "events", namespace),
            ("patch", "kopfpeerings.kopf.dev", namespace),
            ("watch", "customresourcedefinitions.apiextensions.k8s.io", None),
            # Kopf lists and watches namespaces when it is limited to some.
            ("watch", "namespaces", None),
        ]
        denied = [
            ("delete", "forumdatabases.forumdb.io", namespace),
            ("create", "forumdatabases.forumdb.io", namespace),
            ("get", "secrets", namespace),
            ("create", "pods", namespace),
            ("patch", "customresourcedefinitions.apiextensions.k8s.io", None),
            ("delete", "namespaces", None),
            ("patch", "clusterkopfpeerings.kopf.dev", None),
            ("watch", "forumdatabases.forumdb.io", "default"),  # a namespace it does not watch
            ("*", "*", namespace),
        ]
        wrong = [
            f"{'denied' if expect else 'granted'}: {verb} {res} in {ns or 'cluster'}"
            for expect, checks in ((True, granted), (False, denied))
            for verb, res, ns in checks
            if _can(kubectl, namespace, verb, res, in_ns=ns) is not expect
        ]
        assert not wrong, "\n".join(wrong)


def test_operator_rbac_for_all_namespaces(helm, apiserver, kubectl, namespace, tmp_path):
    # A peering name of its own: ClusterKopfPeering is cluster-wide, other tests may run.
    peering = f"forumdb-{namespace}"
    values = _values(namespace, operator={"enabled": True, "peering": {"name": peering}})
    with _installed(helm, apiserver, namespace, values, tmp_path):
        assert kubectl.exists("clusterkopfpeering", peering)
        other = f"t-{uuid.uuid4().hex[:10]}"
        for verb, res, ns in [
            ("patch", "clusterkopfpeerings.kopf.dev", None),
            ("watch", "forumdatabases.forumdb.io", other),
            ("patch", "forumdatabases.forumdb.io/status", other),
            ("create", "configmaps", other),
        ]:
            assert _can(kubectl, namespace, verb, res, in_ns=ns), f"{verb} {res} in {ns}"
        assert not _can(kubectl, namespace, "get", "secrets", in_ns=other)
        # Watching every namespace, Kopf never lists them (no namespace observer).
        assert not _can(kubectl, namespace, "list", "namespaces", in_ns=None)


def _operator_is_a_stub() -> bool:
    import forumdb_operator.main as entry

    return "not built yet" in Path(entry.__file__).read_text()


@pytest.mark.parametrize("watch", ["one namespace", "all namespaces"])
def test_operator_reconciles_with_only_the_charts_rbac(
    helm, apiserver, kubectl, namespace, operator_runner, tmp_path, watch
):
    if _operator_is_a_stub():
        pytest.skip("forum-operator is still the stub (operator/forumdb_operator/main.py)")
    one = watch == "one namespace"
    values = _values(namespace)
    if not one:
        values["operator"] = {"enabled": True, "peering": {"name": f"forumdb-{namespace}"}}
    with _installed(helm, apiserver, namespace, values, tmp_path):
        token = kubectl("create", "token", OPERATOR_SA, "--namespace", namespace).stdout.strip()
        sa_kubeconfig = apiserver.token_kubeconfig(token, tmp_path / "operator.kubeconfig")
        scope = ("--namespace", namespace) if one else ("--all-namespaces",)
        operator = operator_runner.start(*scope, KUBECONFIG=str(sa_kubeconfig))
        operator.wait_healthy()
        # The chart's readiness probe asks the real operator for a path it serves.
        deployment = kubectl.json("get", "deployment", OPERATOR_SA, "--namespace", namespace)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        path = container["readinessProbe"]["httpGet"]["path"]
        health_port = urlsplit(operator.health_url).port
        assert requests.get(f"http://127.0.0.1:{health_port}{path}", timeout=5).status_code == 200
        status = wait_for_phase(kubectl, "forum", namespace, "Ready", timeout=60)
        assert status["configMap"] == "forumdb-forum"
        published = kubectl.json("get", "configmap", "forumdb-forum", "--namespace", namespace)
        assert published["data"]["STORAGE_MODE"] == "dynamodb"
        assert published["data"]["USERS_TABLE"] == f"{namespace}-Users"
        assert published["data"]["AWS_REGION"] == "us-east-1"
        operator.stop()
        logs = operator.logs()
        assert "Forbidden" not in logs, logs


def test_helm_install_with_defaults_then_upgrade_to_dynamodb(
    helm, apiserver, kubectl, namespace, tmp_path
):
    ns = ["--namespace", namespace]
    seeded = {"database": {"seed": {"enabled": True}}}
    with _installed(helm, apiserver, namespace, seeded, tmp_path) as output:
        # json mode: a claim per service, the seed ConfigMap, and NOTES that say how to reach it
        claims = kubectl("get", "persistentvolumeclaims", *ns, "-o", "name").stdout.split()
        assert sorted(claims) == sorted(
            f"persistentvolumeclaim/forum-{n}-data" for n in SERVICE_NAMES
        )
        assert kubectl.exists("configmap", "forum-seed", namespace=namespace)
        assert "kubectl port-forward --namespace" in output
        assert f"helm test {RELEASE} --namespace {namespace}" in output
        # Upgrading to DynamoDB mode with the operator: new objects appear, the seed goes,
        # and the claims stay (helm.sh/resource-policy: keep).
        upgrade = write_values(tmp_path, _values(namespace), "upgrade.yaml")
        helm.with_cluster(apiserver.env)(
            *("upgrade", RELEASE, str(CHART_DIR), *ns),
            *("--values", str(AUTH_VALUES), "--values", str(upgrade)),
        )
        assert kubectl.exists("deployment", OPERATOR_SA, namespace=namespace)
        assert not kubectl.exists("configmap", "forum-seed", namespace=namespace)
        assert kubectl.exists("persistentvolumeclaim", "forum-users-data", namespace=namespace)
        users = kubectl.json("get", "deployment", "forum-users", *ns)
        volumes = {v["name"]: v for v in users["spec"]["template"]["spec"]["volumes"]}
        assert volumes["forumdb-config"]["configMap"]["name"] == "forumdb-forum"


def test_notes_warn_loudly_when_auth_is_off(helm, apiserver, namespace, tmp_path):
    # json mode, as values-json.yaml's local demo: auth.mode=none set on purpose.
    with _installed(helm, apiserver, namespace, {"auth": {"mode": "none"}}, tmp_path) as output:
        assert "STATUS: deployed" in output
        assert "WARNING: auth.mode=none." in output
        assert "ANYONE WHO REACHES THEM CAN" in output
        assert "writes need a bearer token" not in output


def test_pdb_on_a_cluster_without_policy_v1_falls_back_to_v1beta1(
    helm, apiserver, kubectl, namespace, tmp_path
):
    values = {**_values(namespace), "services": {"pdb": {"create": True}}}
    with _installed(helm, apiserver, namespace, values, tmp_path):
        pdbs = kubectl.json("get", "poddisruptionbudgets.v1beta1.policy", "-n", namespace)
        by_name = {p["metadata"]["name"]: p["spec"] for p in pdbs["items"]}
        assert sorted(by_name) == sorted(f"forum-{n}" for n in SERVICE_NAMES)
        assert all(spec["maxUnavailable"] == 1 for spec in by_name.values())


def _self_signed_cert(folder: Path) -> Path:
    """A serving certificate for 127.0.0.1 in cert-manager's Secret layout (tls.crt, tls.key)."""
    import subprocess

    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec"),
            *("-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(folder / "tls.key"), "-out", str(folder / "tls.crt")),
        ],
        check=True,
        capture_output=True,
    )
    return folder


def test_operator_webhook_works_with_only_the_charts_rbac(
    helm, apiserver, kubectl, namespace, operator_runner, tmp_path
):
    if _operator_is_a_stub():
        pytest.skip("forum-operator is still the stub (operator/forumdb_operator/main.py)")
    from harness.procs import free_port, wait_for

    values = _values(namespace)
    values["operator"] = {
        **values["operator"],
        "webhook": {"enabled": True, "certSecret": "forum-webhook-tls"},
    }
    values["forumDatabase"] = {"create": False}
    certs = tmp_path / "certs"
    certs.mkdir()
    _self_signed_cert(certs)
    configuration = f"forum-operator.{namespace}.forumdb.io"
    kinds = ("validatingwebhookconfiguration", "mutatingwebhookconfiguration")
    with _installed(helm, apiserver, namespace, values, tmp_path):
        token = kubectl("create", "token", OPERATOR_SA, "--namespace", namespace).stdout.strip()
        sa_kubeconfig = apiserver.token_kubeconfig(token, tmp_path / "operator.kubeconfig")
        # No pod runs here: the operator registers a URL the API server reaches (127.0.0.1);
        # the chart's Service reference is exercised on the real node (tests/kind).
        operator = operator_runner.start(
            *("--namespace", namespace, "--webhook-port", str(free_port())),
            *("--webhook-host", "127.0.0.1", "--webhook-cert-dir", str(certs)),
            *("--webhook-configuration", configuration),
            KUBECONFIG=str(sa_kubeconfig),
        )
        try:
            wait_for(
                lambda: kubectl.json("get", "validatingwebhookconfiguration", configuration).get(
                    "webhooks"
                ),
                timeout=30,
                what="the operator's webhooks in the chart's ValidatingWebhookConfiguration",
            )
            bad = {
                "apiVersion": "forumdb.io/v1alpha1",
                "kind": "ForumDatabase",
                "metadata": {"name": "forum"},
                "spec": {"primaryRegion": "us-east-1", "replicaRegions": ["us-east-1"]},
            }
            refused = kubectl(
                "apply", "-n", namespace, "-f", "-", input=json.dumps(bad), check=False
            )
            assert refused.returncode != 0
            assert "replicaRegions" in refused.stderr
            operator.stop()
            logs = operator.logs()
            assert "Forbidden" not in logs, logs
        finally:
            operator.stop()
    # uninstalled: no webhook configuration of the release stays behind
    for kind in kinds:
        assert not kubectl.exists(kind, configuration)


@pytest.mark.parametrize("watch", ["one namespace", "all namespaces"])
def test_operator_peering_works_with_only_the_charts_rbac(
    helm, apiserver, kubectl, namespace, operator_runner, tmp_path, watch
):
    """As the chart runs it: with Kopf peering on the object the chart created (the test
    runner's operators are standalone, so this one is started here)."""
    if _operator_is_a_stub():
        pytest.skip("forum-operator is still the stub (operator/forumdb_operator/main.py)")
    from harness.operator_runner import operator_executable
    from harness.procs import free_port, start_group, stop_group, wait_for

    one = watch == "one namespace"
    peering = "forumdb" if one else f"forumdb-{namespace}"
    values = _values(namespace)
    if not one:
        values["operator"] = {"enabled": True, "peering": {"name": peering}}
    with _installed(helm, apiserver, namespace, values, tmp_path):
        token = kubectl("create", "token", OPERATOR_SA, "--namespace", namespace).stdout.strip()
        sa_kubeconfig = apiserver.token_kubeconfig(token, tmp_path / "operator.kubeconfig")
        scope = ("--namespace", namespace) if one else ("--all-namespaces",)
        argv = [operator_executable(), *scope, "--peering", peering]
        argv += ["--health-port", str(free_port()), "--metrics-port", str(free_port())]
        log_file = tmp_path / "operator.log"
        env = operator_runner.environment({"KUBECONFIG": str(sa_kubeconfig)})
        process = start_group(argv, log_file=log_file, env=env, name="forum-operator")
        try:
            wait_for_phase(kubectl, "forum", namespace, "Ready", timeout=60)
            kind, ns = ("kopfpeering", ["-n", namespace]) if one else ("clusterkopfpeering", [])

            def keepalive() -> bool:
                return bool(kubectl.json("get", kind, peering, *ns).get("status"))

            # Kopf keeps its keep-alive in the status of the peering object.
            wait_for(keepalive, timeout=30, what=f"a keep-alive in {kind} {peering}")
        finally:
            stop_group(process, grace=10)
        logs = log_file.read_text()
        assert "Forbidden" not in logs, logs
