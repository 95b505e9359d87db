"""Clean teardown: stopping a server leaves no process and no folder behind."""

from __future__ import annotations

import socket

import pytest

from forumctl.dev.apiserver import PortTaken
from harness.apiserver import ApiServer, ApiServerPorts
from harness.motoserver import MotoServer
from harness.procs import free_port, group_alive, leftover_groups
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


@pytest.mark.apiserver
def test_a_port_taken_after_its_pick_is_picked_again(monkeypatch, caplog) -> None:
    """Another process binding etcd's port between the pick and etcd's bind (seen in CI)
    costs a second start on other ports, not a failed one."""
    plans = []
    real_free = ApiServerPorts.free.__func__

    def free(cls):
        plan = real_free(cls)
        if not plans:  # the first plan's etcd port is taken before etcd starts
            plan = ApiServerPorts(plan.apiserver, held.getsockname()[1], plan.etcd_peer)
        plans.append(plan)
        return plan

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        monkeypatch.setattr(ApiServerPorts, "free", classmethod(free))
        before = set(leftover_groups())
        server = ApiServer.start(
            kube_apiserver=require_tool("kube-apiserver"), etcd=require_tool("etcd")
        )
        try:
            assert len(plans) == 2
            assert server.url.endswith(f":{plans[1].apiserver}")
            assert "etcd exited" in caplog.text
            assert "other ports" in caplog.text
        finally:
            server.stop()
        assert set(leftover_groups()) == before


@pytest.mark.apiserver
def test_given_ports_are_not_swapped_for_others(tmp_path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        ports = ApiServerPorts(free_port(), held.getsockname()[1], free_port())
        with pytest.raises(PortTaken, match="etcd exited"):
            ApiServer.start(
                kube_apiserver=require_tool("kube-apiserver"),
                etcd=require_tool("etcd"),
                ports=ports,
                timeout=30,
            )
