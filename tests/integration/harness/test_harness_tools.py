"""Provisioned tools: helm 3 runs in isolation, provisioning is idempotent and checks sums."""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from harness import provision
from harness.helm import Helm


def test_helm_is_version_3(helm: Helm) -> None:
    assert helm("version", "--short").stdout.startswith("v3.19.")


def test_helm_keeps_its_folders_in_the_session(helm: Helm) -> None:
    env = dict(line.split("=", 1) for line in helm("env").stdout.splitlines())
    for key in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        assert env[key].strip('"').startswith(str(helm.home)), key


def test_helm_without_a_cluster_never_uses_the_users_kubeconfig(helm: Helm) -> None:
    result = helm("list", check=False)
    assert result.returncode != 0
    assert "no-cluster.invalid" in result.stderr


def test_second_provisioning_downloads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_downloads(argv, **_):
        raise AssertionError(f"provisioning ran {argv} although every tool is in place")

    monkeypatch.setattr(provision, "run_tool", no_downloads)
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setattr(provision, "_runs", lambda binary: binary.is_file())
    results = {r.tool: r for r in provision.provision()}
    assert set(results) == set(provision.TOOLS)
    assert results["helm"].source.startswith("cached")
    assert results["kube-apiserver"].source == "cached"
    for result in results.values():
        if not result.source.startswith("skipped"):  # node binaries where none can be had
            assert provision.tool_path(result.tool) == result.path


def test_kubebuilder_assets_take_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("kube-apiserver", "etcd"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(tmp_path))
    assert provision.tool_path("kube-apiserver") == tmp_path / "kube-apiserver"
    assert provision.tool_path("etcd") == tmp_path / "etcd"
    assert provision.tool_path("helm") == provision.TOOLS_BIN / "helm"


def test_a_prebuilt_apiserver_with_the_wrong_checksum_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "kube-apiserver.xz"
    archive.write_bytes(lzma.compress(b"not the real kube-apiserver"))
    dest = tmp_path / "bin" / "kube-apiserver"
    with pytest.raises(provision.ProvisionError, match="sha256"):
        provision._apiserver_from_xz(archive, dest)
    assert not dest.exists()


def test_missing_tool_names_the_setup_command(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(provision, "TOOLS_BIN", tmp_path)
    with pytest.raises(provision.ProvisionError, match="make setup"):
        provision.require_tool("helm")


def test_a_prebuilt_node_binary_with_the_wrong_checksum_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kubelet.xz").write_bytes(lzma.compress(b"not the real kubelet"))
    monkeypatch.setenv(provision.K8S_DIR_ENV, str(tmp_path))
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setattr(provision, "TOOLS_BIN", tmp_path / "bin")
    with pytest.raises(provision.ProvisionError, match="sha256"):
        provision.provision_node_binary("kubelet")
    assert not (tmp_path / "bin" / "kubelet").exists()
