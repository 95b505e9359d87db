"""Rendering and checking the forum chart: `helm template` to objects, Kubernetes schema and
CRD schema validation, and small accessors the chart tests share."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "forum"
CRD_DIR = REPO_ROOT / "crds"
EXAMPLES_DIR = REPO_ROOT / "examples"

# Rendered objects are checked against this Kubernetes version's schemas (strict: unknown
# fields are errors), and `helm template` is told the same version.
KUBE_VERSION = "1.34.0"
SERVICE_NAMES = ("users", "threads", "posts")
RELEASE = "forum"
NAMESPACE = "forum"

# Auth settings layered under every test's values (the chart refuses an install without them);
# template_args(..., auth=False) leaves them out, for the tests of auth itself and the examples.
AUTH_VALUES = Path(__file__).resolve().parent / "values-auth.yaml"

HelmRunner = Callable[..., Any]


def write_values(tmp: Path, values: Mapping[str, Any], name: str = "values.yaml") -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(dict(values), sort_keys=False))
    return path


def template_args(
    value_files: Sequence[Path] = (),
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    extra: Sequence[str] = (),
    auth: bool = True,
) -> list[str]:
    args = ["template", release, str(CHART_DIR), "--namespace", namespace]
    args += ["--kube-version", KUBE_VERSION]
    for f in [AUTH_VALUES, *value_files] if auth else value_files:
        args += ["--values", str(f)]
    return [*args, *extra]


def parse_manifests(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def by_kind(objects: Sequence[Mapping[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [dict(o) for o in objects if o["kind"] == kind]


def named(objects: Sequence[Mapping[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in by_kind(objects, kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, got {[o['metadata'] for o in found]}"
    return found[0]


def pod_specs(objects: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(object name, pod spec) of every workload and bare Pod."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            yield f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]
        elif obj["kind"] == "Pod":
            yield f"Pod/{obj['metadata']['name']}", obj["spec"]


def containers(pod_spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def env_of(container: Mapping[str, Any]) -> dict[str, Any]:
    """name -> value (or the valueFrom mapping) of a container's environment."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def mounts_of(container: Mapping[str, Any]) -> dict[str, str]:
    """mountPath -> volume name."""
    return {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}


def volumes_of(pod_spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in pod_spec.get("volumes", [])}


@functools.cache
def crd_schemas() -> dict[str, dict[str, Any]]:
    """kind -> openAPIV3Schema of every CRD in crds/ (served version)."""
    schemas: dict[str, dict[str, Any]] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            version = next(v for v in doc["spec"]["versions"] if v.get("served", True))
            group = doc["spec"]["group"]
            key = f"{group}/{version['name']}/{doc['spec']['names']['kind']}"
            schemas[key] = version["schema"]["openAPIV3Schema"]
    return schemas


def custom_resource_errors(obj: Mapping[str, Any]) -> list[str]:
    """Errors of a custom resource against its CRD's own schema (unknown kind: an error)."""
    key = f"{obj['apiVersion']}/{obj['kind']}"
    schema = crd_schemas().get(key)
    if schema is None:
        return [f"no CRD in crds/ serves {key}"]
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{obj['kind']}/{obj['metadata']['name']} at "
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in validator.iter_errors(dict(obj))
    ]


def is_custom_resource(obj: Mapping[str, Any]) -> bool:
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    return group in ("forumdb.io", "kopf.dev")


def kubernetes_errors(obj: Mapping[str, Any]) -> list[str]:
    """Errors of a built-in object against the Kubernetes schemas (strict), or of a custom
    resource against its CRD."""
    if is_custom_resource(obj):
        return custom_resource_errors(obj)
    try:
        kubernetes_validate.validate(dict(obj), KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "<root>"
        return [f"{obj['kind']}/{obj['metadata']['name']} at {where}: {exc.message}"]
    return []


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())
