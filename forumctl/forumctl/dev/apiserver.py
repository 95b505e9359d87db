"""A real Kubernetes API server on one machine: etcd + kube-apiserver, envtest style.

No kubelet, scheduler or controller-manager: objects are stored, validated (openAPI schemas,
RBAC, admission webhooks) and watched, but Deployments make no Pods and nothing is garbage
collected. Both processes listen on 127.0.0.1 (random free ports unless given). The test
harness runs it in a throwaway folder on tmpfs (/dev/shm: etcd 3.4 cannot skip fsync);
`forumctl dev up` in its state folder. `stop()` leaves no process and no folder behind.
"""

from __future__ import annotations

import base64
import logging
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import requests
import yaml

from forumctl.dev.pki import Pki, write_pki
from forumctl.dev.procs import (
    GiveUp,
    discard_on_failure,
    free_port,
    start_group,
    stop_group,
    tail,
    wait_for,
)

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
ETCD_LOG = "etcd.log"
APISERVER_LOG = "apiserver.log"
# `kubectl(*args)`: runs kubectl against this server, raises on failure
KubectlCall = Callable[..., subprocess.CompletedProcess[str]]
# Starts on freshly picked ports when one was taken between its pick and its bind.
_PORT_ATTEMPTS = 3

log = logging.getLogger("forumdb.devstack.apiserver")


class PortTaken(GiveUp):
    """etcd or kube-apiserver exited because its port was already in use."""

    def __init__(self, message: str, *, brief: str) -> None:
        super().__init__(message)
        self.brief = brief


def _state_root() -> str | None:
    shm = Path("/dev/shm")  # noqa: S108 - tmpfs for etcd's data, in a mkdtemp folder
    return str(shm) if shm.is_dir() and shm.stat().st_mode & 0o002 else None


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _kubeconfig(url: str, ca_cert: Path, user: dict[str, str], cluster: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster,
                    "cluster": {"server": url, "certificate-authority-data": _b64(ca_cert)},
                }
            ],
            "users": [{"name": "user", "user": user}],
            "contexts": [
                {
                    "name": cluster,
                    "context": {"cluster": cluster, "user": "user", "namespace": "default"},
                }
            ],
            "current-context": cluster,
        }
    )


