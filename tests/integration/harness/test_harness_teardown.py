"""Clean teardown: stopping a server leaves no process and no folder behind."""

from __future__ import annotations

import pytest

from harness.apiserver import ApiServer
from harness.motoserver import MotoServer
from harness.procs import group_alive, leftover_groups
from harness.provision import require_tool


@pytest.mark.apiserver
def test_apiserver_stop_leaves_nothing() -> None:
    server = ApiServer.start(
        kube_apiserver=require_tool("kube-apiserver"), etcd=require_tool("etcd")
    )
    pids = [p.pid for p in server.processes.values()]
    assert server.workdir.is_dir()
    assert str(server.workdir).startswith("/dev/shm/")  # etcd's data on tmpfs
    server.stop()
    assert not server.workdir.exists()
    assert not any(group_alive(pid) for pid in pids)
    assert not set(pids) & set(leftover_groups())


def test_moto_server_stop_leaves_nothing() -> None:
    server = MotoServer.start()
    pid = server.process.pid
    server.stop()
    assert not server.workdir.exists()
    assert not group_alive(pid)
    assert pid not in leftover_groups()


def test_a_failed_start_cleans_up_too(tmp_path) -> None:
    broken = tmp_path / "kube-apiserver"
    broken.write_text("#!/bin/sh\necho 'cannot start: no etcd' >&2\nexit 3\n")
    broken.chmod(0o755)
    before = set(leftover_groups())
    with pytest.raises(Exception, match=r"(?s)kube-apiserver exited with 3.*cannot start"):
        ApiServer.start(kube_apiserver=broken, etcd=require_tool("etcd"), timeout=20)
    assert set(leftover_groups()) == before
