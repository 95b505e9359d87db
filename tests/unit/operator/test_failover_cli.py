"""`forumctl failover` against a stand-in for the Kubernetes API: which regions it accepts,
the health guard, --dry-run, and waiting for the operator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from forumctl import failover_cmd
from forumctl.main import cli

PRIMARY, DR = "us-east-1", "us-west-2"


class FakeKube:
    """One ForumDatabase `forum` in `ns1` and its ConfigMap; an operator that follows the spec
    on the next read when `operator_running`."""

    def __init__(self, obj: dict[str, Any], operator_running: bool = True) -> None:
        self.obj = obj
        self.cm_region = obj["status"].get("activeRegion", PRIMARY)
        self.operator_running = operator_running
        self.patches: list[dict[str, Any]] = []
        self.default_namespace = "ns1"
        self.custom = self

    def __call__(self, kubeconfig: str | None) -> FakeKube:
        return self

    def call(self, what: str, fn: Any, *args: Any) -> Any:
        return fn(*args)

    def patch_namespaced_custom_object(self, group, version, ns, plural, name, body) -> None:
        self.patches.append(body)
        self.obj["spec"].update(body["spec"])

    def forumdb(self, name: str, ns: str) -> dict[str, Any]:
        assert (name, ns) == ("forum", "ns1")
        if self.operator_running and "activeRegion" in self.obj["spec"]:
            self.obj["status"]["activeRegion"] = self.cm_region = self.obj["spec"]["activeRegion"]
        return json.loads(json.dumps(self.obj))

    def configmap_region(self, name: str, ns: str) -> str | None:
        return self.cm_region


def resource(**status: Any) -> dict[str, Any]:
    return {
        "spec": {"primaryRegion": PRIMARY, "replicaRegions": [DR]},
        "status": {"activeRegion": PRIMARY, "configMap": "forumdb-forum", **status},
    }


@pytest.fixture
def kube(monkeypatch: pytest.MonkeyPatch):
    def install(fake: FakeKube) -> FakeKube:
        monkeypatch.setattr(failover_cmd, "_Kube", fake)
        monkeypatch.setattr(failover_cmd, "POLL_SECONDS", 0.01)
        return fake

    return install


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["failover", "--forumdb", "forum", *args])


def test_switches_and_waits_for_status_and_configmap(kube):
    fake = kube(FakeKube(resource()))
    result = run("--to", DR, "-o", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["previousRegion"], doc["activeRegion"], doc["configmapRegion"]) == (
        PRIMARY,
        DR,
        DR,
    )
    # spec.activeRegion and a new failover-requested annotation (which hands the choice back to
    # the spec after an automatic failover, even when spec.activeRegion already said DR).
    assert [p["spec"] for p in fake.patches] == [{"activeRegion": DR}]
    requested = fake.patches[0]["metadata"]["annotations"]["forumdb.io/failover-requested"]
    assert requested.startswith(f"{DR}@")
    assert run("--to", DR, "-o", "json").exit_code == 0
    again = fake.patches[1]["metadata"]["annotations"]["forumdb.io/failover-requested"]
    assert again != requested


def test_refuses_a_region_that_is_neither_primary_nor_replica(kube):
    fake = kube(FakeKube(resource()))
    result = run("--to", "eu-west-1")
    assert result.exit_code == 2
    assert "eu-west-1 is not a region of ForumDatabase ns1/forum" in result.stderr
    assert fake.patches == []


def test_unmanaged_replicas_come_from_the_status(kube):
    obj = resource(
        regions=[{"region": PRIMARY, "role": "primary"}, {"region": DR, "role": "replica"}]
    )
    del obj["spec"]["replicaRegions"]
    kube(FakeKube(obj))
    assert run("--to", DR).exit_code == 0


def test_unhealthy_target_needs_force(kube):
    unhealthy = [{"region": DR, "healthy": False, "consecutiveFailures": 4, "lastError": "boom"}]
    fake = kube(FakeKube(resource(regionHealth=unhealthy)))
    refused = run("--to", DR)
    assert refused.exit_code == 1
    assert "us-west-2 failed its last 4 health checks: boom" in refused.stderr
    assert fake.patches == []
    assert run("--to", DR, "--force").exit_code == 0
    assert [p["spec"] for p in fake.patches] == [{"activeRegion": DR}]


def test_dry_run_changes_nothing(kube):
    fake = kube(FakeKube(resource()))
    result = run("--to", DR, "--dry-run", "-o", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["dryRun"] is True
    assert fake.patches == []


def test_operator_that_does_not_follow_fails_after_the_timeout(kube):
    kube(FakeKube(resource(), operator_running=False))
    result = run("--to", DR, "--timeout", "1")
    assert result.exit_code == 1
    assert "has not switched ns1/forum to us-west-2 within 1 s" in result.stderr
