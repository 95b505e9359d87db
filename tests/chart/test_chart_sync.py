"""What the chart carries byte for byte from the repository: the CRDs (crds/) and the seed
sample (examples/sample-data). charts/forum/sync.sh copies them."""

from __future__ import annotations

import filecmp

from chartkit import CHART_DIR, CRD_DIR, EXAMPLES_DIR

SYNC_HINT = "run charts/forum/sync.sh and commit the result"


def test_chart_crds_are_identical_to_the_repository_crds():
    repo = sorted(p.name for p in CRD_DIR.glob("*.yaml"))
    chart = sorted(p.name for p in (CHART_DIR / "crds").glob("*.yaml"))
    assert repo, "crds/ is empty"
    assert chart == repo, SYNC_HINT
    _, mismatch, errors = filecmp.cmpfiles(CRD_DIR, CHART_DIR / "crds", repo, shallow=False)
    assert mismatch == errors == [], f"differ: {mismatch + errors}; {SYNC_HINT}"


def test_chart_seed_is_the_sample_data():
    for kind in ("users", "threads", "posts"):
        sample = EXAMPLES_DIR / "sample-data" / kind / "db.json"
        seed = CHART_DIR / "files" / "seed" / f"{kind}.json"
        assert filecmp.cmp(sample, seed, shallow=False), f"{seed.name} differs; {SYNC_HINT}"
