"""`forumctl tables create` switches point-in-time recovery on (the README's DynamoDB steps
then pass `forumctl verify`'s pitr checks), idempotently, and refuses capacity flags that a
PAY_PER_REQUEST table would silently drop."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import SAMPLE_DIR, forumctl

from forumctl.errors import ExitCode
from forumctl.tables_cmd import enable_pitr
from forumdb.tables import KINDS, table_name


def _pitr(client: Any, kind: str) -> str:
    desc = client.describe_continuous_backups(TableName=table_name(kind))
    return desc["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"][
        "PointInTimeRecoveryStatus"
    ]


def _pitr_checks(run_json: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["outcome"] for c in run_json["checks"] if c["name"].startswith("pitr/")}


def test_create_switches_pitr_on_and_verify_passes_its_pitr_checks(dynamodb: Any) -> None:
    out = forumctl("tables", "create", "-o", "json").json
    assert out["pitr"] is True
    assert {r["pitr"] for r in out["tables"]} == {"enabled"}
    for kind in KINDS:
        assert _pitr(dynamodb, kind) == "ENABLED"
    # README: tables create, migrate, then verify
    forumctl("migrate", "--from", str(SAMPLE_DIR))
    verified = forumctl("verify", "-o", "json").json  # exit 0: every check passes or skips
    assert verified["ok"] is True
    assert _pitr_checks(verified) == {f"pitr/{k}": "pass" for k in KINDS}


def test_create_again_switches_pitr_on_existing_tables_and_is_then_a_no_op(
    dynamodb: Any,
) -> None:
    forumctl("tables", "create", "--no-pitr")
    assert {_pitr(dynamodb, k) for k in KINDS} == {"DISABLED"}
    dry = forumctl("tables", "create", "--dry-run", "-o", "json").json
    assert [r["pitr"] for r in dry["tables"]] == ["would enable"] * 3
    assert {_pitr(dynamodb, k) for k in KINDS} == {"DISABLED"}
    second = forumctl("tables", "create", "-o", "json").json
    assert [(r["action"], r["pitr"]) for r in second["tables"]] == [("exists", "enabled")] * 3
    third = forumctl("tables", "create", "-o", "json").json
    assert [(r["action"], r["pitr"]) for r in third["tables"]] == [("exists", "ENABLED")] * 3


def test_no_pitr_leaves_it_off_and_never_switches_it_off(dynamodb: Any) -> None:
    out = forumctl("tables", "create", "--no-pitr", "-o", "json").json
    assert [r["pitr"] for r in out["tables"]] == ["DISABLED"] * 3
    forumctl("tables", "create")
    again = forumctl("tables", "create", "--no-pitr", "-o", "json").json
    assert [r["pitr"] for r in again["tables"]] == ["ENABLED"] * 3


def test_dry_run_shows_pitr_and_creates_nothing(dynamodb: Any) -> None:
    out = forumctl("tables", "create", "--dry-run", "-o", "json").json
    assert [(r["action"], r["pitr"]) for r in out["tables"]] == [
        ("would create", "would enable")
    ] * 3
    assert dynamodb.list_tables()["TableNames"] == []
    text = forumctl("tables", "create", "--dry-run").stdout
    assert "pitr" in text
    assert "would enable" in text


def test_help_says_create_switches_pitr_on(moto: Any) -> None:
    text = " ".join(forumctl("tables", "create", "--help").stdout.split())
    assert "--pitr / --no-pitr" in text
    assert "point-in-time recovery" in text


@pytest.mark.parametrize("flag", ["--read-capacity", "--write-capacity"])
def test_capacity_without_provisioned_is_a_usage_error(dynamodb: Any, flag: str) -> None:
    run = forumctl("tables", "create", flag, "5", expect=ExitCode.USAGE)
    assert "--billing-mode PROVISIONED" in run.stderr
    assert dynamodb.list_tables()["TableNames"] == []


def test_provisioned_with_capacity_still_works(dynamodb: Any) -> None:
    forumctl(
        "tables", "create", "--billing-mode", "PROVISIONED",
        "--read-capacity", "5", "--write-capacity", "3",
    )  # fmt: skip
    desc = dynamodb.describe_table(TableName=table_name("users"))["Table"]
    assert desc["ProvisionedThroughput"]["ReadCapacityUnits"] == 5


class _NotYetClient:
    """DynamoDB refusing continuous backups right after CreateTable, `refusals` times."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.calls = 0

    def update_continuous_backups(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.refusals:
            raise ClientError(
                {"Error": {"Code": "ContinuousBackupsUnavailableException", "Message": "later"}},
                "UpdateContinuousBackups",
            )
        return {}


def test_enable_pitr_retries_while_the_new_table_cannot_take_it_yet() -> None:
    client = _NotYetClient(refusals=2)
    enable_pitr(client, "t", sleep=lambda s: None)
    assert client.calls == 3


def test_enable_pitr_gives_up_loudly() -> None:
    client = _NotYetClient(refusals=99)
    with pytest.raises(ClientError):
        enable_pitr(client, "t", attempts=3, sleep=lambda s: None)
    assert client.calls == 3
