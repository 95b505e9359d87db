"""The JSON-mode seed init container, run for real (sh): it fills an empty data folder with
the sample, and leaves a folder that holds data alone, a journal-only store included."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from chartkit import named

from forumdb_services.storage.jsonstore import JsonStore

SEEDED = {"persistence": {"enabled": False}, "database": {"seed": {"enabled": True}}}


@pytest.fixture
def seed_script(render) -> str:
    spec = named(render(SEEDED), "Deployment", "forum-users")["spec"]["template"]["spec"]
    (init,) = spec["initContainers"]
    assert init["command"][:2] == ["/bin/sh", "-ec"]
    return init["command"][-1]


def run_seed(script: str, data_dir: Path, seed_dir: Path) -> str:
    (seed_dir / "users.json").write_text(json.dumps({"users": [{"id": 1, "username": "s"}]}))
    done = subprocess.run(
        ["/bin/sh", "-ec", script.replace("/seed/", f"{seed_dir}/")],
        env={"DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def usernames(data_dir: Path) -> list[Any]:
    return sorted(u["username"] for u in JsonStore(data_dir).users.list(limit=100).items)


def test_an_empty_folder_gets_the_sample(seed_script: str, tmp_path: Path) -> None:
    (tmp_path / "data" / "users").mkdir(parents=True)
    out = run_seed(seed_script, tmp_path / "data", tmp_path)
    assert "copied the sample users" in out
    assert usernames(tmp_path / "data") == ["s"]


def test_a_store_with_only_a_journal_is_left_alone(seed_script: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    JsonStore(data).users.create({"username": "zed"})  # never compacted: no db.json yet
    assert not (data / "users" / "db.json").exists()
    out = run_seed(seed_script, data, tmp_path)
    assert "already holds data" in out
    assert usernames(data) == ["zed"]


def test_a_db_json_is_left_alone(seed_script: str, tmp_path: Path) -> None:
    folder = tmp_path / "data" / "users"
    folder.mkdir(parents=True)
    (folder / "db.json").write_text(json.dumps({"users": [{"id": 7, "username": "mine"}]}))
    out = run_seed(seed_script, tmp_path / "data", tmp_path)
    assert "already holds data" in out
    assert usernames(tmp_path / "data") == ["mine"]
