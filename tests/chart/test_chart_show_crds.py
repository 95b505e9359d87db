"""`helm show crds ./charts/forum | kubectl apply --server-side -f -` (the chart README's
upgrade command) applies every CRD (issue 13): helm joins the files of crds/ as they are, so
each file starts a YAML document of its own; without that, the ForumDatabase CRD and the
first peering CRD ran into one document and only the last one's keys survived."""

from __future__ import annotations

from typing import Any

import yaml
from chartkit import CHART_DIR, CRD_DIR


def test_helm_show_crds_yields_exactly_the_three_crds(helm: Any):
    docs = [d for d in yaml.safe_load_all(helm("show", "crds", str(CHART_DIR)).stdout) if d]
    names = sorted(d["metadata"]["name"] for d in docs)
    assert names == [
        "clusterkopfpeerings.kopf.dev",
        "forumdatabases.forumdb.io",
        "kopfpeerings.kopf.dev",
    ]
    assert all(d["kind"] == "CustomResourceDefinition" for d in docs)
    # and each is the repository's CRD, whole
    expected = {
        d["metadata"]["name"]: d
        for path in sorted(CRD_DIR.glob("*.yaml"))
        for d in yaml.safe_load_all(path.read_text())
        if d
    }
    assert {d["metadata"]["name"]: d for d in docs} == expected
