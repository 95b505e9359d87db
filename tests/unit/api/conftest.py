"""Fixtures of the API tests: the three services over one store, in both storage modes.

`forum` gives Flask test clients of the users, threads and posts apps, all over the same
store (a JSON data folder in tmp_path, or DynamoDB tables in moto's in-process mock), so a
thread can name a user that the users service created, as in a deployment.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from flask import Flask
from flask.testing import FlaskClient
from moto import mock_aws

from forumdb.config import SETTINGS_ENV_NAMES, SettingsWatcher
from forumdb.tables import KINDS, create_table_request, table_def
from forumdb_services.api.app import create_app
from forumdb_services.storage import open_store

REPO = Path(__file__).resolve().parents[3]
SAMPLE_DATA = REPO / "examples" / "sample-data"
REGION = "us-east-1"
TABLE_PREFIX = "apitest-"

# Variables of forumdb.config that a developer's shell could leak into a test.
_CONFIG_ENV = (*SETTINGS_ENV_NAMES, "PROMETHEUS_MULTIPROC_DIR")


@pytest.fixture(autouse=True)
def _clean_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)


def create_tables(region: str = REGION, prefix: str = TABLE_PREFIX) -> None:
    client = boto3.client("dynamodb", region_name=region)
    for kind in KINDS:
        client.create_table(
            **create_table_request(table_def(kind), prefix + table_def(kind).logical_name)
        )


@dataclass
class Forum:
    """The three services of one deployment, over one store."""

    mode: str
    apps: dict[str, Flask]

    def client(self, service: str) -> FlaskClient:
        return self.apps[service].test_client()

    @property
    def users(self) -> FlaskClient:
        return self.client("users")

    @property
    def threads(self) -> FlaskClient:
        return self.client("threads")

    @property
    def posts(self) -> FlaskClient:
        return self.client("posts")

    def user(self, username: str = "finn", **fields: Any) -> dict[str, Any]:
        response = self.users.post("/api/users", json={"username": username, **fields})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def thread(self, created_by: int, title: str = "Party?", **fields: Any) -> dict[str, Any]:
        response = self.threads.post(
            "/api/threads", json={"title": title, "createdBy": created_by, **fields}
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def post(self, thread: int, user: int, text: str = "Mathematical!") -> dict[str, Any]:
        response = self.posts.post(
            "/api/posts", json={"thread": thread, "user": user, "text": text}
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()


def json_watcher(data_dir: Path, **overrides: Any) -> SettingsWatcher:
    return SettingsWatcher(STORAGE_MODE="json", DATA_DIR=str(data_dir), **overrides)


def dynamo_watcher(**overrides: Any) -> SettingsWatcher:
    return SettingsWatcher(
        STORAGE_MODE="dynamodb", AWS_REGION=REGION, TABLE_PREFIX=TABLE_PREFIX, **overrides
    )


def forum_of(mode: str, watcher_factory: Any) -> Forum:
    # One store shared by the three apps: opening a boto3 client per app costs more than
    # most tests do.
    store = open_store(watcher_factory().current())
    return Forum(mode, {kind: create_app(kind, watcher_factory(), store) for kind in KINDS})


@pytest.fixture
def mocked_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's in-process mock (the harness's `aws` fixture is the moto server instead)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        yield


@pytest.fixture(params=["json", "dynamodb"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def forum(mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> Forum:
    """An empty forum in each storage mode."""
    if mode == "json":
        return forum_of(mode, lambda: json_watcher(tmp_path / "data"))
    request.getfixturevalue("mocked_aws")
    create_tables()
    return forum_of(mode, dynamo_watcher)


@pytest.fixture
def json_forum(tmp_path: Path) -> Forum:
    return forum_of("json", lambda: json_watcher(tmp_path / "data"))


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    """A DATA_DIR holding the classic sample's three db.json files, as they are."""
    target = tmp_path / "sample"
    shutil.copytree(SAMPLE_DATA, target)
    return target
