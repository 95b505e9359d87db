"""Spec validation: the CRD schema and the pydantic models agree, and cross-field rules name
the field that is wrong."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from op_factories import spec

from forumdb import naming
from forumdb_operator.spec import SpecInvalid, parse_spec

ROOT = Path(__file__).resolve().parents[3]
CRD = yaml.safe_load((ROOT / "crds" / "forumdatabase.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
EXAMPLES = sorted((ROOT / "examples").glob("forumdatabase*.yaml"))


def errors_of(raw: dict) -> list[str]:
    with pytest.raises(SpecInvalid) as info:
        parse_spec(raw)
    return info.value.errors


def test_crd_coordinates_match_naming():
    assert CRD["spec"]["group"] == naming.GROUP
    assert CRD["spec"]["names"]["plural"] == naming.PLURAL
    assert CRD["spec"]["names"]["kind"] == naming.KIND
    assert naming.SHORT_NAME in CRD["spec"]["names"]["shortNames"]
    assert CRD["spec"]["versions"][0]["name"] == naming.VERSION
    assert "status" in CRD["spec"]["versions"][0]["subresources"]


def test_printer_columns_answer_replicated_and_backed_up():
    columns = {
        c["name"]: c["jsonPath"] for c in CRD["spec"]["versions"][0]["additionalPrinterColumns"]
    }
    assert columns["Phase"] == ".status.phase"
    assert columns["Replication"] == ".status.replication"
    assert columns["PITR"] == ".status.pitr"
    assert columns["Last-Backup"] == ".status.lastBackup"


def _documented(schema: dict, path: str, missing: list[str]) -> None:
    for name, sub in (schema.get("properties") or {}).items():
        if "description" not in sub:
            missing.append(f"{path}.{name}")
        _documented(sub, f"{path}.{name}", missing)
    if "items" in schema:
        _documented(schema["items"], path + "[]", missing)


def test_every_spec_field_is_documented():
    missing: list[str] = []
    _documented(SCHEMA["properties"]["spec"], "spec", missing)
    assert not missing


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_pass_the_crd_schema_and_the_models(path):
    doc = yaml.safe_load(path.read_text())
    assert doc["apiVersion"] == naming.API_VERSION
    jsonschema.validate(doc, SCHEMA)
    parse_spec(doc["spec"])


def test_defaults_fill_in_a_minimal_spec():
    s = parse_spec({"primaryRegion": "eu-west-1"})
    assert s.table_prefix == "forum-"
    assert s.billing is None  # not managed: new tables are on-demand, existing ones keep theirs
    assert s.deletion_policy == "Retain"
    assert s.replica_regions is None
    assert s.point_in_time_recovery is None
    assert s.adopt is False  # adoption is opt-in


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"replicaRegions": ["us-east-1"]}, "spec.replicaRegions[0]: us-east-1 is the primary"),
        (
            {"replicaRegions": ["us-west-2", "us-west-2"]},
            "spec.replicaRegions[1]: us-west-2 is listed twice",
        ),
        (
            {"replicaRegions": ["us-west-9"]},
            "spec.replicaRegions[0]: 'us-west-9' is not a DynamoDB region",
        ),
        ({"primaryRegion": "mars"}, "spec.primaryRegion: String should match pattern"),
        (
            {"billing": {"mode": "PROVISIONED"}},
            "spec.billing.readCapacity: required when mode is PROVISIONED",
        ),
        (
            {"billing": {"mode": "PROVISIONED", "readCapacity": 0, "writeCapacity": 1}},
            "spec.billing.readCapacity: Input should be greater than or equal to 1",
        ),
        (
            {"billing": {"readCapacity": 5}},
            "spec.billing.readCapacity: only valid when mode is PROVISIONED",
        ),
        (
            {"backups": {"copyRegion": "us-east-1"}},
            "spec.backups.copyRegion: us-east-1 is the primary region",
        ),
        ({"backups": {"schedule": "daily"}}, "spec.backups.schedule: String should match pattern"),
        (
            {"pointInTimeRecovery": {"recoveryPeriodDays": 36}},
            "spec.pointInTimeRecovery.recoveryPeriodDays: Input should be less than or equal to 35",
        ),
        (
            {
                "encryption": {
                    "kmsKeyId": "k",
                    "replicaKmsKeyIds": {"eu-west-1": "k2", "us-west-2": "k3"},
                }
            },
            "spec.encryption.replicaKmsKeyIds.eu-west-1: eu-west-1 is not one of",
        ),
        (
            {"encryption": {"kmsKeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}},
            "spec.encryption.replicaKmsKeyIds.us-west-2: required",
        ),
        (
            {
                "encryption": {
                    "kmsKeyId": "arn:aws:kms:eu-west-1:123456789012:key/x",
                    "replicaKmsKeyIds": {"us-west-2": "k"},
                }
            },
            "spec.encryption.kmsKeyId: the key is in eu-west-1",
        ),
        (
            {"alarms": {"emailSubscriptions": ["a@example.com"]}},
            "spec.alarms.emailSubscriptions: needs a topic",
        ),
        (
            {"alarms": {"snsTopicArn": "arn:aws:sns:eu-west-1:123456789012:t"}},
            "spec.alarms.snsTopicArn: alarm actions need a topic in us-east-1",
        ),
        (
            {"deletionPolicy": "Destroy"},
            "spec.deletionPolicy: Input should be 'Retain' or 'Delete'",
        ),
        ({"tablePrefix": "bad prefix!"}, "spec.tablePrefix: String should match pattern"),
    ],
)
def test_invalid_specs_name_the_field(changes, expected):
    errs = errors_of(spec(**changes))
    assert any(e.startswith(expected) for e in errs), errs


def test_alias_key_serves_every_replica_region():
    parse_spec(spec(encryption={"kmsKeyId": "alias/forum"}))


def test_every_problem_is_listed_at_once():
    errs = errors_of(
        spec(
            replicaRegions=["us-east-1"],
            billing={"mode": "PROVISIONED"},
            backups={"copyRegion": "us-east-1"},
        )
    )
    assert len(errs) == 4


def test_allowed_regions_restrict_the_spec():
    with pytest.raises(SpecInvalid) as info:
        parse_spec(spec(), allowed_regions=frozenset({"us-east-1"}))
    why = "'us-west-2' is not in the operator's allowed regions (us-east-1, ...)"
    assert info.value.errors == [
        f"spec.replicaRegions[0]: {why}",
        f"spec.backups.copyRegion: {why}",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"replicaRegions": ["not a region"]},
        {"billing": {"mode": "FREE"}},
        {"pointInTimeRecovery": {"recoveryPeriodDays": 0}},
        {"alarms": {"periodSeconds": 61}},
    ],
)
def test_crd_schema_and_models_reject_the_same_values(bad):
    doc = {
        "apiVersion": naming.API_VERSION,
        "kind": "ForumDatabase",
        "metadata": {},
        "spec": spec(**bad),
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
    errors_of(doc["spec"])
