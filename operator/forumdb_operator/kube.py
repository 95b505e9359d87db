"""The operator's Kubernetes adapter: every write it makes to the API, in one place.

- the ForumDatabase's status (the reconcile loop and the health monitor; an automatic failover
  is recorded there, never in the user's spec);
- the ConfigMap forumdb-NAME for the services (created with the rest by a reconcile; its
  AWS_REGION switched by the health monitor);
- Kopf's peering object, created at start when missing.

The reads that decide a write (the ConfigMap as it is, the peering object) sit with it. Events
are posted through Kopf (handlers.py); the resource itself is read by Kopf's watch. Callers
decide what a failure means: a method raises the client's ApiException, except where noted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kubernetes
from kubernetes.client import CoreV1Api, CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from forumdb import naming

log = logging.getLogger("forumdb_operator.kube")

PEERING_GROUP = "kopf.dev"
PEERING_VERSION = "v1"
MERGE_PATCH = "application/merge-patch+json"


class Unreachable(RuntimeError):
    """No Kubernetes configuration at all: neither in a cluster nor a usable kubeconfig."""


def load_config() -> None:
    """In-cluster service account, else KUBECONFIG / ~/.kube/config; neither: Unreachable,
    with one line saying where it looked and what to do."""
    try:
        kubernetes.config.load_incluster_config()
        return
    except kubernetes.config.ConfigException:
        pass
    try:
        kubernetes.config.load_kube_config()
    except (kubernetes.config.ConfigException, OSError) as exc:
        where = os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise Unreachable(
            f"cannot reach Kubernetes: not running in a cluster and no usable kubeconfig "
            f"({where}): {exc}; set KUBECONFIG or run in a pod with a service account"
        ) from None


def cause(exc: ApiException) -> str:
    """An API error as the logs name it: `404 Not Found`."""
    return f"{exc.status} {exc.reason}"


@dataclass
class Kube:
    core: CoreV1Api
    custom: CustomObjectsApi

    @classmethod
    def connect(cls) -> Kube:
        """Clients on the configuration load_config() found."""
        return cls(CoreV1Api(), CustomObjectsApi())

    # ------------------------------------------------------------------ the ForumDatabase

    def patch_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> bool:
        """Merge `status` into the resource's status; False when the resource is gone (404)."""
        try:
            self.custom.patch_namespaced_custom_object_status(
                naming.GROUP,
                naming.VERSION,
                namespace,
                naming.PLURAL,
                name,
                {"status": dict(status)},
                _content_type=MERGE_PATCH,
            )
        except ApiException as exc:
            if exc.status == 404:
                return False  # deleted meanwhile
            raise
        return True

    # ------------------------------------------------------------------ the ConfigMap

    def ensure_configmap(self, manifest: Mapping[str, Any]) -> bool:
        """Create or update the ConfigMap; True when something was written."""
        meta = manifest["metadata"]
        try:
            current = self.core.read_namespaced_config_map(meta["name"], meta["namespace"])
        except ApiException as exc:
            if exc.status != 404:
                raise
            self.core.create_namespaced_config_map(meta["namespace"], dict(manifest))
            return True
        refs = [r.uid for r in (current.metadata.owner_references or [])]
        if (current.data or {}) == manifest["data"] and meta["ownerReferences"][0]["uid"] in refs:
            return False
        self.core.patch_namespaced_config_map(
            meta["name"],
            meta["namespace"],
            {"data": manifest["data"], "metadata": {"ownerReferences": meta["ownerReferences"]}},
        )
        return True

    def delete_configmap(self, namespace: str, name: str) -> bool:
        """Delete the ConfigMap `name`; False when it did not exist."""
        try:
            self.core.delete_namespaced_config_map(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            return False
        return True

    def set_configmap_region(self, namespace: str, name: str, region: str) -> bool:
        """AWS_REGION of the existing ConfigMap `name`; True when it was switched (404 when
        the ConfigMap does not exist yet: the reconcile creates it)."""
        current = self.core.read_namespaced_config_map(name, namespace)
        if (current.data or {}).get("AWS_REGION") == region:
            return False
        self.core.patch_namespaced_config_map(name, namespace, {"data": {"AWS_REGION": region}})
        return True

    # ------------------------------------------------------------------ Kopf's peering

    def ensure_peering(self, name: str, namespaces: tuple[str, ...]) -> None:
        """Kopf pauses until its peering object exists: create it where it is missing (the
        chart usually installs it; creating needs RBAC create on clusterkopfpeerings/
        kopfpeerings). Failures are logged, not raised."""
        targets: list[str | None] = list(namespaces) or [None]
        for ns in targets:
            try:
                self._read_peering(name, ns)
                continue
            except ApiException as exc:
                if exc.status != 404:
                    log.warning(
                        "cannot read the peering object",
                        extra={"peering": name, "namespace": ns, "cause": cause(exc)},
                    )
                    continue
            try:
                self._create_peering(name, ns)
                log.info("created the peering object", extra={"peering": name, "namespace": ns})
            except ApiException as exc:
                if exc.status != 409:  # 409: another copy created it meanwhile
                    log.warning(
                        "could not create the peering object; create it or run with --standalone",
                        extra={"peering": name, "namespace": ns, "cause": cause(exc)},
                    )

    def _read_peering(self, name: str, ns: str | None) -> None:
        if ns is None:
            self.custom.get_cluster_custom_object(
                PEERING_GROUP, PEERING_VERSION, "clusterkopfpeerings", name
            )
        else:
            self.custom.get_namespaced_custom_object(
                PEERING_GROUP, PEERING_VERSION, ns, "kopfpeerings", name
            )

    def _create_peering(self, name: str, ns: str | None) -> None:
        api_version = f"{PEERING_GROUP}/{PEERING_VERSION}"
        if ns is None:
            body = {"apiVersion": api_version, "kind": "ClusterKopfPeering"}
            self.custom.create_cluster_custom_object(
                PEERING_GROUP,
                PEERING_VERSION,
                "clusterkopfpeerings",
                {**body, "metadata": {"name": name}},
            )
        else:
            body = {"apiVersion": api_version, "kind": "KopfPeering"}
            self.custom.create_namespaced_custom_object(
                PEERING_GROUP,
                PEERING_VERSION,
                ns,
                "kopfpeerings",
                {**body, "metadata": {"name": name, "namespace": ns}},
            )
