"""The test node's cluster DNS: Service names answer with their cluster IP, others NXDOMAIN."""

from __future__ import annotations

import socket
import struct

from harness.tinydns import answer

RECORDS = {"forum-users.ns1.svc.cluster.local": "10.0.0.17"}


def query(name: str, qtype: int = 1, tid: int = 0x1234) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return (
        struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0)
        + labels
        + b"\0"
        + struct.pack(">HH", qtype, 1)
    )


def test_a_service_name_resolves_to_its_cluster_ip() -> None:
    response = answer(query("Forum-Users.ns1.svc.cluster.local"), RECORDS)
    tid, flags, qd, an = struct.unpack(">HHHH", response[:8])
    assert (tid, flags & 0xF, qd, an) == (0x1234, 0, 1, 1)
    assert socket.inet_ntoa(response[-4:]) == "10.0.0.17"


def test_an_unknown_name_is_nxdomain_and_aaaa_of_a_known_one_is_empty() -> None:
    unknown = answer(query("forum-users.other.svc.cluster.local"), RECORDS)
    assert struct.unpack(">H", unknown[2:4])[0] & 0xF == 3
    assert struct.unpack(">H", unknown[6:8])[0] == 0
    aaaa = answer(query("forum-users.ns1.svc.cluster.local", qtype=28), RECORDS)
    assert struct.unpack(">H", aaaa[2:4])[0] & 0xF == 0
    assert struct.unpack(">H", aaaa[6:8])[0] == 0
