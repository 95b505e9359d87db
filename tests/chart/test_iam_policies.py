"""The least-privilege IAM policies in examples/iam: well-formed, no wildcard actions, every
statement scoped, and the same text as the chart README shows (`helm show readme`)."""

from __future__ import annotations

import json
import re

import pytest
from chartkit import CHART_DIR, EXAMPLES_DIR

POLICY_FILES = sorted((EXAMPLES_DIR / "iam").glob("*.json"))
PERMISSION_POLICIES = [p for p in POLICY_FILES if p.name != "irsa-trust-policy.json"]
# Actions AWS authorises on "*" only (no resource-level permissions), and the service-linked
# role creation, which is limited by a condition instead.
UNSCOPED_ACTIONS = {
    "dynamodb:ListTables",
    "dynamodb:DescribeLimits",
    "iam:CreateServiceLinkedRole",
    "backup-storage:MountCapsule",
    "cloudwatch:DescribeAlarms",
}
UNSCOPED_PREFIXES = ("application-autoscaling:", "backup:")


def _statements(path):
    doc = json.loads(path.read_text())
    assert doc["Version"] == "2012-10-17"
    return doc["Statement"]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_there_is_a_policy_for_the_operator_and_for_the_services():
    assert {p.name for p in PERMISSION_POLICIES} == {"operator-policy.json", "services-policy.json"}


@pytest.mark.parametrize("path", PERMISSION_POLICIES, ids=lambda p: p.name)
def test_no_wildcard_actions_and_only_allow(path):
    for statement in _statements(path):
        assert statement["Effect"] == "Allow"
        assert statement["Sid"]
        for action in _as_list(statement["Action"]):
            assert re.fullmatch(r"[a-z-]+:[A-Za-z]+", action), f"{path.name}: {action}"


@pytest.mark.parametrize("path", PERMISSION_POLICIES, ids=lambda p: p.name)
def test_every_resource_is_scoped_or_has_to_be_star(path):
    for statement in _statements(path):
        resources = _as_list(statement["Resource"])
        if resources != ["*"]:
            assert all(r.startswith("arn:aws:") for r in resources), statement["Sid"]
            continue
        for action in _as_list(statement["Action"]):
            assert action in UNSCOPED_ACTIONS or action.startswith(UNSCOPED_PREFIXES), (
                f"{path.name} {statement['Sid']}: {action} on *"
            )


def test_services_touch_only_the_forum_tables_and_cannot_manage_them():
    actions = set()
    for statement in _statements(EXAMPLES_DIR / "iam" / "services-policy.json"):
        actions |= set(_as_list(statement["Action"]))
        for resource in _as_list(statement["Resource"]):
            assert ":table/forum-" in resource or ":key/" in resource, resource
    assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"} <= actions
    assert not {"dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTable"} & actions


def test_kms_use_is_limited_to_the_aws_services_that_need_it():
    for path in PERMISSION_POLICIES:
        for statement in _statements(path):
            if any(a.startswith("kms:") for a in _as_list(statement["Action"])):
                assert "kms:ViaService" in statement["Condition"]["StringLike"], path.name


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_the_chart_readme_shows_each_policy_as_it_is(path):
    readme = (CHART_DIR / "README.md").read_text()
    block = re.search(
        rf"### examples/iam/{re.escape(path.name)}\n\n```json\n(.*?)\n```", readme, re.S
    )
    assert block, f"charts/forum/README.md does not show {path.name}"
    assert json.loads(block.group(1)) == json.loads(path.read_text())
