"""Health checks of each region's tables and the failover they may trigger, for one
ForumDatabase (blocking code; the health loop in loops.py calls `tick()` on the interval; the
Kubernetes writes go through forumdb_operator.kube).

A check has two parts, so its cost does not grow with resources x tables x regions:
- the region: a data-plane read shared by every resource in the region, at most one per region
  and interval, waited for at most a short deadline (forumdb_operator.probes);
- the resource's own tables (DescribeTable: serving? ACTIVE?): what the reconcile's drift check
  last saw (`saw_tables`), and in Automatic mode a DescribeTable of each table where that is
  older than `table_check_interval` (the drift interval by default). Manual mode adds nothing
  to the drift check's reads.
A region failed a check when its probe failed or a table there was last seen not serving
(reads only, no retries: a check that fails is a data point, the next check comes soon).
forumdb_operator.failover decides; this module carries the decision out: the ConfigMap's
AWS_REGION, the status fields (activeRegion, health, regionHealth, lastFailover, conditions
FailedOver and RegionsHealthy) and events.

An automatic switch is the operator's decision, kept in status (activeRegion, lastFailover with
mode Automatic and `request`, what the person's side said at the switch), never in the spec: a
GitOps tool would revert a spec edit and switch the services back into the failed region. The
decision stays in force (across restarts, read back from status) until a person acts: a new
spec.activeRegion or a new forumdb.io/failover-requested annotation (forumctl failover sets
both), or failover mode Manual. The status is
patched only when it changes (and at most every STATUS_REFRESH seconds for the check times), so
a steady state costs reads only.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from kubernetes.client.exceptions import ApiException

from forumdb import aws, naming
from forumdb_operator import failover, immutable, metrics, status
from forumdb_operator.desired import desired_state
from forumdb_operator.kube import Kube, cause
from forumdb_operator.probes import DEFAULT_DEADLINE, RegionProbes, Sentinel
from forumdb_operator.reconcile import Event
from forumdb_operator.spec import ForumDatabaseSpec, SpecInvalid, parse_spec

log = logging.getLogger("forumdb_operator.health")

STATUS_REFRESH = 60.0  # seconds: refresh lastCheckTime in status at most this often
SERVING_STATES = frozenset({"ACTIVE", "UPDATING"})  # a table that serves reads and writes
CONDITION_TYPES = ("FailedOver", "RegionsHealthy")
# A woken check counts a failure only this share of an interval after the last counted one.
COUNT_SLACK = 0.9
DEFAULT_TABLE_CHECK_INTERVAL = 300.0  # seconds: own DescribeTable checks (Automatic mode)


def probe_config(interval: float) -> Any:
    """One try, short timeouts: a check must end well within the interval."""
    timeout = max(1.0, min(5.0, interval))
    return aws.client_config(max_attempts=0, connect_timeout=timeout, read_timeout=timeout)


@dataclass(frozen=True)
class TablesSeen:
    """A resource's tables in one region, as last described (by a reconcile or a check)."""

    at: float  # monotonic
    ok: bool  # every table there and serving (ACTIVE or UPDATING)
    all_active: bool
    error: str | None = None


def check_tables(
    clients: Callable[[str, str], Any], region: str, tables: Sequence[str], at: float
) -> TablesSeen:
    """DescribeTable of each table in `region`; stops at the first failure."""
    client = clients("dynamodb", region)
    all_active = True
    for table in tables:
        try:
            state = client.describe_table(TableName=table)["Table"]["TableStatus"]
        except ClientError as exc:
            err = exc.response.get("Error", {})
            cause = f"DescribeTable {table} in {region}: {err.get('Code')}: {err.get('Message')}"
            return TablesSeen(at, False, False, cause)
        except BotoCoreError as exc:
            return TablesSeen(at, False, False, f"DescribeTable {table} in {region}: {exc}")
        if state not in SERVING_STATES:
            return TablesSeen(at, False, False, f"{table} in {region} is {state}")
        all_active = all_active and state == "ACTIVE"
    return TablesSeen(at, True, all_active)


