"""database.configSync: the operator's ConfigMap reaches the service pods through the API (an
init container and a sidecar running forumdb_services.configsync) instead of the kubelet's ConfigMap
volume; only those two containers get an API token, and RBAC lets them read that one
ConfigMap. Rendered, linted, and installed on the test kube-apiserver (1.20)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chartkit import (
    AUTH_VALUES,
    CHART_DIR,
    SERVICE_NAMES,
    by_kind,
    containers,
    env_of,
    mounts_of,
    named,
    volumes_of,
    write_values,
)
from test_chart_render import _check_hardened, _check_valid

from harness.procs import GiveUp, start_group, stop_group, tail, wait_for

TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
CONFIGMAP = "forumdb-forum"
ENABLED = {
    "database": {"mode": "dynamodb", "forumDatabase": "forum", "configSync": {"enabled": True}},
}
SYNC_CONTAINERS = ("config-sync-init", "config-sync")


def _pod(objects: list[dict[str, Any]], service: str) -> dict[str, Any]:
    return named(objects, "Deployment", f"forum-{service}")["spec"]["template"]["spec"]


def _token_volumes(spec: dict[str, Any]) -> set[str]:
    """Volumes that carry a ServiceAccount token."""
    return {
        name
        for name, v in volumes_of(spec).items()
        if any("serviceAccountToken" in s for s in v.get("projected", {}).get("sources", []))
    }


def test_enabled_renders_valid_and_hardened(render):
    objects = render(ENABLED)
    _check_valid(objects)
    _check_hardened(objects)


def test_enabled_adds_the_init_container_and_the_sidecar_running_configsync(render):
    objects = render(ENABLED)
    for name in SERVICE_NAMES:
        spec = _pod(objects, name)
        (init,) = spec["initContainers"]
        main, sidecar = spec["containers"]  # plain containers: no native sidecars on 1.20
        assert (init["name"], main["name"], sidecar["name"]) == (
            "config-sync-init",
            name,
            "config-sync",
        )
        common = ["--namespace", "forum", "--name", CONFIGMAP, "--dir", "/etc/forumdb"]
        assert (
            init["command"] == sidecar["command"] == ["python", "-m", "forumdb_services.configsync"]
        )
        assert init["args"] == ["--once", *common]
        assert sidecar["args"] == common
        assert "restartPolicy" not in init
        for c in (init, sidecar):
            assert c["securityContext"] == main["securityContext"]
            assert c["resources"] == {
                "requests": {"cpu": "10m", "memory": "64Mi"},
                "limits": {"cpu": "100m", "memory": "128Mi"},
            }


def test_the_service_reads_the_synced_emptydir_read_only_not_the_configmap_volume(render):
    objects = render(ENABLED)
    for name in SERVICE_NAMES:
        spec = _pod(objects, name)
        main = spec["containers"][0]
        assert env_of(main)["FORUMDB_CONFIG_DIR"] == "/etc/forumdb"
        volume = volumes_of(spec)[mounts_of(main)["/etc/forumdb"]]
        assert "emptyDir" in volume
        assert "configMap" not in volume
        (mount,) = [m for m in main["volumeMounts"] if m["mountPath"] == "/etc/forumdb"]
        assert mount.get("readOnly") is True
        for c in containers(spec):
            if c["name"] in SYNC_CONTAINERS:
                assert mounts_of(c)["/etc/forumdb"] == volume["name"]
                (m,) = [m for m in c["volumeMounts"] if m["mountPath"] == "/etc/forumdb"]
                assert not m.get("readOnly")
        # No volume mounts the ConfigMap: the kubelet's once-a-minute refresh is out of the way.
        assert not [
            v for v in volumes_of(spec).values() if v.get("configMap", {}).get("name") == CONFIGMAP
        ]


def test_only_the_sync_containers_get_the_api_token(render):
    objects = render(ENABLED)
    for name in SERVICE_NAMES:
        spec = _pod(objects, name)
        assert spec["automountServiceAccountToken"] is False  # as the values say
        (token,) = _token_volumes(spec)
        sources = volumes_of(spec)[token]["projected"]["sources"]
        assert {
            "configMap": {
                "name": "kube-root-ca.crt",
                "items": [{"key": "ca.crt", "path": "ca.crt"}],
            }
        } in sources
        assert [
            s["serviceAccountToken"]["path"] for s in sources if "serviceAccountToken" in s
        ] == ["token"]
        (downward,) = [s["downwardAPI"] for s in sources if "downwardAPI" in s]
        assert downward["items"] == [
            {
                "path": "namespace",
                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
            }
        ]
        holders = {c["name"]: mounts_of(c).get(TOKEN_PATH) for c in containers(spec)}
        assert holders == {"config-sync-init": token, name: None, "config-sync": token}
        for c in containers(spec):
            if c["name"] in SYNC_CONTAINERS:
                (m,) = [m for m in c["volumeMounts"] if m["mountPath"] == TOKEN_PATH]
                assert m["readOnly"] is True
            else:
                assert token not in {m["name"] for m in c.get("volumeMounts", [])}


def test_the_role_reads_only_the_one_configmap_and_binds_the_services_serviceaccount(render):
    objects = render(ENABLED)
    (role,) = by_kind(objects, "Role")
    assert role["metadata"]["namespace"] == "forum"
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [CONFIGMAP],
            "verbs": ["get", "list", "watch"],
        }
    ]
    (binding,) = by_kind(objects, "RoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    (sa,) = by_kind(objects, "ServiceAccount")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "forum"}
    ]
    assert sa["metadata"]["name"] == _pod(objects, "users")["serviceAccountName"]


def test_the_role_follows_the_forumdatabase_and_an_existing_serviceaccount(render):
    values = {
        "database": {"mode": "dynamodb", "forumDatabase": "shop", "configSync": {"enabled": True}},
        "serviceAccount": {"create": False, "name": "forum-irsa"},
    }
    objects = render(values)
    (role,) = by_kind(objects, "Role")
    assert role["rules"][0]["resourceNames"] == ["forumdb-shop"]
    (binding,) = by_kind(objects, "RoleBinding")
    assert binding["subjects"][0]["name"] == "forum-irsa"
    assert "forumdb-shop" in _pod(objects, "posts")["initContainers"][0]["args"]


@pytest.mark.parametrize(
    "values",
    [
        {"database": {"mode": "dynamodb", "forumDatabase": "forum"}},
        {
            "database": {
                "mode": "dynamodb",
                "forumDatabase": "forum",
                "configSync": {"enabled": False},
            }
        },
    ],
    ids=["default", "explicitly off"],
)
def test_disabled_renders_none_of_it(render, values):
    objects = render(values)
    assert not by_kind(objects, "Role")
    assert not by_kind(objects, "RoleBinding")
    for name in SERVICE_NAMES:
        spec = _pod(objects, name)
        assert "initContainers" not in spec
        assert [c["name"] for c in spec["containers"]] == [name]
        assert not _token_volumes(spec)
        assert volumes_of(spec)["forumdb-config"]["configMap"] == {
            "name": CONFIGMAP,
            "optional": True,
        }


@pytest.mark.parametrize(
    "database",
    [{"mode": "json"}, {"mode": "dynamodb", "forumDatabase": ""}],
    ids=["json mode", "no ForumDatabase"],
)
def test_enabled_without_a_forumdatabase_configmap_is_refused(render_error, database):
    stderr = render_error({"database": {**database, "configSync": {"enabled": True}}})
    assert "database.configSync.enabled=true" in stderr
    assert "database.forumDatabase" in stderr


def test_the_schema_refuses_a_misspelt_configsync_value(render_error):
    stderr = render_error({"database": {"configSync": {"enable": True}}})
    assert "enable" in stderr


def test_helm_lint_strict_with_configsync(helm, tmp_path):
    values = write_values(tmp_path, ENABLED)
    auth = ("--values", str(AUTH_VALUES))
    proc = helm("lint", "--strict", str(CHART_DIR), *auth, "--values", str(values), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout


@pytest.mark.apiserver
@pytest.mark.slow
def test_helm_install_on_the_test_apiserver_and_the_serviceaccount_can_sync(
    helm, apiserver, kubectl, namespace, tmp_path: Path
):
    cluster_helm = helm.with_cluster(apiserver.env)
    values = write_values(tmp_path, {**ENABLED, "aws": {"region": "us-east-1"}})
    cluster_helm(
        *("install", "forum", str(CHART_DIR), "--namespace", namespace),
        *("--values", str(AUTH_VALUES), "--values", str(values)),
    )
    try:
        ns = ["--namespace", namespace]
        role = kubectl.json("get", "role", "forum-config-sync", *ns)
        assert role["rules"][0]["resourceNames"] == [CONFIGMAP]
        assert kubectl.exists("rolebinding", "forum-config-sync", namespace=namespace)
        # The API server (1.20) stored the pod template as rendered.
        spec = kubectl.json("get", "deployment", "forum-users", *ns)["spec"]["template"]["spec"]
        assert [c["name"] for c in spec["initContainers"]] == ["config-sync-init"]
        assert [c["name"] for c in spec["containers"]] == ["users", "config-sync"]

        # What the two containers do, with the ServiceAccount's own token: the RBAC is enough
        # for --once (get) and for the watch (list/watch with a field selector on the name).
        kubectl(
            "create", "configmap", CONFIGMAP, *ns,
            "--from-literal=AWS_REGION=us-east-1", "--from-literal=STORAGE_MODE=dynamodb",
        )  # fmt: skip
        token = kubectl("create", "token", "forum", *ns).stdout.strip()
        kubeconfig = apiserver.token_kubeconfig(token, tmp_path / "sa.kubeconfig")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "AWS_"))}
        folder = tmp_path / "config"
        base = [
            sys.executable,
            "-m",
            "forumdb_services.configsync",
            "--kubeconfig",
            str(kubeconfig),
        ]
        base += ["--namespace", namespace, "--dir", str(folder)]
        once = subprocess.run(
            [*base, "--name", CONFIGMAP, "--once", "--timeout", "0"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert once.returncode == 0, once.stderr
        assert (folder / "AWS_REGION").read_text() == "us-east-1"

        # The sidecar's watch: a region switch reaches the folder.
        watcher = start_group(
            [*base, "--name", CONFIGMAP], log_file=tmp_path / "watch.log", env=env, name="watch"
        )
        try:
            kubectl(
                "patch", "configmap", CONFIGMAP, *ns, "-p", '{"data":{"AWS_REGION":"us-west-2"}}'
            )

            def switched() -> bool:
                if watcher.poll() is not None:
                    raise GiveUp(tail(tmp_path / "watch.log"))
                return (folder / "AWS_REGION").read_text() == "us-west-2"

            wait_for(switched, timeout=30, what="the region switch in the folder")
        finally:
            stop_group(watcher, grace=5)
        assert "forbidden" not in tail(tmp_path / "watch.log").lower()

        # Nothing else: another ConfigMap, or all of them, are refused.
        kubectl("create", "configmap", "other", *ns, "--from-literal=x=y")
        denied = subprocess.run(
            [*base, "--name", "other", "--once", "--timeout", "0"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert denied.returncode == 1
        assert "HTTP 403: forbidden" in denied.stderr
        user = f"system:serviceaccount:{namespace}:forum"
        can_list_all = kubectl(
            "auth", "can-i", "list", "configmaps", "--as", user, *ns, check=False
        )
        assert can_list_all.stdout.strip() == "no"
    finally:
        cluster_helm("uninstall", "forum", "--namespace", namespace, check=False)
