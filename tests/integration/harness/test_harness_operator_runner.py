"""The operator runner: environment, log capture, early-exit reports, clean stop and kill.

The mechanics are checked with a stand-in program (a shell script that behaves like a
long-running operator); one test runs the real `forum-operator` console script.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from harness.operator_runner import OperatorExited, OperatorRunner, operator_executable
from harness.procs import group_alive, process_running, wait_for

# Prints what the runner gave it, starts a child (to check that the whole group is stopped),
# then sleeps; on SIGTERM it logs and exits 0 unless IGNORE_TERM is set.
STAND_IN = """#!/bin/sh
echo "argv: $*"
echo "KUBECONFIG=$KUBECONFIG"
echo "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL"
echo "AWS_PROFILE=${AWS_PROFILE:-unset}"
echo "FORUMDB_DRIFT_INTERVAL=$FORUMDB_DRIFT_INTERVAL"
echo "EXTRA=${EXTRA:-unset}"
sleep 300 &
echo "child $!"
if [ -n "$IGNORE_TERM" ]; then trap '' TERM; else trap 'echo "got SIGTERM"; exit 0' TERM; fi
echo "started"
while :; do sleep 0.1; done
"""


@pytest.fixture
def stand_in_runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OperatorRunner:
    script = tmp_path / "fake-operator"
    script.write_text(STAND_IN)
    script.chmod(0o755)
    monkeypatch.setenv("AWS_PROFILE", "someones-real-account")
    runner = OperatorRunner(
        kube_env={"KUBECONFIG": "/k/config"},
        aws_env={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"},
        workdir=tmp_path,
        executable=script,
    )
    yield runner
    runner.stop_all()


def _child_pid(logs: str) -> int:
    return int(next(line for line in logs.splitlines() if line.startswith("child ")).split()[1])


def test_runner_passes_servers_flags_and_overrides_and_scrubs_real_settings(
    stand_in_runner: OperatorRunner,
) -> None:
    op = stand_in_runner.start("--namespace", "ns1", EXTRA="yes", FORUMDB_DRIFT_INTERVAL="1")
    op.wait_for_log("(?m)^started$")
    logs = op.logs()
    assert "--standalone" in logs
    assert "--namespace ns1" in logs
    assert "KUBECONFIG=/k/config" in logs
    assert "AWS_ENDPOINT_URL=http://127.0.0.1:1" in logs
    assert "AWS_PROFILE=unset" in logs  # the developer's real AWS profile never reaches it
    assert "FORUMDB_DRIFT_INTERVAL=1" in logs
    assert "EXTRA=yes" in logs
    assert op.health_url.endswith("/healthz")


def test_stop_terminates_the_whole_group(stand_in_runner: OperatorRunner) -> None:
    op = stand_in_runner.start()
    op.wait_for_log("started")
    child = _child_pid(op.logs())
    assert op.stop() == 0
    assert "got SIGTERM" in op.logs()
    assert not group_alive(op.pid)
    # The orphaned child may linger as a zombie until PID 1 reaps it; it must not run.
    assert not process_running(child)


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored(
    stand_in_runner: OperatorRunner,
) -> None:
    op = stand_in_runner.start(IGNORE_TERM="1")
    op.wait_for_log("started")
    assert op.stop(grace=0.5) == -signal.SIGKILL
    assert not op.alive


def test_kill_is_immediate(stand_in_runner: OperatorRunner) -> None:
    op = stand_in_runner.start()
    op.wait_for_log("started")
    assert op.kill() == -signal.SIGKILL
    assert "got SIGTERM" not in op.logs()
    assert not group_alive(op.pid)


def test_wait_for_log_times_out_with_the_logs(stand_in_runner: OperatorRunner) -> None:
    op = stand_in_runner.start()
    with pytest.raises(TimeoutError, match=r"(?s)never-printed.*argv: --standalone"):
        op.wait_for_log("never-printed", timeout=1)


def test_real_operator_reports_an_early_exit_with_its_logs(operator_runner) -> None:
    assert operator_executable().name == "forum-operator"
    op = operator_runner.start("--no-such-option")
    with pytest.raises(OperatorExited, match=r"(?s)exited with 2 .*forum-operator"):
        op.wait_for_log("this line is never logged", timeout=60)
    assert op.returncode == 2
    assert op.logs()  # the usage error it printed was captured


@pytest.mark.apiserver
def test_real_operator_serves_health_and_metrics_then_stops_cleanly(
    operator_runner, namespace: str
) -> None:
    op = operator_runner.start("--namespace", namespace)
    op.wait_healthy(timeout=60)
    metrics = requests.get(op.metrics_url, timeout=5)
    assert metrics.status_code == 200
    assert "# TYPE" in metrics.text
    assert op.stop() == 0  # SIGTERM: kopf shuts down by itself, no SIGKILL needed
    assert not group_alive(op.pid)
    assert op.logs()


def test_process_running_counts_a_zombie_as_gone() -> None:
    proc = subprocess.Popen(["sleep", "300"])
    try:
        assert process_running(proc.pid)
        proc.kill()
        # Not reaped yet: the pid still exists, as the zombie it is.
        wait_for(lambda: not process_running(proc.pid), timeout=10, what="sleep to die")
        os.kill(proc.pid, 0)  # still there (a zombie), so the check above saw the state
    finally:
        proc.kill()
        proc.wait()
    assert not process_running(proc.pid)
