"""The storage layer's own Prometheus metrics.

Registered in prometheus_client's default registry, which the services' `/metrics` exposes
(and which, under gunicorn, prometheus_client's multiprocess mode sums over the workers).
Labels are bounded: the kind is one of three.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter

from forumdb.tables import KINDS

JOURNAL_DAMAGED_LINES = Counter(
    "forumdb_storage_journal_damaged_lines",
    "Complete lines of a JSON-mode journal that failed their checksum and were skipped "
    "(each counted once, by the process that kept a copy of the damaged journal)",
    ["kind"],
)
for _kind in KINDS:  # present at 0 from the start, so an alert sees the first increase
    JOURNAL_DAMAGED_LINES.labels(_kind)


def journal_damaged_lines(kind: str) -> float:
    """How many damaged journal lines of `kind` this process has counted."""
    value = REGISTRY.get_sample_value("forumdb_storage_journal_damaged_lines_total", {"kind": kind})
    return value or 0.0
