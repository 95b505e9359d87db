"""forumdb_services.configsync against the real test kube-apiserver: `--once` (the chart's init
container) waits for the ConfigMap, writes the folder and exits; the watch (the sidecar, and
`forumctl dev up`) keeps the folder in step as the ConfigMap changes and loses keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forumdb_services import configsync
from harness.apiserver import ApiServer
from harness.kube import Kubectl
from harness.procs import GiveUp, start_group, stop_group, tail, wait_for

CM = "forumdb-forum"


def _env(apiserver: ApiServer | None = None) -> dict[str, str]:
    """This process's environment without in-cluster settings, plus the apiserver's
    KUBECONFIG: so a run without --kubeconfig takes the default-kubeconfig path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBERNETES_", "KUBECONFIG"))}
    return {**env, **(apiserver.env if apiserver else {}), "LOG_LEVEL": "INFO"}


def _argv(namespace: str, folder: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        *("-m", "forumdb_services.configsync", "--namespace", namespace, "--name", CM),
        *("--dir", str(folder), *extra),
    ]


def _log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _folder(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {p.name: p.read_text() for p in folder.iterdir() if not p.name.startswith(".")}


def _create_configmap(kubectl: Kubectl, namespace: str, data: dict[str, str]) -> None:
    kubectl.apply(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CM}, "data": data},
        namespace=namespace,
    )


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Any]:
    """`started(argv, env) -> (proc, log_file)`; every process is stopped at teardown."""
    procs: list[subprocess.Popen[bytes]] = []

    def _start(argv: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
        log_file = tmp_path / f"configsync-{len(procs)}.log"
        proc = start_group(argv, log_file=log_file, env=env, name="configsync")
        procs.append(proc)
        return proc, log_file

    yield _start
    for proc in procs:
        stop_group(proc, grace=5)


def test_once_waits_for_the_configmap_then_writes_the_folder_and_exits_0(
    apiserver: ApiServer, kubectl: Kubectl, namespace: str, tmp_path: Path, started: Any
) -> None:
    folder = tmp_path / "config"
    # No --kubeconfig: not in a pod, so the default kubeconfig ($KUBECONFIG) is used.
    proc, log_file = started(_argv(namespace, folder, "--once", "--timeout", "60"), _env(apiserver))

    def said_waiting() -> bool:
        if proc.poll() is not None:
            raise GiveUp(f"exited early ({proc.returncode}): {tail(log_file)}")
        return any("does not exist yet" in e["msg"] for e in _log_lines(log_file.read_text()))

    wait_for(said_waiting, timeout=30, what="the waiting log line")
    (waiting,) = [e for e in _log_lines(log_file.read_text()) if "does not exist" in e["msg"]]
    assert waiting["msg"] == f"ConfigMap {CM} in namespace {namespace} does not exist yet; waiting"
    assert waiting["configmap"] == f"{namespace}/{CM}"
    assert not folder.exists() or not _folder(folder)

    data = {"STORAGE_MODE": "dynamodb", "AWS_REGION": "us-east-1", "TABLE_PREFIX": "t-"}
    _create_configmap(kubectl, namespace, data)
    assert proc.wait(timeout=60) == 0, tail(log_file)
    assert _folder(folder) == data


def test_once_gives_up_after_its_timeout_with_one_error_line(
    apiserver: ApiServer, namespace: str, tmp_path: Path
) -> None:
    argv = _argv(namespace, tmp_path / "config", "--once", "--timeout", "0")
    proc = subprocess.run(argv, env=_env(apiserver), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    errors = [e for e in _log_lines(proc.stderr) if e["level"] == "error"]
    assert len(errors) == 1, proc.stderr
    assert f"ConfigMap {CM} in namespace {namespace} not readable after 0s" in errors[0]["msg"]
    assert "HTTP 404: it does not exist" in errors[0]["msg"]


def test_once_names_rbac_when_the_serviceaccount_may_not_read_it(
    apiserver: ApiServer, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    _create_configmap(kubectl, namespace, {"AWS_REGION": "us-east-1"})
    kubectl("create", "serviceaccount", "nobody", "-n", namespace)
    token = kubectl("create", "token", "nobody", "-n", namespace).stdout.strip()
    kubeconfig = apiserver.token_kubeconfig(token, tmp_path / "nobody.kubeconfig")
    argv = _argv(namespace, tmp_path / "config", "--once", "--timeout", "0")
    argv += ["--kubeconfig", str(kubeconfig)]
    proc = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    (error,) = [e for e in _log_lines(proc.stderr) if e["level"] == "error"]
    assert f"ConfigMap {CM} in namespace {namespace}" in error["msg"]
    assert "HTTP 403: forbidden" in error["msg"]


def test_watch_rewrites_a_changed_key_and_removes_a_dropped_one(
    apiserver: ApiServer, kubectl: Kubectl, namespace: str, tmp_path: Path, started: Any
) -> None:
    folder = tmp_path / "config"
    data = {"STORAGE_MODE": "dynamodb", "AWS_REGION": "us-east-1", "TABLE_PREFIX": "t-"}
    _create_configmap(kubectl, namespace, data)
    proc, log_file = started(
        _argv(namespace, folder, "--kubeconfig", str(apiserver.kubeconfig)), _env()
    )

    def folder_is(expected: dict[str, str]) -> bool:
        if proc.poll() is not None:
            raise GiveUp(f"exited ({proc.returncode}): {tail(log_file)}")
        return _folder(folder) == expected

    wait_for(lambda: folder_is(data), timeout=30, what="the first write")
    inode = (folder / "STORAGE_MODE").stat().st_ino

    # A failover: the region switches and a key goes away.
    patch = [
        {"op": "replace", "path": "/data/AWS_REGION", "value": "us-west-2"},
        {"op": "remove", "path": "/data/TABLE_PREFIX"},
    ]
    kubectl("patch", "configmap", CM, "-n", namespace, "--type", "json", "-p", json.dumps(patch))
    expected = {"STORAGE_MODE": "dynamodb", "AWS_REGION": "us-west-2"}
    wait_for(lambda: folder_is(expected), timeout=30, what="the failover to reach the folder")
    # An unchanged key is left alone (no needless reload), and no temporary file is left.
    assert (folder / "STORAGE_MODE").stat().st_ino == inode
    assert sorted(p.name for p in folder.iterdir()) == ["AWS_REGION", "STORAGE_MODE"]


def test_without_kubeconfig_the_pods_serviceaccount_comes_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(
        configsync.kubernetes.config, "load_incluster_config", lambda: calls.append("incluster")
    )
    monkeypatch.setattr(
        configsync.kubernetes.config,
        "load_kube_config",
        lambda **kw: calls.append(f"kubeconfig {kw}"),
    )
    configsync.load_api(None)
    assert calls == ["incluster"]


def test_without_kubeconfig_outside_a_pod_the_default_kubeconfig_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def not_in_a_pod() -> None:
        raise configsync.ConfigException("Service host/port is not set.")

    monkeypatch.setattr(configsync.kubernetes.config, "load_incluster_config", not_in_a_pod)
    monkeypatch.setattr(
        configsync.kubernetes.config,
        "load_kube_config",
        lambda **kw: calls.append(f"kubeconfig {kw}"),
    )
    configsync.load_api(None)
    assert calls == ["kubeconfig {}"]
