"""Fixtures of the chart tests: `render(values)` -> the objects `helm template` produces."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from chartkit import parse_manifests, template_args, write_values

Render = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def render(helm: Any, tmp_path: Path) -> Render:
    """`render(values, *value_files, extra=[...])`: the rendered objects (helm must succeed)."""

    def _render(
        values: Mapping[str, Any] | None = None,
        *value_files: Path,
        extra: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        files = list(value_files)
        if values:
            files.append(write_values(tmp_path, values, f"values-{len(files)}.yaml"))
        return parse_manifests(helm(*template_args(files, extra=extra)).stdout)

    return _render


@pytest.fixture
def render_error(helm: Any, tmp_path: Path) -> Callable[[Mapping[str, Any]], str]:
    """`render_error(values)`: helm's error output for values it must refuse."""

    def _render_error(values: Mapping[str, Any]) -> str:
        proc = helm(*template_args([write_values(tmp_path, values)]), check=False)
        assert proc.returncode != 0, f"helm accepted values it should refuse: {dict(values)}"
        return proc.stderr

    return _render_error
