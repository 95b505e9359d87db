"""The provisioned helm 3 as a callable: `helm("template", "forum", "charts/forum")`.

helm's cache, config and data folders are kept in a folder of the test session, so tests
neither read nor change the developer's own helm repositories and plugins.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from harness.procs import run_tool

_SCRUBBED = ("KUBECONFIG", "KUBECACHEDIR")


def _no_cluster_kubeconfig(home: Path) -> Path:
    """A kubeconfig whose server can never resolve (.invalid is reserved by RFC 2606)."""
    path = home / "no-cluster-kubeconfig"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: none\n"
            "clusters: [{name: none, cluster: {server: 'https://no-cluster.invalid:6443'}}]\n"
            "contexts: [{name: none, context: {cluster: none, user: none}}]\n"
            "users: [{name: none, user: {}}]\n"
        )
    return path


class Helm:
    def __init__(
        self, binary: Path, home: Path, *, kube_env: Mapping[str, str] | None = None
    ) -> None:
        self.binary = binary
        self.home = home
        self._env = {
            k: v for k, v in os.environ.items() if k not in _SCRUBBED and not k.startswith("HELM_")
        }
        self._env.update(
            HELM_CACHE_HOME=str(home / "cache"),
            HELM_CONFIG_HOME=str(home / "config"),
            HELM_DATA_HOME=str(home / "data"),
            # no cluster unless given one: never the developer's ~/.kube/config
            KUBECONFIG=str(_no_cluster_kubeconfig(home)),
        )
        if kube_env:
            self._env.update(kube_env)

    def with_cluster(self, kube_env: Mapping[str, str]) -> Helm:
        """The same helm, pointed at a cluster (KUBECONFIG in `kube_env`), for install/upgrade."""
        return Helm(self.binary, self.home, kube_env=kube_env)

    def __call__(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run helm; raises `ToolError` with its stderr on failure unless `check=False`."""
        return run_tool(
            [self.binary, *args], env=self._env, check=check, input=input, timeout=timeout
        )
