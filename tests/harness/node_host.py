"""What a test node changes on the host, and how to take it back: iptables chains (kubelet,
kube-proxy, our FORWARD rules), the cni0 bridge and the pods' network namespaces, mounts under
the node's folder, the kubelet's cgroups, sysctls, and the few fixed paths kubelet and
containerd write outside their configured folders.

`HostState.record()` before the node starts notes what already exists; `restore()` removes
only what the node added (and the chains, which no other program here makes); `leftovers()`
lists whatever is still there, so a teardown can prove it cleaned up.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

BRIDGE = "cni0"
POD_CIDR = "10.244.0.0/24"
GATEWAY = "10.244.0.1"
SERVICE_CIDR = "10.0.0.0/24"
FORWARD_COMMENT = "forumdb-test-node"
OUR_CHAIN_PREFIXES = ("KUBE-", "CNI-")
SYSCTLS = (
    "net.ipv4.ip_forward",
    "net.ipv4.conf.all.route_localnet",  # kube-proxy sets it
    "net.bridge.bridge-nf-call-iptables",  # where bridge netfilter exists
)
NETNS_DIR = Path("/run/netns")
CGROUP_ROOT = Path("/sys/fs/cgroup")
# written by kubelet 1.20 / containerd 1.6 whatever their folders are configured to be
FIXED_PATHS = (
    Path("/var/lib/kubelet"),
    Path("/var/log/pods"),
    Path("/var/log/containers"),
    Path("/usr/libexec/kubernetes"),
    Path("/var/lib/cni"),
    Path("/run/containerd"),
    NETNS_DIR,
)


def _run(*argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


def _sysctl(name: str) -> str:
    return Path("/proc/sys", *name.split(".")).read_text().strip()


def _set_sysctl(name: str, value: str) -> None:
    Path("/proc/sys", *name.split(".")).write_text(value)


def _netns() -> set[str]:
    return {p.name for p in NETNS_DIR.iterdir()} if NETNS_DIR.is_dir() else set()


def our_chains(iptables: str = "iptables") -> dict[str, list[str]]:
    """table -> chains of ours (KUBE-*, CNI-*) present in it."""
    found: dict[str, list[str]] = {}
    for table in ("filter", "nat", "mangle"):
        out = _run(f"{iptables}-save", "-t", table).stdout
        chains = [
            line[1:].split()[0]
            for line in out.splitlines()
            if line.startswith(":") and line[1:].startswith(OUR_CHAIN_PREFIXES)
        ]
        if chains:
            found[table] = chains
    return found


def _our_rules(iptables: str, table: str) -> list[list[str]]:
    """Rules (as `-A CHAIN ...` argument lists) that jump to our chains or carry our comment."""
    rules = []
    for line in _run(f"{iptables}-save", "-t", table).stdout.splitlines():
        if not line.startswith("-A "):
            continue
        args = shlex.split(line)
        chain = args[1]
        target = args[args.index("-j") + 1] if "-j" in args else ""
        if chain.startswith(OUR_CHAIN_PREFIXES):
            continue  # goes with its chain
        if target.startswith(OUR_CHAIN_PREFIXES) or FORWARD_COMMENT in line:
            rules.append(args)
    return rules


def remove_iptables() -> None:
    for iptables in ("iptables", "ip6tables"):
        if shutil.which(iptables) is None:
            continue
        for table in ("filter", "nat", "mangle"):
            for rule in _our_rules(iptables, table):
                _run(iptables, "-t", table, "-D", *rule[1:])
        for table, chains in our_chains(iptables).items():
            for chain in chains:
                _run(iptables, "-t", table, "-F", chain)
            for chain in chains:
                _run(iptables, "-t", table, "-X", chain)


def mounts_under(folder: Path) -> list[str]:
    """Mount points at or below `folder`, deepest first."""
    prefix = str(folder)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(set(points), key=len, reverse=True)


def kubepods_cgroups() -> list[Path]:
    if not CGROUP_ROOT.is_dir():
        return []
    return [c / "kubepods" for c in CGROUP_ROOT.iterdir() if (c / "kubepods").is_dir()]


@dataclass
class HostState:
    """What existed before the node started."""

    sysctls: dict[str, str] = field(default_factory=dict)
    netns: set[str] = field(default_factory=set)
    paths: set[Path] = field(default_factory=set)
    bridge_existed: bool = False

    @classmethod
    def record(cls) -> HostState:
        return cls(
            sysctls={n: _sysctl(n) for n in SYSCTLS if Path("/proc/sys", *n.split(".")).exists()},
            netns=_netns(),
            paths={p for p in FIXED_PATHS if p.exists()},
            bridge_existed=_run("ip", "link", "show", BRIDGE).returncode == 0,
        )

    def prepare_network(self) -> None:
        """cni0 up front (its address is the node IP; kubelet refuses loopback), the Service
        range routed into it, forwarding on, and pod traffic accepted in FORWARD."""
        if not self.bridge_existed:
            _run("ip", "link", "add", BRIDGE, "type", "bridge", check=True)
            _run("ip", "addr", "add", f"{GATEWAY}/24", "dev", BRIDGE, check=True)
        _run("ip", "link", "set", BRIDGE, "up", check=True)
        _run("ip", "route", "replace", SERVICE_CIDR, "dev", BRIDGE, "src", GATEWAY, check=True)
        _set_sysctl("net.ipv4.ip_forward", "1")
        for direction in ("-s", "-d"):
            _run(
                *("iptables", "-I", "FORWARD", "1", direction, POD_CIDR),
                *("-m", "comment", "--comment", FORWARD_COMMENT, "-j", "ACCEPT"),
                check=True,
            )

    def restore(self, folder: Path) -> None:
        """Undo the node's changes (its processes must be gone first)."""
        for name in _netns() - self.netns:
            _run("ip", "netns", "delete", name)  # the veths die with their namespace
        _run("ip", "link", "delete", BRIDGE)
        _run("ip", "route", "delete", SERVICE_CIDR)
        remove_iptables()
        for point in mounts_under(folder):
            _run("umount", "-l", point)
        for cgroup in kubepods_cgroups():
            for sub, _dirs, _files in sorted(os.walk(cgroup), key=lambda w: -len(w[0])):
                with contextlib.suppress(OSError):
                    os.rmdir(sub)
        for path in FIXED_PATHS:
            if path not in self.paths and path.exists():
                for point in mounts_under(path):
                    _run("umount", "-l", point)
                shutil.rmtree(path, ignore_errors=True)
        for name, value in self.sysctls.items():
            _set_sysctl(name, value)

    def leftovers(self, folder: Path) -> list[str]:
        """What the node left behind: empty after a clean `restore`."""
        found = [f"iptables {t}: {c}" for t, c in our_chains().items()]
        found += [
            f"{ipt} rule {' '.join(r)}"
            for ipt in ("iptables", "ip6tables")
            if shutil.which(ipt)
            for t in ("filter", "nat", "mangle")
            for r in _our_rules(ipt, t)
        ]
        if _run("ip", "link", "show", BRIDGE).returncode == 0:
            found.append(f"interface {BRIDGE}")
        found += [f"network namespace {n}" for n in _netns() - self.netns]
        found += [f"mount {m}" for m in mounts_under(folder)]
        found += [f"cgroup {c}" for c in kubepods_cgroups()]
        found += [f"path {p}" for p in FIXED_PATHS if p not in self.paths and p.exists()]
        found += [
            f"sysctl {n}={_sysctl(n)} (was {v})" for n, v in self.sysctls.items() if _sysctl(n) != v
        ]
        return found
