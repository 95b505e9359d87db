"""What a command works on: tables, region, endpoint, storage mode.

Precedence: command-line flags, then a ForumDatabase's ConfigMap (`--forumdb NAME`), then the
environment (forumdb.config.Settings: STORAGE_MODE, DATA_DIR, TABLE_PREFIX, USERS_TABLE, ...,
AWS_REGION, AWS_ENDPOINT_URL, REPLICA_REGIONS).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, PrivateAttr

from forumctl.clients import ClientPool
from forumctl.kube import ForumDbTarget, read_forumdb
from forumdb.config import load_settings
from forumdb.tables import KINDS, Kind, table_def

# ConfigMap keys (the operator's contract) -> Settings field names.
_CONFIGMAP_KEYS = {
    "STORAGE_MODE": "storage_mode",
    "TABLE_PREFIX": "table_prefix",
    "USERS_TABLE": "users_table",
    "THREADS_TABLE": "threads_table",
    "POSTS_TABLE": "posts_table",
    "AWS_REGION": "aws_region",
    "REPLICA_REGIONS": "replica_regions",
}


class Target(BaseModel):
    storage_mode: str
    data_dir: Path
    region: str | None
    endpoint_url: str | None
    tables: dict[Kind, str]
    replica_regions: tuple[str, ...] = ()
    forumdb: ForumDbTarget | None = None
    _pools: dict[tuple[str | None, int | None], ClientPool] = PrivateAttr(default_factory=dict)

    def pool(self, region: str | None = None, max_attempts: int | None = None) -> ClientPool:
        """The (shared, cached) clients for the target's region or another one."""
        key = (region or self.region, max_attempts)
        if key not in self._pools:
            self._pools[key] = ClientPool(key[0], self.endpoint_url, max_attempts)
        return self._pools[key]

    def key_names(self, kind: Kind) -> tuple[str, ...]:
        return tuple(a.name for a in table_def(kind).key_attrs)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "storageMode": self.storage_mode,
            "region": self.region,
            "tables": dict(self.tables),
        }
        if self.replica_regions:
            out["replicaRegions"] = list(self.replica_regions)
        if self.endpoint_url:
            out["endpointUrl"] = self.endpoint_url
        if self.forumdb:
            out["forumdb"] = f"{self.forumdb.namespace}/{self.forumdb.name}"
        return out


def resolve_target(
    *,
    region: str | None = None,
    endpoint_url: str | None = None,
    table_prefix: str | None = None,
    storage_mode: str | None = None,
    data_dir: Path | None = None,
    forumdb: str | None = None,
    namespace: str | None = None,
    kubeconfig: str | None = None,
) -> Target:
    overrides: dict[str, Any] = {}
    fdb: ForumDbTarget | None = None
    if forumdb:
        fdb = read_forumdb(forumdb, namespace, kubeconfig)
        for key, fieldname in _CONFIGMAP_KEYS.items():
            if fdb.config.get(key):
                overrides[fieldname] = fdb.config[key]
    if table_prefix is not None:
        overrides["table_prefix"] = table_prefix
        for kind in KINDS:  # an explicit prefix wins over per-table names from elsewhere
            overrides[f"{kind}_table"] = None
    if storage_mode:
        overrides["storage_mode"] = storage_mode
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if region:
        overrides["aws_region"] = region
    if endpoint_url:
        overrides["aws_endpoint_url"] = endpoint_url
    settings = load_settings(**overrides)
    return Target(
        storage_mode=settings.storage_mode,
        data_dir=settings.data_dir,
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url,
        tables=settings.table_names(),
        replica_regions=settings.replica_regions,
        forumdb=fdb,
    )
