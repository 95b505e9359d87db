"""What the image holds: the packages that `pip wheel .` finds in the Docker build context.

The context is computed with docker's own .dockerignore matcher (docker-py's exclude_paths, the
same rules as `docker build`), then the package discovery of pyproject.toml's
[tool.setuptools.packages.find] runs on it, as the Dockerfile's wheel build does. The image
holds the shared core, the services, the operator and forumctl's data commands; never the dev
stack (etcd/kube-apiserver launcher, certificates) nor the AWS emulator.
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

import pytest
from docker.utils.build import exclude_paths
from setuptools import find_packages

REPO_ROOT = Path(__file__).resolve().parents[2]

IMAGE_PACKAGES = {"forumdb", "forumdb_services", "forumdb_operator", "forumctl"}


def _context(into: Path) -> Path:
    """A copy of the build context as `docker build` would send it."""
    patterns = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    for rel in exclude_paths(str(REPO_ROOT), patterns):
        src = REPO_ROOT / rel
        if src.is_file():
            (into / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, into / rel)
    return into


def _packages(root: Path) -> set[str]:
    find = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found: set[str] = set()
    for where in find["find"]["where"]:
        found.update(find_packages(where=str(root / where), include=find["find"]["include"]))
    return found


@pytest.fixture(scope="module")
def image_packages(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    return _packages(_context(tmp_path_factory.mktemp("context")))


def test_the_image_package_list(image_packages: set[str]) -> None:
    print("image packages:", *sorted(image_packages), sep="\n  ")
    assert {p.split(".")[0] for p in image_packages} == IMAGE_PACKAGES
    assert {
        "forumdb_services.api",
        "forumdb_services.storage",
        "forumctl.restore_drill",
    } <= image_packages


def test_no_dev_stack_and_no_emulator_in_the_image(image_packages: set[str]) -> None:
    assert not [p for p in image_packages if p.startswith(("forumctl.dev", "forumdb_emulator"))]


def test_the_checkout_has_what_the_image_leaves_out() -> None:
    """The same discovery on the whole checkout finds the dev stack and the emulator, so the
    test above would see them if .dockerignore let them in."""
    everything = _packages(REPO_ROOT)
    assert {"forumctl.dev", "forumdb_emulator"} <= everything


def test_forumctl_without_the_dev_stack_says_where_it_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The image's forumctl (no forumctl.dev): `forumctl dev up` is a usage error (2) that says
    where the dev stack runs."""
    from click.testing import CliRunner

    from forumctl import main

    monkeypatch.setitem(sys.modules, "forumctl.dev.command", None)  # as if absent
    group = main.ForumctlGroup("forumctl", commands={"dev": main._dev_command()})
    result = CliRunner().invoke(group, ["dev", "up", "--json-mode"])
    assert result.exit_code == 2, result.output
    assert "forumctl dev is not part of this installation" in result.stderr
    assert "source checkout" in result.stderr
