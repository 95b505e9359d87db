"""forumctl unit tests: the CLI through click's CliRunner against in-process moto (with the
forumdb extension, for replicas and backups)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from forumctl.dev.state import DevState, save_state
from forumctl.main import cli
from forumdb.config import SETTINGS_ENV_NAMES
from forumdb_emulator import mock_aws_ext

REGION = "us-east-1"
SAMPLE_DIR = Path(__file__).resolve().parents[3] / "examples" / "sample-data"

_CONFIG_ENV = (*SETTINGS_ENV_NAMES, "AWS_PROFILE", "KUBECONFIG")


@dataclass
class Run:
    result: Result

    @property
    def code(self) -> int:
        return self.result.exit_code

    @property
    def stdout(self) -> str:
        return self.result.stdout

    @property
    def stderr(self) -> str:
        return self.result.stderr

    @property
    def json(self) -> Any:
        return json.loads(self.result.stdout)


def forumctl(*args: str, expect: int | None = 0) -> Run:
    """Runs forumctl in this process; checks the exit code unless `expect` is None."""
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    run = Run(result)
    if expect is not None:
        assert run.code == expect, (
            f"forumctl {' '.join(args)} exited {run.code}, expected {expect}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return run


def recorded_dev_state(state_dir: Path, **fields: Any) -> DevState:
    """A state folder recording a complete DynamoDB-mode stack (no process started): what
    `forumctl dev env|status|down` read; `fields` override or add to its settings."""
    state = DevState(
        **{
            "mode": "dynamodb",
            "checkout": state_dir.parent,
            "complete": True,
            "kubeconfig": state_dir / "apiserver" / "kubeconfig",
            "aws_endpoint": "http://127.0.0.1:5999",
            "primary_region": "eu-west-1",
            **fields,
        }
    )
    save_state(state_dir, state)
    return state


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _CONFIG_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """In-process moto with the extension; boto3 and forumctl pointed at it in REGION."""
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    with mock_aws_ext() as control:
        yield control


@pytest.fixture
def dynamodb(moto: Any) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def scan_all(client: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        resp = client.scan(**kwargs)
        items.extend(resp["Items"])
        if "LastEvaluatedKey" not in resp:
            return items
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
