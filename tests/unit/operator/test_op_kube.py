"""forumdb_operator.kube, the operator's Kubernetes writes, against recording stand-ins for the
API clients: what is written when, and which failures are the caller's."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from forumdb_operator.kube import Kube

NS, NAME, CM = "ns1", "forum", "forumdb-forum"


class FakeCore:
    def __init__(self, data: dict[str, str] | None, owner_uid: str = "u1") -> None:
        self.data, self.owner_uid = data, owner_uid
        self.writes: list[tuple[str, Any]] = []

    def read_namespaced_config_map(self, name: str, namespace: str) -> Any:
        if self.data is None:
            raise ApiException(status=404, reason="Not Found")
        refs = [SimpleNamespace(uid=self.owner_uid)]
        return SimpleNamespace(
            data=dict(self.data), metadata=SimpleNamespace(owner_references=refs)
        )

    def create_namespaced_config_map(self, namespace: str, body: dict[str, Any]) -> None:
        self.writes.append(("create", body))

    def patch_namespaced_config_map(self, name: str, namespace: str, body: dict[str, Any]) -> None:
        self.writes.append(("patch", body))


class FakeCustom:
    def __init__(self, read_status: int | None = None, create_status: int | None = None) -> None:
        self.read_status, self.create_status = read_status, create_status
        self.created: list[dict[str, Any]] = []
        self.patches: list[tuple[str, dict[str, Any]]] = []

    def _read(self, *args: Any) -> dict[str, Any]:
        if self.read_status:
            raise ApiException(status=self.read_status, reason="x")
        return {}

    get_cluster_custom_object = get_namespaced_custom_object = _read

    def _create(self, *args: Any) -> None:
        if self.create_status:
            raise ApiException(status=self.create_status, reason="x")
        self.created.append(args[-1])

    create_cluster_custom_object = create_namespaced_custom_object = _create

    def patch_namespaced_custom_object_status(self, *args: Any, _content_type: str) -> None:
        if self.read_status:
            raise ApiException(status=self.read_status, reason="x")
        self.patches.append((_content_type, args[-1]))


def manifest(data: dict[str, str]) -> dict[str, Any]:
    meta = {"name": CM, "namespace": NS, "ownerReferences": [{"uid": "u1"}]}
    return {"metadata": meta, "data": data}


def kube(core: Any = None, custom: Any = None) -> Kube:
    return Kube(core or FakeCore(None), custom or FakeCustom())


def test_configmap_created_when_missing_and_left_alone_when_it_matches():
    core = FakeCore(None)
    assert kube(core).ensure_configmap(manifest({"AWS_REGION": "us-east-1"}))
    assert [w[0] for w in core.writes] == ["create"]
    same = FakeCore({"AWS_REGION": "us-east-1"})
    assert not kube(same).ensure_configmap(manifest({"AWS_REGION": "us-east-1"}))
    assert same.writes == []


def test_configmap_patched_when_its_data_or_owner_differs():
    core = FakeCore({"AWS_REGION": "us-east-1"}, owner_uid="old")
    assert kube(core).ensure_configmap(manifest({"AWS_REGION": "us-east-1"}))
    assert core.writes == [
        (
            "patch",
            {"data": {"AWS_REGION": "us-east-1"}, "metadata": {"ownerReferences": [{"uid": "u1"}]}},
        )
    ]


def test_configmap_region_switched_only_when_it_differs():
    core = FakeCore({"AWS_REGION": "us-east-1", "TABLE_PREFIX": "forum-"})
    assert not kube(core).set_configmap_region(NS, CM, "us-east-1")
    assert kube(core).set_configmap_region(NS, CM, "us-west-2")
    assert core.writes == [("patch", {"data": {"AWS_REGION": "us-west-2"}})]
    with pytest.raises(ApiException):  # no ConfigMap yet: the caller's to decide
        kube(FakeCore(None)).set_configmap_region(NS, CM, "us-west-2")


def test_status_is_a_merge_patch_and_a_deleted_resource_is_no_error():
    custom = FakeCustom()
    assert kube(custom=custom).patch_status(NS, NAME, {"phase": "Pending"})
    assert custom.patches == [("application/merge-patch+json", {"status": {"phase": "Pending"}})]
    assert not kube(custom=FakeCustom(read_status=404)).patch_status(NS, NAME, {})
    with pytest.raises(ApiException):
        kube(custom=FakeCustom(read_status=403)).patch_status(NS, NAME, {})


def test_peering_created_where_missing():
    custom = FakeCustom(read_status=404)
    kube(custom=custom).ensure_peering("forumdb", ("a", "b"))
    assert [(c["kind"], c["metadata"]) for c in custom.created] == [
        ("KopfPeering", {"name": "forumdb", "namespace": "a"}),
        ("KopfPeering", {"name": "forumdb", "namespace": "b"}),
    ]
    cluster = FakeCustom(read_status=404)
    kube(custom=cluster).ensure_peering("forumdb", ())
    assert [c["kind"] for c in cluster.created] == ["ClusterKopfPeering"]
    existing = FakeCustom()
    kube(custom=existing).ensure_peering("forumdb", ())
    assert existing.created == []


def test_peering_a_concurrent_creation_is_quiet_a_refused_one_warns(caplog):
    caplog.set_level("WARNING", logger="forumdb_operator.kube")
    kube(custom=FakeCustom(read_status=404, create_status=409)).ensure_peering("forumdb", ())
    assert caplog.records == []
    kube(custom=FakeCustom(read_status=404, create_status=403)).ensure_peering("forumdb", ())
    assert [r.getMessage() for r in caplog.records] == [
        "could not create the peering object; create it or run with --standalone"
    ]
