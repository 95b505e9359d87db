"""`forumctl dev up|down|status`: the whole stack, or only the services on JSON files, on
127.0.0.1, recorded in a state folder.

Full stack (`up`): etcd + kube-apiserver with the CRDs -> the moto server with the forumdb
extension (global tables across regions) -> forum-operator with its admission webhook, which
must refuse a bad spec (forumctl.dev.admission) -> examples/forumdatabase.yaml
applied and Ready -> its ConfigMap kept in a folder (configsync) -> the three services reading
that folder -> the sample data migrated with forumctl -> the first backup -> a reconcile asked
for (annotation forumdb.io/reconcile-requested), so the status shows the data and the backup.
JSON mode: the sample data copied into the state folder -> the three services on it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import TYPE_CHECKING, Any

import requests
import yaml

from forumctl.dev import admission, oidc
from forumctl.dev.checkout import Checkout, find_checkout
from forumctl.dev.errors import DevStackError
from forumctl.dev.launch import (
    FAKE_CREDENTIALS,
    Launcher,
    base_env,
    console_script,
    wait_http_ok,
    wait_log_line,
)
from forumctl.dev.ports import SERVICES, PortPlan
from forumctl.dev.procs import GiveUp, ToolError, run_tool, stop_pid_groups, wait_for
from forumctl.dev.progress import Progress
from forumctl.dev.state import (
    STATE_FILE,
    DevState,
    Mode,
    ProcessRecord,
    load_state,
    save_state,
)
from forumdb import naming

if TYPE_CHECKING:
    from forumctl.dev.apiserver import KubectlCall

NAMESPACE = "default"
MOTO_READY = re.compile(r"forumdb-moto ready on (http://\S+)")
OIDC_READY = re.compile(re.escape(oidc.READY) + r"(http://\S+)")
CONFIG_KEY_PROBE = "STORAGE_MODE"  # present in every ConfigMap the operator writes
_PHASE_WAIT_INTERVAL = 0.5
# forumdb.naming.ANNOTATION_RECONCILE_REQUESTED: a new value makes it reconcile now.
RESOURCE = f"{naming.PLURAL}.{naming.GROUP}"  # forumdatabases.forumdb.io, for kubectl
FAILURE_FILE = "up-failed.json"  # next to state.json when `dev up` failed


@dataclass(frozen=True)
class UpOptions:
    json_mode: bool
    ports: PortPlan
    state_dir: Path | None = None
    checkout: Path | None = None
    ready_timeout: float = 180.0
    # the operator's drift check: more often than in a cluster, to see repairs soon
    drift_interval: int = 60

    @property
    def mode(self) -> Mode:
        return "json" if self.json_mode else "dynamodb"


def resolve_state_dir(state_dir: Path | None, checkout: Path | None = None) -> Path:
    """--state-dir, else .forumdb-dev/ in the checkout."""
    if state_dir is not None:
        return state_dir.resolve()
    return find_checkout(checkout).default_state_dir


# ---- up ------------------------------------------------------------------------------------


def up(options: UpOptions, progress: Progress) -> tuple[DevState, bool]:
    """Start the stack; (its state, False) when it was running already."""
    checkout = find_checkout(options.checkout)
    state_dir = options.state_dir.resolve() if options.state_dir else checkout.default_state_dir
    existing = load_state(state_dir)
    if existing is not None:
        if existing.running():
            if existing.mode != options.mode:
                raise DevStackError(
                    f"a {existing.mode} stack already runs from {state_dir}",
                    hint="`forumctl dev down` first to switch modes",
                )
            return existing, False
        dead = ", ".join(p.name for p in existing.dead()) or "setup never finished"
        progress.note(f"the stack in {state_dir} is incomplete ({dead}): replacing it")
        down(state_dir, progress)
    elif state_dir.exists() and any(state_dir.iterdir()):
        raise DevStackError(
            f"{state_dir} exists and is not a dev state folder (no {STATE_FILE})",
            hint="pass another --state-dir (dev down removes that folder)",
        )
    state = DevState(mode=options.mode, checkout=checkout.root)
    save_state(state_dir, state)
    launcher = Launcher(state_dir, state)
    try:
        if options.json_mode:
            _up_json(checkout, options, launcher, progress)
        else:
            _up_full(checkout, options, launcher, progress)
    except BaseException as exc:
        if state.processes:
            _stop_processes(state)
            progress.note(
                f"stopped what had started; the logs stay in {state_dir} "
                "(`forumctl dev down` removes them)"
            )
        else:
            progress.note(
                f"nothing was started; `forumctl dev status` shows this attempt, "
                f"`forumctl dev down` removes {state_dir}"
            )
        save_state(state_dir, state)
        _record_failure(state_dir, exc)
        raise
    state.complete = True
    save_state(state_dir, state)
    return state, True


def _record_failure(state_dir: Path, exc: BaseException) -> None:
    """What made `up` fail, for `dev status` (state.json itself says only: not complete)."""
    if isinstance(exc, DevStackError):
        doc = {"error": exc.message, "log": str(exc.log) if exc.log else None, "hint": exc.hint}
    elif isinstance(exc, KeyboardInterrupt):
        doc = {"error": "interrupted", "log": None, "hint": None}
    else:
        doc = {"error": f"{exc.__class__.__name__}: {exc}", "log": None, "hint": None}
    doc["at"] = dt.datetime.now(dt.UTC).isoformat()
    with contextlib.suppress(OSError):  # the error itself is on its way to the user anyway
        (state_dir / FAILURE_FILE).write_text(json.dumps(doc, indent=2) + "\n")


def _failure(state_dir: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((state_dir / FAILURE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _up_json(
    checkout: Checkout, options: UpOptions, launcher: Launcher, progress: Progress
) -> None:
    state = launcher.state
    with progress.step("checkout has the sample data; ports free"):
        checkout.require_sample_data()
        options.ports.check_free(SERVICES)
    with progress.step("sample data copied for the JSON store"):
        data_dir = launcher.state_dir / "data"
        for kind in SERVICES:
            (data_dir / kind).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(checkout.sample_data / kind / "db.json", data_dir / kind / "db.json")
        state.data_dir = data_dir
        save_state(launcher.state_dir, state)
    with progress.step("services users, threads, posts (JSON files)"):
        # No issuer in JSON mode: writes need no token here (AUTH_MODE=none, local only).
        env = base_env(STORAGE_MODE="json", DATA_DIR=str(data_dir), AUTH_MODE="none")
        _await_services(_launch_services(launcher, options.ports, env))


def _up_full(
    checkout: Checkout, options: UpOptions, launcher: Launcher, progress: Progress
) -> None:
    # Slow starts overlap: moto starts while kube-apiserver does, configsync while the
    # operator provisions, the services while the sample data is migrated.
    state, ports = launcher.state, options.ports
    with progress.step("checkout set up (tools, moto extension, free ports)"):
        tools = checkout.require_full_stack()
        ports.check_free(tuple(ports.as_dict()))
    moto = _launch_moto(launcher, ports)
    issuer = _launch_oidc(launcher, ports)
    kubectl = _start_kubernetes(checkout, tools, launcher, ports, progress, options.ready_timeout)
    with progress.step("AWS emulator (forumdb-emulator: DynamoDB global tables, AWS Backup)"):
        aws_env = _await_moto(launcher, *moto)
    manifest = yaml.safe_load(checkout.example.read_text())
    name, spec = manifest["metadata"]["name"], manifest["spec"]
    state.namespace, state.forumdb = NAMESPACE, name
    state.primary_region = spec["primaryRegion"]
    state.replica_regions = spec.get("replicaRegions", [])
    state.config_dir = launcher.state_dir / "config"
    kube_env = {"KUBECONFIG": str(state.kubeconfig), "KUBECACHEDIR": str(state.kube_cache_dir)}

    webhook_dir = launcher.state_dir / "webhook"
    with progress.step("forum-operator"):
        argv = [
            console_script("forum-operator"),
            "--standalone",
            *("--namespace", NAMESPACE),
            *("--health-port", str(ports.operator_health)),
            *("--metrics-port", str(ports.operator_metrics)),
            *("--drift-interval", str(options.drift_interval)),
            *admission.operator_args(ports.webhook, admission.write_certs(webhook_dir)),
        ]
        health = f"http://127.0.0.1:{ports.operator_health}/healthz"
        proc, operator = launcher.start(
            "forum-operator", argv, base_env(**kube_env, **aws_env), url=health
        )
        sync_proc, sync = _launch_configsync(launcher, f"forumdb-{name}")
        wait_http_ok("forum-operator", proc, operator.log, health)

    with progress.step(
        f"admission webhook (ValidatingWebhookConfiguration {admission.CONFIGURATION} "
        "refuses a bad spec)"
    ):
        _await_webhook(launcher, kubectl, proc, ports.webhook, manifest, options.ready_timeout)

    with progress.step(f"ForumDatabase {name} applied and Ready ({checkout.example.name})"):
        _kubectl_step(kubectl, "apply", "-n", NAMESPACE, "-f", str(checkout.example))
        ready_status = _wait_ready(kubectl, name, operator.log, options.ready_timeout)

    with progress.step(f"ConfigMap forumdb-{name} kept in config/ (FORUMDB_CONFIG_DIR)"):
        _wait_file(sync_proc, sync.log, state.config_dir / CONFIG_KEY_PROBE)

    with progress.step("OIDC issuer (writes need its tokens: forumctl dev token)"):
        auth_env = oidc.service_env(_await_oidc(launcher, *issuer))
    services = _launch_services(
        launcher,
        ports,
        base_env(FORUMDB_CONFIG_DIR=str(state.config_dir), **aws_env, **auth_env),
    )
    with progress.step(f"sample data migrated ({checkout.sample_data.name}/, forumctl migrate)"):
        _migrate(checkout, launcher, name, base_env(**kube_env, **aws_env))
    with progress.step("services users, threads, posts (DynamoDB, the ConfigMap's settings)"):
        _await_services(services)

    plan_id = (ready_status.get("backups") or {}).get("planId")
    if plan_id:
        with progress.step("first backup (the emulator runs the backup plan now)"):
            _run_backup_plan(launcher, plan_id, state.primary_region)
    # Without this, LAST-BACKUP and the item counts would show only after the drift interval.
    with progress.step(f"ForumDatabase {name} status shows the data and the backup"):
        _refresh_status(kubectl, name, operator.log, options.ready_timeout, bool(plan_id))


def _await_webhook(
    launcher: Launcher,
    kubectl: KubectlCall,
    operator: Popen[bytes],
    port: int,
    example: dict[str, Any],
    timeout: float,
) -> None:
    """Registered and answering: a server-side dry run of a bad spec is refused."""
    state = launcher.state
    cert_dir = launcher.state_dir / "webhook"
    probe = cert_dir / "probe.yaml"
    probe.write_text(yaml.safe_dump(admission.probe_manifest(example), sort_keys=False))
    try:
        admission.await_webhook(
            kubectl,
            port=port,
            probe_file=probe,
            namespace=NAMESPACE,
            operator_alive=lambda: operator.poll() is None,
            timeout=min(timeout, 60),
        )
    except (GiveUp, TimeoutError) as exc:
        raise DevStackError(
            f"the operator's admission webhook: {str(exc).splitlines()[0]}",
            log=launcher.log_file("forum-operator"),
        ) from None
    state.webhook = admission.WebhookRecord(
        configuration=admission.CONFIGURATION, url=admission.url(port), cert_dir=cert_dir
    )
    save_state(launcher.state_dir, state)


def _launch_configsync(launcher: Launcher, configmap: str) -> tuple[Popen[bytes], ProcessRecord]:
    state = launcher.state
    argv = [
        sys.executable,
        *("-m", "forumdb_services.configsync"),
        *("--kubeconfig", str(state.kubeconfig), "--namespace", NAMESPACE),
        *("--name", configmap, "--dir", str(state.config_dir)),
    ]
    return launcher.start("configsync", argv, base_env())


def _migrate(checkout: Checkout, launcher: Launcher, name: str, env: dict[str, str]) -> None:
    """`forumctl migrate` of the sample data into the tables the ConfigMap names."""
    log = launcher.log_file("migrate")
    argv = [
        console_script("forumctl"),
        *("migrate", "--from", str(checkout.sample_data)),
        *("--forumdb", name, "-n", NAMESPACE, "--kubeconfig", str(launcher.state.kubeconfig)),
    ]
    with open(log, "wb") as out:
        done = subprocess.run(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=300, check=False
        )
    if done.returncode != 0:
        raise DevStackError(f"forumctl migrate exited with code {done.returncode}", log=log)


def _start_kubernetes(
    checkout: Checkout,
    tools: dict[str, Path],
    launcher: Launcher,
    ports: PortPlan,
    progress: Progress,
    timeout: float,
) -> KubectlCall:
    # Imported here: its certificates need `cryptography`, from the `dev` extra, which
    # forumctl must not need for anything but the full dev stack (checked before this).
    from forumctl.dev.apiserver import ApiServer, ApiServerPorts

    state = launcher.state
    workdir = launcher.state_dir / "apiserver"
    with progress.step("etcd + kube-apiserver"):
        try:
            api = ApiServer.start(
                kube_apiserver=tools["kube-apiserver"],
                etcd=tools["etcd"],
                workdir=workdir,
                ports=ApiServerPorts(ports.apiserver, ports.etcd_client, ports.etcd_peer),
                cluster_name="forumdb-dev",
                timeout=min(timeout, 60),
            )
        except (GiveUp, TimeoutError, RuntimeError, OSError) as exc:
            message = str(exc).splitlines()[0]
            log = workdir / ("etcd.log" if message.startswith("etcd") else "apiserver.log")
            raise DevStackError(message, log=log) from None
        for name, proc in api.processes.items():
            launcher.adopt(name, proc, api.log_files[name], url=api.url if name != "etcd" else None)
        state.kubeconfig, state.kube_cache_dir = api.kubeconfig, workdir / "cache"
        save_state(launcher.state_dir, state)
    env = base_env(KUBECONFIG=str(api.kubeconfig), KUBECACHEDIR=str(state.kube_cache_dir))

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        return run_tool([tools["kubectl"], *args], env=env, timeout=60)

    with progress.step(f"CRDs applied ({checkout.crds_dir.name}/)"):
        try:
            api.apply_crds(kubectl, checkout.crds_dir)
        except ToolError as exc:
            raise DevStackError(str(exc)) from None
    return kubectl


def _kubectl_step(kubectl: KubectlCall, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return kubectl(*args)
    except ToolError as exc:
        raise DevStackError(str(exc)) from None


def _launch_moto(launcher: Launcher, ports: PortPlan) -> tuple[Popen[bytes], ProcessRecord]:
    """The project's AWS emulator (forumdb-emulator, from the `dev` extra) as a process."""
    argv = [
        sys.executable,
        *("-m", "forumdb_emulator.server", "--host", "127.0.0.1", "--port", str(ports.moto)),
    ]
    return launcher.start("moto", argv, base_env())


