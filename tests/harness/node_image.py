"""Images for the test node, made here (no registry can be reached):

- the project's image, built by podman from the project's Dockerfile `FROM` a local Debian
  base (`--build-arg BASE=...`, the documented air-gapped path), saved as a docker-archive;
- that base: `debootstrap --variant=minbase` with python3 and python3-venv, imported into a
  podman store under .tools/podman, so it is made once per checkout (about 90 s) and podman's
  layer cache makes an unchanged rebuild take seconds;
- the pause image: a static C `pause` (what the kubelet's sandbox runs).

pip inside the build gets the host's CA bundle and a pip.conf naming it, as build-time volumes
(TLS to the package registries is intercepted here); neither ends up in the image.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import ssl
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.procs import ToolError, run_tool
from harness.provision import REPO_ROOT, TOOLS_DIR

BASE_IMAGE = "localhost/forumdb-base:bookworm"
PROJECT_IMAGE = "localhost/forumdb:node"
PAUSE_IMAGE = "docker.io/library/pause:local"
BASE_PACKAGES = ("python3", "python3-venv")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
PODMAN_DIR = TOOLS_DIR / "podman"
PAUSE_TAR = TOOLS_DIR / "images" / "pause.tar"

PAUSE_C = r"""
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void die(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction a = {0}; a.sa_handler = die; sigaction(SIGINT, &a, 0);
  sigaction(SIGTERM, &a, 0); a.sa_handler = reap; a.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGCHLD, &a, 0);
  for (;;) pause();
}
"""


@dataclass(frozen=True)
class BuiltImage:
    ref: str
    archive: Path  # docker-archive, for `ctr images import`
    seconds: dict[str, float]  # what each step took: base, build, save


def _podman(*args: str | os.PathLike[str], timeout: float = 600) -> str:
    store = [
        *("--root", PODMAN_DIR / "root", "--runroot", PODMAN_DIR / "run"),
        "--storage-driver=overlay",
    ]
    return run_tool(["podman", *store, *args], timeout=timeout).stdout


def _image_exists(ref: str) -> bool:
    try:
        _podman("image", "exists", ref, timeout=60)
    except ToolError:  # podman exits 1 for "no such image"
        return False
    return True


def ensure_base() -> float:
    """Make the Debian base in the podman store unless it is there; returns seconds spent."""
    if _image_exists(BASE_IMAGE):
        return 0.0
    t0 = time.monotonic()
    PODMAN_DIR.mkdir(parents=True, exist_ok=True)
    rootfs = Path(tempfile.mkdtemp(prefix="forumdb-rootfs-", dir=PODMAN_DIR))
    try:
        run_tool(
            [
                *("debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}"),
                *("bookworm", rootfs, DEBIAN_MIRROR),
            ],
            timeout=1200,
        )
        archive = rootfs.with_suffix(".tar")
        with tarfile.open(archive, "w") as tar:
            for entry in sorted(os.listdir(rootfs)):
                tar.add(rootfs / entry, arcname=entry)
        _podman("import", archive, BASE_IMAGE, timeout=300)
        archive.unlink()
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
    return time.monotonic() - t0


def host_ca_bundle() -> Path:
    """The CA bundle this host's TLS clients trust (pip's registry goes through it)."""
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        ssl.get_default_verify_paths().cafile,
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError("no CA bundle found for pip inside the image build")


def build_project_image(workdir: Path) -> BuiltImage:
    """Build the Dockerfile on the local base; save it as workdir/forumdb.tar."""
    seconds = {"base": ensure_base()}
    pip_conf = workdir / "pip.conf"
    pip_conf.write_text("[global]\ncert = /etc/forumdb-build-ca.crt\n")
    t0 = time.monotonic()
    _podman(
        *("build", "--quiet", "--isolation=chroot", "--build-arg", f"BASE={BASE_IMAGE}"),
        *("--volume", f"{host_ca_bundle()}:/etc/forumdb-build-ca.crt:ro"),
        *("--volume", f"{pip_conf}:/etc/pip.conf:ro"),
        *("--tag", PROJECT_IMAGE, REPO_ROOT),
        timeout=1200,
    )
    seconds["build"] = time.monotonic() - t0
    t0 = time.monotonic()
    archive = workdir / "forumdb.tar"
    _podman("save", "--format", "docker-archive", "--output", archive, PROJECT_IMAGE)
    seconds["save"] = time.monotonic() - t0
    # Untagged images are also the build stage's layers, podman's cache for the next build:
    # only those unused for days go (a rebuild after a source change leaves ~0.5 GB behind).
    _podman("image", "prune", "--force", "--filter", "until=72h")
    return BuiltImage(PROJECT_IMAGE, archive, seconds)


def docker_archive(rootfs: Path, ref: str, out: Path, cmd: list[str]) -> None:
    """A one-layer docker-archive (what `docker save` writes) from a folder."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as layer_tar:
        for entry in sorted(os.listdir(rootfs)):
            layer_tar.add(rootfs / entry, arcname=entry)
    layer = buf.getvalue()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": cmd},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()],
            },
        }
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": ["layer0/layer.tar"]}]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w") as tar:
        for name, data in (
            (config_name, config),
            ("layer0/layer.tar", layer),
            ("manifest.json", json.dumps(manifest).encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def pause_image() -> Path:
    """The sandbox image (a static `pause`), built once into .tools/images."""
    if PAUSE_TAR.is_file():
        return PAUSE_TAR
    with tempfile.TemporaryDirectory(prefix="forumdb-pause-") as tmp:
        src, rootfs = Path(tmp) / "pause.c", Path(tmp) / "rootfs"
        rootfs.mkdir()
        src.write_text(PAUSE_C)
        run_tool(["gcc", "-Os", "-static", "-o", rootfs / "pause", src], timeout=120)
        run_tool(["strip", rootfs / "pause"])
        part = PAUSE_TAR.with_suffix(".part")
        docker_archive(rootfs, PAUSE_IMAGE, part, ["/pause"])
        part.replace(PAUSE_TAR)
    return PAUSE_TAR
