"""The source checkout `forumctl dev up` runs from, and the tools `make setup` put in it.

The full stack needs what only a checkout has: crds/, examples/, and etcd, kube-apiserver and
kubectl in .tools/bin (or KUBEBUILDER_ASSETS for the first two, the envtest convention), plus
the `dev` extra (the AWS emulator, forumdb_emulator, and cryptography for the apiserver's
certificates). JSON mode needs only examples/sample-data.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import forumdb
from forumctl.dev.errors import DevStackError

SETUP_HINT = "in a source checkout of forumdb, run `make setup` once"
# Python modules of the `dev` extra that the full stack runs (AWS emulator, kube-apiserver PKI)
_DEV_EXTRA = ("forumdb_emulator", "moto", "cryptography")


@dataclass(frozen=True)
class Checkout:
    root: Path

    @property
    def crds_dir(self) -> Path:
        return self.root / "crds"

    @property
    def example(self) -> Path:
        return self.root / "examples" / "forumdatabase.yaml"

    @property
    def sample_data(self) -> Path:
        return self.root / "examples" / "sample-data"

    @property
    def default_state_dir(self) -> Path:
        return self.root / ".forumdb-dev"

    def tool(self, name: str) -> Path:
        """etcd, kube-apiserver (KUBEBUILDER_ASSETS first) or kubectl, provisioned."""
        assets = os.environ.get("KUBEBUILDER_ASSETS")
        if name in ("etcd", "kube-apiserver") and assets:
            candidate = Path(assets) / name
            if os.access(candidate, os.X_OK):
                return candidate
        candidate = self.root / ".tools" / "bin" / name
        if not os.access(candidate, os.X_OK):
            raise DevStackError(f"{name} is not provisioned in {candidate.parent}", hint=SETUP_HINT)
        return candidate

    def require_sample_data(self) -> None:
        missing = [k for k in ("users", "threads", "posts") if not self._sample(k).is_file()]
        if missing:
            raise DevStackError(
                f"the sample data lacks {', '.join(self._sample(k).name for k in missing)} "
                f"in {self.sample_data}"
            )

    def _sample(self, kind: str) -> Path:
        return self.sample_data / kind / "db.json"

    def require_full_stack(self) -> dict[str, Path]:
        """Everything the full stack needs; returns the tools by name."""
        self.require_sample_data()
        for path in (self.example, self.crds_dir):
            if not path.exists():
                raise DevStackError(f"{path} is missing from the checkout", hint=SETUP_HINT)
        absent = [m for m in _DEV_EXTRA if importlib.util.find_spec(m) is None]
        if absent:
            raise DevStackError(
                f"Python packages {', '.join(absent)} (the `dev` extra) are not installed",
                hint=SETUP_HINT,
            )
        return {name: self.tool(name) for name in ("etcd", "kube-apiserver", "kubectl")}


def _is_checkout(path: Path) -> bool:
    return (path / "pyproject.toml").is_file() and (path / "core" / "forumdb").is_dir()


def find_checkout(explicit: Path | None = None) -> Checkout:
    """The given folder, else the checkout this package is installed from (editable install),
    else the current folder or one of its parents."""
    if explicit is not None:
        if not _is_checkout(explicit):
            raise DevStackError(f"{explicit} is not a forumdb source checkout", hint=SETUP_HINT)
        return Checkout(explicit.resolve())
    package_root = Path(forumdb.__file__).resolve().parents[2]
    cwd = Path.cwd().resolve()
    for candidate in (package_root, cwd, *cwd.parents):
        if _is_checkout(candidate):
            return Checkout(candidate)
    raise DevStackError(
        "forumctl dev needs a source checkout of forumdb (with `make setup` done); "
        f"found none at {package_root} nor at {cwd} or above",
        hint="git clone the repository, `make setup`, then run `forumctl dev up` inside it "
        "(or pass --checkout DIR)",
    )
