"""Fixtures of the chart tests: `render(values)` -> the objects `helm template` produces."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from chartkit import parse_manifests, template_args, write_values

Render = Callable[..., list[dict[str, Any]]]


@pytest.fixture(scope="session")
def render(helm: Any, tmp_path_factory: pytest.TempPathFactory) -> Render:
    """`render(values, *value_files, extra=[...], auth=True)`: the rendered objects (helm must
    succeed). auth=False leaves out the tests' auth settings (chartkit.AUTH_VALUES).

    Renders are cached for the session (the same values render the same objects); each
    caller gets its own copy."""
    folder = tmp_path_factory.mktemp("values")
    cache: dict[str, list[dict[str, Any]]] = {}

    def _render(
        values: Mapping[str, Any] | None = None,
        *value_files: Path,
        extra: Sequence[str] = (),
        auth: bool = True,
    ) -> list[dict[str, Any]]:
        key = json.dumps([values, [str(f) for f in value_files], list(extra), auth], sort_keys=True)
        if key not in cache:
            files = list(value_files)
            if values:
                files.append(write_values(folder, values, f"values-{len(cache)}.yaml"))
            args = template_args(files, extra=extra, auth=auth)
            cache[key] = parse_manifests(helm(*args).stdout)
        return copy.deepcopy(cache[key])

    return _render


@pytest.fixture
def render_error(helm: Any, tmp_path: Path) -> Callable[..., str]:
    """`render_error(values, auth=True)`: helm's error output for values it must refuse
    (auth=False: without the tests' auth settings)."""

    def _render_error(values: Mapping[str, Any], auth: bool = True) -> str:
        args = template_args([write_values(tmp_path, values)], auth=auth)
        proc = helm(*args, check=False)
        assert proc.returncode != 0, f"helm accepted values it should refuse: {dict(values)}"
        return proc.stderr

    return _render_error
