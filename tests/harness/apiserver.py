"""A real Kubernetes API server for tests: etcd + kube-apiserver, envtest style.

No kubelet, scheduler or controller-manager: objects are stored, validated (openAPI schemas,
RBAC, admission webhooks) and watched, but Deployments make no Pods and nothing is garbage
collected. Both processes listen on random 127.0.0.1 ports; etcd keeps its data on tmpfs
(/dev/shm), since etcd 3.4 cannot skip fsync. `stop()` leaves no process and no folder behind.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import requests
import yaml

from harness.kube import Kubectl
from harness.pki import Pki, write_pki
from harness.procs import (
    GiveUp,
    discard_on_failure,
    free_port,
    start_group,
    stop_group,
    tail,
    wait_for,
)

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"


def _state_root() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and shm.stat().st_mode & 0o002 else None


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _kubeconfig(url: str, ca_cert: Path, user: dict[str, str]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "forumdb-test",
                    "cluster": {"server": url, "certificate-authority-data": _b64(ca_cert)},
                }
            ],
            "users": [{"name": "user", "user": user}],
            "contexts": [
                {
                    "name": "forumdb-test",
                    "context": {"cluster": "forumdb-test", "user": "user", "namespace": "default"},
                }
            ],
            "current-context": "forumdb-test",
        }
    )


@dataclass
class ApiServer:
    """A running etcd + kube-apiserver pair. Build it with `ApiServer.start(...)`."""

    url: str
    workdir: Path
    kubeconfig: Path
    pki: Pki
    admin_token: str
    processes: dict[str, Popen[bytes]] = field(default_factory=dict)
    # `plural.group` of each namespaced custom resource applied by `apply_crds`
    namespaced_crds: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """Environment for clients: KUBECONFIG, and kubectl/helm's discovery cache kept in the
        work folder (not in ~/.kube/cache, where every random port would leave a folder)."""
        return {"KUBECONFIG": str(self.kubeconfig), "KUBECACHEDIR": str(self.workdir / "cache")}

    @classmethod
    def start(cls, *, kube_apiserver: Path, etcd: Path, timeout: float = 60) -> ApiServer:
        workdir = Path(tempfile.mkdtemp(prefix="forumdb-apiserver-", dir=_state_root()))
        processes: dict[str, Popen[bytes]] = {}
        with discard_on_failure(workdir, processes.values()):
            pki = write_pki(workdir / "pki")
            token = secrets.token_hex(16)
            (workdir / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n')
            etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
            processes["etcd"] = start_group(
                [
                    *(etcd, "--name", "default", "--data-dir", workdir / "etcd"),
                    f"--listen-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--advertise-client-urls=http://127.0.0.1:{etcd_port}",
                    f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                    f"--initial-cluster=default=http://127.0.0.1:{peer_port}",
                    "--logger=zap",
                    "--log-level=warn",
                ],
                log_file=workdir / "etcd.log",
                name="etcd",
            )
            processes["kube-apiserver"] = start_group(
                [
                    kube_apiserver,
                    f"--etcd-servers=http://127.0.0.1:{etcd_port}",
                    "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1",
                    f"--secure-port={api_port}",
                    "--insecure-port=0",
                    f"--tls-cert-file={pki.serving_cert}",
                    f"--tls-private-key-file={pki.serving_key}",
                    f"--client-ca-file={pki.ca_cert}",
                    f"--token-auth-file={workdir / 'tokens.csv'}",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    f"--service-account-key-file={pki.sa_public_key}",
                    f"--service-account-signing-key-file={pki.sa_private_key}",
                    f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                    "--authorization-mode=RBAC",
                    # no token controller runs here, so pods could not get their SA tokens
                    "--disable-admission-plugins=ServiceAccount",
                    "--allow-privileged=true",
                    f"--cert-dir={workdir / 'certs'}",
                ],
                log_file=workdir / "apiserver.log",
                name="kube-apiserver",
            )
            url = f"https://127.0.0.1:{api_port}"
            _wait_ready(url, pki, processes, workdir, timeout)
            kubeconfig = workdir / "kubeconfig"
            admin = {
                "client-certificate-data": _b64(pki.admin_cert),
                "client-key-data": _b64(pki.admin_key),
            }
            kubeconfig.write_text(_kubeconfig(url, pki.ca_cert, admin))
        return cls(
            url=url,
            workdir=workdir,
            kubeconfig=kubeconfig,
            pki=pki,
            admin_token=token,
            processes=processes,
        )

    def token_kubeconfig(self, token: str, path: Path) -> Path:
        """Write a kubeconfig that authenticates with `token` only (say, a ServiceAccount's),
        to act as that identity rather than as the admin."""
        path.write_text(_kubeconfig(self.url, self.pki.ca_cert, {"token": token}))
        return path

    def kubectl(self, binary: Path) -> Kubectl:
        return Kubectl(binary, self.kubeconfig, cache_dir=self.workdir / "cache")

    def apply_crds(self, kubectl: Kubectl, crd_dir: Path, *, timeout: float = 30) -> list[str]:
        """Apply crd_dir/*.yaml and wait until each CRD is Established; remembers and returns
        the namespaced resources they define. An empty folder is nothing to do."""
        files = sorted(crd_dir.glob("*.yaml"))
        if not files:
            return []
        kubectl("apply", "--server-side", "--force-conflicts", *[f"--filename={f}" for f in files])
        crds = crd_documents(crd_dir)
        if crds:
            kubectl(
                "wait",
                "--for=condition=Established",
                f"--timeout={timeout:.0f}s",
                *[f"crd/{d['metadata']['name']}" for d in crds],
            )
        self.namespaced_crds = [
            d["metadata"]["name"] for d in crds if d["spec"].get("scope") == "Namespaced"
        ]
        return self.namespaced_crds

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd; remove the work folder."""
        for name in ("kube-apiserver", "etcd"):
            proc = self.processes.pop(name, None)
            if proc is not None:
                stop_group(proc, grace=10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _wait_ready(
    url: str, pki: Pki, processes: dict[str, Popen[bytes]], workdir: Path, timeout: float
) -> None:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would replace our CA
    session.verify = str(pki.ca_cert)
    session.cert = (str(pki.admin_cert), str(pki.admin_key))

    def ready() -> bool:
        for name, proc in processes.items():
            if proc.poll() is not None:
                log = workdir / ("etcd.log" if name == "etcd" else "apiserver.log")
                raise GiveUp(f"{name} exited with {proc.returncode}:\n{tail(log)}")
        return session.get(f"{url}/readyz", timeout=2).status_code == 200

    try:
        wait_for(ready, timeout=timeout, interval=0.1, what=f"{url}/readyz")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}\n{tail(workdir / 'apiserver.log')}") from None
    finally:
        session.close()


def crd_documents(crd_dir: Path) -> list[dict]:
    """Every CustomResourceDefinition in crd_dir/*.yaml."""
    docs = []
    for path in sorted(crd_dir.glob("*.yaml")):
        docs += [
            d
            for d in yaml.safe_load_all(path.read_text())
            if d and d.get("kind") == "CustomResourceDefinition"
        ]
    return docs