@dataclass(frozen=True)
class ApiServerPorts:
    """The three ports the pair listens on (all on 127.0.0.1)."""

    apiserver: int
    etcd_client: int
    etcd_peer: int

    @classmethod
    def free(cls) -> ApiServerPorts:
        return cls(apiserver=free_port(), etcd_client=free_port(), etcd_peer=free_port())


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

    @property
    def log_files(self) -> dict[str, Path]:
        return {"etcd": self.workdir / ETCD_LOG, "kube-apiserver": self.workdir / APISERVER_LOG}

    @classmethod
    def start(
        cls,
        *,
        kube_apiserver: Path,
        etcd: Path,
        timeout: float = 60,
        workdir: Path | None = None,
        ports: ApiServerPorts | None = None,
        cluster_name: str = "forumdb-test",
        address: str = "127.0.0.1",
        extra_sans: tuple[str, ...] = (),
        service_accounts: bool = False,
    ) -> ApiServer:
        """Start etcd, then kube-apiserver, and wait until /readyz answers.

        Without `workdir` a throwaway folder (on tmpfs where there is one) is made and removed
        again if the start fails; a given `workdir` is the caller's, kept with its logs.
        Without `ports`, free ones are picked, and picked again (up to 3 starts) if another
        process binds one between the pick and etcd's or kube-apiserver's bind.
        """
        attempts = 1 if ports else _PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                return cls._start_once(
                    kube_apiserver=kube_apiserver,
                    etcd=etcd,
                    timeout=timeout,
                    workdir=workdir,
                    ports=ports or ApiServerPorts.free(),
                    cluster_name=cluster_name,
                    address=address,
                    extra_sans=extra_sans,
                    service_accounts=service_accounts,
                )
            except PortTaken as exc:
                if attempt == attempts:
                    raise
                log.warning(
                    "%s; starting again on other ports (%d/%d)", exc.brief, attempt, attempts
                )
                if workdir is not None:  # etcd may have written a member with the old ports
                    shutil.rmtree(workdir / "etcd", ignore_errors=True)
        raise AssertionError("unreachable")

    @classmethod
    def _start_once(
        cls,
        *,
        kube_apiserver: Path,
        etcd: Path,
        timeout: float,
        workdir: Path | None,
        ports: ApiServerPorts,
        cluster_name: str,
        address: str,
        extra_sans: tuple[str, ...],
        service_accounts: bool,
    ) -> ApiServer:
        owned = workdir is None
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="forumdb-apiserver-", dir=_state_root()))
        else:
            workdir.mkdir(parents=True, exist_ok=True)
        processes: dict[str, Popen[bytes]] = {}
        with discard_on_failure(workdir if owned else None, processes.values()):
            pki = write_pki(
                workdir / "pki", (address, *extra_sans) if address != "127.0.0.1" else extra_sans
            )
            token = secrets.token_hex(16)
            (workdir / "tokens.csv").write_text(f'{token},admin,admin,"system:masters"\n')
            etcd_url = f"http://127.0.0.1:{ports.etcd_client}"
            processes["etcd"] = start_group(
                _etcd_argv(etcd, workdir, etcd_url, f"http://127.0.0.1:{ports.etcd_peer}"),
                log_file=workdir / ETCD_LOG,
                name="etcd",
            )
            processes["kube-apiserver"] = start_group(
                _apiserver_argv(
                    kube_apiserver,
                    workdir,
                    pki,
                    etcd_url,
                    ports.apiserver,
                    address=address,
                    service_accounts=service_accounts,
                ),
                log_file=workdir / APISERVER_LOG,
                name="kube-apiserver",
            )
            url = f"https://{address}:{ports.apiserver}"
            _wait_ready(url, pki, processes, workdir, timeout)
            kubeconfig = workdir / "kubeconfig"
            admin = {
                "client-certificate-data": _b64(pki.admin_cert),
                "client-key-data": _b64(pki.admin_key),
            }
            kubeconfig.write_text(_kubeconfig(url, pki.ca_cert, admin, cluster_name))
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
        path.write_text(_kubeconfig(self.url, self.pki.ca_cert, {"token": token}, "forumdb-test"))
        return path

    def apply_crds(self, kubectl: KubectlCall, crd_dir: Path, *, timeout: float = 30) -> list[str]:
        """Apply crd_dir/*.yaml and wait until each CRD is Established; remembers and returns
        the namespaced resources they define. An empty folder is nothing to do.

        A client-side apply, as README's `kubectl apply -f crds/` is: it records the
        last-applied annotation, so that command later finds the CRDs unchanged instead of
        warning, for each, that the annotation is missing (as after a server-side apply)."""
        files = sorted(crd_dir.glob("*.yaml"))
        if not files:
            return []
        kubectl("apply", *[f"--filename={f}" for f in files])
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


def _etcd_argv(etcd: Path, workdir: Path, url: str, peer_url: str) -> list[str | Path]:
    """A single-member etcd on 127.0.0.1, its data in workdir/etcd."""
    return [
        *(etcd, "--name", "default", "--data-dir", workdir / "etcd"),
        f"--listen-client-urls={url}",
        f"--advertise-client-urls={url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=default={peer_url}",
        "--logger=zap",
        "--log-level=warn",
    ]


def _apiserver_argv(
    kube_apiserver: Path,
    workdir: Path,
    pki: Pki,
    etcd_url: str,
    port: int,
    *,
    address: str = "127.0.0.1",
    service_accounts: bool = False,
) -> list[str | Path]:
    """kube-apiserver on address:port: TLS from our CA, the admin token file, RBAC."""
    argv: list[str | Path] = [
        kube_apiserver,
        f"--etcd-servers={etcd_url}",
        f"--bind-address={address}",
        f"--advertise-address={address}",
        f"--secure-port={port}",
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
        "--allow-privileged=true",
        f"--cert-dir={workdir / 'certs'}",
    ]
    if not service_accounts:
        # no token controller runs here, so pods could not get their SA tokens
        argv.append("--disable-admission-plugins=ServiceAccount")
    return argv


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
                path = workdir / (ETCD_LOG if name == "etcd" else APISERVER_LOG)
                text = tail(path)
                brief = f"{name} exited with {proc.returncode} (log {path})"
                if "address already in use" in text.lower():
                    raise PortTaken(f"{brief}:\n{text}", brief=brief)
                raise GiveUp(f"{brief}:\n{text}")
        return session.get(f"{url}/readyz", timeout=2).status_code == 200

    try:
        wait_for(ready, timeout=timeout, interval=0.1, what=f"{url}/readyz")
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}\n{tail(workdir / APISERVER_LOG)}") from None
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
