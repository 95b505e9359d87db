"""Metric series of a deleted resource are removed (issue 13): once its deletion is done,
/metrics no longer reports the ForumDatabase; other resources' series stay."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from op_factories import spec
from prometheus_client import REGISTRY, generate_latest

from forumdb_operator import loops, metrics
from forumdb_operator.awsclients import Clients
from forumdb_operator.reconcile import Reconciler
from forumdb_operator.runtime import Runtime

NS, NAME = "ns-metrics", "gone"


def exposition() -> str:
    return generate_latest(REGISTRY).decode()


def test_a_deleted_resources_series_leave_metrics(ext):
    metrics.REGION_HEALTHY.labels(resource=f"{NS}/{NAME}", region="us-east-1").set(1)
    metrics.REGION_HEALTHY.labels(resource=f"{NS}/{NAME}", region="us-west-2").set(0)
    metrics.REGION_HEALTHY.labels(resource=f"{NS}/kept", region="us-east-1").set(1)
    assert f'resource="{NS}/{NAME}"' in exposition()

    meta: dict[str, Any] = {"name": NAME, "namespace": NS, "uid": "u-gone"}
    body = {"apiVersion": "forumdb.io/v1alpha1", "kind": "ForumDatabase", "metadata": meta}
    live = loops.Live(NAME, NS, body, spec(deletionPolicy="Retain"), meta, {})
    pool = ThreadPoolExecutor(max_workers=1)
    rt = Runtime(
        reconciler=Reconciler(Clients()),
        kube=None,  # type: ignore[arg-type]
        pool=pool,
        drift_interval=3600.0,
        health_pool=pool,
        probe_clients=lambda service, region: None,
    )
    try:
        outcome = asyncio.run(loops.delete_step(rt, {}, live))
    finally:
        pool.shutdown()
    assert outcome.done
    text = exposition()
    assert f'resource="{NS}/{NAME}"' not in text
    assert f'resource="{NS}/kept"' in text
    metrics.forget_resource(f"{NS}/kept")
