"""The documented `helm install` commands, run for real against the test kube-apiserver (1.20):
the one in the header of every examples/values-*.yaml (and of irsa-values.yaml), and those in
the chart's README. What the docs tell a user to type must install, with the values files
exactly as shipped."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from chartkit import CHART_DIR, EXAMPLES_DIR, REPO_ROOT, SERVICE_NAMES

pytestmark = [pytest.mark.apiserver, pytest.mark.slow]

RELEASE = "forum"
_COMMAND = re.compile(r"^\s*#?\s*(helm install forum \./charts/forum\b.*)$", re.M)
_VALUE_FLAGS = ("-f", "--values")


def _documented_in(path: Path) -> list[str]:
    return [m.group(1).strip() for m in _COMMAND.finditer(path.read_text())]


def _example_values() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("values-*.yaml"))


def _commands() -> dict[str, str]:
    """command -> where it is documented (first place), in a stable order."""
    sources = [*_example_values(), EXAMPLES_DIR / "irsa-values.yaml", CHART_DIR / "README.md"]
    found: dict[str, str] = {}
    for source in sources:
        for command in _documented_in(source):
            found.setdefault(command, str(source.relative_to(REPO_ROOT)))
    return found


def _value_files(command: str) -> list[Path]:
    words = shlex.split(command)
    return [REPO_ROOT / words[i + 1] for i, w in enumerate(words[:-1]) if w in _VALUE_FLAGS]


def _helm_args(command: str, namespace: str) -> list[str]:
    """The command's arguments after `helm`, with paths made absolute (helm runs elsewhere)."""
    words = shlex.split(command)[1:]
    args: list[str] = []
    for i, word in enumerate(words):
        if word == "./charts/forum":
            word = str(CHART_DIR)
        elif i > 0 and words[i - 1] in _VALUE_FLAGS:
            word = str(REPO_ROOT / word)
        args.append(word)
    return [*args, "--namespace", namespace]


def _merged(files: list[Path]) -> dict[str, Any]:
    """The values the files set, merged the way helm merges them (later files win)."""

    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in over.items():
            both = isinstance(value, dict) and isinstance(base.get(key), dict)
            out[key] = merge(base[key], value) if both else value
        return out

    merged: dict[str, Any] = {}
    for f in files:
        merged = merge(merged, yaml.safe_load(f.read_text()) or {})
    return merged


def test_every_example_values_file_documents_its_install_command():
    examples = [*_example_values(), EXAMPLES_DIR / "irsa-values.yaml"]
    assert len(examples) >= 3, examples
    for path in examples:
        commands = _documented_in(path)
        assert commands, f"{path.name}: no '#   helm install forum ./charts/forum ...' line"
        for command in commands:
            assert path in _value_files(command), f"{path.name} documents {command!r}"
    # The IRSA values add credentials only; they come with the DynamoDB example.
    irsa = _documented_in(EXAMPLES_DIR / "irsa-values.yaml")
    assert all(EXAMPLES_DIR / "values-dynamodb.yaml" in _value_files(c) for c in irsa), irsa


@pytest.mark.parametrize("command", list(_commands()), ids=lambda c: c.split("forum ", 2)[-1])
def test_documented_helm_install_works(helm, apiserver, kubectl, namespace, command):
    cluster_helm = helm.with_cluster(apiserver.env)
    ns = ["--namespace", namespace]
    proc = cluster_helm(*_helm_args(command, namespace), check=False)
    try:
        assert proc.returncode == 0, f"{command} ({_commands()[command]}):\n{proc.stderr}"
        assert "STATUS: deployed" in proc.stdout
        values = _merged(_value_files(command))
        deployments = set(kubectl("get", "deployments", *ns, "-o", "name").stdout.split())
        for name in SERVICE_NAMES:
            assert f"deployment.apps/forum-{name}" in deployments, deployments
        if values.get("services", {}).get("pdb", {}).get("create"):
            pdbs = kubectl.json("get", "poddisruptionbudgets.v1beta1.policy", *ns)["items"]
            assert sorted(p["metadata"]["name"] for p in pdbs) == sorted(
                f"forum-{n}" for n in SERVICE_NAMES
            )
        if values.get("forumDatabase", {}).get("create"):
            spec = kubectl.json("get", "forumdb", "forum", *ns)["spec"]
            assert spec["primaryRegion"] == values["forumDatabase"]["spec"]["primaryRegion"]
        for sa in ("serviceAccount", "operator"):
            wanted = values.get(sa, {})
            wanted = wanted.get("serviceAccount", {}) if sa == "operator" else wanted
            if wanted.get("name") and wanted.get("annotations"):
                got = kubectl.json("get", "serviceaccount", wanted["name"], *ns)
                assert got["metadata"]["annotations"].items() >= wanted["annotations"].items()
    finally:
        cluster_helm("uninstall", RELEASE, *ns, check=False)
