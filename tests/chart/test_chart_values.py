"""values.yaml and values.schema.json: every value documented and typed, and bad values
refused by helm with a message that names the value."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from chartkit import CHART_DIR, load_json, template_args

VALUES = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
SCHEMA = load_json(CHART_DIR / "values.schema.json")


DOCUMENTED = set(
    re.findall(r"^\s*## @param (\S+) \S", (CHART_DIR / "values.yaml").read_text(), re.M)
)


def _leaves(values: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of the values; a documented map (a probe, a security context) is one value."""
    paths: set[str] = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path not in DOCUMENTED:
            paths |= _leaves(value, f"{path}.")
        else:
            paths.add(path)
    return paths


def _schema_at(path: str) -> dict[str, Any]:
    node = SCHEMA
    for part in path.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            return {}
    return node


def test_every_value_is_documented_with_a_param_line():
    leaves = _leaves(VALUES)
    assert leaves - DOCUMENTED == set(), "values without a `## @param` line"
    assert DOCUMENTED - leaves == set(), "`## @param` lines naming no value"


def test_every_value_has_a_schema_with_a_type_and_description():
    missing = [p for p in sorted(_leaves(VALUES)) if not _schema_at(p)]
    assert not missing, f"values missing from values.schema.json: {missing}"
    untyped = [
        p
        for p in sorted(_leaves(VALUES))
        if not ({"type", "anyOf"} & _schema_at(p).keys() and "description" in _schema_at(p))
    ]
    assert not untyped, f"schema entries without type or description: {untyped}"


def test_the_schema_refuses_unknown_keys_at_every_level_of_chart_values():
    def walk(node: dict[str, Any], path: str) -> list[str]:
        if node.get("type") != "object" or "properties" not in node:
            return []
        found = [] if node.get("additionalProperties") is False else [path or "<root>"]
        for key, child in node["properties"].items():
            found += walk(child, f"{path}.{key}".lstrip("."))
        return found

    # forumDatabase.spec lists no properties: the CRD's schema validates it (in the API server).
    assert walk(SCHEMA, "") == []


BAD_VALUES = {
    "unknown storage mode": (
        {"database": {"mode": "dynamo"}},
        r"/database/mode.*must be one of 'json', 'dynamodb'",
    ),
    "typo in a key": (
        {"services": {"replicas": 3}},
        r"/services.*additional properties 'replicas' not allowed",
    ),
    "static keys in values": (
        {"aws": {"accessKeyId": "AKIA...", "secretAccessKey": "..."}},
        r"/aws.*additional properties .*accessKeyId.* not allowed",
    ),
    "negative replicas": (
        {"services": {"users": {"replicaCount": -1}}},
        r"/services/users/replicaCount.*minimum",
    ),
    "a port as a string": (
        {"services": {"service": {"port": "eighty"}}},
        r"/services/service/port.*got string, want integer",
    ),
    "a malformed digest": ({"image": {"digest": "latest"}}, r"/image/digest.*does not match"),
    "a malformed claim size": ({"persistence": {"size": "lots"}}, r"/persistence/size"),
    "an invalid namespace name": (
        {"operator": {"watchNamespaces": ["Team_B"]}},
        r"/operator/watchNamespaces/0.*does not match",
    ),
    "a region that is not one": ({"aws": {"region": "europe"}}, r"/aws/region.*does not match"),
    "an exact ingress path type": (
        {"ingress": {"pathType": "Exact"}},
        r"/ingress/pathType.*must be one of",
    ),
    "json mode scaled out": (
        {"services": {"replicaCount": 3}},
        r"database.mode=json keeps each service's data in one file with a single writer: "
        r"services.users.replicaCount \(or services.replicaCount\) must be 0 or 1, got 3",
    ),
    "a ForumDatabase without a name": (
        {"database": {"mode": "dynamodb", "forumDatabase": ""}, "forumDatabase": {"create": True}},
        r"forumDatabase.create=true needs database.forumDatabase",
    ),
    "a ForumDatabase spec without its primary region": (
        {"forumDatabase": {"create": True, "spec": {"primaryRegion": None}}},
        r"/forumDatabase/spec.*missing property 'primaryRegion'",
    ),
    "the webhook without a certificate": (
        {"operator": {"enabled": True, "webhook": {"enabled": True}}},
        r"operator.webhook.enabled=true needs operator.webhook.certSecret",
    ),
    "PDB with both bounds": (
        {
            "database": {"mode": "dynamodb"},
            "services": {"pdb": {"create": True, "minAvailable": 1, "maxUnavailable": 1}},
        },
        r"services.pdb: set minAvailable or maxUnavailable, not both",
    ),
}


@pytest.mark.parametrize(("values", "message"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_bad_values_are_refused_with_a_clear_message(render_error, values, message):
    error = render_error(values)
    assert re.search(message, error, re.S), error


def test_defaults_render(helm):
    # With the tests' auth settings (chartkit.AUTH_VALUES): the defaults alone need them.
    assert "kind: Deployment" in helm(*template_args()).stdout


def test_the_bare_defaults_are_refused_for_want_of_auth_settings(helm):
    proc = helm(*template_args(auth=False), check=False)
    assert proc.returncode != 0
    assert "VALUES VALIDATION" in proc.stderr
    assert "the services need authentication settings" in proc.stderr
