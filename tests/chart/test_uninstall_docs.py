"""`helm uninstall` while a ForumDatabase exists: the operator goes, the resource stays with the
operator's finalizer, and deleting it or its namespace then hangs. README, the chart's README
and its install notes say so and give the remedy; the remedy is run here against a real API
server on a resource stuck exactly that way."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from chartkit import CHART_DIR, REPO_ROOT

from forumdb import naming
from harness.procs import wait_for

DOCS = {
    "README.md": REPO_ROOT / "README.md",
    "charts/forum/README.md": CHART_DIR / "README.md",
    "NOTES.txt": CHART_DIR / "templates" / "NOTES.txt",
}
# The documented command, NAME and NAMESPACE standing for the resource's.
PATCH = re.compile(
    r"kubectl patch forumdb NAME (?:-n|--namespace) NAMESPACE --type merge -p '[^'\n]+'"
)


def _patch_command(doc: Path) -> str:
    found = PATCH.findall(doc.read_text())
    assert found, f"{doc.name}: no `kubectl patch forumdb NAME ... finalizers` remedy"
    return found[0]


@pytest.mark.parametrize("doc", DOCS.values(), ids=DOCS.keys())
def test_the_docs_say_uninstall_leaves_the_finalizer_and_what_to_do(doc: Path) -> None:
    text = " ".join(doc.read_text().split())
    assert naming.FINALIZER in text
    assert "helm uninstall" in text
    assert "Terminating" in text
    # Delete the resources first, while the operator runs (so deletionPolicy is applied).
    assert re.search(r"kubectl delete forumdb", text)
    patch = json.loads(shlex.split(_patch_command(doc))[-1])
    assert patch == {"metadata": {"finalizers": None}}


def test_the_documented_patch_releases_a_forumdatabase_left_without_its_operator(
    kubectl, namespace
):
    # What `helm uninstall` leaves: a ForumDatabase with the operator's finalizer, no operator.
    kubectl.apply(
        {
            "apiVersion": naming.API_VERSION,
            "kind": "ForumDatabase",
            "metadata": {"name": "forum", "finalizers": [naming.FINALIZER]},
            "spec": {"primaryRegion": "us-east-1"},
        },
        namespace=namespace,
    )
    kubectl("delete", "forumdb", "forum", "-n", namespace, "--wait=false")
    stuck = kubectl.json("get", "forumdb", "forum", "-n", namespace)
    assert stuck["metadata"]["deletionTimestamp"]  # deleted, held by the finalizer
    assert stuck["metadata"]["finalizers"] == [naming.FINALIZER]

    argv = shlex.split(_patch_command(DOCS["charts/forum/README.md"]))
    assert argv[0] == "kubectl"
    kubectl(*[{"NAME": "forum", "NAMESPACE": namespace}.get(a, a) for a in argv[1:]])
    wait_for(
        lambda: not kubectl.exists("forumdb", "forum", namespace=namespace),
        timeout=30,
        what="the ForumDatabase gone once its finalizer is removed",
    )
