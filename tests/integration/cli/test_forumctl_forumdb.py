"""--forumdb NAME: tables and regions come from the ConfigMap the operator publishes for a
ForumDatabase (made by hand here, as the operator would), read through the kubeconfig."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from forumctl_run import forumctl

from forumctl.errors import ExitCode

pytestmark = pytest.mark.apiserver

FORUMDB = {
    "apiVersion": "forumdb.io/v1alpha1",
    "kind": "ForumDatabase",
    "metadata": {"name": "board"},
    "spec": {"tablePrefix": "board-", "primaryRegion": "us-east-1"},
}


def apply(kubectl: Callable[..., Any], namespace: str, obj: dict[str, Any], tmp_path: Any) -> None:
    path = tmp_path / f"{obj['kind']}.json"
    path.write_text(json.dumps(obj))
    kubectl("apply", "-n", namespace, "-f", str(path))


def test_tables_come_from_the_forumdb_configmap(
    apiserver: Any, kubectl: Any, namespace: str, aws: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    apply(kubectl, namespace, FORUMDB, tmp_path)
    status = {"status": {"phase": "Ready", "configMap": "forumdb-board"}}
    kubectl(
        "patch", "forumdb", "board", "-n", namespace, "--subresource=status",
        "--type=merge", "-p", json.dumps(status),
    )  # fmt: skip
    configmap = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "forumdb-board"},
        "data": {
            "STORAGE_MODE": "dynamodb",
            "TABLE_PREFIX": "board-",
            "USERS_TABLE": "board-Users",
            "THREADS_TABLE": "board-Threads",
            "POSTS_TABLE": "board-Posts",
            "AWS_REGION": "us-east-1",
            "REPLICA_REGIONS": "",
        },
    }
    apply(kubectl, namespace, configmap, tmp_path)
    monkeypatch.setenv("AWS_REGION", "eu-central-1")  # the ConfigMap's region wins
    kube = ("--forumdb", "board", "-n", namespace, "--kubeconfig", apiserver.kubeconfig)

    made = forumctl("tables", "create", *kube, "-o", "json")
    assert [t["table"] for t in made["tables"]] == ["board-Users", "board-Threads", "board-Posts"]
    assert made["target"]["region"] == "us-east-1"
    assert made["target"]["forumdb"] == f"{namespace}/board"

    missing = forumctl(
        "tables", "list", "--forumdb", "nope", "-n", namespace,
        "--kubeconfig", apiserver.kubeconfig, "-o", "json", expect=ExitCode.AWS,
    )  # fmt: skip
    assert f"ForumDatabase nope not found in namespace {namespace}" in missing["error"]
