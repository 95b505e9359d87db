"""`kubectl get forumdb` columns (issue 13): the default view shows what is in force (the
status, not a refused spec value), `-o wide` (priority 1) adds replica regions, copy region,
table prefix and the message; every column's path is a field of the CRD's schema."""

from __future__ import annotations

from typing import Any

import yaml
from op_factories import ROOT

CRD = yaml.safe_load((ROOT / "crds" / "forumdatabase.yaml").read_text())
VERSION = CRD["spec"]["versions"][0]
COLUMNS = {c["name"]: c for c in VERSION["additionalPrinterColumns"]}


def schema_at(path: str) -> dict[str, Any] | None:
    """The schema of a simple `.a.b.c` path under the object, or None when there is none."""
    node: dict[str, Any] = VERSION["schema"]["openAPIV3Schema"]
    for part in path.strip(".").split("."):
        if part == "metadata":
            return {"type": "object"}  # the API server's own
        node = (node.get("properties") or {}).get(part)
        if node is None:
            return None
    return node


def test_the_primary_column_shows_the_region_in_force():
    assert COLUMNS["Primary"]["jsonPath"] == ".status.primaryRegion"


def test_wide_output_adds_replicas_copy_region_prefix_and_message():
    wide = {n: c["jsonPath"] for n, c in COLUMNS.items() if c.get("priority") == 1}
    assert wide == {
        "Replicas": ".spec.replicaRegions",
        "Copy-Region": ".spec.backups.copyRegion",
        "Prefix": ".status.provisioned.tablePrefix",
        "Message": ".status.message",
    }
    default = [n for n, c in COLUMNS.items() if c.get("priority", 0) == 0]
    assert {"Phase", "Primary", "Replication", "PITR", "Last-Backup", "Active"} <= set(default)


def test_every_column_names_a_field_of_the_schema():
    for name, column in COLUMNS.items():
        assert schema_at(column["jsonPath"]) is not None, (name, column["jsonPath"])
