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
    "sns:ListTopics",
    "kms:DescribeKey",
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
            actions = set(_as_list(statement["Action"])) - {"kms:DescribeKey"}  # metadata only
            if any(a.startswith("kms:") for a in actions):
                assert "kms:ViaService" in statement["Condition"]["StringLike"], path.name


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_the_chart_readme_shows_each_policy_as_it_is(path):
    readme = (CHART_DIR / "README.md").read_text()
    block = re.search(
        rf"### examples/iam/{re.escape(path.name)}\n\n```json\n(.*?)\n```", readme, re.S
    )
    assert block, f"charts/forum/README.md does not show {path.name}"
    assert json.loads(block.group(1)) == json.loads(path.read_text())


_GENERIC_CLIENT_METHODS = {"get_paginator", "can_paginate", "get_waiter", "close"}
# boto3 service name -> IAM action prefix, for the services forumdb calls.
_IAM_PREFIX = {
    "dynamodb": "dynamodb",
    "backup": "backup",
    "cloudwatch": "cloudwatch",
    "sns": "sns",
    "kms": "kms",
    "application-autoscaling": "application-autoscaling",
}


def _api_calls(source_dirs):
    """IAM actions the code may call: every boto3 client method named in it (as `.name(` or
    as a string, for calls made through getattr), mapped to `prefix:ApiName`. A method that
    several services have (tag_resource) yields all candidates, as one set."""
    import boto3

    mappings = {
        service: boto3.client(service, region_name="us-east-1").meta.method_to_api_mapping
        for service in _IAM_PREFIX
    }
    names = set()
    for directory in source_dirs:
        for path in directory.rglob("*.py"):
            names |= set(re.findall(r"\b([a-z]+(?:_[a-z]+)+)\b", path.read_text()))
    calls = []
    for name in sorted(names - _GENERIC_CLIENT_METHODS):
        candidates = {
            f"{_IAM_PREFIX[service]}:{mapping[name]}"
            for service, mapping in mappings.items()
            if name in mapping
        }
        if candidates:
            calls.append((name, candidates))
    return calls


def _allowed(path):
    return {a for s in _statements(path) for a in _as_list(s["Action"])}


@pytest.mark.parametrize(
    ("sources", "policy"),
    [
        (("operator/forumdb_operator",), "operator-policy.json"),
        (
            ("services/forumdb_services/storage", "services/forumdb_services/api"),
            "services-policy.json",
        ),
    ],
    ids=["operator", "services"],
)
def test_the_policy_allows_every_aws_call_in_the_code(sources, policy):
    root = EXAMPLES_DIR.parent
    allowed = _allowed(EXAMPLES_DIR / "iam" / policy)
    calls = _api_calls([root / s for s in sources])
    assert calls, f"found no AWS calls in {sources}"
    missing = [f"{name} ({' or '.join(sorted(c))})" for name, c in calls if not c & allowed]
    assert not missing, f"examples/iam/{policy} lacks: {', '.join(missing)}"
