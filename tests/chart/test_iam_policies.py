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


# -- the examples and the operator policy agree ---------------------------------------------

POLICY_ACCOUNT = "111122223333"


def _example_resources():
    """(file, metadata.name, spec) of every ForumDatabase the examples hold, also the one the
    chart's example values create."""
    import yaml

    found = []
    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "ForumDatabase":
                found.append((path.name, doc["metadata"]["name"], doc["spec"]))
            elif (doc.get("forumDatabase") or {}).get("create"):
                found.append((path.name, "forum", doc["forumDatabase"]["spec"]))
    return found


def _what_the_operator_touches(name, spec):
    """(IAM action, resource ARN) pairs the operator needs for one example, from its desired
    state (the names it gives tables, vaults, alarms and topics)."""
    from forumdb_operator.desired import desired_state
    from forumdb_operator.spec import parse_spec

    d = desired_state(parse_spec(spec), "default", name)
    arn = "arn:aws:{}:{}:" + POLICY_ACCOUNT + ":{}"
    needs = []
    for region in d.regions:
        for t in d.tables:
            table = arn.format("dynamodb", region, f"table/{t.name}")
            for action in ("CreateTable", "DescribeTable", "UpdateTable", "TagResource"):
                needs.append((f"dynamodb:{action}", table))
    if d.backups is not None:
        for region in filter(None, (d.backups.primary_region, d.backups.copy_region)):
            vault = arn.format("backup", region, f"backup-vault:{d.backups.vault_name}")
            for action in ("CreateBackupVault", "ListRecoveryPointsByBackupVault"):
                needs.append((f"backup:{action}", vault))
            needs.append(("backup:ListBackupVaults", "*"))
    if d.alarms is not None:
        for alarm in d.alarms.alarms:
            needs.append(
                (
                    "cloudwatch:PutMetricAlarm",
                    arn.format("cloudwatch", alarm.region, f"alarm:{alarm.name}"),
                )
            )
        if d.alarms.create_topic_name:
            topic = arn.format("sns", d.alarms.region, d.alarms.create_topic_name)
            needs += [("sns:CreateTopic", topic), ("sns:Subscribe", topic)]
    return needs


def _policy_allows(statements, action, resource):
    import fnmatch

    for s in statements:
        if action not in _as_list(s["Action"]):
            continue
        for pattern in _as_list(s["Resource"]):
            if pattern == "*" or (resource != "*" and fnmatch.fnmatchcase(resource, pattern)):
                return True
    return False


def test_the_examples_find_every_forumdatabase():
    files = {f for f, _, _ in _example_resources()}
    assert {"forumdatabase.yaml", "forumdatabase-provisioned.yaml"} <= files


@pytest.mark.parametrize(
    ("file", "name", "spec"), [pytest.param(*r, id=r[0]) for r in _example_resources()]
)
def test_the_operator_policy_allows_what_each_example_makes(file, name, spec):
    """Applied with the example policy, each example ForumDatabase may make and manage all
    its tables, vaults, alarms and topic (e.g. a vaultName outside backup-vault:forumdb-*
    would make the operator's first CreateBackupVault AccessDenied)."""
    statements = _statements(EXAMPLES_DIR / "iam" / "operator-policy.json")
    needs = _what_the_operator_touches(name, spec)
    assert needs
    refused = sorted({f"{a} on {r}" for a, r in needs if not _policy_allows(statements, a, r)})
    assert not refused, f"examples/iam/operator-policy.json refuses {file}: {refused}"
