"""`helm lint --strict` of the chart, with its defaults and with each example values file."""

from __future__ import annotations

import pytest
from chartkit import CHART_DIR, EXAMPLES_DIR

LINT_CASES = {
    "defaults": [],
    "values-json": ["values-json.yaml"],
    "values-dynamodb + irsa": ["values-dynamodb.yaml", "irsa-values.yaml"],
}


@pytest.mark.parametrize("files", LINT_CASES.values(), ids=LINT_CASES.keys())
def test_helm_lint_strict(helm, files):
    args = [arg for f in files for arg in ("--values", str(EXAMPLES_DIR / f))]
    proc = helm("lint", "--strict", str(CHART_DIR), *args, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout
    assert "[WARNING]" not in proc.stdout


def test_helm_lint_strict_fails_a_broken_chart(helm, tmp_path):
    # The lint test must be able to fail: a chart whose template does not parse.
    broken = tmp_path / "forum"
    broken.mkdir()
    (broken / "Chart.yaml").write_text((CHART_DIR / "Chart.yaml").read_text())
    (broken / "templates").mkdir()
    (broken / "templates" / "bad.yaml").write_text("{{ if }}\n")
    proc = helm("lint", "--strict", str(broken), check=False)
    assert proc.returncode != 0