def tables_in_status(status_tables: Any, at: float) -> dict[str, TablesSeen]:
    """status.tables (a reconcile's: [{name, regions: [{region, status}]}]) per region."""
    states: dict[str, list[tuple[str, str]]] = {}
    for table in status_tables or []:
        if not isinstance(table, Mapping):
            continue
        for r in table.get("regions") or []:
            if isinstance(r, Mapping) and r.get("region"):
                states.setdefault(str(r["region"]), []).append(
                    (str(table.get("name")), str(r.get("status")))
                )
    out = {}
    for region, pairs in states.items():
        bad = next(((n, st) for n, st in pairs if st not in SERVING_STATES), None)
        error = f"{bad[0]} in {region} is {bad[1]}" if bad else None
        active = all(st == "ACTIVE" for _, st in pairs)
        out[region] = TablesSeen(at, bad is None, bad is None and active, error)
    return out


def probe_deadline(interval: float) -> float:
    """How long a check waits for a region's probe: well within the interval."""
    return min(DEFAULT_DEADLINE, max(1.0, interval / 2))


@dataclass
class Monitor:
    """The health and failover state of one ForumDatabase, kept in the resource's Kopf memo
    (shared by the health daemon and the reconcile loop)."""

    namespace: str
    name: str
    health: dict[str, failover.RegionHealth] = field(default_factory=dict)
    active_region: str | None = None  # what the ConfigMap should say; None: not decided yet
    # Observed replica regions, from the last reconcile that could read AWS.
    replica_regions: tuple[str, ...] | None = None
    # The automatic decision in force: (region, the person's request it was made under).
    override: tuple[str, str] | None = None
    _override_loaded: bool = False
    reconcile_conditions: list[dict[str, Any]] | None = None
    last_failover: dict[str, Any] | None = None
    last_problem: str | None = None
    last_problem_key: str | None = None
    configmap_region: str | None = None  # AWS_REGION last seen or written in the ConfigMap
    primary_region: str | None = None
    started: bool = False
    armed: bool = False  # the resource was Ready once: checks count, failover may happen
    # Whether the FailedOver / RegionsHealthy conditions are shown (see _own_conditions).
    shows_failover: bool = False
    shows_health: bool = False
    _published: dict[str, Any] | None = None
    _published_at: float = 0.0
    _last_conditions: list[dict[str, Any]] | None = None
    # The resource's tables per region, last seen by a reconcile or an own check.
    tables_seen: dict[str, TablesSeen] = field(default_factory=dict)
    _checked_until: float | None = None  # monotonic end of the last check
    _probes: RegionProbes | None = None  # own probes when the operator's are not given
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def resource(self) -> str:
        return f"{self.namespace}/{self.name}"

    # ------------------------------------------------------------------ used by reconcile

    def conditions_with_failover(
        self, reconcile_conditions: list[dict[str, Any]], now: str
    ) -> list[dict[str, Any]]:
        """The reconcile's conditions plus this monitor's (which the reconcile does not own)."""
        with self.lock:
            self.reconcile_conditions = [
                c for c in reconcile_conditions if c.get("type") not in CONDITION_TYPES
            ]
            return self._conditions(now, self._last_conditions or reconcile_conditions)

    def saw_tables(self, status_tables: Any) -> None:
        """The table states a reconcile that read AWS found (its status.tables): a check does
        not describe them again within table_check_interval."""
        seen = tables_in_status(status_tables, time.monotonic())
        with self.lock:
            self.tables_seen.update(seen)

    # ------------------------------------------------------------------ one health check

    def region_in_force(
        self,
        raw_spec: Mapping[str, Any],
        annotations: Mapping[str, str],
        live_status: Mapping[str, Any],
    ) -> str | None:
        """The automatic decision in force, if any (None: the spec's region rules). Read
        back from status after a restart; used by the reconcile before the first check."""
        with self.lock:
            self._load_override(live_status)
            return self._override_for(raw_spec, annotations)

    def _load_override(self, live_status: Mapping[str, Any]) -> None:
        if self._override_loaded:
            return
        self._override_loaded = True
        last = live_status.get("lastFailover") or {}
        to = last.get("to")
        automatic = last.get("mode") == "Automatic" and "request" in last
        if automatic and to and live_status.get("activeRegion") == to:
            self.override = (str(to), str(last["request"]))
            self.last_failover = dict(last)

    def _override_for(
        self, raw_spec: Mapping[str, Any], annotations: Mapping[str, str]
    ) -> str | None:
        if self.override is None:
            return None
        mode = (raw_spec.get("failover") or {}).get("mode", "Manual")
        if mode == "Automatic" and self.override[1] == request_token(raw_spec, annotations):
            return self.override[0]
        return None

    def tick(
        self,
        *,
        raw_spec: Mapping[str, Any],
        annotations: Mapping[str, str] | None = None,
        live_status: Mapping[str, Any],
        clients: Callable[[str, str], Any],
        kube: Kube,
        allowed_regions: frozenset[str] | None = None,
        woken: bool = False,
        probes: RegionProbes | None = None,
        table_check_interval: float = DEFAULT_TABLE_CHECK_INTERVAL,
    ) -> list[Event]:
        """Check every region, decide, act; returns the events to post. `woken`: a check made
        before its interval was up (the daemon was woken); its failures do not count again.
        `probes`: the operator's shared region probes (else this monitor's own)."""
        try:
            # A refused tablePrefix/primaryRegion change: keep watching the tables in use.
            effective = immutable.effective_spec(raw_spec, live_status)
            spec = parse_spec(effective, allowed_regions=allowed_regions)
        except SpecInvalid:
            return []  # the reconcile reports it
        if _tables_refused(live_status):
            return []  # the tables are another resource's: nothing of theirs is shown as ours
        self._load(live_status)
        annotations = annotations or {}
        now = status.now_iso()
        if probes is None:
            self._probes = probes = self._probes or RegionProbes(clients, threads=4)
        replicas = self._check(spec, clients, probes, now, woken, table_check_interval)
        # Only a resource that was Ready once fails over: during provisioning tables are missing.
        self.armed = bool(live_status.get("readyGeneration"))
        requested = self._requested(spec, raw_spec, annotations)
        decision = failover.decide(self._policy(spec, replicas), requested, self.health)
        target, events = self._follow(decision, now, request_token(raw_spec, annotations))
        events += self._problem(decision)
        self._sync_configmap(kube, target)
        self._publish_status(kube, spec, now)
        for e in events:
            log.warning(
                e.message,
                extra={"resource": self.resource, "region": target, "reason": e.reason},
            )
        return events

    def _load(self, live_status: Mapping[str, Any]) -> None:
        """What the live status knows and this monitor does not (yet): after a restart."""
        if self.active_region is None:
            self.active_region = live_status.get("activeRegion")
        with self.lock:
            self._load_override(live_status)
        if not self.started:  # the first check since the operator started
            self.started = True
            shown = {c.get("type") for c in live_status.get("conditions") or []}
            self.shows_failover = "FailedOver" in shown
            self.shows_health = "RegionsHealthy" in shown
        if self.reconcile_conditions is None:
            self.reconcile_conditions = [
                dict(c)
                for c in live_status.get("conditions") or []
                if c.get("type") not in CONDITION_TYPES
            ]

    def _check(
        self,
        spec: ForumDatabaseSpec,
        clients: Callable[[str, str], Any],
        probes: RegionProbes,
        now: str,
        woken: bool,
        table_check_interval: float,
    ) -> tuple[str, ...]:
        """Probe the primary and every replica region, fold the results into `health`; returns
        the replica regions checked (the spec's, or the observed ones when unmanaged)."""
        started = time.monotonic()
        interval = float(spec.failover.health_check_interval_seconds)
        desired = desired_state(spec, self.namespace, self.name)
        replicas = (
            tuple(spec.replicas) if desired.replicas_managed else (self.replica_regions or ())
        )
        regions = (spec.primary_region, *replicas)
        sentinel = Sentinel(desired.tables[0].name, desired.tables[0].kind)
        # A region probe newer than this resource's last check serves it (shared); the first
        # check takes one of the last interval.
        newer_than = self._checked_until if self._checked_until is not None else started - interval
        answers = probes.check(
            dict.fromkeys(regions, sentinel),
            newer_than=newer_than,
            deadline=probe_deadline(interval),
            checked_at=now,
        )
        tables = [t.name for t in desired.tables]
        probes_now = []
        for region in regions:
            answer = answers[region]
            seen = self._tables(clients, region, tables, answer, spec, table_check_interval)
            if answer.ok and seen is not None and not seen.ok:
                answer = failover.Probe(region, False, answer.checked_at, seen.error)
            elif answer.ok:
                active = seen is not None and seen.all_active
                answer = failover.Probe(region, True, answer.checked_at, all_active=active)
            probes_now.append(answer)
        self._checked_until = time.monotonic()
        for p in probes_now:
            metrics.REGION_HEALTHY.labels(resource=self.resource, region=p.region).set(
                1 if p.ok else 0
            )
        # Checks the daemon was woken for (spec or phase change) come sooner than the interval:
        # their failures must not count again, or failover would come before threshold x interval.
        gap = spec.failover.health_check_interval_seconds * COUNT_SLACK if woken else 0.0
        self.health = failover.record_all(self.health, probes_now, at=started, min_gap=gap)
        return replicas

    def _tables(
        self,
        clients: Callable[[str, str], Any],
        region: str,
        tables: list[str],
        answer: failover.Probe,
        spec: ForumDatabaseSpec,
        table_check_interval: float,
    ) -> TablesSeen | None:
        """The tables in `region` as last seen; in Automatic mode described again when that is
        older than table_check_interval (not in a region whose probe failed: no thread waits
        on a region that does not answer)."""
        with self.lock:
            seen = self.tables_seen.get(region)
        # Tables seen not serving are described every check until they serve again.
        stale = seen is None or not seen.ok or time.monotonic() - seen.at >= table_check_interval
        if spec.failover.mode == "Automatic" and answer.ok and stale:
            seen = check_tables(clients, region, tables, time.monotonic())
            with self.lock:
                self.tables_seen[region] = seen
        return seen

    def _policy(self, spec: ForumDatabaseSpec, replicas: tuple[str, ...]) -> failover.Policy:
        return failover.Policy(
            mode=spec.failover.mode,
            failure_threshold=spec.failover.failure_threshold,
            primary_region=spec.primary_region,
            replica_regions=replicas,
        )

    def _requested(
        self, spec: ForumDatabaseSpec, raw_spec: Mapping[str, Any], annotations: Mapping[str, str]
    ) -> str:
        """The region in force: the automatic decision while no person has acted since (and
        the mode is Automatic), else the one the spec asks for."""
        with self.lock:
            region = self._override_for(raw_spec, annotations)
            if region is None:
                self.override = None  # a person acted (or Manual): the spec rules from now on
        return region or spec.requested_region

    def _follow(
        self, decision: failover.Decision, now: str, request: str
    ) -> tuple[str, list[Event]]:
        """Carry out the decision: an automatic switch (kept in status), or a person's
        change of spec.activeRegion; the active region now and the events that tell."""
        previous = self.active_region
        target = decision.active_region
        events: list[Event] = []
        if decision.switch_to and self.armed:
            target = decision.switch_to
            with self.lock:
                self.override = (target, request)
            self.last_failover = {
                "from": decision.active_region,
                "to": target,
                "time": now,
                "mode": "Automatic",
                "reason": decision.reason,
                "request": request,
            }
            metrics.FAILOVERS.labels(kind="automatic").inc()
            message = (
                f"switched the services from {decision.active_region} to {target}: "
                f"{decision.reason}"
            )
            events.append(Event("Warning", "FailedOver", message))
        elif previous is not None and previous != target:
            self.last_failover = {
                "from": previous,
                "to": target,
                "time": now,
                "mode": "Manual",
                "reason": "spec.activeRegion",
            }
            metrics.FAILOVERS.labels(kind="manual").inc()
            message = f"switched the services from {previous} to {target} (spec.activeRegion)"
            events.append(Event("Normal", "ActiveRegionChanged", message))
        self.active_region = target
        return target, events

    def _problem(self, decision: failover.Decision) -> list[Event]:
        """Remember the decision's problem; an event when it is news."""
        problem = decision.problem if self.armed and not decision.switch_to else None
        key = decision.problem_key if problem else None
        events = []
        if problem and key != self.last_problem_key:
            events.append(Event("Warning", "ActiveRegionDown", problem))
        self.last_problem, self.last_problem_key = problem, key
        return events

    # ------------------------------------------------------------------ effects

    def _sync_configmap(self, kube: Kube, region: str) -> None:
        """AWS_REGION of the existing ConfigMap (the reconcile creates it with the rest)."""
        if self.configmap_region == region:
            return
        name = naming.configmap_name(self.name)
        try:
            if kube.set_configmap_region(self.namespace, name, region):
                log.info(
                    "configmap region switched",
                    extra={"resource": self.resource, "configmap": name, "region": region},
                )
            self.configmap_region = region
        except ApiException as exc:
            if exc.status != 404:
                log.warning(
                    "cannot switch the configmap region",
                    extra={
                        "resource": self.resource,
                        "configmap": name,
                        "region": region,
                        "cause": cause(exc),
                    },
                )

    def _conditions(self, now: str, previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
        base = [c for c in self.reconcile_conditions or [] if c.get("type") not in CONDITION_TYPES]
        own_before = [c for c in previous if c.get("type") in CONDITION_TYPES]
        return base + status.merge_conditions(self._own_conditions(), own_before, None, now)

    def _own_conditions(self) -> list[status.Cond]:
        """FailedOver and RegionsHealthy, each from the first time it has news (a switch; a
        failed check of a Ready resource) on: a resource that never had any keeps the
        reconcile's conditions only."""
        conds: list[status.Cond] = []
        primary = self.primary_region
        on_primary = self.active_region is None or self.active_region == primary
        self.shows_failover = self.shows_failover or not on_primary
        if self.shows_failover and on_primary:
            conds.append(status.Cond("FailedOver", False, "OnPrimary", "services use the primary"))
        elif self.shows_failover:
            last = self.last_failover or {}
            mode = last.get("mode", "Manual")
            why = f": {last['reason']}" if mode == "Automatic" and last.get("reason") else ""
            conds.append(
                status.Cond(
                    "FailedOver",
                    True,
                    mode,
                    f"services use {self.active_region}, not the primary {primary}{why}",
                )
            )
        bad = [f"{r}: {h.last_error}" for r, h in self.health.items() if h.last_ok is False]
        self.shows_health = self.shows_health or (self.armed and bool(bad))
        if not self.shows_health:
            return conds
        if self.last_problem:
            conds.append(
                status.Cond("RegionsHealthy", False, "ActiveRegionDown", self.last_problem)
            )
        elif bad:
            conds.append(status.Cond("RegionsHealthy", False, "ChecksFailing", "; ".join(bad)))
        else:
            conds.append(
                status.Cond(
                    "RegionsHealthy", True, "AllRegionsHealthy", "every region answers its checks"
                )
            )
        return conds

    def _publish_status(self, kube: Kube, spec: ForumDatabaseSpec, now: str) -> None:
        threshold = spec.failover.failure_threshold
        self.primary_region = spec.primary_region
        region_health = [
            {
                "region": r,
                "role": "primary" if r == spec.primary_region else "replica",
                "healthy": h.healthy,
                "consecutiveFailures": h.consecutive_failures,
                **({"lastError": h.last_error[:300]} if h.last_error else {}),
            }
            for r, h in self.health.items()
        ]
        fields: dict[str, Any] = {
            "activeRegion": self.active_region,
            "health": failover.health_summary(self.health, threshold),
            "regionHealth": region_health,
        }
        if self.last_failover:
            fields["lastFailover"] = self.last_failover
        with self.lock:
            conditions = self._conditions(now, self._last_conditions or [])
            fields["conditions"] = conditions
            comparable = copy.deepcopy({**fields, "conditions": [_no_time(c) for c in conditions]})
            fresh = time.monotonic() - self._published_at < STATUS_REFRESH
            if comparable == self._published and fresh:
                return
            for item, h in zip(region_health, self.health.values(), strict=True):
                item["lastCheckTime"] = h.last_check
            try:
                if not kube.patch_status(self.namespace, self.name, fields):
                    return  # the resource is gone
            except ApiException as exc:
                log.warning(
                    "cannot write the health status",
                    extra={"resource": self.resource, "cause": cause(exc)},
                )
                return
            self._published = comparable
            self._published_at = time.monotonic()
            self._last_conditions = conditions


def request_token(raw_spec: Mapping[str, Any], annotations: Mapping[str, str]) -> str:
    """What the person's side asks for the active region: spec.activeRegion as written (unset
    is not the same as the primary named) and the failover-requested annotation."""
    asked = raw_spec.get("activeRegion") or ""
    return f"{asked}|{annotations.get(naming.ANNOTATION_FAILOVER_REQUESTED, '')}"


def _no_time(cond: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cond.items() if k != "lastTransitionTime"}


# TablesReady reasons of a resource whose tables exist but are not its own (diff.tables)
FOREIGN_TABLE_REASONS = frozenset({"TableOwnedByAnother", "TableExists", "IncompatibleTable"})


def _tables_refused(live_status: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "TablesReady" and c.get("reason") in FOREIGN_TABLE_REASONS
        for c in live_status.get("conditions") or []
        if isinstance(c, Mapping)
    )
