"""Embeds the ForumDatabase CRD's spec schema into values.schema.json (forumDatabase.spec), so
that `helm install` refuses a bad spec in values before the API server sees it. The CRD stays
the one definition: charts/forum/sync.sh runs this, tests/chart fails while the two differ.

Kubernetes structural schemas are OpenAPI v3 with extensions that draft-07 (helm's validator)
does not know; they are translated where draft-07 can say the same and dropped otherwise:

- x-kubernetes-list-type: set        -> uniqueItems: true
- x-kubernetes-int-or-string: true   -> anyOf integer | string
- nullable: true                     -> "null" added to type
- format                              kept only where draft-07 defines it (not int32, byte...)
- an object with properties: a misspelt key in values is an error (additionalProperties:
  false). The CRD keeps unknown spec fields (x-kubernetes-preserve-unknown-fields) only so
  that the admission webhook and the reconciler see and name them instead of the API server
  pruning them silently; values have no such second check, so they stay closed
- a property may be null: the API server drops a null field that is not nullable, and
  values.yaml tells users to set a key to null to leave it out
- other x-kubernetes-* (validations: CEL, embedded-resource, list-map-keys...): dropped

Usage: python3 sync_values_schema.py [--check]   (--check: exit 1 if values.schema.json is stale)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

CHART_DIR = Path(__file__).resolve().parent
CRD_FILE = CHART_DIR.parent.parent / "crds" / "forumdatabase.yaml"
VALUES_SCHEMA = CHART_DIR / "values.schema.json"
CRD_KIND = "ForumDatabase"
COMMENT = (
    "Generated from the spec schema of crds/forumdatabase.yaml by charts/forum/sync.sh "
    "(sync_values_schema.py); edit the CRD, not this."
)
# Formats draft-07 defines; Kubernetes adds its own (int32, int64, byte, ...), unknown here.
DRAFT7_FORMATS = frozenset(
    {
        "date-time",
        "date",
        "time",
        "email",
        "idn-email",
        "hostname",
        "idn-hostname",
        "ipv4",
        "ipv6",
        "uri",
        "uri-reference",
        "iri",
        "iri-reference",
        "uri-template",
        "json-pointer",
        "relative-json-pointer",
        "regex",
    }
)
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def crd_spec_schema(crd_file: Path = CRD_FILE) -> dict[str, Any]:
    """The openAPIV3Schema of `spec` in the storage version of the ForumDatabase CRD."""
    for doc in yaml.safe_load_all(crd_file.read_text()):
        if doc and doc.get("kind") == "CustomResourceDefinition":
            if doc["spec"]["names"]["kind"] != CRD_KIND:
                continue
            version = next(v for v in doc["spec"]["versions"] if v.get("storage"))
            return version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    raise SystemExit(f"{crd_file}: no CustomResourceDefinition of kind {CRD_KIND}")


def to_draft7(node: dict[str, Any]) -> dict[str, Any]:
    """A Kubernetes structural schema node as draft-07 (see the module text for the rules)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key == "format" and value not in DRAFT7_FORMATS:
            continue
        if key == "properties":
            out[key] = {name: _null_allowed(to_draft7(sub)) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = to_draft7(value)
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [to_draft7(sub) for sub in value]
        else:
            out[key] = value
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = [*types, "null"]
    if "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


def _null_allowed(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` that also accepts null (for a property: the API server prunes it)."""
    out = dict(schema)
    if "type" in out:
        types = out["type"] if isinstance(out["type"], list) else [out["type"]]
        out["type"] = types if "null" in types else [*types, "null"]
    elif "anyOf" in out:
        out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


def values_spec_schema(crd_file: Path = CRD_FILE) -> dict[str, Any]:
    """What values.schema.json must hold at properties.forumDatabase.properties.spec."""
    return {"$comment": COMMENT, **to_draft7(crd_spec_schema(crd_file))}


def synced(values_schema: dict[str, Any], crd_file: Path = CRD_FILE) -> dict[str, Any]:
    """`values_schema` with forumDatabase.spec replaced by the CRD's (nothing else changes)."""
    out = json.loads(json.dumps(values_schema))
    forum_database = out["properties"]["forumDatabase"]["properties"]
    forum_database["spec"] = values_spec_schema(crd_file)
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    current = VALUES_SCHEMA.read_text()
    wanted = render(synced(json.loads(current)))
    if "--check" in argv:
        if current != wanted:
            print(f"{VALUES_SCHEMA} is stale: run charts/forum/sync.sh", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        VALUES_SCHEMA.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
