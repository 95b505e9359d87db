"""The real kube-apiserver fixture: up, CRDs applied, kubectl works, RBAC enforced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from harness.apiserver import ApiServer, crd_documents
from harness.kube import FORUMDB_RESOURCE, Kubectl, delete_namespace, forumdb_status
from harness.procs import ToolError
from harness.provision import require_tool

pytestmark = pytest.mark.apiserver

REPO_ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = REPO_ROOT / "examples" / "forumdatabase.yaml"


def test_apiserver_is_ready_on_loopback_with_its_own_ca(apiserver: ApiServer) -> None:
    assert apiserver.url.startswith("https://127.0.0.1:")
    assert Path(apiserver.env["KUBECONFIG"]) == apiserver.kubeconfig
    response = requests.get(
        f"{apiserver.url}/readyz",
        verify=str(apiserver.pki.ca_cert),
        headers={"Authorization": f"Bearer {apiserver.admin_token}"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.text == "ok"


def test_every_crd_of_the_repository_is_established(apiserver: ApiServer, kubectl: Kubectl) -> None:
    expected = {d["metadata"]["name"] for d in crd_documents(REPO_ROOT / "crds")}
    assert FORUMDB_RESOURCE in expected
    for name in expected:
        crd = kubectl.json("get", "crd", name)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", name
    assert FORUMDB_RESOURCE in apiserver.namespaced_crds


def test_crds_are_applied_as_kubectl_apply_applies_them(kubectl: Kubectl) -> None:
    """apply_crds (also `forumctl dev up`'s) leaves the last-applied annotation, so a later
    `kubectl apply -f crds/` finds them unchanged, with no warning about a missing one."""
    expected = {d["metadata"]["name"] for d in crd_documents(REPO_ROOT / "crds")}
    for name in expected:
        annotations = kubectl.json("get", "crd", name)["metadata"].get("annotations") or {}
        assert "kubectl.kubernetes.io/last-applied-configuration" in annotations, name
    again = kubectl("apply", "-f", str(REPO_ROOT / "crds"))
    assert again.stderr == ""
    assert sorted(again.stdout.splitlines()) == sorted(
        f"customresourcedefinition.apiextensions.k8s.io/{name} unchanged" for name in expected
    )


def test_kubectl_get_forumdb_by_short_name(kubectl: Kubectl, namespace: str) -> None:
    assert kubectl.json("get", "forumdb", "-n", namespace)["items"] == []
    kubectl("apply", "-n", namespace, "-f", str(EXAMPLE))
    listed = kubectl("get", "forumdb", "-n", namespace).stdout
    header, row = listed.splitlines()[:2]
    assert "PHASE" in header
    assert row.split()[0] == "forum"
    assert forumdb_status(kubectl, "forum", namespace) == {}


def test_crd_schema_rejects_an_invalid_spec(kubectl: Kubectl, namespace: str) -> None:
    bad = {
        "apiVersion": "forumdb.io/v1alpha1",
        "kind": "ForumDatabase",
        "metadata": {"name": "bad"},
        "spec": {"primaryRegion": 42},
    }
    with pytest.raises(ToolError, match="primaryRegion"):
        kubectl.apply(bad, namespace=namespace)


def test_rbac_refuses_a_service_account_without_rights(
    apiserver: ApiServer, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    kubectl("create", "serviceaccount", "reader", "-n", namespace)
    token = kubectl("create", "token", "reader", "-n", namespace).stdout.strip()
    as_reader = Kubectl(
        require_tool("kubectl"), apiserver.token_kubeconfig(token, tmp_path / "reader.kubeconfig")
    )
    denied = as_reader("get", "forumdb", "-n", namespace, check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()
    assert f"system:serviceaccount:{namespace}:reader" in denied.stderr

    # The same token works once RBAC grants it: the refusal above was RBAC's doing.
    kubectl(
        *("create", "role", "forumdb-reader", "-n", namespace),
        *("--verb=get,list", f"--resource={FORUMDB_RESOURCE}"),
    )
    kubectl(
        *("create", "rolebinding", "reader", "-n", namespace),
        *("--role=forumdb-reader", f"--serviceaccount={namespace}:reader"),
    )
    assert as_reader.json("get", "forumdb", "-n", namespace)["items"] == []


def test_namespace_cleanup_removes_custom_resources_despite_finalizers(
    apiserver: ApiServer, kubectl: Kubectl
) -> None:
    ns = "t-cleanup-check"
    kubectl("create", "namespace", ns)
    kubectl("apply", "-n", ns, "-f", str(EXAMPLE))
    kubectl(
        *("patch", FORUMDB_RESOURCE, "forum", "-n", ns, "--type=merge"),
        *("-p", json.dumps({"metadata": {"finalizers": ["forumdb.io/test"]}})),
    )
    delete_namespace(kubectl, ns, apiserver.namespaced_crds)
    assert not kubectl.exists(FORUMDB_RESOURCE, "forum", namespace=ns)
    phase = kubectl.json("get", "namespace", ns)["status"]["phase"]
    assert phase == "Terminating"  # no controller-manager here to finish it
