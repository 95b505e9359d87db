"""`cluster`: the kind scenarios run on a kind cluster where docker and kind exist, on the
harness's real node where this machine can run one (root, containerd: harness.node), and on
the envtest apiserver everywhere (see harness.kind)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.apiserver import ApiServer
from harness.helm import Helm
from harness.kind import Cluster, kind_cluster, kind_unavailable_reason
from harness.node import unavailable_reason as node_unavailable_reason
from harness.node_cluster import NODE_MARKS, node_cluster


@pytest.fixture(scope="session")
def kind() -> Iterator[Cluster]:
    reason = kind_unavailable_reason()
    if reason:
        pytest.skip(f"kind cluster unavailable: {reason}")
    with kind_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The real node with the project's image, started once per session (per xdist worker
    that runs node tests: all of them are in one group)."""
    reason = node_unavailable_reason()
    if reason:
        pytest.skip(f"test node unavailable: {reason}")
    with node_cluster(tmp_path_factory.mktemp("node-helm")) as cluster:
        yield cluster


@pytest.fixture(
    params=[
        pytest.param("kind", marks=pytest.mark.kind),
        pytest.param("node", marks=NODE_MARKS),
        pytest.param("apiserver", marks=pytest.mark.apiserver),
    ]
)
def cluster(request: pytest.FixtureRequest) -> Cluster:
    if request.param in ("kind", "node"):
        return request.getfixturevalue(request.param)
    apiserver: ApiServer = request.getfixturevalue("apiserver")
    helm: Helm = request.getfixturevalue("helm")
    return Cluster(
        flavour="apiserver",
        kubectl=request.getfixturevalue("kubectl"),
        helm=helm.with_cluster(apiserver.env),
        moto=request.getfixturevalue("moto_server"),
        runs_pods=False,
        image_values=(),
        apiserver=apiserver,
    )
