"""`helm lint --strict` of the chart, with its defaults and with each example values file."""

from __future__ import annotations

import pytest
from chartkit import AUTH_VALUES, CHART_DIR, EXAMPLES_DIR

# The defaults need auth settings (the chart refuses an install without them): the tests' own.
LINT_CASES = {
    "defaults + auth": [AUTH_VALUES],
    "values-json": [EXAMPLES_DIR / "values-json.yaml"],
    "values-dynamodb + irsa": [
        EXAMPLES_DIR / "values-dynamodb.yaml",
        EXAMPLES_DIR / "irsa-values.yaml",
    ],
}


@pytest.mark.parametrize("files", LINT_CASES.values(), ids=LINT_CASES.keys())
def test_helm_lint_strict(helm, files):
    args = [arg for f in files for arg in ("--values", str(f))]
    proc = helm("lint", "--strict", str(CHART_DIR), *args, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout
    assert "[WARNING]" not in proc.stdout


def test_helm_lint_of_the_bare_defaults_shows_the_missing_auth_settings(helm):
    # Secure by default: without auth settings the chart does not render. helm lint reports a
    # template's `fail` as [INFO] only (by design, for required values), but it shows why.
    proc = helm("lint", "--strict", str(CHART_DIR), check=False)
    assert "the services need authentication settings" in proc.stdout + proc.stderr


def test_helm_lint_strict_fails_a_broken_chart(helm, tmp_path):
    # The lint test must be able to fail: a chart whose template does not parse.
    broken = tmp_path / "forum"
    broken.mkdir()
    (broken / "Chart.yaml").write_text((CHART_DIR / "Chart.yaml").read_text())
    (broken / "templates").mkdir()
    (broken / "templates" / "bad.yaml").write_text("{{ if }}\n")
    proc = helm("lint", "--strict", str(broken), check=False)
    assert proc.returncode != 0
