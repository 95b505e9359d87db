"""Region probes shared by every ForumDatabase: one data-plane read per region and interval,
however many resources (and tables) use the region, and no thread held through a brown-out.

The probe is a GetItem of a sentinel key (id -1: the services number from 1 and nothing is
ever written there) on one table in the region: it goes through DynamoDB's request router and
storage, so an outage that leaves the control plane's DescribeTable answering is still seen.
The region answered when the call did: any 4xx (the table is not there yet, a CREATING
replica's ResourceNotFoundException, throttling) is an answer; a 5xx, a connection error or a
timeout is not.

Each region has one probe in flight at most (single flight): a resource whose check needs a
probe newer than its own previous check starts one, or joins the one running, and waits for it
at most `deadline` seconds. A region that browns out costs one pool thread (bounded by the
probe client's timeouts), not one per resource, and a check waits for it no longer than the
deadline: the other regions' probes run at the same time, so their signal stays on time.
Table states (DescribeTable) are not probed here: they come from the reconcile's drift check
and, at a slower pace, from the health monitor (forumdb_operator.health).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from forumdb.tables import table_def
from forumdb_operator import failover

log = logging.getLogger("forumdb_operator.probes")

SENTINEL_ID = "-1"  # numeric keys; string keys get SENTINEL_TEXT
SENTINEL_TEXT = "__forumdb_health_probe__"
DEFAULT_DEADLINE = 2.0  # seconds a check waits for a region's probe
PROBE_THREADS = 8  # one per region probed at once (single flight)


@dataclass(frozen=True)
class Sentinel:
    """The table whose sentinel key a region's probe reads."""

    table: str
    kind: str

    @property
    def key(self) -> dict[str, dict[str, str]]:
        return {
            a.name: {a.type: SENTINEL_ID if a.type == "N" else SENTINEL_TEXT}
            for a in table_def(self.kind).key_attrs
        }


@dataclass
class _Slot:
    """One region: its last answer and the probe in flight."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    running: Future[failover.Probe] | None = None
    running_since: float = 0.0
    last: failover.Probe | None = None
    last_started: float = float("-inf")  # monotonic start of the probe `last` came from


class RegionProbes:
    """The shared region probes of one operator (thread-safe; Runtime holds one)."""

    def __init__(
        self,
        clients: Callable[[str, str], Any],
        *,
        threads: int = PROBE_THREADS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clients = clients
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="probe")
        self._slots: dict[str, _Slot] = {}
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._clock()

    def check(
        self,
        sentinels: Mapping[str, Sentinel],
        *,
        newer_than: float,
        deadline: float = DEFAULT_DEADLINE,
        checked_at: str,
    ) -> dict[str, failover.Probe]:
        """Each region's probe (region -> the table to read the sentinel key of): a probe
        started after `newer_than` (monotonic) serves; else one is started, or the one in
        flight joined, and waited for until `deadline` seconds after it started, all regions at
        once. A region with no answer by then failed this check (a circuit that opens at the
        deadline: later checks do not wait on a probe that is already late)."""
        out: dict[str, failover.Probe] = {}
        waiting: dict[str, Future[failover.Probe]] = {}
        until = self._clock()
        for region, sentinel in sentinels.items():
            slot = self._slot(region)
            with slot.lock:
                if slot.last is not None and slot.last_started > newer_than:
                    out[region] = slot.last
                    continue
                if slot.running is None:
                    # The client is built here (cached after the first), not on the deadline.
                    client = self._clients("dynamodb", region)
                    slot.running_since = self._clock()
                    slot.running = self._pool.submit(
                        self._probe, slot, client, region, sentinel, deadline
                    )
                waiting[region] = slot.running
                until = max(until, slot.running_since + deadline)
        if waiting:
            wait(list(waiting.values()), timeout=max(0.0, until - self._clock()))
        for region, running in waiting.items():
            if running.done():
                out[region] = running.result()
            else:
                out[region] = failover.Probe(
                    region,
                    False,
                    checked_at,
                    f"GetItem in {region}: no answer within {deadline:g} s",
                )
        return out

    def close(self) -> None:
        """Wait for the probes in flight and stop the probe threads."""
        self._pool.shutdown(wait=True)

    def _slot(self, region: str) -> _Slot:
        with self._lock:
            return self._slots.setdefault(region, _Slot())

    def _probe(
        self, slot: _Slot, client: Any, region: str, sentinel: Sentinel, deadline: float
    ) -> failover.Probe:
        started = slot.running_since
        try:
            result = probe_data_plane(client, region, sentinel)
        except Exception as exc:  # never lose the slot: a probe that raised is a failed probe
            result = failover.Probe(region, False, _iso_now(), f"GetItem in {region}: {exc!r}")
        took = self._clock() - started
        if result.ok and took > deadline:  # an answer too late to serve is a failed check
            result = failover.Probe(
                region,
                False,
                result.checked_at,
                f"GetItem in {region}: answered after {took:.1f} s, over {deadline:g} s",
            )
        with slot.lock:
            slot.last, slot.last_started, slot.running = result, started, None
        return result


def probe_data_plane(client: Any, region: str, sentinel: Sentinel) -> failover.Probe:
    """GetItem of the sentinel key of a table in `region` (a DynamoDB client of that region):
    did the region answer?"""
    checked_at = _iso_now()
    table = sentinel.table
    try:
        client.get_item(TableName=table, Key=sentinel.key)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if status and status < 500:
            return failover.Probe(region, True, checked_at)  # answered (not found, throttled...)
        cause = f"GetItem {table} in {region}: {err.get('Code')}: {err.get('Message')}"
        return failover.Probe(region, False, checked_at, cause)
    except BotoCoreError as exc:
        return failover.Probe(region, False, checked_at, f"GetItem {table} in {region}: {exc}")
    return failover.Probe(region, True, checked_at)


def _iso_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
