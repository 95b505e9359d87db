"""free_port: a port for a process that binds it later, away from outgoing connections' ports
and from the ports other runs on the host pick."""

from __future__ import annotations

import socket

import pytest

from forumctl.dev import procs
from forumctl.dev.errors import DevStackError
from forumctl.dev.ports import PortPlan


def test_ports_are_free_and_below_the_ephemeral_range(monkeypatch) -> None:
    monkeypatch.delenv(procs.FREE_PORT_RANGE_ENV, raising=False)
    low = procs._ephemeral_low()
    for _ in range(20):
        port = procs.free_port()
        assert procs._LISTEN_PORTS.start <= port < min(low, procs._LISTEN_PORTS.stop)
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # still free


def test_a_taken_port_is_not_handed_out(monkeypatch) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        monkeypatch.setenv(procs.FREE_PORT_RANGE_ENV, f"{taken}-{taken}")
        assert procs.free_port() != taken


def test_the_range_in_the_environment_is_where_ports_are_picked(monkeypatch) -> None:
    monkeypatch.setattr(procs, "_handed_out", set())
    monkeypatch.setenv(procs.FREE_PORT_RANGE_ENV, "21000-21049")
    picks = {procs.free_port() for _ in range(20)}
    assert all(21000 <= port <= 21049 for port in picks)


def test_a_port_is_never_handed_out_twice_though_still_unbound(monkeypatch) -> None:
    """etcd's two ports and kube-apiserver's are picked before any is bound."""
    monkeypatch.setattr(procs, "_handed_out", set())
    monkeypatch.setenv(procs.FREE_PORT_RANGE_ENV, "21100-21109")
    picks = [procs.free_port() for _ in range(8)]
    assert len(set(picks)) == 8
    assert all(21100 <= port <= 21109 for port in picks)


@pytest.mark.parametrize("value", ["20000", "30000-20000", "80-90", "20000-70000", "a-b"])
def test_a_bad_range_in_the_environment_is_refused_by_name(monkeypatch, value) -> None:
    monkeypatch.setenv(procs.FREE_PORT_RANGE_ENV, value)
    with pytest.raises(ValueError, match=procs.FREE_PORT_RANGE_ENV):
        procs.free_port()


def test_dev_up_names_a_bad_range_as_its_own_error(monkeypatch) -> None:
    monkeypatch.setenv(procs.FREE_PORT_RANGE_ENV, "9-8")
    with pytest.raises(DevStackError, match=f"{procs.FREE_PORT_RANGE_ENV}='9-8'"):
        PortPlan.free()
