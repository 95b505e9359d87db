"""A real single-node Kubernetes for the tests: etcd + kube-apiserver (the dev launcher, bound
to the node's bridge address), kube-controller-manager, kube-scheduler, a kubelet on
containerd + runc + the CNI bridge, kube-proxy (iptables mode), a tiny cluster DNS
(harness.tinydns), and the project's AWS emulator on the bridge address where pods reach it.

    node = Node.start(image_archives=[...])   # ~35-55 s to Ready on 2 busy cores
    ...
    node.stop()                               # raises if anything is left on the host

Everything lives in one throwaway folder; what cannot (iptables, cni0, network namespaces,
cgroups, sysctls) is recorded before and undone after by harness.node_host. Only one node can
run on a machine (fixed bridge and ports): a lock file serialises test sessions.
Needs root; `unavailable_reason()` says why not otherwise.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen
from typing import IO

from harness.apiserver import ApiServer
from harness.kube import Kubectl
from harness.motoserver import MotoServer
from harness.node_host import GATEWAY, POD_CIDR, SERVICE_CIDR, HostState
from harness.node_image import PAUSE_IMAGE, pause_image
from harness.procs import GiveUp, run_tool, start_group, stop_group, tail, wait_for
from harness.provision import NODE_BINARIES, missing_packages, tool_path

LOCK_FILE = Path(tempfile.gettempdir()) / "forumdb-test-node.lock"
NODE_PACKAGES_NEEDED = ("containerd", "runc", "containernetworking-plugins", "iptables", "podman")
CNI_BIN_DIR = "/usr/lib/cni"
HARNESS_PARENT = Path(__file__).resolve().parents[1]
LOCK_WAIT = 900.0  # seconds another session's node may hold the machine
SKIP_ENV = "FORUMDB_SKIP_NODE"  # set (to anything) to leave the node tier out as root too


def unavailable_reason() -> str | None:
    """Why no node can run here, or None."""
    if os.environ.get(SKIP_ENV):
        return f"{SKIP_ENV} is set"
    if sys.platform != "linux":
        return "a test node needs Linux"
    if os.geteuid() != 0:
        return "not root (the kubelet, containerd and the CNI bridge need root)"
    missing = missing_packages(NODE_PACKAGES_NEEDED)
    if missing:
        return f"Debian packages missing: {', '.join(missing)} (`make setup` as root)"
    tools = [t for t in (*NODE_BINARIES, "kube-apiserver", "etcd", "kubectl") if not tool_path(t)]
    if tools:
        return f"not provisioned: {', '.join(tools)} (`make setup`)"
    if not Path(CNI_BIN_DIR, "bridge").exists():
        return f"no CNI bridge plugin in {CNI_BIN_DIR}"
    return None


def _containerd_config(state: Path, sock: Path) -> str:
    # restrict_oom_score_adj: no CAP_SYS_RESOURCE on these VMs (a negative oom_score_adj fails)
    return f"""version = 2
root = "{state}/containerd/root"
state = "{state}/containerd/state"
[grpc]
  address = "{sock}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{state}/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{state}/cni/net.d"
"""


def _cni_config(state: Path) -> str:
    return f"""{{"cniVersion": "0.4.0", "name": "forumdb-test", "plugins": [
  {{"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {{"type": "host-local", "ranges": [[{{"subnet": "{POD_CIDR}"}}]],
            "routes": [{{"dst": "0.0.0.0/0"}}], "dataDir": "{state}/cni/ipam"}}}}]}}
"""


def _kubelet_config(state: Path) -> str:
    # address 127.0.0.1: the apiserver reaches the node by its hostname, which /etc/hosts maps
    # to loopback here; clusterDNS: harness.tinydns on the bridge address
    return f"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failSwapOn: false
authentication: {{anonymous: {{enabled: true}}, webhook: {{enabled: false}}}}
authorization: {{mode: AlwaysAllow}}
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
clusterDomain: cluster.local
clusterDNS: ["{GATEWAY}"]
resolvConf: {state}/kubelet/resolv.conf
syncFrequency: 10s
evictionHard: {{memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}}
"""


