"""forumDatabase.spec in values is checked by values.schema.json against the CRD's own spec
schema (crds/forumdatabase.yaml, the one definition), embedded by charts/forum/sync.sh: a
bad spec fails `helm install` with its path instead of reaching the API server."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import jsonschema
import pytest
import yaml
from chartkit import (
    CHART_DIR,
    CRD_DIR,
    EXAMPLES_DIR,
    by_kind,
    custom_resource_errors,
    parse_manifests,
    template_args,
    write_values,
)

SYNC_HINT = "run charts/forum/sync.sh and commit the result"
CRD_FILE = CRD_DIR / "forumdatabase.yaml"


def _sync_module() -> ModuleType:
    path = CHART_DIR / "sync_values_schema.py"
    spec = importlib.util.spec_from_file_location("sync_values_schema", path)
    assert spec is not None, path
    assert spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync = _sync_module()


def _values_schema() -> dict[str, Any]:
    return json.loads((CHART_DIR / "values.schema.json").read_text())


def _crd() -> dict[str, Any]:
    return next(d for d in yaml.safe_load_all(CRD_FILE.read_text()) if d)


def _keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from _keys(value)


def _spec_values(spec: dict[str, Any]) -> dict[str, Any]:
    return {"database": {"mode": "dynamodb"}, "forumDatabase": {"create": True, "spec": spec}}


def _forum_database(name: str = "forum", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "forumdb.io/v1alpha1",
        "kind": "ForumDatabase",
        "metadata": {"name": name},
        "spec": {"primaryRegion": "us-east-1", **spec},
    }


# ---- one definition -------------------------------------------------------------------------


def test_values_schema_holds_the_crds_spec_schema():
    embedded = _values_schema()["properties"]["forumDatabase"]["properties"]["spec"]
    assert embedded == sync.values_spec_schema(CRD_FILE), SYNC_HINT
    # Nothing else in values.schema.json is touched by the sync.
    assert sync.synced(_values_schema(), CRD_FILE) == _values_schema(), SYNC_HINT


def test_a_changed_crd_makes_the_values_schema_stale(tmp_path):
    crd = _crd()
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["properties"]["deletionPolicy"]["enum"].append("Snapshot")
    changed = tmp_path / "forumdatabase.yaml"
    changed.write_text(yaml.safe_dump(crd))
    assert sync.synced(_values_schema(), changed) != _values_schema()
    embedded = sync.synced(_values_schema(), changed)["properties"]["forumDatabase"]
    assert "Snapshot" in embedded["properties"]["spec"]["properties"]["deletionPolicy"]["enum"]


def test_values_schema_is_draft7_without_kubernetes_extensions():
    schema = _values_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    spec = schema["properties"]["forumDatabase"]["properties"]["spec"]
    left = {k for k in _keys(spec) if k.startswith("x-kubernetes-") or k == "nullable"}
    assert not left, left
    # x-kubernetes-list-type: set is translated, not lost.
    assert spec["properties"]["replicaRegions"]["uniqueItems"] is True
    alarms = spec["properties"]["alarms"]["properties"]
    assert alarms["emailSubscriptions"]["uniqueItems"] is True


def test_translation_of_kubernetes_extensions():
    node = {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.a != self.b"}],
        "properties": {
            "port": {"x-kubernetes-int-or-string": True},
            "note": {"type": "string", "nullable": True, "format": "int32"},
            "when": {"type": "string", "format": "date-time"},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    assert sync.to_draft7(node) == {
        "type": "object",
        "properties": {
            "port": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
            "note": {"type": ["string", "null"]},
            "when": {"type": ["string", "null"], "format": "date-time"},
            "free": {"type": ["object", "null"]},
            "map": {"type": ["object", "null"], "additionalProperties": {"type": "string"}},
        },
        "additionalProperties": False,
    }


# ---- what helm refuses, and that the API server refuses it too --------------------------------

BAD_SPECS = {
    "a primary region that is not one": (
        {"primaryRegion": "mars"},
        r"/forumDatabase/spec/primaryRegion.*does not match pattern",
    ),
    "a primary region shorter than any": (
        {"primaryRegion": "mars-1"},
        r"/forumDatabase/spec/primaryRegion.*does not match pattern",
    ),
    "an unknown deletion policy": (
        {"deletionPolicy": "Nuke"},
        r"/forumDatabase/spec/deletionPolicy.*must be one of 'Retain', 'Delete'",
    ),
    "an unknown billing mode": (
        {"billing": {"mode": "FREE"}},
        r"/forumDatabase/spec/billing/mode.*must be one of",
    ),
    "a bad replica region": (
        {"replicaRegions": ["us-west-2", "west"]},
        r"/forumDatabase/spec/replicaRegions/1.*does not match pattern",
    ),
    "capacity 0": (
        {"billing": {"mode": "PROVISIONED", "readCapacity": 0, "writeCapacity": 1}},
        r"/forumDatabase/spec/billing/readCapacity.*minimum",
    ),
    "a schedule that is not cron": (
        {"backups": {"schedule": "daily"}},
        r"/forumDatabase/spec/backups/schedule.*does not match pattern",
    ),
    "an alarm period CloudWatch does not have": (
        {"alarms": {"periodSeconds": 61}},
        r"/forumDatabase/spec/alarms/periodSeconds.*must be one of",
    ),
    "a text where a number goes": (
        {"pointInTimeRecovery": {"recoveryPeriodDays": "many"}},
        r"/pointInTimeRecovery/recoveryPeriodDays.*got string, want null or integer",
    ),
    "a region listed twice": (
        {"replicaRegions": ["us-west-2", "us-west-2"]},
        r"/forumDatabase/spec/replicaRegions.*items at 0 and 1 are equal",
    ),
}
# Checked by the API server through x-kubernetes-list-type: set, which plain jsonschema ignores.
LIST_TYPE_SET = {"a region listed twice"}
# The API server prunes unknown fields silently; in values a misspelt key is an error.
MISSPELT = ({"primaryregion": "us-east-2"}, r"/forumDatabase/spec.*'primaryregion' not allowed")


@pytest.mark.parametrize(
    ("spec", "message"), [*BAD_SPECS.values(), MISSPELT], ids=[*BAD_SPECS, "a misspelt key"]
)
def test_bad_spec_in_values_is_refused_by_helm(render_error, spec, message):
    error = render_error(_spec_values(spec))
    assert re.search(message, error, re.S), error


PLAIN_SCHEMA = {k: v for k, v in BAD_SPECS.items() if k not in LIST_TYPE_SET}


@pytest.mark.parametrize("spec", list(PLAIN_SCHEMA.values()), ids=list(PLAIN_SCHEMA))
def test_the_crd_refuses_the_same_specs(spec):
    """Offline: the CRD's own schema (jsonschema) agrees with what helm now refuses."""
    assert custom_resource_errors(_forum_database(**spec[0])), spec


