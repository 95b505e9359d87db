"""Region health and the failover decision, in plain Python (no Kubernetes, no AWS).

Each health check gives one `Probe` per region; `record()` folds it into that region's
`RegionHealth` (consecutive failures, last check). A failure counts at most once per check
interval: extra checks (the daemon is woken by a spec or phase change) update the last error
but not the count, so `failure_threshold` failures always span threshold x interval.
`decide()` then says which region the services should use:

- the region in force (the spec's `spec.activeRegion`, else the primary, or an automatic
  decision kept in status, see health.py) is the active region;
  a change of that field is a manual failover or failback, honoured in both modes;
- Automatic mode only: once the active region has failed `failure_threshold` checks in a row,
  switch to a replica region (never the primary) whose tables answered the last check ACTIVE.
  The switch is kept in status (never in the user's spec), so the operator never switches back
  by itself and a restart keeps the choice; fewer failures than the threshold change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

Mode = Literal["Manual", "Automatic"]


@dataclass(frozen=True)
class Probe:
    """One health check of one region: every table answered ACTIVE (ok), or why not."""

    region: str
    ok: bool  # reachable, every table there and serving (ACTIVE or UPDATING)
    checked_at: str  # RFC 3339
    error: str | None = None
    all_active: bool = False  # every table ACTIVE: a region the operator may fail over to


@dataclass(frozen=True)
class RegionHealth:
    region: str
    consecutive_failures: int = 0
    last_check: str | None = None
    last_ok: bool | None = None  # None: never checked
    last_error: str | None = None
    last_active: bool = False
    counted_at: float | None = None  # monotonic time of the last failure that counted

    def down(self, threshold: int) -> bool:
        return self.consecutive_failures >= threshold

    @property
    def healthy(self) -> bool:
        return self.last_ok is True


def record(
    previous: RegionHealth | None, probe: Probe, *, at: float = 0.0, min_gap: float = 0.0
) -> RegionHealth:
    """The region's health after one more check made at monotonic time `at`. A failure less
    than `min_gap` seconds after the last one that counted does not count again."""
    before = previous or RegionHealth(probe.region)
    if probe.ok:
        return replace(
            before,
            consecutive_failures=0,
            last_check=probe.checked_at,
            last_ok=True,
            last_error=None,
            last_active=probe.all_active,
            counted_at=None,
        )
    counts = (
        before.consecutive_failures == 0
        or before.counted_at is None
        or at - before.counted_at >= min_gap
    )
    return replace(
        before,
        consecutive_failures=before.consecutive_failures + (1 if counts else 0),
        last_check=probe.checked_at,
        last_ok=False,
        last_error=probe.error,
        last_active=False,
        counted_at=at if counts else before.counted_at,
    )


def record_all(
    previous: Mapping[str, RegionHealth],
    probes: Sequence[Probe],
    *,
    at: float = 0.0,
    min_gap: float = 0.0,
) -> dict[str, RegionHealth]:
    """Health of the probed regions (regions no longer probed are dropped)."""
    return {p.region: record(previous.get(p.region), p, at=at, min_gap=min_gap) for p in probes}


@dataclass(frozen=True)
class Policy:
    mode: Mode
    failure_threshold: int
    primary_region: str
    replica_regions: tuple[str, ...]  # in the order of preference (the spec's order)


@dataclass(frozen=True)
class Decision:
    active_region: str
    # Set when the operator itself switches (Automatic): recorded in status.
    switch_to: str | None = None
    reason: str = ""
    # A problem to report (active region down and nowhere to go, Manual mode waiting), and a
    # stable key for it (the message changes with every failed check).
    problem: str | None = None
    problem_key: str | None = None


def decide(policy: Policy, requested_region: str, health: Mapping[str, RegionHealth]) -> Decision:
    """The region the services should use, given the spec's request and the regions' health."""
    active = requested_region
    current = health.get(active)
    threshold = policy.failure_threshold
    if current is None or not current.down(threshold):
        return Decision(active)
    why = (
        f"{active} failed {current.consecutive_failures} health checks in a row "
        f"(threshold {threshold}): {current.last_error or 'unknown error'}"
    )
    if policy.mode != "Automatic":
        return Decision(
            active,
            problem=f"{why}; failover mode is Manual: set spec.activeRegion to switch",
            problem_key=f"{active}:manual",
        )
    candidates = [
        r
        for r in policy.replica_regions
        if r not in (active, policy.primary_region)
        and (h := health.get(r))
        and h.healthy
        and h.last_active
    ]
    if not candidates:
        primary = health.get(policy.primary_region)
        if active != policy.primary_region and primary is not None and primary.healthy:
            # Never back to the primary by itself (that is a person's call), but say it is there.
            hint = (
                f"; {policy.primary_region} (the primary) is healthy, but automatic failover "
                "never returns to it: remove spec.activeRegion (or set it to "
                f"{policy.primary_region}) to fail back"
            )
        else:
            hint = "; no healthy replica region to fail over to"
        return Decision(active, problem=why + hint, problem_key=f"{active}:nowhere")
    return Decision(active, switch_to=candidates[0], reason=why)


def health_summary(health: Mapping[str, RegionHealth], threshold: int) -> str:
    """The printer column: Healthy, Unknown (never checked), or the regions that are down."""
    if not health or any(h.last_ok is None for h in health.values()):
        return "Unknown"
    down = [r for r, h in health.items() if h.down(threshold)]
    failing = [r for r, h in health.items() if not h.healthy and r not in down]
    if down:
        return "Down: " + ",".join(down)
    if failing:
        return "Failing: " + ",".join(failing)
    return "Healthy"