def _launch_oidc(launcher: Launcher, ports: PortPlan) -> tuple[Popen[bytes], ProcessRecord]:
    """The dev OIDC issuer (forumctl.dev.oidc): the services trust its tokens."""
    argv = [
        sys.executable,
        *("-m", "forumctl.dev.oidc", "--state-dir", str(launcher.state_dir)),
        *("--port", str(ports.oidc)),
    ]
    return launcher.start("oidc", argv, base_env())


def _await_oidc(launcher: Launcher, proc: Popen[bytes], record: ProcessRecord) -> str:
    issuer = wait_log_line("oidc", proc, record.log, OIDC_READY).group(1)
    record.url = issuer
    launcher.state.oidc_issuer = issuer
    save_state(launcher.state_dir, launcher.state)
    return issuer


def _await_moto(launcher: Launcher, proc: Popen[bytes], record: ProcessRecord) -> dict[str, str]:
    """Wait for its ready line; the AWS settings of the processes that use it."""
    url = wait_log_line("moto", proc, record.log, MOTO_READY).group(1)
    record.url = url
    launcher.state.aws_endpoint = url
    save_state(launcher.state_dir, launcher.state)
    return {
        "AWS_ENDPOINT_URL": url,
        **FAKE_CREDENTIALS,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _run_backup_plan(launcher: Launcher, plan_id: str, region: str | None) -> None:
    """AWS Backup schedules are not emulated: ask the moto extension to run the plan once, so
    that a recovery point exists (what `forumctl verify` checks) as on a day-old deployment."""
    state = launcher.state
    url = f"{state.aws_endpoint}/_forumdb/run_backup_plan_now"
    try:
        response = requests.post(url, json={"plan_id": plan_id, "region": region}, timeout=60)
    except requests.RequestException as exc:
        raise DevStackError(f"POST {url} failed: {exc}", log=launcher.log_file("moto")) from None
    if response.status_code != 200:
        raise DevStackError(
            f"the moto server did not run backup plan {plan_id} in {region} "
            f"({response.status_code}: {response.text[:300]})",
            log=launcher.log_file("moto"),
        )


def _wait_ready(
    kubectl: KubectlCall, name: str, operator_log: Path, timeout: float
) -> dict[str, Any]:
    """Wait for phase Ready; returns the resource's status."""
    last: dict[str, Any] = {}

    def ready() -> bool:
        nonlocal last
        out = kubectl("get", RESOURCE, name, "-n", NAMESPACE, "-o", "json")
        last = json.loads(out.stdout).get("status") or {}
        return last.get("phase") == "Ready"

    try:
        wait_for(ready, timeout=timeout, interval=_PHASE_WAIT_INTERVAL, what=f"{name} Ready")
        return last
    except TimeoutError:
        reasons = "; ".join(
            f"{c.get('type')}={c.get('status')}: {c.get('message')}"
            for c in last.get("conditions", [])
            if c.get("status") != "True"
        )
        raise DevStackError(
            f"ForumDatabase {NAMESPACE}/{name} not Ready after {timeout:.0f}s "
            f"(phase {last.get('phase', 'none')}{'; ' + reasons if reasons else ''})",
            log=operator_log,
        ) from None


def _refresh_status(
    kubectl: KubectlCall, name: str, operator_log: Path, timeout: float, backup: bool
) -> dict[str, Any]:
    """Ask the operator for a reconcile now (its reconcile-requested annotation) and wait for
    the status it writes: it echoes the request, and shows the backup when one ran."""
    token = str(time.time_ns())
    _kubectl_step(
        kubectl,
        *("annotate", RESOURCE, name, "-n", NAMESPACE, "--overwrite"),
        f"{naming.ANNOTATION_RECONCILE_REQUESTED}={token}",
    )
    last: dict[str, Any] = {}

    def refreshed() -> bool:
        nonlocal last
        out = kubectl("get", RESOURCE, name, "-n", NAMESPACE, "-o", "json")
        last = json.loads(out.stdout).get("status") or {}
        if last.get("lastReconcileRequest") != token:
            return False
        return not backup or last.get("lastBackup", "never") != "never"

    try:
        wait_for(refreshed, timeout=timeout, interval=_PHASE_WAIT_INTERVAL, what="status")
    except TimeoutError:
        raise DevStackError(
            f"ForumDatabase {NAMESPACE}/{name}: the operator did not report the first backup "
            f"within {timeout:.0f}s (status.lastBackup {last.get('lastBackup', 'unset')})",
            log=operator_log,
        ) from None
    return last


def _wait_file(proc: Popen[bytes], log: Path, path: Path, timeout: float = 30) -> None:
    def written() -> bool:
        if proc.poll() is not None:
            raise DevStackError(f"configsync exited with code {proc.returncode}", log=log)
        return path.is_file()

    try:
        wait_for(written, timeout=timeout, interval=0.1, what=str(path))
    except TimeoutError:
        raise DevStackError(f"{path} not written after {timeout:.0f}s", log=log) from None


def _launch_services(
    launcher: Launcher, ports: PortPlan, env: dict[str, str]
) -> list[tuple[str, Popen[bytes], ProcessRecord]]:
    started = []
    for kind in SERVICES:
        url = f"http://127.0.0.1:{ports.service(kind)}"
        argv = [
            console_script("forum-service"),
            kind,
            *("--host", "127.0.0.1", "--port", str(ports.service(kind)), "--workers", "1"),
        ]
        proc, record = launcher.start(f"service-{kind}", argv, env, url=url)
        launcher.state.services[kind] = url
        started.append((kind, proc, record))
    save_state(launcher.state_dir, launcher.state)
    return started


def _await_services(started: list[tuple[str, Popen[bytes], ProcessRecord]]) -> None:
    for kind, proc, record in started:
        wait_http_ok(f"the {kind} service", proc, record.log, f"{record.url}/readyz")


# ---- down and status ----------------------------------------------------------------------


def _stop_processes(state: DevState) -> list[str]:
    """Stop every recorded group, newest first (all at once: SIGTERM, then SIGKILL after a
    grace period); the names of those that would not stop."""
    records = list(reversed(state.processes))
    alive = stop_pid_groups([(r.pid, r.start_ticks) for r in records], grace=10)
    return [f"{r.name} (pid {r.pid})" for r in records if r.pid in alive]


def down(state_dir: Path, progress: Progress) -> bool:
    """Stop what `up` started and remove the state folder; False if nothing was recorded."""
    state = load_state(state_dir)
    if state is None:
        return False
    with progress.step(f"stopped {len(state.processes)} processes"):
        stuck = _stop_processes(state)
        if stuck:
            raise DevStackError(
                f"still running after SIGKILL: {', '.join(stuck)}",
                hint=f"the state stays in {state_dir}; run `forumctl dev down` again",
            )
    with progress.step(f"removed {state_dir}"):
        shutil.rmtree(state_dir)
    return True


def load_running(state_dir: Path) -> DevState:
    """The recorded stack; an error when none runs there."""
    state = load_state(state_dir)
    if state is None or not state.complete:
        raise DevStackError(f"no stack runs from {state_dir}", hint="start one: forumctl dev up")
    return state


def status(state_dir: Path) -> dict[str, Any]:
    """What runs, as one JSON-able document."""
    state = load_state(state_dir)
    if state is None:
        return {"stateDir": str(state_dir), "running": False, "processes": []}
    logs = state_dir / "logs"
    failed = _failure(state_dir) if not state.complete else None
    if failed is not None:
        failed["logs"] = str(logs) if logs.is_dir() else None
    return {
        "stateDir": str(state_dir),
        "running": state.running(),
        "complete": state.complete,
        # `dev up` failed here: its error, and the logs kept for diagnosis (dev down removes them)
        "failed": failed,
        "mode": state.mode,
        "startedAt": state.started_at.isoformat(),
        "services": state.services,
        "kubeconfig": str(state.kubeconfig) if state.kubeconfig else None,
        "forumdb": {"name": state.forumdb, "namespace": state.namespace} if state.forumdb else None,
        "awsEndpoint": state.aws_endpoint,
        "webhook": (
            {
                "configuration": state.webhook.configuration,
                "url": state.webhook.url,
                "certDir": str(state.webhook.cert_dir),
            }
            if state.webhook
            else None
        ),
        "regions": {"primary": state.primary_region, "replicas": state.replica_regions},
        "processes": [
            {
                "name": p.name,
                "pid": p.pid,
                "alive": p.alive(),
                "url": p.url,
                "log": str(p.log),
            }
            for p in state.processes
        ],
    }
