"""`forumctl failover`'s text report: a two-column list with no empty header row. No cluster
here: the Kubernetes side is a stand-in holding one ForumDatabase (the real API server runs in
tests/integration/failover/)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import forumctl

from forumctl import failover_cmd

FORUMDB = {
    "spec": {"primaryRegion": "us-east-1", "replicaRegions": ["us-west-2"]},
    "status": {"activeRegion": "us-east-1", "configMap": "forumdb-forum"},
}


class _FakeKube:
    default_namespace = "default"

    def __init__(self, kubeconfig: str | None) -> None:
        pass

    def forumdb(self, name: str, ns: str) -> dict[str, Any]:
        return FORUMDB

    def configmap_region(self, name: str, ns: str) -> str | None:
        return "us-east-1"


@pytest.fixture(autouse=True)
def _fake_kube(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(failover_cmd, "_Kube", _FakeKube)


def _box_only(line: str) -> bool:
    """A table line that holds only borders and blanks (an empty header row, or a rule)."""
    return line.strip() != "" and set(line) <= set("┃│┏┓┗┛┡┩└┘┌┐├┤┼┬┴━─═╇╈┳┻╋ ")


def test_failover_text_has_no_empty_header_row() -> None:
    out = forumctl("failover", "--to", "us-west-2", "--forumdb", "forum", "--dry-run").stdout
    lines = out.splitlines()
    assert lines[0] == "failover (dry run: nothing changed)", out
    # top border, then straight to the first row: no header row of blank cells and its rule
    assert _box_only(lines[1]), out
    assert "ForumDatabase" in lines[2], out
    assert "default/forum" in lines[2], out
    assert [line for line in lines[2:-1] if _box_only(line)] == [], out
    assert "us-west-2" in out


def test_failover_json_is_unchanged() -> None:
    doc = forumctl(
        "failover", "--to", "us-west-2", "--forumdb", "forum", "--dry-run", "-o", "json"
    ).json
    assert doc["requestedRegion"] == "us-west-2"
    assert doc["previousRegion"] == "us-east-1"
    assert doc["dryRun"] is True
