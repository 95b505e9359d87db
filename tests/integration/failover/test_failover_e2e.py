"""Regional failover end to end: a real kube-apiserver, the moto server with global tables and
region outages, forum-operator, and a real forum-service whose config folder follows the
operator's ConfigMap (as the kubelet would keep a mounted ConfigMap), written to steadily by a
client. Every wait is on observed state (the ConfigMap, the status, the operator's health-check
count, acknowledged writes), never a fixed sleep; times are neither asserted nor reported here:
bench/failover_bench.py measures them (detection, switch, and the writes in the RPO window)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from failover_kit import (
    DR,
    NAME,
    PRIMARY,
    ConfigMirror,
    OutageRun,
    Service,
    StatusReader,
    Writer,
    acked_before,
    acked_since,
    forumdatabase,
    measure_outage,
    missing_acks,
    start_service,
    wait_for_health_checks,
)

from harness.kube import forumdb_status, wait_for_phase
from harness.procs import wait_for

pytestmark = [pytest.mark.apiserver, pytest.mark.slow]

FORUMCTL = Path(sys.executable).with_name("forumctl")


@dataclass
class Deployment:
    namespace: str
    mirror: ConfigMirror
    service: Service
    env: dict[str, str]  # KUBECONFIG and the moto server's AWS settings, for forumctl
    metrics_url: str  # the operator's /metrics
    status: StatusReader

    def forumctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(FORUMCTL), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )


@pytest.fixture
def deploy(apiserver, kubectl, namespace, aws, operator_runner, tmp_path) -> Iterator[Any]:
    """deploy(**forumdatabase args) -> a Ready ForumDatabase with a service in front of it."""
    started: list[Deployment] = []

    def make(lag_seconds: float = 0, **spec: Any) -> Deployment:
        aws.control.set_replication(replica_activation_calls=2, lag_seconds=lag_seconds)
        # No periodic drift reconcile (the spec and phase still wake it); the health checks'
        # probe calls (GetItem of the sentinel) are what wait_for_health_checks counts.
        op = operator_runner.start("--namespace", namespace, FORUMDB_DRIFT_INTERVAL="3600")
        op.wait_healthy()
        kubectl.apply(forumdatabase(**spec), namespace=namespace)
        wait_for_phase(kubectl, NAME, namespace, "Ready", timeout=120)
        mirror = ConfigMirror(apiserver.kubeconfig, namespace, f"forumdb-{NAME}", tmp_path / "cm")
        mirror.start()
        service = start_service(tmp_path / "cm", aws.env, tmp_path)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            **aws.env,
            **apiserver.env,
        }
        status = StatusReader(apiserver.kubeconfig, namespace)
        d = Deployment(namespace, mirror, service, env, op.metrics_url, status)
        started.append(d)
        wait_for(lambda: service.ready()["storage"]["region"] == PRIMARY, timeout=30)
        return d

    yield make
    for d in started:
        d.mirror.stop()
        d.service.stop()
        print(f"---- forum-service log tail\n{d.service.log_file.read_text()[-3000:]}")


def events(kubectl, namespace: str, reason: str) -> list[dict[str, Any]]:
    items = kubectl.json("get", "events", "-n", namespace)["items"]
    return [e for e in items if e.get("reason") == reason]


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status.get("conditions", []) if c["type"] == kind)


def write_through_outage(d: Deployment, aws: Any) -> tuple[OutageRun, Writer]:
    writer = Writer(d.service.url).start()
    wait_for(lambda: len(writer.acks) >= 10, timeout=60, what="10 writes before the outage")
    return outage_under_writes(d, aws, writer), writer


def outage_under_writes(d: Deployment, aws: Any, writer: Writer) -> OutageRun:
    """The primary goes down under `writer`; returns once 10 writes were acknowledged in the
    DR region, with the writer stopped."""
    run = measure_outage(aws.control, d.mirror, writer, region=PRIMARY, to=DR, timeout=90)
    acked = len(writer.acks)
    wait_for(lambda: len(writer.acks) >= acked + 10, timeout=60, what="10 writes in the DR region")
    writer.stop()
    return run


def test_automatic_failover_keeps_every_acknowledged_write(deploy, aws, kubectl):
    d = deploy(mode="Automatic", interval=1, threshold=3)
    _, writer = write_through_outage(d, aws)
    assert missing_acks(d.service.url, writer.acks) == []

    status = forumdb_status(kubectl, NAME, d.namespace)
    assert status["activeRegion"] == DR
    assert (
        condition(status, "FailedOver")["status"],
        condition(status, "FailedOver")["reason"],
    ) == (
        "True",
        "Automatic",
    )
    assert status["lastFailover"]["from"] == PRIMARY
    assert status["lastFailover"]["mode"] == "Automatic"
    # The decision lives in status: the user's spec (what a GitOps tool would restore) is untouched.
    spec = kubectl.json("get", "forumdb", NAME, "-n", d.namespace)["spec"]
    assert "activeRegion" not in spec
    assert events(kubectl, d.namespace, "FailedOver")
    ready = d.service.ready()
    assert ready["storage"]["region"] == DR
    assert d.service.region_gauge() == {PRIMARY: 0.0, DR: 1.0}

    # The primary comes back: the services stay in the DR region until told otherwise.
    aws.control.region_outage(PRIMARY, down=False)
    wait_for(
        lambda: forumdb_status(kubectl, NAME, d.namespace).get("health") == "Healthy",
        timeout=60,
        what="both regions healthy again",
    )
    wait_for_health_checks(d.metrics_url, PRIMARY, checks=3)
    assert forumdb_status(kubectl, NAME, d.namespace)["activeRegion"] == DR
    assert d.mirror.region == DR
    assert len(events(kubectl, d.namespace, "FailedOver")) == 1


def test_replication_lag_bounds_the_rpo(deploy, aws, kubectl):
    """With replication lag, writes acknowledged in the primary shortly before the outage may
    not be in the DR region at the switch: that window is the RPO, and the lag bounds it.
    Every write acknowledged longer than the lag before the check is readable in DR; once the
    primary is back the window's writes arrive too (committed writes replicate eventually);
    those acknowledged after the switch went to DR itself. How many writes fall in the window
    is a figure, measured by bench/failover_bench.py."""
    lag = 3.0
    d = deploy(lag_seconds=lag, mode="Automatic", interval=1, threshold=3)
    writer = Writer(d.service.url).start()
    # Writes older than the lag at the outage: without them the bound below would hold vacuously.
    wait_for(
        lambda: writer.acks and writer.acks[0].at < time.monotonic() - lag - 0.5,
        timeout=60,
        what=f"writes acknowledged over {lag} s before the outage",
    )
    run = outage_under_writes(d, aws, writer)
    before = acked_before(writer.acks, run.switched_at)
    checked_at = time.monotonic()
    not_yet = missing_acks(d.service.url, before)

    # The emulator makes a write visible in DR `lag` seconds after it was applied in the
    # primary, and the write was applied before it was acknowledged; a read that finds it
    # missing came after `checked_at`: so a missing write was acknowledged after
    # checked_at - lag. Both clocks are the host's monotonic clock.
    old = [a for a in before if a.at <= checked_at - lag]
    assert old, "no write older than the lag: the bound would hold vacuously"
    assert [a for a in not_yet if a.at <= checked_at - lag] == []
    assert missing_acks(d.service.url, acked_since(writer.acks, run.switched_at)) == []
    assert d.service.ready()["storage"]["region"] == DR

    aws.control.region_outage(PRIMARY, down=False)
    wait_for(
        lambda: missing_acks(d.service.url, before) == [],
        timeout=lag + 30,
        what=f"the writes of the RPO window ({len(not_yet)} at the check) replicated to {DR}",
    )


def test_short_outages_cause_no_switch(deploy, aws, kubectl):
    d = deploy(mode="Automatic", interval=1, threshold=4)
    for _ in range(3):
        aws.control.region_outage(PRIMARY)
        # Two failed checks, then the region is back: under the threshold of four.
        wait_for(
            lambda: d.status.failures(PRIMARY) >= 2,
            timeout=30,
            interval=0.05,
            what=f"two failed checks of {PRIMARY}",
        )
        aws.control.region_outage(PRIMARY, down=False)
        wait_for(
            lambda: d.status.failures(PRIMARY) == 0,
            timeout=30,
            what=f"a passing check of {PRIMARY}",
        )
    assert aws.control.stats()["injected"].get("outage", 0) > 0  # the checks saw the outages
    # A late switch would come within a few checks.
    wait_for_health_checks(d.metrics_url, PRIMARY, checks=4)
    status = forumdb_status(kubectl, NAME, d.namespace)
    assert status["activeRegion"] == PRIMARY
    assert "FailedOver" not in {c["type"] for c in status["conditions"]}
    assert "activeRegion" not in kubectl.json("get", "forumdb", NAME, "-n", d.namespace)["spec"]
    assert events(kubectl, d.namespace, "FailedOver") == []
    assert d.mirror.region == PRIMARY
    assert d.service.ready()["storage"]["region"] == PRIMARY


def test_manual_failover_and_failback_with_forumctl(deploy, aws, kubectl):
    d = deploy(mode="Manual", interval=1, threshold=3, backups=True)
    ns = ["--forumdb", NAME, "--namespace", d.namespace]
    refused = d.forumctl("failover", "--to", "eu-west-1", *ns)
    assert refused.returncode == 2, refused.stderr
    assert "not a region of ForumDatabase" in refused.stderr

    out = d.forumctl("failover", "--to", DR, *ns, "-o", "json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert (result["previousRegion"], result["activeRegion"]) == (PRIMARY, DR)
    assert result["configmapRegion"] == DR
    wait_for(lambda: d.service.ready()["storage"]["region"] == DR, timeout=30, what="service in DR")
    writer = Writer(d.service.url).start()
    wait_for(lambda: len(writer.acks) >= 5, timeout=30, what="writes in the DR region")
    writer.stop()
    assert events(kubectl, d.namespace, "ActiveRegionChanged")

    plan_id = forumdb_status(kubectl, NAME, d.namespace)["backups"]["planId"]
    aws.control.run_backup_plan_now(plan_id)  # a recovery point (and its copy in DR)
    verify = d.forumctl("verify", "--region", DR, *ns, "-o", "json")
    assert verify.returncode == 0, verify.stdout + verify.stderr

    back = d.forumctl("failover", "--to", PRIMARY, *ns)
    assert back.returncode == 0, back.stderr
    wait_for(lambda: d.service.ready()["storage"]["region"] == PRIMARY, timeout=30, what="failback")
    assert condition(forumdb_status(kubectl, NAME, d.namespace), "FailedOver")["status"] == "False"
    # What was written in the DR region is in the primary too (replication lag 0).
    assert missing_acks(d.service.url, writer.acks) == []
