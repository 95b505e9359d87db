"""Prometheus metrics of the operator (served by `forum-operator --metrics-port`)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECONCILES = Counter(
    "forumdb_reconciles_total",
    "Reconciles of ForumDatabases, by outcome (ready, progressing, failed, error).",
    ["outcome"],
)
RECONCILE_ERRORS = Counter(
    "forumdb_reconcile_errors_total",
    "Reconciles that ended in an error, by kind (transient, permanent, spec).",
    ["kind"],
)
RECONCILE_SECONDS = Histogram(
    "forumdb_reconcile_duration_seconds",
    "Wall time of one reconcile (observe, diff, apply).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
AWS_CALLS = Counter(
    "forumdb_aws_calls_total",
    "AWS API calls (each logical call once, retries not counted), by operation and region.",
    ["service", "operation", "region", "kind"],
)
DRIFT_REPAIRS = Counter(
    "forumdb_drift_repairs_total",
    "Changes made to bring back something that had been in shape (drift repaired), by feature.",
    ["feature"],
)
ACTIONS = Counter(
    "forumdb_actions_total",
    "Changes applied to AWS, by feature (table, replica, pitr, backup, alarm, topic, tags).",
    ["feature"],
)
REPLICA_TAGS_QUEUED = Counter(
    "forumdb_replica_tags_queued_total",
    "Replica TagResource calls sent in the background because the account's TagResource rate "
    "in the region was taken (forumdb_operator.replica_tagger).",
)
REPLICA_TAGS_PENDING = Gauge(
    "forumdb_replica_tags_pending",
    "Replica TagResource calls queued and not sent yet (forumdb_operator.replica_tagger).",
)
MANAGED = Gauge("forumdb_managed_resources", "ForumDatabases this operator reconciles.")
REGION_HEALTHY = Gauge(
    "forumdb_region_healthy",
    "1 when the last health check of a ForumDatabase's tables in a region passed, else 0.",
    ["resource", "region"],
)
FAILOVERS = Counter(
    "forumdb_failovers_total",
    "Switches of the services' active region, by kind (automatic, manual).",
    ["kind"],
)

# Metrics with a `resource` label, with their label names in order: a deleted resource's
# series go with it.
PER_RESOURCE: tuple[tuple[Gauge, tuple[str, ...]], ...] = (
    (REGION_HEALTHY, ("resource", "region")),
)


def forget_resource(resource: str) -> int:
    """Remove every series of `resource` (NAMESPACE/NAME) from the per-resource metrics, so
    /metrics no longer reports a ForumDatabase that is gone; returns how many went."""
    removed = 0
    for metric, names in PER_RESOURCE:
        seen = {
            tuple(sample.labels[n] for n in names)
            for family in metric.collect()
            for sample in family.samples
            if sample.labels.get("resource") == resource
        }
        for values in seen:
            metric.remove(*values)
            removed += 1
    return removed
