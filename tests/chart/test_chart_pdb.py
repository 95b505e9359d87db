"""PodDisruptionBudgets follow what the cluster serves: policy/v1 (1.21+), else policy/v1beta1
with the same fields. Offline, `--api-versions group/version/Kind` stands for the cluster's
discovery, which lists every kind."""

from __future__ import annotations

import pytest
from chartkit import SERVICE_NAMES, by_kind, kubernetes_errors

V1 = "policy/v1/PodDisruptionBudget"
V1BETA1 = "policy/v1beta1/PodDisruptionBudget"
PDB = {"services": {"pdb": {"create": True, "maxUnavailable": 1}}}


def _api_versions(*kinds: str) -> list[str]:
    return [arg for kind in kinds for arg in ("--api-versions", kind)]


def _pdbs(render, *kinds: str, values=PDB) -> list[dict]:
    pdbs = by_kind(render(values, extra=_api_versions(*kinds)), "PodDisruptionBudget")
    assert sorted(p["metadata"]["name"] for p in pdbs) == sorted(
        f"forum-{n}" for n in SERVICE_NAMES
    )
    return pdbs


@pytest.mark.parametrize(
    "served", [(), (V1,), (V1, V1BETA1)], ids=["helm default", "v1", "v1 and v1beta1"]
)
def test_policy_v1_where_served(render, served):
    for pdb in _pdbs(render, *served):
        assert pdb["apiVersion"] == "policy/v1"
        assert kubernetes_errors(pdb) == []


def test_policy_v1beta1_on_a_cluster_before_1_21(render):
    v1 = {p["metadata"]["name"]: p for p in _pdbs(render, V1)}
    for pdb in _pdbs(render, V1BETA1):
        assert pdb["apiVersion"] == "policy/v1beta1"
        # The same object otherwise: both versions have these fields with this meaning.
        assert {**pdb, "apiVersion": "policy/v1"} == v1[pdb["metadata"]["name"]]


def test_policy_v1beta1_keeps_min_available(render):
    values = {"services": {"pdb": {"create": True, "minAvailable": "50%", "maxUnavailable": ""}}}
    for pdb in _pdbs(render, V1BETA1, values=values):
        assert pdb["apiVersion"] == "policy/v1beta1"
        assert pdb["spec"]["minAvailable"] == "50%"
        assert "maxUnavailable" not in pdb["spec"]
