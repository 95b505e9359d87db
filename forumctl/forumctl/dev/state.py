"""The state folder of a local stack: what `dev up` started (PIDs, ports, logs, kubeconfig),
written after every process it starts so that `dev down` can stop a half-started stack too.

    STATE_DIR/state.json    this model
    STATE_DIR/logs/*.log    one log per process
    STATE_DIR/apiserver/    etcd data, certificates, kubeconfig (full stack)
    STATE_DIR/webhook/      the operator's webhook certificates and the probe spec (full stack)
    STATE_DIR/config/       the operator's ConfigMap, one file per key (FORUMDB_CONFIG_DIR)
    STATE_DIR/data/         the services' JSON files (JSON mode)
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from forumctl.dev.admission import WebhookRecord
from forumctl.dev.errors import DevStackError
from forumctl.dev.procs import group_alive, process_start_ticks

STATE_FILE = "state.json"
Mode = Literal["dynamodb", "json"]


class ProcessRecord(BaseModel):
    """One process group that `dev up` started."""

    name: str
    pid: int
    start_ticks: int | None = Field(None, description="/proc start time: guards PID reuse")
    log: Path
    url: str | None = None

    def alive(self) -> bool:
        ticks = process_start_ticks(self.pid)
        if ticks is not None and self.start_ticks is not None and ticks != self.start_ticks:
            return False  # the PID names another process now
        return group_alive(self.pid)


class DevState(BaseModel):
    mode: Mode
    checkout: Path
    started_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    complete: bool = Field(False, description="every step of `dev up` succeeded")
    processes: list[ProcessRecord] = []
    services: dict[str, str] = Field({}, description="service name -> base URL")
    kubeconfig: Path | None = None
    kube_cache_dir: Path | None = None
    namespace: str | None = None
    forumdb: str | None = None
    aws_endpoint: str | None = None
    oidc_issuer: str | None = Field(None, description="the dev OIDC issuer (full stack)")
    webhook: WebhookRecord | None = Field(
        None, description="the operator's admission webhook, once it refuses a bad spec"
    )
    primary_region: str | None = None
    replica_regions: list[str] = []
    config_dir: Path | None = None
    data_dir: Path | None = None

    def dead(self) -> list[ProcessRecord]:
        return [p for p in self.processes if not p.alive()]

    def running(self) -> bool:
        return self.complete and bool(self.processes) and not self.dead()


def load_state(state_dir: Path) -> DevState | None:
    """The recorded stack, or None when the folder holds none."""
    path = state_dir / STATE_FILE
    if not path.is_file():
        return None
    try:
        return DevState.model_validate_json(path.read_text())
    except ValueError as exc:
        raise DevStackError(
            f"{path} is unreadable ({exc.__class__.__name__}: {str(exc).splitlines()[0]})",
            hint=f"stop what it started by hand, then remove {state_dir}",
        ) from None


def save_state(state_dir: Path, state: DevState) -> None:
    """Atomically: a reader never sees half a file."""
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = state_dir / f".{STATE_FILE}.part"
    tmp.write_text(json.dumps(state.model_dump(mode="json"), indent=2) + "\n")
    os.replace(tmp, state_dir / STATE_FILE)
