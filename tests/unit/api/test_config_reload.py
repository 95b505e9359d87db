"""A changed config folder (the operator's ConfigMap, mounted) reaches a running app: new
requests use a store opened with the new settings, and /readyz says which."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from forumdb.config import Settings, SettingsWatcher, load_settings
from forumdb_services.api.app import create_app
from forumdb_services.api.probes import settings_fingerprint

from .conftest import TABLE_PREFIX, create_tables


def _fingerprint(**values: str) -> str:
    """What /readyz's `config` is for these settings (it shows no data folder itself)."""
    return settings_fingerprint(Settings(**values))


def _write(config_dir: Path, **values: str) -> None:
    for name, value in values.items():
        (config_dir / name).write_text(value)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    return folder


def test_json_data_dir_switch(config_dir: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _write(config_dir, STORAGE_MODE="json", DATA_DIR=str(first))
    client = create_app("users", SettingsWatcher(config_dir, interval=0)).test_client()
    made = client.post("/api/users", json={"username": "finn"}).get_json()
    on_first = _fingerprint(STORAGE_MODE="json", DATA_DIR=str(first))
    assert client.get("/readyz").get_json()["config"] == on_first

    _write(config_dir, DATA_DIR=str(second))
    assert client.get(f"/api/users/{made['id']}").status_code == 404
    assert client.get("/api/users").get_json() == []
    ready = client.get("/readyz").get_json()
    assert ready["config"] == _fingerprint(STORAGE_MODE="json", DATA_DIR=str(second))
    assert ready["config"] != on_first
    assert ready["generation"] == 1

    _write(config_dir, DATA_DIR=str(first))
    assert client.get(f"/api/users/{made['id']}").get_json() == made


@pytest.mark.usefixtures("mocked_aws")
def test_dynamodb_region_failover(config_dir: Path) -> None:
    create_tables("us-east-1")
    create_tables("us-west-2")
    _write(config_dir, STORAGE_MODE="dynamodb", AWS_REGION="us-east-1", TABLE_PREFIX=TABLE_PREFIX)
    client = create_app("users", SettingsWatcher(config_dir, interval=0)).test_client()
    east = client.post("/api/users", json={"username": "east"}).get_json()
    ready = client.get("/readyz").get_json()
    assert ready["storage"] == {"mode": "dynamodb", "region": "us-east-1"}  # no table names

    _write(config_dir, AWS_REGION="us-west-2")  # what the operator does on failover
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready"
    assert ready["storage"]["region"] == "us-west-2"
    assert ready["generation"] == 1
    assert client.get(f"/api/users/{east['id']}").status_code == 404
    west = client.post("/api/users", json={"username": "west"}).get_json()

    _write(config_dir, AWS_REGION="us-east-1")
    assert client.get(f"/api/users/{east['id']}").get_json() == east
    assert client.get(f"/api/users/{west['id']}").status_code == 404


def test_config_dir_from_the_environment(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(config_dir, STORAGE_MODE="json", DATA_DIR=str(tmp_path / "from-config"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("FORUMDB_CONFIG_DIR", str(config_dir))
    client = create_app("threads").test_client()
    ready = client.get("/readyz").get_json()
    # The mounted folder outranks the pod's frozen environment.
    assert ready["storage"] == {"mode": "json"}
    assert ready["config"] == settings_fingerprint(load_settings(config_dir))
    assert ready["config"] != settings_fingerprint(Settings())  # the environment's


def test_half_written_config_keeps_the_old_settings(config_dir: Path, tmp_path: Path) -> None:
    _write(config_dir, STORAGE_MODE="json", DATA_DIR=str(tmp_path / "data"))
    client = create_app("users", SettingsWatcher(config_dir, interval=0)).test_client()
    client.post("/api/users", json={"username": "finn"})
    _write(config_dir, STORAGE_MODE="cassandra")
    assert len(client.get("/api/users").get_json()) == 1
    assert client.get("/readyz").get_json()["storage"]["mode"] == "json"


def _region_gauge(region: str) -> float | None:
    return REGISTRY.get_sample_value("forumdb_storage_region_info", {"region": region})


@pytest.mark.usefixtures("mocked_aws")
def test_the_region_gauge_follows_a_switch_made_before_the_first_request(
    config_dir: Path,
) -> None:
    create_tables("us-east-1")
    create_tables("ap-south-1")
    _write(config_dir, STORAGE_MODE="dynamodb", AWS_REGION="ap-south-1", TABLE_PREFIX=TABLE_PREFIX)
    client = create_app("users", SettingsWatcher(config_dir, interval=0)).test_client()
    assert _region_gauge("ap-south-1") == 1
    _write(config_dir, AWS_REGION="us-east-1")  # switched while the worker was idle
    assert client.get("/readyz").get_json()["storage"]["region"] == "us-east-1"
    assert (_region_gauge("ap-south-1"), _region_gauge("us-east-1")) == (0, 1)


def test_readyz_waits_for_the_configmap_of_an_optional_volume(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The chart mounts the operator's ConfigMap as an optional volume: the pod starts with an
    # empty folder (the kubelet's `..data` link only) and must not report Ready on the
    # environment's defaults; once the files are there it is Ready on them.
    monkeypatch.setenv("STORAGE_MODE", "json")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "from-env"))
    (config_dir / "..data").mkdir()
    client = create_app("users", SettingsWatcher(config_dir, interval=0)).test_client()

    waiting = client.get("/readyz")
    assert waiting.status_code == 503
    body = waiting.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["config"]["ok"] is False
    assert "FORUMDB_CONFIG_DIR" in body["checks"]["config"]["detail"]
    assert str(config_dir) not in waiting.get_data(as_text=True)  # the log has the path
    assert "waiting for the operator's ConfigMap" in body["checks"]["config"]["detail"]
    assert client.get("/healthz").status_code == 200  # alive: no restart for this

    _write(config_dir, STORAGE_MODE="json", DATA_DIR=str(tmp_path / "from-config"))
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert ready.get_json()["config"] == settings_fingerprint(load_settings(config_dir))
