"""What the handlers share: built once by main() and handed to Kopf in its memo
(`kopf.run(memo=kopf.Memo(runtime=...))`). Kopf gives each resource a shallow copy of that
memo, so every resource's loops see this one Runtime next to their own per-resource keys."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from forumdb_operator import health, ratelimit
from forumdb_operator.awsclients import Clients
from forumdb_operator.kube import Kube
from forumdb_operator.probes import RegionProbes
from forumdb_operator.reconcile import Reconciler
from forumdb_operator.replica_tagger import ReplicaTagger

MEMO_KEY = "runtime"


@dataclass
class Runtime:
    reconciler: Reconciler
    kube: Kube
    pool: ThreadPoolExecutor  # blocking AWS and Kubernetes calls of reconciles
    drift_interval: float
    # Health checks: their own threads and clients (one try, short timeouts), so a slow
    # reconcile never delays a check and a check never waits through botocore's retries.
    health_pool: ThreadPoolExecutor
    probe_clients: Callable[[str, str], Any]
    allowed_regions: frozenset[str] | None = None
    # One data-plane probe per region and interval, shared by every resource (None: each
    # resource's monitor probes for itself, as in tests).
    probes: RegionProbes | None = None

    @classmethod
    def build(
        cls,
        kube: Kube,
        *,
        drift_interval: float,
        workers: int,
        allowed_regions: frozenset[str] | None,
        cluster_id: str = "",
    ) -> Runtime:
        """AWS endpoint, region and credentials from boto3's standard settings."""
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
        probe_clients = Clients(endpoint, config=health.probe_config(5.0))
        clients = Clients(endpoint)
        return cls(
            reconciler=Reconciler(
                clients,
                allowed_regions=allowed_regions,
                cluster_id=cluster_id,
                tagger=ReplicaTagger(clients, ratelimit.SHARED),
            ),
            kube=kube,
            pool=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reconcile"),
            drift_interval=drift_interval,
            health_pool=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="health"),
            probe_clients=probe_clients,
            allowed_regions=allowed_regions,
            probes=RegionProbes(probe_clients),
        )


# The services a reconcile calls (the example's first three; the rest for provisioned tables,
# customer-managed keys, alarm topics) and the one a health probe calls.
RECONCILE_SERVICES = ("dynamodb", "backup", "cloudwatch", "application-autoscaling", "kms", "sns")
PROBE_SERVICES = ("dynamodb",)


def default_region() -> str | None:
    """The process's region (AWS_REGION, else boto3's: AWS_DEFAULT_REGION, the config
    file), if any."""
    import boto3

    return os.environ.get("AWS_REGION") or boto3.session.Session().region_name


def warm_clients(rt: Runtime, regions: Iterable[str]) -> None:
    """Builds the AWS clients of these regions ahead of the first resource (no AWS call)."""
    regions = list(regions)
    for clients, services in (
        (rt.reconciler.clients, RECONCILE_SERVICES),
        (rt.probe_clients, PROBE_SERVICES),
    ):
        if isinstance(clients, Clients):
            clients.warm(services, regions)


def from_memo(memo: Mapping[str, Any]) -> Runtime:
    """The Runtime in a Kopf memo (the operator's or a resource's copy of it)."""
    runtime = memo.get(MEMO_KEY)
    if not isinstance(runtime, Runtime):
        raise RuntimeError(
            "the Kopf memo holds no forumdb Runtime: start the operator with forum-operator "
            "(forumdb_operator.main), which passes it to kopf.run(memo=...)"
        )
    return runtime
