"""The ConfigMap `forumdb-NAME` that tells the services where their data is.

Keys are the configuration names of forumdb.config (STORAGE_MODE, TABLE_PREFIX, USERS_TABLE,
THREADS_TABLE, POSTS_TABLE, AWS_REGION, REPLICA_REGIONS); the resource owns it, so Kubernetes
garbage-collects it with the resource. Built here, written by forumdb_operator.kube (only when
its content differs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from forumdb import naming
from forumdb_operator.desired import DesiredState


def configmap_data(
    desired: DesiredState,
    replica_regions: Sequence[str] | None = None,
    active_region: str | None = None,
) -> dict[str, str]:
    """The services' settings; `replica_regions` as observed (replicas may be unmanaged);
    AWS_REGION is the active region (the health monitor's, else the spec's)."""
    tables = {t.kind: t.name for t in desired.tables}
    replicas = desired.replica_regions if replica_regions is None else replica_regions
    return {
        "STORAGE_MODE": "dynamodb",
        "TABLE_PREFIX": desired.table_prefix,
        "USERS_TABLE": tables["users"],
        "THREADS_TABLE": tables["threads"],
        "POSTS_TABLE": tables["posts"],
        "AWS_REGION": active_region or desired.active_region or desired.primary_region,
        "REPLICA_REGIONS": ",".join(replicas),
    }


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": owner.get("apiVersion", naming.API_VERSION),
        "kind": owner.get("kind", naming.KIND),
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def configmap_manifest(owner: Mapping[str, Any], data: Mapping[str, str]) -> dict[str, Any]:
    meta = owner["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": naming.configmap_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": {
                "app.kubernetes.io/managed-by": naming.MANAGED_BY,
                naming.LABEL_OWNER_NAME: meta["name"],
            },
            "ownerReferences": [owner_reference(owner)],
        },
        "data": dict(data),
    }
