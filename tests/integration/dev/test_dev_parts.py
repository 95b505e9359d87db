"""The dev stack's parts on their own: the ConfigMap folder, stopping by PID, ports, state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from forumctl.dev.errors import DevStackError
from forumctl.dev.ports import PortPlan
from forumctl.dev.procs import group_alive, process_start_ticks, stop_pid_group
from forumctl.dev.state import DevState, ProcessRecord, load_state, save_state
from forumdb.config import load_settings
from forumdb_services.configsync import write_folder


def test_config_folder_holds_exactly_the_configmap_and_the_services_read_it(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "config"
    data = {"STORAGE_MODE": "dynamodb", "TABLE_PREFIX": "dev-", "AWS_REGION": "us-east-1"}
    assert write_folder(folder, data) is True
    assert write_folder(folder, data) is False  # unchanged: nothing rewritten
    settings = load_settings(folder)
    assert (settings.storage_mode, settings.aws_region) == ("dynamodb", "us-east-1")
    assert settings.table_name("posts") == "dev-Posts"

    assert write_folder(folder, {"STORAGE_MODE": "dynamodb", "AWS_REGION": "us-west-2"})
    assert sorted(p.name for p in folder.iterdir()) == ["AWS_REGION", "STORAGE_MODE"]
    assert load_settings(folder).aws_region == "us-west-2"  # a failover reaches the services


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )


def test_stop_by_pid_stops_the_group_it_started() -> None:
    proc = _sleeper()
    ticks = process_start_ticks(proc.pid)
    assert ticks is not None
    assert stop_pid_group(proc.pid, ticks, grace=5) is True
    proc.wait(timeout=5)
    assert not group_alive(proc.pid)


def test_stop_by_pid_leaves_a_reused_pid_alone() -> None:
    proc = _sleeper()
    try:
        ticks = process_start_ticks(proc.pid)
        assert ticks is not None
        # recorded with another start time: the PID now names someone else's process
        assert stop_pid_group(proc.pid, ticks - 1, grace=1) is True
        assert proc.poll() is None
        record = ProcessRecord(name="x", pid=proc.pid, start_ticks=ticks - 1, log=Path("x.log"))
        assert record.alive() is False
    finally:
        proc.kill()
        proc.wait(timeout=5)


def test_ports_from_a_base_put_the_services_first() -> None:
    plan = PortPlan.from_base(8080)
    assert [plan.service(s) for s in ("users", "threads", "posts")] == [8081, 8082, 8083]
    assert len(set(plan.as_dict().values())) == len(plan.as_dict())
    with pytest.raises(DevStackError, match="out of range"):
        PortPlan.from_base(65530)


def test_state_round_trips_and_a_broken_file_is_named(tmp_path: Path) -> None:
    state = DevState(mode="json", checkout=tmp_path, services={"users": "http://127.0.0.1:1"})
    save_state(tmp_path, state)
    assert load_state(tmp_path) == state
    assert load_state(tmp_path / "elsewhere") is None
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(DevStackError, match=r"state\.json is unreadable"):
        load_state(tmp_path)


def test_forumctl_and_json_mode_need_none_of_the_test_extras(tmp_path: Path) -> None:
    # An image or plain install has no moto or cryptography: forumctl must still load, and the
    # dev commands that need neither must work.
    script = (
        "import sys\n"
        "sys.modules['cryptography'] = sys.modules['moto'] = None  # as if not installed\n"
        "from click.testing import CliRunner\n"
        "from forumctl.main import cli\n"
        f"result = CliRunner().invoke(cli, ['dev', 'status', '--state-dir', {str(tmp_path)!r}])\n"
        "print(result.output)\n"
        "sys.exit(result.exit_code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"no stack recorded in {tmp_path}" in done.stdout
