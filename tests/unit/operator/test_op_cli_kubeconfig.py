"""forum-operator without any Kubernetes configuration: one clear line, exit code 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from forumdb_operator.main import cli


def test_no_kubeconfig_outside_a_cluster_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    missing = tmp_path / "nowhere" / "config"
    result = CliRunner().invoke(
        cli,
        ["--standalone", "--metrics-port", "0", "--health-port", "0"],
        env={"KUBECONFIG": str(missing)},
    )
    assert result.exit_code == 1
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: cannot reach Kubernetes")
    assert str(missing) in lines[0]
    assert "Traceback" not in result.output
