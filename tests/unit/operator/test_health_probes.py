"""Health checks at scale (issue 14): one data-plane probe per region and interval shared by
every resource, the resources' tables at the drift pace, and a brown-out region that holds
neither the checks nor the other region's signal. Against moto in-process with the emulator's
faults; probes counted per operation (op_calls)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from op_calls import CallCounter
from op_factories import spec

from forumdb.tables import KINDS, create_table_request, table_def
from forumdb_operator import awsclients, health
from forumdb_operator.kube import Kube
from forumdb_operator.probes import RegionProbes

PRIMARY, DR = "us-east-1", "us-west-2"
RESOURCES = 20


class _Core:
    def read_namespaced_config_map(self, name: str, namespace: str) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(data={"AWS_REGION": PRIMARY})

    def patch_namespaced_config_map(self, name: str, namespace: str, body: dict) -> None:
        pass


class _Custom:
    def __init__(self) -> None:
        self.status: dict[str, Any] = {}

    def patch_namespaced_custom_object(self, *args: Any, **_: Any) -> None:
        raise AssertionError("no failover expected")

    def patch_namespaced_custom_object_status(self, *args: Any, **_: Any) -> None:
        self.status.update(args[-1]["status"])


def prefix(i: int) -> str:
    return f"forum-{i:03d}-"


@pytest.fixture
def world(ext: Any) -> Iterator[Any]:
    """RESOURCES resources' tables in both regions, one shared set of probes, counted calls."""
    for region in (PRIMARY, DR):
        ddb = boto3.client("dynamodb", region_name=region)
        for i in range(RESOURCES):
            for kind in KINDS:
                ddb.create_table(
                    **create_table_request(
                        table_def(kind), prefix(i) + table_def(kind).logical_name
                    )
                )
    counter = CallCounter()
    clients = counter.wrap(awsclients.Clients(config=health.probe_config(5.0)))
    probes = RegionProbes(clients)
    ext.counter, ext.clients, ext.probes = counter, clients, probes
    yield ext
    probes.close()


class Resource:
    def __init__(self, i: int, mode: str, interval: int) -> None:
        self.spec = spec(
            tablePrefix=prefix(i),
            primaryRegion=PRIMARY,
            replicaRegions=[DR],
            failover={"mode": mode, "healthCheckIntervalSeconds": interval},
        )
        self.monitor = health.Monitor("ns1", f"forum-{i:03d}")
        self.custom = _Custom()

    def tick(self, world: Any) -> None:
        self.monitor.tick(
            raw_spec=self.spec,
            live_status={"readyGeneration": 1, **self.custom.status},
            clients=world.clients,
            kube=Kube(_Core(), self.custom),  # type: ignore[arg-type]
            probes=world.probes,
        )

    def region(self, region: str) -> dict[str, Any]:
        return next(r for r in self.custom.status["regionHealth"] if r["region"] == region)


def get_items(counter: CallCounter) -> Counter[str]:
    return Counter(c.region for c in counter.calls if c.operation == "GetItem")


@pytest.mark.parametrize("mode", ["Manual", "Automatic"])
def test_one_probe_per_region_and_interval_serves_every_resource(world: Any, mode: str):
    resources = [Resource(i, mode, interval=10) for i in range(RESOURCES)]
    for rounds in (1, 2, 3):
        for r in resources:
            r.tick(world)
        assert get_items(world.counter) == {PRIMARY: rounds, DR: rounds}
    assert all(r.custom.status["health"] == "Healthy" for r in resources)
    ops = world.counter.by_operation()
    assert world.counter.writes == []
    if mode == "Manual":  # the tables come from the reconcile's drift check only
        assert set(ops) == {"dynamodb:GetItem"}
    else:  # each resource's tables once, then at the drift pace (not again within it)
        assert ops["dynamodb:DescribeTable"] == RESOURCES * 3 * 2


def test_tables_a_reconcile_saw_not_serving_fail_the_region_in_manual_mode(world: Any):
    r = Resource(0, "Manual", interval=10)
    r.monitor.saw_tables(
        [
            {
                "name": "forum-000-Users",
                "regions": [
                    {"region": PRIMARY, "status": "ACTIVE"},
                    {"region": DR, "status": "INACCESSIBLE_ENCRYPTION_CREDENTIALS"},
                ],
            }
        ]
    )
    r.tick(world)
    assert r.region(PRIMARY)["healthy"] is True
    assert r.region(DR)["healthy"] is False
    assert "INACCESSIBLE_ENCRYPTION_CREDENTIALS" in r.region(DR)["lastError"]
    assert "dynamodb:DescribeTable" not in world.counter.by_operation()


def test_a_data_plane_outage_that_leaves_describe_table_answering_is_seen(world: Any):
    world.set_fault(region=PRIMARY, service="dynamodb", operation="GetItem", error_rate=1.0)
    r = Resource(0, "Automatic", interval=10)
    r.tick(world)
    assert (
        boto3.client("dynamodb", region_name=PRIMARY).describe_table(TableName="forum-000-Users")[
            "Table"
        ]["TableStatus"]
        == "ACTIVE"
    )
    assert r.region(PRIMARY)["healthy"] is False
    assert "InternalServerError" in r.region(PRIMARY)["lastError"]
    assert r.region(DR)["healthy"] is True


def test_a_brown_out_region_holds_one_probe_thread_and_not_the_other_regions_signal(world: Any):
    """us-east-1's data plane answers after 5 s (the emulator's latency fault); every resource
    checks at once on 4 threads. One probe waits in us-east-1, not one per resource; a check
    waits for it until its deadline (2 s for a 10 s interval) and counts the region failed, and
    checks after the deadline do not wait at all; us-west-2's probe answers meanwhile and every
    resource has it healthy."""
    world.set_fault(region=PRIMARY, service="dynamodb", operation="GetItem", latency_ms=5000)
    resources = [Resource(i, "Manual", interval=10) for i in range(RESOURCES)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda r: r.tick(world), resources))
    assert get_items(world.counter) == {PRIMARY: 1, DR: 1}
    for r in resources:
        assert r.region(DR)["healthy"] is True
        assert r.region(PRIMARY)["healthy"] is False
        assert r.region(PRIMARY)["lastError"].startswith("GetItem in us-east-1: ")
        assert r.region(PRIMARY)["consecutiveFailures"] == 1
