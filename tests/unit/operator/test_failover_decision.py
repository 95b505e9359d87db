"""The failover decision (forumdb_operator.failover) and the spec fields behind it, in plain
Python: thresholds, flapping, the choice of a healthy ACTIVE replica, no automatic failback,
manual override."""

from __future__ import annotations

import pytest
from op_factories import spec

from forumdb_operator.failover import (
    Policy,
    Probe,
    RegionHealth,
    decide,
    health_summary,
    record,
    record_all,
)
from forumdb_operator.spec import SpecInvalid, parse_spec

PRIMARY, DR1, DR2 = "us-east-1", "us-west-2", "eu-west-1"


def policy(mode: str = "Automatic", threshold: int = 3, replicas=(DR1, DR2)) -> Policy:
    return Policy(mode, threshold, PRIMARY, tuple(replicas))  # type: ignore[arg-type]


def ok(region: str, active: bool = True) -> Probe:
    return Probe(region, True, "t", all_active=active)


def fail(region: str) -> Probe:
    return Probe(region, False, "t", f"{region} is unreachable")


def run(checks: list[list[Probe]]) -> dict[str, RegionHealth]:
    health: dict[str, RegionHealth] = {}
    for probes in checks:
        health = record_all(health, probes)
    return health


def test_consecutive_failures_count_up_and_reset_on_success():
    h = record(None, fail(PRIMARY))
    h = record(h, fail(PRIMARY))
    assert (h.consecutive_failures, h.last_ok, h.last_error) == (
        2,
        False,
        "us-east-1 is unreachable",
    )
    h = record(h, ok(PRIMARY))
    assert (h.consecutive_failures, h.last_ok, h.last_error) == (0, True, None)


def test_below_the_threshold_nothing_switches():
    health = run([[fail(PRIMARY), ok(DR1)]] * 2)
    assert decide(policy(threshold=3), PRIMARY, health).switch_to is None


def test_at_the_threshold_automatic_mode_switches_to_the_first_healthy_replica():
    health = run([[fail(PRIMARY), ok(DR1), ok(DR2)]] * 3)
    d = decide(policy(threshold=3), PRIMARY, health)
    assert d.switch_to == DR1
    assert "us-east-1 failed 3 health checks in a row" in d.reason


def test_flapping_region_never_reaches_the_threshold():
    # fail, fail, recover, fail, fail, recover...: never 3 in a row.
    checks = [[fail(PRIMARY), ok(DR1)]] * 2 + [[ok(PRIMARY), ok(DR1)]]
    health: dict[str, RegionHealth] = {}
    for _ in range(5):
        for probes in checks:
            health = record_all(health, probes)
            assert decide(policy(threshold=3), PRIMARY, health).switch_to is None


def test_unhealthy_or_not_active_replicas_are_skipped():
    health = run([[fail(PRIMARY), fail(DR1), ok(DR2)]] * 3)
    assert decide(policy(), PRIMARY, health).switch_to == DR2
    # DR2 serves but one of its tables is not ACTIVE (e.g. UPDATING): not a failover target.
    health = run([[fail(PRIMARY), fail(DR1), ok(DR2, active=False)]] * 3)
    d = decide(policy(), PRIMARY, health)
    assert d.switch_to is None
    assert "no healthy replica region" in (d.problem or "")


def test_replica_regions_keep_the_spec_order_of_preference():
    health = run([[fail(PRIMARY), ok(DR1), ok(DR2)]] * 3)
    assert decide(policy(replicas=(DR2, DR1)), PRIMARY, health).switch_to == DR2


def test_manual_mode_reports_but_does_not_switch():
    health = run([[fail(PRIMARY), ok(DR1)]] * 5)
    d = decide(policy(mode="Manual"), PRIMARY, health)
    assert d.active_region == PRIMARY
    assert d.switch_to is None
    assert "failover mode is Manual" in (d.problem or "")


def test_no_automatic_failback_to_the_recovered_primary():
    # After a failover the spec asks for DR1; the primary recovers: DR1 stays.
    health = run([[ok(PRIMARY), ok(DR1), ok(DR2)]] * 5)
    assert decide(policy(), DR1, health).active_region == DR1
    assert decide(policy(), DR1, health).switch_to is None


def test_the_primary_is_never_an_automatic_target():
    # Active DR1 goes down; the primary is healthy but only replicas are candidates.
    health = run([[ok(PRIMARY), fail(DR1), ok(DR2)]] * 3)
    assert decide(policy(), DR1, health).switch_to == DR2
    health = run([[ok(PRIMARY), fail(DR1)]] * 3)
    d = decide(policy(replicas=(DR1,)), DR1, health)
    assert d.switch_to is None
    # What it says points at the healthy primary and how to return to it.
    assert f"{PRIMARY} (the primary) is healthy" in (d.problem or "")
    assert "remove spec.activeRegion" in (d.problem or "")


def test_manual_override_is_the_active_region_whatever_the_mode():
    health = run([[ok(PRIMARY), ok(DR1)]])
    for mode in ("Manual", "Automatic"):
        assert decide(policy(mode=mode), DR1, health).active_region == DR1
        assert decide(policy(mode=mode), PRIMARY, health).active_region == PRIMARY


def test_unchecked_region_is_not_down():
    assert decide(policy(), PRIMARY, {}).switch_to is None


@pytest.mark.parametrize(
    ("checks", "summary"),
    [
        ([], "Unknown"),
        ([[ok(PRIMARY), ok(DR1)]], "Healthy"),
        ([[fail(PRIMARY), ok(DR1)]], "Failing: us-east-1"),
        ([[fail(PRIMARY), ok(DR1)]] * 3, "Down: us-east-1"),
    ],
)
def test_health_summary(checks, summary):
    assert health_summary(run(checks), 3) == summary


def test_spec_failover_defaults_and_bounds():
    s = parse_spec(spec())
    assert (s.failover.mode, s.failover.health_check_interval_seconds) == ("Manual", 10)
    assert s.failover.failure_threshold == 3
    assert s.requested_region == s.primary_region
    with pytest.raises(SpecInvalid) as info:
        parse_spec(spec(failover={"mode": "Sometimes", "failureThreshold": 0}))
    text = str(info.value)
    assert "spec.failover.mode" in text
    assert "spec.failover.failureThreshold" in text


def test_active_region_must_be_the_primary_or_a_replica():
    raw = spec(primaryRegion=PRIMARY, replicaRegions=[DR1])
    assert parse_spec({**raw, "activeRegion": DR1}).requested_region == DR1
    assert parse_spec({**raw, "activeRegion": PRIMARY}).requested_region == PRIMARY
    with pytest.raises(SpecInvalid) as info:
        parse_spec({**raw, "activeRegion": DR2})
    assert info.value.errors == [
        "spec.activeRegion: eu-west-1 is neither the primary region (us-east-1) nor one of "
        "spec.replicaRegions (us-west-2)"
    ]
