"""forumdb_operator.health.Monitor against moto (in-process, with the harness's region outage)
and recording stand-ins for the Kubernetes API: what one health check after another does to
spec.activeRegion, the ConfigMap, the status and the events."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from kubernetes.client.exceptions import ApiException
from op_calls import CallCounter
from op_factories import spec

from forumdb.tables import KINDS, create_table_request, table_def, table_name
from forumdb_emulator import mock_aws_ext
from forumdb_operator import awsclients, health
from forumdb_operator.kube import Kube

NS, NAME = "ns1", "forum"
PRIMARY, DR = "us-east-1", "us-west-2"
CM = f"forumdb-{NAME}"


class FakeCore:
    def __init__(self, data: dict[str, str] | None) -> None:
        self.data = data
        self.patches: list[dict[str, Any]] = []

    def read_namespaced_config_map(self, name: str, namespace: str) -> Any:
        if self.data is None or (name, namespace) != (CM, NS):
            raise ApiException(status=404, reason="Not Found")
        return SimpleNamespace(data=dict(self.data))

    def patch_namespaced_config_map(self, name: str, namespace: str, body: dict) -> None:
        assert self.data is not None
        self.patches.append(body)
        self.data.update(body["data"])


class FakeCustom:
    def __init__(self) -> None:
        self.spec_patches: list[dict[str, Any]] = []
        self.status_patches: list[dict[str, Any]] = []

    def patch_namespaced_custom_object(self, group, version, ns, plural, name, body) -> None:
        assert (ns, name) == (NS, NAME)
        self.spec_patches.append(body["spec"])

    def patch_namespaced_custom_object_status(
        self, group, version, ns, plural, name, body, _content_type=None
    ) -> None:
        self.status_patches.append(body["status"])


@pytest.fixture
def ext(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", PRIMARY)
    with mock_aws_ext() as control:
        for region in (PRIMARY, DR):
            ddb = boto3.client("dynamodb", region_name=region)
            for kind in KINDS:
                ddb.create_table(**create_table_request(table_def(kind), table_name(kind)))
        yield control


class World:
    """One resource as the health daemon sees it, tick after tick."""

    def __init__(self, raw_spec: dict[str, Any], ready: bool = True) -> None:
        self.spec = raw_spec
        self.status: dict[str, Any] = {"readyGeneration": 1} if ready else {}
        self.core = FakeCore({"AWS_REGION": PRIMARY, "TABLE_PREFIX": "forum-"})
        self.custom = FakeCustom()
        self.monitor = health.Monitor(NS, NAME)
        self.calls = CallCounter()  # the calls of the last tick, the probe threads' included
        self.clients = self.calls.wrap(awsclients.Clients(config=health.probe_config(1.0)))

    def tick(self, annotations: dict[str, str] | None = None) -> list[Any]:
        self.calls.reset()
        events = self.monitor.tick(
            raw_spec=self.spec,
            annotations=annotations or {},
            live_status=self.status,
            clients=self.clients,
            kube=Kube(self.core, self.custom),  # type: ignore[arg-type]
        )
        for patch in self.custom.spec_patches:  # the watch brings the spec back
            self.spec = {**self.spec, **patch}
        if self.custom.status_patches:
            self.status = {**self.status, **self.custom.status_patches[-1]}
        return events


def automatic(**failover: Any) -> dict[str, Any]:
    return spec(
        primaryRegion=PRIMARY,
        replicaRegions=[DR],
        failover={"mode": "Automatic", "healthCheckIntervalSeconds": 1, "failureThreshold": 3}
        | failover,
    )


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status.get("conditions", [])}


def test_healthy_steady_state_reads_only_and_writes_status_once(ext):
    w = World(automatic())
    assert w.tick() == []
    assert w.status["activeRegion"] == PRIMARY
    assert w.status["health"] == "Healthy"
    assert [r["region"] for r in w.status["regionHealth"]] == [PRIMARY, DR]
    # Nothing happened: no failover conditions next to the reconcile's.
    assert "FailedOver" not in conditions(w.status)
    assert "RegionsHealthy" not in conditions(w.status)
    for _ in range(3):
        assert w.tick() == []
    assert len(w.custom.status_patches) == 1  # nothing changed after the first check
    assert w.core.patches == []
    assert w.custom.spec_patches == []
    # Tables described by the first check only (then at the drift pace); each check reads the
    # sentinel key in each region (the data plane), nothing else.
    assert w.calls.writes == []
    assert w.calls.by_operation() == {"dynamodb:GetItem": 2}


def test_a_resource_refused_for_another_ones_tables_gets_no_health_of_them(ext):
    """The tables under its prefix are another resource's (the reconcile refused it): the
    health check neither probes them nor shows them healthy, and never fails over."""
    w = World(automatic())
    w.status["conditions"] = [
        {"type": "TablesReady", "status": "False", "reason": "TableOwnedByAnother"}
    ]
    assert w.tick() == []
    assert w.calls.calls == []
    assert w.custom.status_patches == []
    assert w.core.patches == []


def test_automatic_failover_after_threshold_then_no_failback(ext):
    w = World(automatic())
    w.tick()
    ext.region_outage(PRIMARY)
    for _ in range(2):
        assert w.tick() == []
    assert w.status["health"] == "Failing: us-east-1"
    assert conditions(w.status)["RegionsHealthy"]["reason"] == "ChecksFailing"
    assert w.core.data["AWS_REGION"] == PRIMARY

    events = w.tick()  # the third failed check in a row
    assert [e.reason for e in events] == ["FailedOver"]
    assert "from us-east-1 to us-west-2" in events[0].message
    # The decision is the operator's: it lives in status, the user's spec stays as it was.
    assert w.custom.spec_patches == []
    assert w.core.data["AWS_REGION"] == DR
    assert w.status["activeRegion"] == DR
    assert w.status["lastFailover"]["mode"] == "Automatic"
    failed_over = conditions(w.status)["FailedOver"]
    assert (failed_over["status"], failed_over["reason"]) == ("True", "Automatic")

    ext.region_outage(PRIMARY, down=False)
    for _ in range(5):
        assert w.tick() == []
    assert w.status["health"] == "Healthy"
    assert conditions(w.status)["RegionsHealthy"]["status"] == "True"
    assert w.core.data["AWS_REGION"] == DR  # no automatic failback
    assert w.custom.spec_patches == []


def test_short_outage_below_threshold_causes_no_switch(ext):
    w = World(automatic())
    for _ in range(3):
        w.tick()
        ext.region_outage(PRIMARY)
        w.tick()
        w.tick()
        ext.region_outage(PRIMARY, down=False)
    w.tick()
    assert w.custom.spec_patches == []
    assert w.core.data["AWS_REGION"] == PRIMARY
    assert w.status["activeRegion"] == PRIMARY
    assert "FailedOver" not in conditions(w.status)
    assert conditions(w.status)["RegionsHealthy"]["status"] == "True"  # seen failing, recovered


def test_manual_mode_warns_once_and_stays(ext):
    w = World(automatic(mode="Manual"))
    w.tick()
    ext.region_outage(PRIMARY)
    warnings = [e for _ in range(6) for e in w.tick()]
    assert [e.reason for e in warnings] == ["ActiveRegionDown"]
    assert "failover mode is Manual" in warnings[0].message
    assert w.custom.spec_patches == []
    assert w.core.data["AWS_REGION"] == PRIMARY
    assert conditions(w.status)["RegionsHealthy"]["reason"] == "ActiveRegionDown"


def test_manual_failover_and_failback_follow_spec_active_region(ext):
    w = World(automatic(mode="Manual"))
    w.tick()
    w.spec = {**w.spec, "activeRegion": DR}
    events = w.tick()
    assert [e.reason for e in events] == ["ActiveRegionChanged"]
    assert w.core.data["AWS_REGION"] == DR
    assert conditions(w.status)["FailedOver"]["reason"] == "Manual"
    w.spec = {**w.spec, "activeRegion": PRIMARY}
    assert [e.reason for e in w.tick()] == ["ActiveRegionChanged"]
    assert w.core.data["AWS_REGION"] == PRIMARY
    assert conditions(w.status)["FailedOver"]["status"] == "False"


def test_no_failover_before_the_resource_was_ready(ext):
    w = World(automatic(), ready=False)
    ext.region_outage(PRIMARY)
    for _ in range(5):
        assert w.tick() == []
    assert w.custom.spec_patches == []
    assert w.status["health"] == "Down: us-east-1"


def test_no_healthy_replica_means_no_switch(ext):
    w = World(automatic())
    w.tick()
    ext.region_outage(PRIMARY)
    ext.region_outage(DR)
    events = [e for _ in range(4) for e in w.tick()]
    assert [e.reason for e in events] == ["ActiveRegionDown"]
    assert "no healthy replica region" in events[0].message
    assert w.core.data["AWS_REGION"] == PRIMARY


def test_reconcile_conditions_keep_the_monitors(ext):
    w = World(automatic(mode="Manual"))
    w.tick()
    ready = {"type": "Ready", "status": "True", "reason": "Ready", "message": "ok"}
    assert w.monitor.conditions_with_failover([ready], "t1") == [ready]
    w.spec = {**w.spec, "activeRegion": DR}
    w.tick()
    for now in ("t2", "t3"):  # no duplicates from one publication to the next
        merged = w.monitor.conditions_with_failover([ready], now)
        assert [c["type"] for c in merged] == ["Ready", "FailedOver"]
    assert w.status["conditions"][-1]["type"] == "FailedOver"


def test_restarted_operator_keeps_showing_the_conditions_it_showed(ext):
    w = World(automatic())
    w.status["conditions"] = [
        {"type": "FailedOver", "status": "False", "reason": "OnPrimary", "message": "m"}
    ]
    w.tick()
    assert conditions(w.status)["FailedOver"]["reason"] == "OnPrimary"


def after_failover(ext: Any, raw_spec: dict[str, Any] | None = None, *, back: bool = True) -> World:
    """Three failed checks of the primary: the operator switched to DR. Then, with `back`, the
    primary's outage ends."""
    w = World(automatic() if raw_spec is None else raw_spec)
    w.tick()
    ext.region_outage(PRIMARY)
    events = [e for _ in range(3) for e in w.tick()]
    assert [e.reason for e in events] == ["FailedOver"]
    assert (w.status["activeRegion"], w.core.data["AWS_REGION"]) == (DR, DR)
    if back:
        ext.region_outage(PRIMARY, down=False)
    return w


