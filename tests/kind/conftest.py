"""`cluster`: the kind scenarios run on a kind cluster where docker and kind exist, and on the
envtest apiserver everywhere (see harness.kind)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.apiserver import ApiServer
from harness.helm import Helm
from harness.kind import Cluster, kind_cluster, kind_unavailable_reason


@pytest.fixture(scope="session")
def kind() -> Iterator[Cluster]:
    reason = kind_unavailable_reason()
    if reason:
        pytest.skip(f"kind cluster unavailable: {reason}")
    with kind_cluster() as cluster:
        yield cluster


@pytest.fixture(
    params=[
        pytest.param("kind", marks=pytest.mark.kind),
        pytest.param("apiserver", marks=pytest.mark.apiserver),
    ]
)
def cluster(request: pytest.FixtureRequest) -> Cluster:
    if request.param == "kind":
        return request.getfixturevalue("kind")
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
