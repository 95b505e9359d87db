"""The `node` flavour of the kind suite's cluster: the harness's real node (harness.node) with
the project's image built from the Dockerfile (harness.node_image) and loaded into containerd.
The image builds while the node starts; both happen once per test session."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from harness.helm import Helm
from harness.kind import Cluster
from harness.node import Node
from harness.node_image import PROJECT_IMAGE, BuiltImage, build_project_image
from harness.procs import port_open, wait_for
from harness.provision import REPO_ROOT, require_tool

# Every node test runs in one xdist worker: one node per machine (fixed bridge and ports).
# The hang guard covers the first test's share of the session set-up too (node start, image
# build, a first debootstrap of the base: up to ~5 min on a busy machine).
NODE_MARKS = (pytest.mark.node, pytest.mark.xdist_group("node"), pytest.mark.timeout(600))
# Test ids of the node tier (the xdist scheduler sees ids only, not marks): the node test
# modules, and the `node` flavour of the kind scenarios.
NODE_TEST_ID = re.compile(r"^tests/kind/test_node_\w+\.py::|^tests/kind/[^@]*\[node\]$")


def is_node_test(nodeid: str) -> bool:
    return NODE_TEST_ID.search(nodeid) is not None


def service_url(cluster: Cluster, namespace: str, name: str, *, timeout: float = 30) -> str:
    """http://CLUSTER-IP of a Service (port 80), once a connection to it is accepted.

    kube-proxy writes a Service's rules a moment after its pods turn Ready, and until then the
    cluster IP refuses connections: seen in CI right after `kubectl rollout status`."""
    ip = cluster.kubectl.json("get", "service", name, "-n", namespace)["spec"]["clusterIP"]
    wait_for(
        lambda: port_open(80, host=ip),
        timeout=timeout,
        what=f"service/{name} in {namespace} to accept connections at {ip}:80",
    )
    return f"http://{ip}"


def image_values(ref: str = PROJECT_IMAGE) -> tuple[str, ...]:
    repository, tag = ref.rsplit(":", 1)
    return (
        "--set=image.registry=",
        f"--set=image.repository={repository}",
        f"--set=image.tag={tag}",
        "--set=image.pullPolicy=Never",  # imported into containerd, in no registry
    )


@contextmanager
def node_cluster(helm_home: Path) -> Iterator[Cluster]:
    """Start the node and build the image side by side; yield the Cluster; stop the node."""
    workdir = Path(tempfile.mkdtemp(prefix="forumdb-node-image-"))
    with ThreadPoolExecutor(max_workers=1) as pool:
        build = pool.submit(build_project_image, workdir)
        node = None
        try:
            node = Node.start()
            built: BuiltImage = build.result()
            t0 = time.monotonic()
            node.import_image(built.archive)
            node.timings.update({f"image {k}": v for k, v in built.seconds.items()})
            node.timings["image import"] = time.monotonic() - t0
            built.archive.unlink()
            assert node.apiserver is not None
            assert node.kubectl is not None
            assert node.moto is not None
            node.apiserver.apply_crds(node.kubectl, REPO_ROOT / "crds")
            print("test node timings (s):", {k: round(v, 1) for k, v in node.timings.items()})
            yield Cluster(
                flavour="node",
                kubectl=node.kubectl,
                helm=Helm(require_tool("helm"), helm_home).with_cluster(node.apiserver.env),
                moto=node.moto,
                runs_pods=True,
                image_values=image_values(),
                apiserver=node.apiserver,
                node=node,
            )
        finally:
            build.cancel()
            if node is not None:
                node.stop()
            shutil.rmtree(workdir, ignore_errors=True)
