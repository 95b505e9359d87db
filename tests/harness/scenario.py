"""The end-to-end ForumDatabase scenario, shared by the kind, apiserver and live-AWS suites.

apply examples/forumdatabase.yaml (with overrides) -> the operator reports Ready -> the
ConfigMap `forumdb-NAME` carries the services' settings -> the three tables exist and are
ACTIVE in the primary region, with a replica in every replica region.

Only Kubernetes and boto3 calls: the same steps run against a kind cluster, the envtest
apiserver and a real account; where they run is the caller's choice.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from forumdb.tables import KINDS, table_name
from harness.kube import Kubectl, wait_for_phase

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "forumdatabase.yaml"
CONFIGMAP_KEYS = (
    "STORAGE_MODE",
    "TABLE_PREFIX",
    "USERS_TABLE",
    "THREADS_TABLE",
    "POSTS_TABLE",
    "AWS_REGION",
    "REPLICA_REGIONS",
)

# region -> a boto3 DynamoDB client for it
DynamoDBFactory = Callable[[str], Any]


def example_forumdatabase(name: str | None = None, **spec: Any) -> dict[str, Any]:
    """examples/forumdatabase.yaml as an object, with top-level spec fields replaced."""
    manifest = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
    if name:
        manifest["metadata"]["name"] = name
    manifest["spec"].update(spec)
    return manifest


def table_names(spec: Mapping[str, Any]) -> dict[str, str]:
    prefix = spec.get("tablePrefix", "forum-")
    return {kind: table_name(kind, prefix) for kind in KINDS}


def apply_and_wait_ready(
    kubectl: Kubectl, namespace: str, manifest: Mapping[str, Any], *, timeout: float = 180
) -> dict[str, Any]:
    """Apply the ForumDatabase and wait for phase Ready; returns its status."""
    kubectl.apply(manifest, namespace=namespace)
    return wait_for_phase(
        kubectl, manifest["metadata"]["name"], namespace, "Ready", timeout=timeout
    )


def check_configmap(
    kubectl: Kubectl, namespace: str, manifest: Mapping[str, Any]
) -> dict[str, str]:
    """The operator's ConfigMap holds the settings the services need for this spec."""
    name = manifest["metadata"]["name"]
    spec = manifest["spec"]
    configmap = kubectl.json("get", "configmap", f"forumdb-{name}", "-n", namespace)
    data = configmap["data"]
    missing = [k for k in CONFIGMAP_KEYS if k not in data]
    assert not missing, f"ConfigMap forumdb-{name} lacks {missing}: {data}"
    tables = table_names(spec)
    assert data["STORAGE_MODE"] == "dynamodb"
    assert data["TABLE_PREFIX"] == spec.get("tablePrefix", "forum-")
    assert data["USERS_TABLE"] == tables["users"]
    assert data["THREADS_TABLE"] == tables["threads"]
    assert data["POSTS_TABLE"] == tables["posts"]
    assert data["AWS_REGION"] == spec["primaryRegion"]
    assert set(filter(None, data["REPLICA_REGIONS"].split(","))) == set(
        spec.get("replicaRegions", [])
    )
    owners = configmap["metadata"].get("ownerReferences", [])
    assert [(o["kind"], o["name"]) for o in owners] == [("ForumDatabase", name)]
    return data


def check_tables(dynamodb: DynamoDBFactory, spec: Mapping[str, Any]) -> None:
    """Each table ACTIVE in the primary region, listing an ACTIVE replica per replica region,
    and present in each replica region."""
    primary = spec["primaryRegion"]
    replicas = set(spec.get("replicaRegions", []))
    for table in table_names(spec).values():
        described = dynamodb(primary).describe_table(TableName=table)["Table"]
        assert described["TableStatus"] == "ACTIVE", f"{table} in {primary}: {described}"
        listed = {
            r["RegionName"]: r.get("ReplicaStatus")
            for r in described.get("Replicas", [])
            if r["RegionName"] != primary
        }
        assert listed == dict.fromkeys(replicas, "ACTIVE"), f"{table} replicas: {listed}"
        for region in replicas:
            status = dynamodb(region).describe_table(TableName=table)["Table"]["TableStatus"]
            assert status == "ACTIVE", f"{table} replica in {region} is {status}"
