"""Clusters for the kind suite: a throwaway kind cluster, or the envtest apiserver.

kind: the image built from the Dockerfile and loaded into the cluster, and a moto server on
the docker network's gateway address so that pods can reach it; the operator then runs in
the cluster from the chart. The envtest apiserver has no kubelet: Deployments never get Pods,
so `Cluster.runs_pods` tells a test which steps it can take.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from harness.apiserver import ApiServer
from harness.helm import Helm
from harness.kube import Kubectl
from harness.motoserver import MotoServer
from harness.node import Node
from harness.procs import run_tool
from harness.provision import REPO_ROOT, require_tool

KIND_IMAGE = "forumdb:kind-test"
KIND_NODE_NETWORK = "kind"


@dataclass
class Cluster:
    """Where the scenario runs, with the clients and the moto server that fit it."""

    flavour: str  # "kind" | "node" | "apiserver"
    kubectl: Kubectl
    helm: Helm
    moto: MotoServer
    runs_pods: bool
    image_values: tuple[str, ...]  # helm --set arguments naming the image to run
    apiserver: ApiServer | None = None  # the envtest apiserver, when that is the cluster
    node: Node | None = None  # the harness's real node, when that is the cluster


def kind_unavailable_reason() -> str | None:
    """Why a kind cluster cannot be made here, or None when it can."""
    reasons = []
    if shutil.which("docker") is None:
        reasons.append("docker not installed")
    else:
        info = run_tool(
            ["docker", "info", "--format", "{{.ServerVersion}}"], check=False, timeout=30
        )
        if info.returncode != 0:
            detail = (info.stderr.strip().splitlines() or ["no output"])[-1]
            reasons.append(f"docker daemon not reachable ({detail})")
    if shutil.which("kind") is None:
        reasons.append("kind not installed")
    return "; ".join(reasons) or None


def docker_gateway(network: str) -> str:
    """The host's IPv4 address on a docker network: where pods reach servers of the tests."""
    out = run_tool(
        ["docker", "network", "inspect", network, "--format", "{{json .IPAM.Config}}"]
    ).stdout
    gateways = [c["Gateway"] for c in json.loads(out) if ":" not in c.get("Gateway", ":")]
    if not gateways:
        raise RuntimeError(f"docker network {network} has no IPv4 gateway: {out}")
    return gateways[0]


@contextmanager
def kind_cluster() -> Iterator[Cluster]:
    """Create a kind cluster with the project's image loaded; delete it afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="forumdb-kind-"))
    name = f"forumdb-{uuid.uuid4().hex[:6]}"
    kubeconfig = workdir / "kubeconfig"
    moto = None
    try:
        run_tool(
            [
                *("kind", "create", "cluster", "--name", name),
                *("--kubeconfig", kubeconfig, "--wait=180s"),
            ],
            timeout=900,
        )
        run_tool(["docker", "build", "--tag", KIND_IMAGE, REPO_ROOT], timeout=1800)
        run_tool(["kind", "load", "docker-image", KIND_IMAGE, "--name", name], timeout=900)
        moto = MotoServer.start(host=docker_gateway(KIND_NODE_NETWORK))
        repository, tag = KIND_IMAGE.split(":")
        kube_env = {"KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(workdir / "cache")}
        yield Cluster(
            flavour="kind",
            kubectl=Kubectl(require_tool("kubectl"), kubeconfig, cache_dir=workdir / "cache"),
            helm=Helm(require_tool("helm"), workdir / "helm", kube_env=kube_env),
            moto=moto,
            runs_pods=True,
            image_values=(
                "--set=image.registry=",
                f"--set=image.repository={repository}",
                f"--set=image.tag={tag}",
                "--set=image.pullPolicy=Never",  # loaded by kind, in no registry
            ),
        )
    finally:
        if moto is not None:
            moto.stop()
        run_tool(["kind", "delete", "cluster", "--name", name], check=False, timeout=300)
        shutil.rmtree(workdir, ignore_errors=True)
