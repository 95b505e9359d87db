"""`forumctl dev up|down|env|status` take --output/-o json like every other command: one JSON
document on stdout, the result or {"error", "hint", "exitCode"}. No stack is started here: a
recorded state folder stands in for a running one (tests/integration/dev/ starts real ones)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import forumctl, recorded_dev_state

from forumctl.errors import ExitCode


@pytest.mark.parametrize("command", ["up", "down", "env", "status"])
def test_every_dev_command_has_output_json(command: str) -> None:
    text = forumctl("dev", command, "--help").stdout
    assert "-o, --output [text|json]" in text


def test_dev_env_json_gives_the_variables_and_the_path_folders(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state = recorded_dev_state(state_dir)
    doc = forumctl("dev", "env", "--state-dir", str(state_dir), "-o", "json").json
    assert doc["stateDir"] == str(state_dir.resolve())
    assert doc["mode"] == "dynamodb"
    assert doc["env"]["KUBECONFIG"] == str(state.kubeconfig)
    assert doc["env"]["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5999"
    assert doc["env"]["AWS_REGION"] == "eu-west-1"
    assert "PATH" not in doc["env"]  # "$PATH" means nothing outside a shell
    assert str(Path(sys.executable).parent) in doc["pathPrepend"]
    assert "$PATH" not in doc["pathPrepend"]


def test_dev_env_text_is_still_for_eval(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    recorded_dev_state(state_dir)
    out = forumctl("dev", "env", "--state-dir", str(state_dir)).stdout
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:5999" in out.splitlines()
    assert any(line.startswith("export PATH=") for line in out.splitlines())


def test_dev_env_json_error_is_one_document_with_exit_3(tmp_path: Path) -> None:
    run = forumctl("dev", "env", "--state-dir", str(tmp_path), "-o", "json", expect=ExitCode.AWS)
    doc = run.json
    assert doc == {
        "error": f"no stack runs from {tmp_path.resolve()}",
        "hint": "start one: forumctl dev up",
        "exitCode": ExitCode.AWS,
    }
    assert "no stack runs" in run.stderr  # the human message stays on stderr


def test_dev_up_json_error_outside_a_checkout(tmp_path: Path) -> None:
    run = forumctl("dev", "up", "--checkout", str(tmp_path), "-o", "json", expect=ExitCode.AWS)
    doc = run.json
    assert f"{tmp_path} is not a forumdb source checkout" in doc["error"]
    assert "make setup" in doc["hint"]
    assert doc["exitCode"] == ExitCode.AWS


def test_dev_down_json(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    nothing = forumctl("dev", "down", "--state-dir", str(state_dir), "-o", "json").json
    assert nothing == {"stateDir": str(state_dir.resolve()), "stopped": False}
    recorded_dev_state(state_dir)  # no processes recorded: nothing to kill, the folder goes
    done = forumctl("dev", "down", "--state-dir", str(state_dir), "-o", "json").json
    assert done == {"stateDir": str(state_dir.resolve()), "stopped": True}
    assert not state_dir.exists()


def test_dev_status_json_unchanged(tmp_path: Path) -> None:
    doc = forumctl("dev", "status", "--state-dir", str(tmp_path), "-o", "json").json
    assert doc == {"stateDir": str(tmp_path.resolve()), "running": False, "processes": []}
