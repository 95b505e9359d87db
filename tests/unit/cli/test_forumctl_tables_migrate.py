"""tables create/list/delete and migrate against in-process moto, through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import REGION, SAMPLE_DIR, forumctl, scan_all

from forumctl.errors import ExitCode
from forumdb.tables import USERS, create_table_request


def test_tables_create_is_idempotent(dynamodb: Any) -> None:
    first = forumctl("tables", "create", "-o", "json").json
    assert [t["action"] for t in first["tables"]] == ["created"] * 3
    assert {t["status"] for t in first["tables"]} == {"ACTIVE"}
    again = forumctl("tables", "create", "-o", "json").json
    assert [t["action"] for t in again["tables"]] == ["exists"] * 3
    desc = dynamodb.describe_table(TableName="forum-Posts")["Table"]
    assert {g["IndexName"] for g in desc["GlobalSecondaryIndexes"]} == {"ThreadIndex", "UserIndex"}


def test_tables_create_dry_run_creates_nothing(dynamodb: Any) -> None:
    out = forumctl("tables", "create", "--dry-run", "-o", "json").json
    assert [t["action"] for t in out["tables"]] == ["would create"] * 3
    assert dynamodb.list_tables()["TableNames"] == []


def test_tables_create_refuses_a_table_with_another_layout(dynamodb: Any) -> None:
    req = create_table_request(USERS, "forum-Users")
    del req["GlobalSecondaryIndexes"]
    req["AttributeDefinitions"] = [{"AttributeName": "userId", "AttributeType": "N"}]
    dynamodb.create_table(**req)
    run = forumctl("tables", "create", expect=ExitCode.AWS)
    assert "forum-Users" in run.stderr
    assert "EmailIndex missing" in run.stderr
    assert "Traceback" not in run.stderr


def test_tables_provisioned_needs_capacity(moto: Any) -> None:
    run = forumctl("tables", "create", "--billing-mode", "PROVISIONED", expect=ExitCode.USAGE)
    assert "--read-capacity" in run.stderr


def test_tables_delete_needs_yes_and_deletes(dynamodb: Any) -> None:
    forumctl("tables", "create")
    forumctl("tables", "delete", expect=ExitCode.USAGE)
    dry = forumctl("tables", "delete", "--dry-run", "-o", "json").json
    assert [t["action"] for t in dry["tables"]] == ["would delete"] * 3
    assert len(dynamodb.list_tables()["TableNames"]) == 3
    forumctl("tables", "delete", "--yes")
    assert dynamodb.list_tables()["TableNames"] == []


def test_migrate_sample_then_again_writes_nothing(dynamodb: Any) -> None:
    forumctl("tables", "create")
    first = forumctl("migrate", "--from", str(SAMPLE_DIR), "-o", "json").json
    by_table = {t["table"]: t for t in first["tables"]}
    assert {k: v["written"] for k, v in by_table.items()} == {
        "forum-Users": 4,
        "forum-Threads": 3,
        "forum-Posts": 6,
    }
    assert first["ok"] is True
    assert all(t["verify"]["ok"] for t in first["tables"])
    second = forumctl("migrate", "--from", str(SAMPLE_DIR), "-o", "json").json
    assert [t["written"] for t in second["tables"]] == [0, 0, 0]
    assert [t["unchanged"] for t in second["tables"]] == [4, 3, 6]
    assert [t["sourceChecksum"] for t in second["tables"]] == [
        t["sourceChecksum"] for t in first["tables"]
    ]
    posts = scan_all(dynamodb, "forum-Posts")
    assert len(posts) == 6
    # posts without ids get their 1-based file position; timestamps are deterministic
    first_post = next(p for p in posts if p["postId"] == {"N": "1"})
    assert first_post["threadId"] == {"N": "1"}
    assert first_post["userId"] == {"N": "4"}
    assert first_post["createdAt"] == {"S": "2000-01-01T00:00:01.000000Z"}
    threads = scan_all(dynamodb, "forum-Threads")
    assert {t["entity"]["S"] for t in threads} == {"thread"}


def test_migrate_repairs_a_changed_item(dynamodb: Any) -> None:
    forumctl("tables", "create")
    forumctl("migrate", "--from", str(SAMPLE_DIR))
    dynamodb.update_item(
        TableName="forum-Users",
        Key={"userId": {"N": "1"}},
        UpdateExpression="SET #n = :v",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={":v": {"S": "tampered"}},
    )
    dynamodb.delete_item(TableName="forum-Users", Key={"userId": {"N": "2"}})
    out = forumctl("migrate", "--from", str(SAMPLE_DIR), "--only", "users", "-o", "json").json
    assert out["tables"][0]["written"] == 2
    assert out["tables"][0]["unchanged"] == 2
    assert out["ok"] is True


def test_migrate_dry_run_writes_nothing_and_says_what_it_would(dynamodb: Any) -> None:
    forumctl("tables", "create")
    out = forumctl("migrate", "--from", str(SAMPLE_DIR), "--dry-run", "-o", "json").json
    assert [t["wouldWrite"] for t in out["tables"]] == [4, 3, 6]
    assert out["dryRun"] is True
    for name in ("forum-Users", "forum-Threads", "forum-Posts"):
        assert scan_all(dynamodb, name) == []


def test_migrate_into_missing_tables_says_what_to_do(moto: Any) -> None:
    run = forumctl("migrate", "--from", str(SAMPLE_DIR), expect=ExitCode.AWS)
    assert f"table forum-Users does not exist in {REGION}" in run.stderr
    assert "forumctl tables create" in run.stderr
    assert "Traceback" not in run.stderr


def test_migrate_reports_the_region_it_looked_in(moto: Any) -> None:
    forumctl("tables", "create")
    run = forumctl(
        "migrate", "--from", str(SAMPLE_DIR), "--region", "eu-west-1", expect=ExitCode.AWS
    )
    assert "does not exist in eu-west-1" in run.stderr


def test_migrate_bad_input_is_a_data_error(moto: Any, tmp_path: Path) -> None:
    forumctl("tables", "create")
    shutil.copytree(SAMPLE_DIR, tmp_path / "data")
    (tmp_path / "data" / "users" / "db.json").write_text('{"users": [{"name": "no id"}]}')
    run = forumctl("migrate", "--from", str(tmp_path / "data"), expect=ExitCode.DATA)
    assert "users" in run.stderr
    assert "'id'" in run.stderr


def test_migrate_missing_kind_folder_is_a_data_error(moto: Any, tmp_path: Path) -> None:
    forumctl("tables", "create")
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "db.json").write_text(json.dumps({"users": [{"id": 1}]}))
    run = forumctl("migrate", "--from", str(tmp_path), expect=ExitCode.DATA)
    assert "threads" in run.stderr
    assert "--only" in run.stderr
    forumctl("migrate", "--from", str(tmp_path), "--only", "users")


def test_migrate_json_error_output_is_machine_readable(moto: Any) -> None:
    run = forumctl("migrate", "--from", str(SAMPLE_DIR), "-o", "json", expect=ExitCode.AWS)
    doc = run.json
    assert doc["exitCode"] == ExitCode.AWS
    assert "does not exist" in doc["error"]


@pytest.mark.parametrize("flag", ["--table-prefix", "env"])
def test_table_prefix_from_flag_or_environment(
    dynamodb: Any, flag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["tables", "create", "-o", "json"]
    if flag == "env":
        monkeypatch.setenv("TABLE_PREFIX", "dev-")
    else:
        args += ["--table-prefix", "dev-"]
    out = forumctl(*args).json
    assert [t["table"] for t in out["tables"]] == ["dev-Users", "dev-Threads", "dev-Posts"]


def test_no_region_says_how_to_set_one(monkeypatch: pytest.MonkeyPatch, moto: Any) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    run = forumctl("tables", "list", expect=ExitCode.AWS)
    assert "no AWS region" in run.stderr
    assert "--region" in run.stderr


def test_no_credentials_says_what_to_set(monkeypatch: pytest.MonkeyPatch, moto: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    run = forumctl("tables", "list", expect=ExitCode.AWS)
    assert "credentials" in run.stderr
    assert "AWS_ACCESS_KEY_ID" in run.stderr
