"""kubectl as a callable, and helpers around ForumDatabase resources."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from harness.procs import run_tool, wait_for

FORUMDB_RESOURCE = "forumdatabases.forumdb.io"
_KUBE_SETTINGS = ("KUBECONFIG", "KUBECACHEDIR")


class Kubectl:
    """`kubectl(*args)` runs the provisioned kubectl against one kubeconfig.

    Returns the CompletedProcess; raises `ToolError` (stderr in its message) on a non-zero exit
    unless `check=False`.
    """

    def __init__(self, binary: Path, kubeconfig: Path, *, cache_dir: Path | None = None):
        self.binary = binary
        self.kubeconfig = kubeconfig
        # the caller's own KUBECONFIG never leaks in; the discovery cache goes where asked
        self._env = {k: v for k, v in os.environ.items() if k not in _KUBE_SETTINGS}
        self._env["KUBECONFIG"] = str(kubeconfig)
        if cache_dir is not None:
            self._env["KUBECACHEDIR"] = str(cache_dir)

    def __call__(
        self,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        return run_tool(
            [self.binary, *args], env=self._env, check=check, input=input, timeout=timeout
        )

    def json(self, *args: str) -> Any:
        """`kubectl ARGS -o json`, parsed."""
        return json.loads(self(*args, "-o", "json").stdout)

    def apply(self, manifest: str | Mapping[str, Any], *, namespace: str | None = None) -> str:
        """Apply a manifest given as YAML text or as an object; returns kubectl's output."""
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(dict(manifest))
        ns = ["-n", namespace] if namespace else []
        return self("apply", *ns, "-f", "-", input=text).stdout

    def exists(self, kind: str, name: str, *, namespace: str | None = None) -> bool:
        ns = ["-n", namespace] if namespace else []
        return self("get", kind, name, *ns, "-o", "name", check=False).returncode == 0


def forumdb_status(kubectl: Kubectl, name: str, namespace: str) -> dict[str, Any]:
    """The `status` of a ForumDatabase ({} while the operator has written none)."""
    return kubectl.json("get", FORUMDB_RESOURCE, name, "-n", namespace).get("status") or {}


def wait_for_phase(
    kubectl: Kubectl,
    name: str,
    namespace: str,
    phase: str = "Ready",
    *,
    timeout: float = 120,
) -> dict[str, Any]:
    """Wait until the ForumDatabase's status.phase is `phase`; returns that status."""
    return wait_for(
        lambda: (s := forumdb_status(kubectl, name, namespace)).get("phase") == phase and s,
        timeout=timeout,
        interval=0.5,
        what=f"ForumDatabase {namespace}/{name} to reach phase {phase}",
    )


def delete_namespace(kubectl: Kubectl, namespace: str, resources: list[str]) -> None:
    """Delete a test namespace and, first, the given namespaced custom resources in it.

    This apiserver has no controller-manager, so the namespace itself stays Terminating and
    nothing inside it is garbage collected. Custom resources are therefore deleted here and
    their finalizers dropped, so no operator started by a later test finds them half-deleted.
    """
    if resources:
        kinds = ",".join(resources)
        kubectl("delete", kinds, "--all", "-n", namespace, "--wait=false", check=False)
        held = kubectl("get", kinds, "-n", namespace, "-o", "name", check=False).stdout.split()
        for ref in held:  # still there: held by finalizers nobody will run now
            kubectl(
                *("patch", ref, "-n", namespace, "--type=merge"),
                *("-p", '{"metadata":{"finalizers":null}}'),
                check=False,
            )
    kubectl("delete", "namespace", namespace, "--wait=false", check=False)
