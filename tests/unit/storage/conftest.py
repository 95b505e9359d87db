"""Fixtures of the storage contract suite: each backend behind the same `store` fixture."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from forumdb import aws
from forumdb.tables import KINDS, create_table_request, table_def, table_name
from forumdb_services.storage.base import Store
from forumdb_services.storage.dynamodb import DynamoStore
from forumdb_services.storage.jsonstore import JsonStore

REGION = "us-east-1"
TABLE_PREFIX = "test-"


FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
}


@pytest.fixture(scope="module")
def moto_client() -> Iterator[Any]:
    """moto's in-process mock for the module and one client into it: making a boto3 client
    costs ~0.2 s, a set of tables ~25 ms, so tests share the client and get fresh tables."""
    with pytest.MonkeyPatch.context() as mp:
        # Fake credentials and no endpoint, so the in-process mock answers every call.
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            mp.delenv(name, raising=False)
        for name, value in FAKE_AWS_ENV.items():
            mp.setenv(name, value)
        with mock_aws():
            client = aws.client("dynamodb", REGION)
            yield client
            client.close()


_prefixes = itertools.count()


def make_tables(client: Any, prefix: str = TABLE_PREFIX) -> dict[str, str]:
    names = {kind: table_name(kind, prefix) for kind in KINDS}
    for kind, name in names.items():
        client.create_table(**create_table_request(table_def(kind), name))
    return names


@pytest.fixture
def table_names(moto_client: Any) -> dict[str, str]:
    """A fresh set of the three tables, named apart from every other test's."""
    return make_tables(moto_client, f"{TABLE_PREFIX}{next(_prefixes)}-")


@pytest.fixture
def dynamodb_store(moto_client: Any, table_names: dict[str, str]) -> DynamoStore:
    return DynamoStore(table_names, region=REGION, client=moto_client)


@pytest.fixture
def json_store(tmp_path: Path) -> Iterator[JsonStore]:
    store = JsonStore(tmp_path / "data")
    yield store
    store.close()


@pytest.fixture(params=["json", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Store:
    return request.getfixturevalue(f"{request.param}_store")
