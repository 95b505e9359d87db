"""The operator builds its AWS clients at start (runtime.warm_clients), so that the first
resource's reconcile does not build them while it runs; building makes no AWS call."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from forumdb_operator import awsclients, runtime
from forumdb_operator.awsclients import Clients


class _Built:
    def __init__(self) -> None:
        self.meta = SimpleNamespace(events=SimpleNamespace(register=lambda *_a, **_k: None))


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Every client built, as (service, region), instead of real boto3 clients."""
    out: list[tuple[str, str | None]] = []

    def fake_client(service: str, region: str | None = None, **_: Any) -> _Built:
        out.append((service, region))
        return _Built()

    monkeypatch.setattr(awsclients.aws, "client", fake_client)
    return out


def test_warm_builds_each_client_once_and_later_calls_reuse_it(built: list[Any]) -> None:
    clients = Clients("http://127.0.0.1:9", limiter=None)
    clients.warm(["dynamodb", "backup"], ["us-east-1", "us-west-2"])
    assert sorted(built) == [
        ("backup", "us-east-1"),
        ("backup", "us-west-2"),
        ("dynamodb", "us-east-1"),
        ("dynamodb", "us-west-2"),
    ]
    first = clients("dynamodb", "us-west-2")
    assert clients("dynamodb", "us-west-2") is first
    assert len(built) == 4  # nothing built again


def test_warm_clients_covers_the_reconcile_and_the_probe_clients(built: list[Any]) -> None:
    reconcile, probes = Clients(limiter=None), Clients(limiter=None)
    rt: Any = SimpleNamespace(reconciler=SimpleNamespace(clients=reconcile), probe_clients=probes)
    runtime.warm_clients(rt, ["eu-west-1"])
    assert sorted(built) == sorted(
        [(s, "eu-west-1") for s in runtime.RECONCILE_SERVICES]
        + [(s, "eu-west-1") for s in runtime.PROBE_SERVICES]
    )


def test_default_region_is_aws_region_else_boto3s(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert runtime.default_region() == "eu-central-1"
    monkeypatch.delenv("AWS_REGION")
    assert runtime.default_region() == "eu-west-1"