@dataclass
class Node:
    workdir: Path
    host: HostState
    apiserver: ApiServer | None = None
    moto: MotoServer | None = None
    kubectl: Kubectl | None = None
    processes: dict[str, Popen[bytes]] = field(default_factory=dict)
    lock: IO[str] | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def sock(self) -> Path:
        return self.workdir / "containerd" / "containerd.sock"

    def ctr(self, *args: str, timeout: float = 300) -> str:
        argv = ["ctr", "--address", str(self.sock), "--namespace", "k8s.io", *args]
        return run_tool(argv, timeout=timeout).stdout

    def import_image(self, archive: Path) -> None:
        self.ctr("images", "import", str(archive))

    def _bg(self, name: str, argv: list[str | Path]) -> None:
        env = {**os.environ, "PYTHONPATH": str(HARNESS_PARENT)}  # python -m harness.tinydns
        self.processes[name] = start_group(
            argv, log_file=self.workdir / f"{name}.log", name=name, env=env
        )

    @classmethod
    def start(cls, *, timeout: float = 180) -> Node:
        lock = open(LOCK_FILE, "w")  # noqa: SIM115 - held for the node's life
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    lock.close()
                    raise TimeoutError(f"another test session holds {LOCK_FILE}") from None
                time.sleep(2)
        workdir = Path(tempfile.mkdtemp(prefix="forumdb-node-"))
        node = cls(workdir=workdir, host=HostState.record(), lock=lock)
        try:
            node._start(timeout)
        except BaseException:
            node.stop(check=False)
            raise
        return node

    def _start(self, timeout: float) -> None:
        t0 = time.monotonic()
        state = self.workdir
        for sub in ("containerd", "cni/net.d", "cni/ipam", "kubelet/root", "runc"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        (state / "containerd" / "config.toml").write_text(_containerd_config(state, self.sock))
        (state / "cni" / "net.d" / "10-bridge.conflist").write_text(_cni_config(state))
        self._bg("containerd", ["containerd", "--config", state / "containerd" / "config.toml"])
        pause = pause_image()
        self.host.prepare_network()
        wait_for(
            lambda: (
                run_tool(["ctr", "--address", str(self.sock), "version"], check=False).returncode
                == 0
            ),
            timeout=60,
            what="containerd",
        )
        self.import_image(pause)
        kubectl_bin = tool_path("kubectl")
        assert kubectl_bin is not None
        self.apiserver = ApiServer.start(
            kube_apiserver=tool_path("kube-apiserver"),  # type: ignore[arg-type]
            etcd=tool_path("etcd"),  # type: ignore[arg-type]
            timeout=120,
            address=GATEWAY,
            extra_sans=("10.0.0.1",),  # the kubernetes Service, what pods dial
            service_accounts=True,
            cluster_name="forumdb-node",
        )
        kubeconfig = self.apiserver.kubeconfig
        self.kubectl = self.apiserver.kubectl(kubectl_bin)
        self.moto = MotoServer.start(host=GATEWAY)
        self._bg(
            "tinydns",
            [
                *(sys.executable, "-m", "harness.tinydns", "--kubeconfig", kubeconfig),
                *("--kubectl", kubectl_bin, "--address", GATEWAY),
            ],
        )
        (state / "kubelet" / "resolv.conf").write_text(f"nameserver {GATEWAY}\n")
        (state / "kubelet" / "config.yaml").write_text(_kubelet_config(state))
        bins = {name: tool_path(name) for name in NODE_BINARIES}
        pki = self.apiserver.pki
        self._bg(
            "kubelet",
            [
                bins["kubelet"],
                f"--kubeconfig={kubeconfig}",
                f"--config={state / 'kubelet' / 'config.yaml'}",
                "--container-runtime=remote",
                f"--container-runtime-endpoint=unix://{self.sock}",
                f"--root-dir={state / 'kubelet' / 'root'}",
                f"--cert-dir={state / 'kubelet' / 'pki'}",
                f"--node-ip={GATEWAY}",
                "--v=1",
            ],
        )
        self._bg(
            "controller-manager",
            [
                bins["kube-controller-manager"],
                f"--kubeconfig={kubeconfig}",
                *("--leader-elect=false", "--port=0", "--secure-port=0"),
                f"--service-account-private-key-file={pki.sa_private_key}",
                f"--root-ca-file={pki.ca_cert}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--v=1",
            ],
        )
        self._bg(
            "scheduler",
            [
                bins["kube-scheduler"],
                f"--kubeconfig={kubeconfig}",
                *("--leader-elect=false", "--port=0", "--secure-port=0", "--v=1"),
            ],
        )
        self._bg(
            "kube-proxy",
            [
                bins["kube-proxy"],
                f"--kubeconfig={kubeconfig}",
                *("--proxy-mode=iptables", "--cluster-cidr=10.244.0.0/16"),
                f"--hostname-override={os.uname().nodename}",
                "--conntrack-max-per-core=0",
                "--metrics-bind-address=127.0.0.1:10249",
                "--healthz-bind-address=127.0.0.1:10256",
                "--v=1",
            ],
        )
        self.wait_ready(timeout)
        self.timings["start"] = time.monotonic() - t0

    def _check_processes(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                log = self.workdir / f"{name}.log"
                raise GiveUp(f"{name} exited with {proc.returncode}:\n{tail(log)}")

    def wait_ready(self, timeout: float) -> None:
        assert self.kubectl is not None
        kubectl = self.kubectl

        def ready() -> bool:
            self._check_processes()
            nodes = kubectl.json("get", "nodes")["items"]
            conditions = [c for n in nodes for c in n["status"].get("conditions", [])]
            sa = kubectl("get", "serviceaccount", "default", check=False).returncode == 0
            return sa and any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        wait_for(ready, timeout=timeout, interval=1, what="the test node to be Ready")

    def logs(self, name: str) -> str:
        return tail(self.workdir / f"{name}.log")

    def _stop_pods(self) -> None:
        """Kill every container and sandbox left (the kubelet is gone) and remove them."""
        if not self.sock.exists():
            return
        argv = ["ctr", "--address", str(self.sock), "--namespace", "k8s.io"]
        tasks = run_tool([*argv, "tasks", "ls", "-q"], check=False).stdout.split()
        for task in tasks:
            run_tool([*argv, "tasks", "kill", "-s", "KILL", task], check=False)
        for task in tasks:
            wait_for(
                lambda t=task: (
                    run_tool([*argv, "tasks", "rm", "-f", t], check=False).returncode == 0
                    or t not in run_tool([*argv, "tasks", "ls", "-q"], check=False).stdout.split()
                ),
                timeout=30,
                what=f"container {task} to stop",
            )
        for container in run_tool([*argv, "containers", "ls", "-q"], check=False).stdout.split():
            run_tool([*argv, "containers", "rm", container], check=False)

    def _stop_shims(self) -> None:
        """The runc shims of our containerd outlive it when a task survived: end them, by pid."""
        marker = str(self.sock).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"containerd-shim" in cmdline and marker in cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(proc.name), signal.SIGKILL)

    def stop(self, *, check: bool = True) -> None:
        """Stop everything, undo the host changes, remove the folder. With `check`, raise if
        anything is left behind on the host."""
        errors: list[str] = []

        def step(what: str, fn: Callable[[], object]) -> None:
            # every step runs even when an earlier one failed: the host must be put back
            try:
                fn()
            except Exception as exc:  # collected, raised together below
                errors.append(f"{what}: {exc}")

        try:
            for name in ("kube-proxy", "scheduler", "controller-manager", "kubelet", "tinydns"):
                proc = self.processes.pop(name, None)
                if proc is not None:
                    step(name, lambda p=proc: stop_group(p, grace=10))
            step("pods", self._stop_pods)
            containerd = self.processes.pop("containerd", None)
            if containerd is not None:
                step("containerd", lambda: stop_group(containerd, grace=10))
            step("shims", self._stop_shims)
            if self.moto is not None:
                step("emulator", self.moto.stop)
            if self.apiserver is not None:
                step("apiserver", self.apiserver.stop)
            step("host", lambda: self.host.restore(self.workdir))
            left = self.host.leftovers(self.workdir)
            shutil.rmtree(self.workdir, ignore_errors=True)
            if check and (left or errors):
                raise RuntimeError(
                    "the test node's teardown: "
                    + "; ".join([*errors, *(f"left {x}" for x in left)])
                )
        finally:
            if self.lock is not None:
                self.lock.close()
                self.lock = None
