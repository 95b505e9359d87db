"""A real Kubernetes API server for tests: the product's etcd + kube-apiserver launcher
(forumctl.dev.apiserver, which `forumctl dev up` runs too), plus the harness's kubectl.

No kubelet, scheduler or controller-manager: objects are stored, validated and watched, but
Deployments make no Pods and nothing is garbage collected. `stop()` leaves no process and no
folder behind.
"""

from __future__ import annotations

from pathlib import Path

from forumctl.dev import apiserver as _launcher
from forumctl.dev.apiserver import ApiServerPorts, crd_documents
from harness.kube import Kubectl

__all__ = ["ApiServer", "ApiServerPorts", "crd_documents"]


class ApiServer(_launcher.ApiServer):
    """A running etcd + kube-apiserver pair. Build it with `ApiServer.start(...)`."""

    def kubectl(self, binary: Path) -> Kubectl:
        return Kubectl(binary, self.kubeconfig, cache_dir=self.workdir / "cache")
