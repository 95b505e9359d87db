"""A region's failures count at most once per health-check interval: checks the daemon is
woken for (a spec or phase change) must not bring an automatic failover before
failure_threshold x interval."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from botocore.exceptions import EndpointConnectionError
from op_factories import spec

from forumdb_operator import health
from forumdb_operator.failover import Policy, Probe, decide, record, record_all
from forumdb_operator.kube import Kube

PRIMARY, DR = "us-east-1", "us-west-2"
INTERVAL = 10.0


def fail(region: str) -> Probe:
    return Probe(region, False, "t", f"{region} is unreachable")


def ok(region: str) -> Probe:
    return Probe(region, True, "t", all_active=True)


def test_woken_checks_within_one_interval_count_once():
    h = None
    for at in (0.0, 0.2, 0.5, 0.9):  # three wakes right after the first check
        h = record(h, fail(PRIMARY), at=at, min_gap=INTERVAL)
    assert h is not None
    assert h.consecutive_failures == 1
    assert h.last_ok is False
    assert h.last_error == f"{PRIMARY} is unreachable"


def test_failures_one_interval_apart_each_count():
    h = None
    for at in (0.0, 10.0, 20.0):
        h = record(h, fail(PRIMARY), at=at, min_gap=INTERVAL)
    assert h is not None
    assert h.consecutive_failures == 3


def test_success_resets_and_the_next_failure_counts_at_once():
    h = record(None, fail(PRIMARY), at=0.0, min_gap=INTERVAL)
    h = record(h, ok(PRIMARY), at=1.0, min_gap=INTERVAL)
    h = record(h, fail(PRIMARY), at=2.0, min_gap=INTERVAL)
    assert h.consecutive_failures == 1


def test_no_automatic_failover_from_a_burst_of_woken_checks():
    policy = Policy("Automatic", 3, PRIMARY, (DR,))
    health: dict = {}
    for at in (0.0, 0.1, 0.3, 0.6, 0.8):
        health = record_all(health, [fail(PRIMARY), ok(DR)], at=at, min_gap=INTERVAL)
    assert decide(policy, PRIMARY, health).switch_to is None
    for at in (10.0, 20.0):
        health = record_all(health, [fail(PRIMARY), ok(DR)], at=at, min_gap=INTERVAL)
    assert decide(policy, PRIMARY, health).switch_to == DR


class _Unreachable:
    def describe_table(self, **_: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.example")

    def get_item(self, **_: Any) -> Any:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.example")


class _Custom:
    def __init__(self) -> None:
        self.spec_patches: list[dict[str, Any]] = []
        self.status: dict[str, Any] = {}

    def patch_namespaced_custom_object(self, *args: Any, **_: Any) -> None:
        self.spec_patches.append(args[-1]["spec"])

    def patch_namespaced_custom_object_status(self, *args: Any, **_: Any) -> None:
        self.status.update(args[-1]["status"])


class _Core:
    def read_namespaced_config_map(self, name: str, namespace: str) -> Any:
        return SimpleNamespace(data={"AWS_REGION": PRIMARY})


def test_monitor_woken_checks_do_not_count_again():
    raw = spec(
        primaryRegion=PRIMARY,
        replicaRegions=[DR],
        failover={"mode": "Automatic", "healthCheckIntervalSeconds": 10, "failureThreshold": 3},
    )
    monitor = health.Monitor("ns1", "forum")
    custom = _Custom()

    def tick(woken: bool) -> None:
        monitor.tick(
            raw_spec=raw,
            live_status={"readyGeneration": 1},
            clients=lambda service, region: _Unreachable(),
            kube=Kube(_Core(), custom),  # type: ignore[arg-type]
            woken=woken,
        )

    tick(woken=False)
    for _ in range(4):  # e.g. the phase changed, then the spec: the daemon is woken
        tick(woken=True)
    counts = {r["region"]: r["consecutiveFailures"] for r in custom.status["regionHealth"]}
    assert counts == {PRIMARY: 1, DR: 1}
    assert custom.spec_patches == []  # no failover
    tick(woken=False)  # the next scheduled check counts
    counts = {r["region"]: r["consecutiveFailures"] for r in custom.status["regionHealth"]}
    assert counts == {PRIMARY: 2, DR: 2}