@pytest.mark.apiserver
def test_the_api_server_agrees(kubectl, namespace):
    """The real API server refuses every spec helm refuses (but the misspelt key, which it
    prunes), and accepts a null field, dropping it (then defaulting it), as the values schema
    accepts it."""
    for name, (spec, _) in BAD_SPECS.items():
        obj = json.dumps(_forum_database(**spec))
        proc = kubectl(
            *("create", "--dry-run=server", "-n", namespace, "-f", "-"), input=obj, check=False
        )
        assert proc.returncode != 0, f"the API server accepted {name}: {spec}"
    created = kubectl(
        *("create", "--dry-run=server", "-n", namespace, "-o", "json", "-f", "-"),
        input=json.dumps(_forum_database(replicaRegions=None, alarms={"periodSeconds": None})),
    )
    spec = json.loads(created.stdout)["spec"]
    assert "replicaRegions" not in spec
    assert spec["alarms"]["periodSeconds"] == 300  # the CRD's default


# The API server reports a string's first failed rule only, quoting a pattern: a region field
# holds a pattern alone, whose named group says what is expected (crds/forumdatabase.yaml).
NOT_A_REGION = {
    "spec.primaryRegion": {"primaryRegion": "mars-1"},
    "spec.activeRegion": {"replicaRegions": ["us-west-2"], "activeRegion": "mars-1"},
    "spec.replicaRegions": {"replicaRegions": ["mars-1"]},  # 1.20 names the list, no index
    "spec.backups.copyRegion": {"backups": {"enabled": True, "copyRegion": "mars-1"}},
}


@pytest.mark.apiserver
@pytest.mark.parametrize(("path", "spec"), list(NOT_A_REGION.items()), ids=list(NOT_A_REGION))
def test_the_api_server_says_a_region_is_expected(kubectl, namespace, path, spec):
    obj = json.dumps(_forum_database(**spec))
    proc = kubectl(
        *("create", "--dry-run=server", "-n", namespace, "-f", "-"), input=obj, check=False
    )
    assert proc.returncode != 0, proc.stdout
    assert f'{path}: Invalid value: "mars-1"' in proc.stderr, proc.stderr
    assert "should match '^(?P<AWS_region_like_us_east_1>" in proc.stderr, proc.stderr
    assert "chars long" not in proc.stderr, proc.stderr


def test_every_region_pattern_says_what_it_expects():
    """Offline: the same pattern on every region field of the spec, and it accepts what AWS
    names regions (including the GovCloud and ISO partitions)."""
    spec = _crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    props = spec["properties"]
    fields = [
        props["primaryRegion"],
        props["activeRegion"],
        props["replicaRegions"]["items"],
        props["backups"]["properties"]["copyRegion"],
    ]
    patterns = {f["pattern"] for f in fields}
    assert len(patterns) == 1, patterns
    assert all("minLength" not in f and "maxLength" not in f for f in fields)
    (pattern,) = patterns
    for region in ("us-east-1", "ap-southeast-5", "us-gov-west-1", "us-isob-east-1"):
        assert re.search(pattern, region), region
    for bad in ("mars-1", "US-EAST-1", "us-east-1a", "us-" + "x" * 17 + "-1"):
        assert not re.search(pattern, bad), bad


# ---- what helm accepts ------------------------------------------------------------------------


@pytest.mark.parametrize("example", ["forumdatabase.yaml", "forumdatabase-provisioned.yaml"])
def test_example_specs_are_accepted(render, example):
    spec = yaml.safe_load((EXAMPLES_DIR / example).read_text())["spec"]
    [forum_database] = by_kind(render(_spec_values(spec)), "ForumDatabase")
    assert custom_resource_errors(forum_database) == []


def test_a_null_leaves_a_field_out(helm, tmp_path):
    spec = {"replicaRegions": None, "pointInTimeRecovery": None, "alarms": {"periodSeconds": None}}
    values = write_values(tmp_path, _spec_values(spec))
    objects = parse_manifests(helm(*template_args([values])).stdout)
    [forum_database] = by_kind(objects, "ForumDatabase")
    rendered = forum_database["spec"]
    assert "pointInTimeRecovery" not in rendered  # a default set to null: helm drops it
    assert rendered.get("replicaRegions") is None  # the API server drops a null
    assert rendered["primaryRegion"] == "us-east-1"