def test_a_spec_reverted_mid_outage_does_not_switch_back(ext):
    """A GitOps tool applies the spec again during the outage (activeRegion unset, as in git):
    the operator wrote nothing there, so the services stay in DR."""
    w = after_failover(ext, back=False)
    w.spec = automatic()  # re-applied from git, unchanged
    for _ in range(3):
        assert w.tick() == []
    assert (w.status["activeRegion"], w.core.data["AWS_REGION"]) == (DR, DR)
    assert w.custom.spec_patches == []


def test_the_decision_survives_a_restart(ext):
    """A new operator process (new monitor) reads the decision back from status."""
    w = after_failover(ext)
    w.monitor = health.Monitor(NS, NAME)
    assert w.monitor.region_in_force(w.spec, {}, w.status) == DR
    assert w.tick() == []
    assert (w.status["activeRegion"], w.core.data["AWS_REGION"]) == (DR, DR)


def test_a_person_fails_back_by_setting_spec_active_region(ext):
    w = after_failover(ext)
    w.spec = {**w.spec, "activeRegion": PRIMARY}  # forumctl failover --to us-east-1
    assert [e.reason for e in w.tick()] == ["ActiveRegionChanged"]
    assert (w.status["activeRegion"], w.core.data["AWS_REGION"]) == (PRIMARY, PRIMARY)
    assert w.status["lastFailover"]["mode"] == "Manual"


def test_a_person_fails_back_with_the_annotation_when_the_spec_already_says_so(ext):
    """spec.activeRegion already names the primary: setting it again changes nothing, so
    forumctl also sets the failover-requested annotation, which hands the choice back."""
    w = after_failover(ext, {**automatic(), "activeRegion": PRIMARY})
    assert w.tick() == []  # the same spec: the decision stays
    assert w.status["activeRegion"] == DR
    events = w.tick(annotations={"forumdb.io/failover-requested": "us-east-1@t1"})
    assert [e.reason for e in events] == ["ActiveRegionChanged"]
    assert (w.status["activeRegion"], w.core.data["AWS_REGION"]) == (PRIMARY, PRIMARY)


def test_manual_mode_takes_the_spec_region_over_an_automatic_decision(ext):
    w = after_failover(ext)
    w.spec = automatic(mode="Manual")
    w.tick()
    assert (w.status["activeRegion"], w.core.data["AWS_REGION"]) == (PRIMARY, PRIMARY)
