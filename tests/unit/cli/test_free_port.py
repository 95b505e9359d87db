"""free_port: a port for a process that binds it later, away from outgoing connections' ports."""

from __future__ import annotations

import socket

from forumctl.dev import procs


def test_ports_are_free_and_below_the_ephemeral_range() -> None:
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
        picks = iter([taken, taken])
        monkeypatch.setattr(procs.random, "randrange", lambda *_: next(picks, 0))
        monkeypatch.setattr(procs, "_LISTEN_PORTS", range(taken, taken + 1))
        monkeypatch.setattr(procs, "_ephemeral_low", lambda: 65536)
        assert procs.free_port() != taken
