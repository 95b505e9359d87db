"""The real `forum-service` (granian) over HTTP: DynamoDB mode against a moto server on
127.0.0.1, and JSON mode with two workers sharing one data folder."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import boto3
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from forumdb.tables import KINDS, create_table_request, table_def
from harness.motoserver import MotoServer
from harness.procs import wait_for

from .conftest import ServiceProcess, ServiceRunner

REPO = Path(__file__).resolve().parents[3]
PREFIX = "e2e-"

pytestmark = pytest.mark.slow


def _create_tables(aws: MotoServer, region: str | None = None) -> None:
    client = boto3.client("dynamodb", endpoint_url=aws.url, region_name=region or aws.region)
    for kind in KINDS:
        td = table_def(kind)
        client.create_table(**create_table_request(td, PREFIX + td.logical_name))


def _counter(service: ServiceProcess, labels: dict[str, str]) -> float:
    text = requests.get(f"{service.url}/metrics", timeout=5).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "forumdb_http_requests_total" and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                total += sample.value
    return total


def test_dynamodb_mode_against_moto_server(aws: MotoServer, service_runner: ServiceRunner) -> None:
    _create_tables(aws)
    env = {**aws.env, "STORAGE_MODE": "dynamodb", "TABLE_PREFIX": PREFIX}
    users = service_runner.start("users", env)
    threads = service_runner.start("threads", env)
    posts = service_runner.start("posts", env)

    ready = requests.get(f"{users.url}/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert body["storage"]["mode"] == "dynamodb"
    assert body["storage"]["region"] == aws.region
    assert "e2e-Users" not in ready.text  # no table names to an anonymous client
    assert body["checks"] == {"users": {"ok": True, "status": "ACTIVE"}}
    assert requests.get(f"{users.url}/api/", timeout=5).text == "API ready to receive requests"

    made = requests.post(
        f"{users.url}/api/users",
        json={"username": "finn", "name": "Finn", "email": "finn@ooo.land"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    finn = made.json()
    assert made.headers["ETag"] == '"1"'
    assert requests.get(f"{users.url}/api/users/{finn['id']}", timeout=5).json() == finn
    assert requests.get(f"{users.url}/api/users/by-email/finn@ooo.land", timeout=5).json() == finn
    assert requests.get(f"{users.url}/api/users", timeout=5).json() == [finn]

    thread = requests.post(
        f"{threads.url}/api/threads", json={"title": "Lich?", "createdBy": finn["id"]}, timeout=10
    ).json()
    assert thread["createdBy"] == finn["id"]
    second = requests.post(
        f"{threads.url}/api/threads", json={"title": "Party", "createdBy": finn["id"]}, timeout=10
    ).json()
    listed = requests.get(f"{threads.url}/api/threads?limit=1", timeout=5)
    assert [t["id"] for t in listed.json()] == [second["id"]]
    assert listed.headers["Link"].endswith('>; rel="next"')
    rest = requests.get(
        f"{threads.url}/api/threads", params={"cursor": listed.headers["X-Next-Cursor"]}, timeout=5
    )
    assert [t["id"] for t in rest.json()] == [thread["id"]]

    post = requests.post(
        f"{posts.url}/api/posts",
        json={"thread": thread["id"], "user": finn["id"], "text": "anyone?"},
        timeout=10,
    ).json()
    assert requests.get(f"{posts.url}/api/posts/in-thread/{thread['id']}", timeout=5).json() == [
        post
    ]
    assert requests.get(f"{posts.url}/api/posts/by-user/{finn['id']}", timeout=5).json() == [post]

    # Optimistic concurrency over HTTP.
    url = f"{posts.url}/api/posts/{post['id']}"
    assert (
        requests.patch(url, json={"text": "v2"}, headers={"If-Match": '"1"'}, timeout=5).status_code
        == 200
    )
    stale = requests.patch(url, json={"text": "lost"}, headers={"If-Match": '"1"'}, timeout=5)
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "version_conflict"
    assert requests.delete(url, headers={"If-Match": '"2"'}, timeout=5).status_code == 204
    assert requests.get(url, timeout=5).status_code == 404

    # Bad input is a JSON 4xx through the server too.
    bad = requests.post(
        f"{users.url}/api/users",
        data="{nope",
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "body"
    huge = requests.post(f"{users.url}/api/users", json={"username": "x" * 100_000}, timeout=5)
    assert huge.status_code == 413

    # One JSON access line per request, with the request id a client sent.
    request_id = uuid.uuid4().hex
    requests.get(
        f"{users.url}/api/users/{finn['id']}", headers={"X-Request-Id": request_id}, timeout=5
    )
    (line,) = [e for e in users.access_lines() if e.get("request_id") == request_id]
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert line["service"] == "users"
    assert line["route"] == "/api/users/<record_id>"


def test_json_mode_two_workers_share_the_store(
    service_runner: ServiceRunner, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(REPO / "examples" / "sample-data", data_dir)
    users = service_runner.start(
        "users", {"STORAGE_MODE": "json", "DATA_DIR": str(data_dir)}, workers=2
    )

    sample = requests.get(f"{users.url}/api/users", timeout=5).json()
    assert [u["username"] for u in sample] == ["marceline", "finn", "pb", "jake"]

    # Writes and reads on fresh connections until one worker has read what the other wrote
    # (the access log says which worker process answered each request id).
    written: list[tuple[str, str, int]] = []  # (write request id, read request id, user id)
    crossed = False
    for i in range(200):
        write_id, read_id = f"w{i}-{uuid.uuid4().hex[:8]}", f"r{i}-{uuid.uuid4().hex[:8]}"
        made = requests.post(
            f"{users.url}/api/users",
            json={"username": f"u{i}"},
            headers={"X-Request-Id": write_id, "Connection": "close"},
            timeout=10,
        )
        assert made.status_code == 201, made.text
        got = requests.get(
            f"{users.url}/api/users/{made.json()['id']}",
            headers={"X-Request-Id": read_id, "Connection": "close"},
            timeout=10,
        )
        assert got.status_code == 200, got.text
        assert got.json() == made.json()
        written.append((write_id, read_id, made.json()["id"]))
        if i % 5 == 4:
            served_by = {e["request_id"]: e["pid"] for e in users.access_lines()}
            crossed = any(
                served_by.get(w) is not None
                and served_by.get(r) is not None
                and served_by[w] != served_by[r]
                for w, r, _ in written
            )
            if crossed:
                break
    assert crossed, "no read was served by the other worker than the write in 200 rounds"
    workers = {e["pid"] for e in users.access_lines()}
    assert len(workers) == 2

    # Metrics add up over both workers (prometheus_client multiprocess mode).
    everything = requests.get(f"{users.url}/api/users?limit=1000", timeout=5).json()
    assert len(everything) == 4 + len(written)
    labels = {"service": "users", "route": "/api/users", "method": "POST", "status": "201"}
    assert _counter(users, labels) == len(written)


def test_region_switch_in_the_mounted_config_reaches_every_worker(
    aws: MotoServer, service_runner: ServiceRunner, tmp_path: Path
) -> None:
    """The operator's failover: AWS_REGION changes in the ConfigMap folder, the running
    workers move to the other region's tables without a restart."""
    _create_tables(aws, "us-east-1")
    _create_tables(aws, "us-west-2")
    config = tmp_path / "config"
    config.mkdir()
    for name, value in {
        "STORAGE_MODE": "dynamodb",
        "TABLE_PREFIX": PREFIX,
        "AWS_REGION": "us-east-1",
    }.items():
        (config / name).write_text(value)
    env = {**aws.env, "FORUMDB_CONFIG_DIR": str(config)}
    users = service_runner.start("users", env, workers=2)
    east = requests.post(f"{users.url}/api/users", json={"username": "east"}, timeout=10).json()

    (config / "AWS_REGION").write_text("us-west-2")

    def every_answer_from_west() -> bool:
        # Ten fresh connections, so both workers answer; each must have switched.
        answers = [
            requests.get(f"{users.url}/readyz", headers={"Connection": "close"}, timeout=5).json()
            for _ in range(10)
        ]
        return all(a["storage"]["region"] == "us-west-2" for a in answers)

    wait_for(every_answer_from_west, timeout=30, interval=0.5, what="both workers in us-west-2")
    assert requests.get(f"{users.url}/api/users/{east['id']}", timeout=5).status_code == 404
    west = requests.post(f"{users.url}/api/users", json={"username": "west"}, timeout=10)
    assert west.status_code == 201
    west_table = boto3.client("dynamodb", endpoint_url=aws.url, region_name="us-west-2")
    item = west_table.get_item(
        TableName=f"{PREFIX}Users", Key={"userId": {"N": str(west.json()["id"])}}
    )
    assert item["Item"]["username"] == {"S": "west"}
