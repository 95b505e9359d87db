"""A cluster DNS for the test node (Debian packages no CoreDNS): answers A queries for
`NAME.NAMESPACE.svc.cluster.local` with the Service's cluster IP, NXDOMAIN otherwise; forwards
nothing (pods here need no outside names: the emulator is addressed by IP).

    python -m harness.tinydns --kubeconfig K --address 10.244.0.1

Services are listed every second through the kubectl given (`--kubectl`); the kubelet points
pods at `--address` (clusterDNS), with their search path, so short names resolve too.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import subprocess
import threading
import time

CLUSTER_DOMAIN = "svc.cluster.local"
TTL = 2


def service_records(kubectl: str, kubeconfig: str) -> dict[str, str]:
    out = subprocess.run(
        [kubectl, "--kubeconfig", kubeconfig, "get", "svc", "-A", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    records = {}
    for svc in json.loads(out)["items"]:
        ip = svc["spec"].get("clusterIP")
        if ip and ip != "None":
            meta = svc["metadata"]
            records[f"{meta['name']}.{meta['namespace']}.{CLUSTER_DOMAIN}"] = ip
    return records


def answer(query: bytes, records: dict[str, str]) -> bytes:
    """The response to one DNS query (RFC 1035 4.1): an A record or NXDOMAIN."""
    tid, _flags, _qdcount = struct.unpack(">HHH", query[:6])
    i, labels = 12, []
    while query[i]:
        labels.append(query[i + 1 : i + 1 + query[i]].decode())
        i += 1 + query[i]
    (qtype,) = struct.unpack(">H", query[i + 1 : i + 3])
    question = query[12 : i + 5]
    ip = records.get(".".join(labels).lower())
    if ip and qtype == 1:
        rr = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, TTL, 4) + socket.inet_aton(ip)
        return struct.pack(">HHHHHH", tid, 0x8180, 1, 1, 0, 0) + question + rr
    rcode = 0 if ip else 3  # a known name asked for AAAA: no data; otherwise NXDOMAIN
    return struct.pack(">HHHHHH", tid, 0x8180 | rcode, 1, 0, 0, 0) + question


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--address", required=True)
    args = parser.parse_args()
    records: dict[str, str] = {}

    def refresh() -> None:
        while True:
            try:
                records.update(fresh := service_records(args.kubectl, args.kubeconfig))
                for gone in set(records) - set(fresh):
                    records.pop(gone, None)
            except (subprocess.SubprocessError, ValueError, KeyError) as exc:
                print("refresh failed:", exc, flush=True)
            time.sleep(1)

    threading.Thread(target=refresh, daemon=True).start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.address, 53))
    print(f"tinydns ready on {args.address}:53", flush=True)
    while True:
        data, peer = sock.recvfrom(512)
        try:
            sock.sendto(answer(data, records), peer)
        except (IndexError, struct.error, UnicodeDecodeError) as exc:
            print("bad query from", peer, exc, flush=True)


if __name__ == "__main__":
    main()
