"""`forumctl dev up|down|status|env`: the whole stack on this machine (forumctl.dev).

Like every forumctl command, each has --output/-o json: one JSON document on stdout (the
result, or on failure {"error", "hint", "exitCode"}); the step-by-step progress stays on
stderr."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.markup import escape

from forumctl.context import output_option
from forumctl.dev import oidc, stack
from forumctl.dev.errors import DevStackError
from forumctl.dev.ports import DEFAULT_PORT_BASE, PortPlan
from forumctl.dev.progress import Progress
from forumctl.dev.state import DevState
from forumctl.dev.summary import export_lines, shell_env, what_to_try
from forumctl.errors import ExitCode
from forumctl.output import Output

F = TypeVar("F", bound=Callable[..., Any])


def _location_options(fn: F) -> F:
    fn = click.option(
        "--checkout",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        help="The forumdb source checkout (default: the one this forumctl is installed from, "
        "else the current folder or a parent).",
    )(fn)
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Where PIDs, ports, logs and the kubeconfig are kept (default: .forumdb-dev/ "
        "in the checkout).",
    )(fn)


def _fail(out: Output, progress: Progress, exc: DevStackError) -> None:
    code = int(ExitCode.AWS)
    hint = "; ".join(h for h in (exc.log and f"read {exc.log}", exc.hint) if h) or None
    out.error(exc.message, hint, code)
    if not getattr(exc, "reported", False):
        progress.console.print(f"[red]forumctl: error:[/] {escape(str(exc))}")
    sys.exit(code)


@click.group()
def dev() -> None:
    """Run the whole stack on this machine: a real kube-apiserver + etcd, moto with DynamoDB
    global tables, the operator (with its admission webhook, which refuses a bad spec at
    `kubectl apply`) and the three services (or only the services on JSON files). Needs a
    source checkout with `make setup` done."""


@dev.command()
@_location_options
@click.option(
    "--json-mode",
    is_flag=True,
    help="Only the three services, on local JSON files with the sample data (no AWS emulation, "
    "no Kubernetes).",
)
@click.option(
    "--port-base",
    type=int,
    default=DEFAULT_PORT_BASE,
    show_default=True,
    help="Fixed ports from BASE+1: users, threads, posts (8081..8083 by default), then moto, "
    "kube-apiserver, etcd (2), operator health and metrics, OIDC issuer, and the operator's "
    "admission webhook.",
)
@click.option(
    "--free-ports",
    is_flag=True,
    help="Pick free ports at random instead: from 20000 up to the kernel's ephemeral range, "
    "or in $FORUMDB_FREE_PORT_RANGE (LOW-HIGH) when set.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(10, 1800),
    default=180,
    show_default=True,
    help="Seconds to wait for the ForumDatabase to become Ready.",
)
@click.option(
    "--drift-interval",
    type=click.IntRange(5, 86400),
    default=60,
    show_default=True,
    help="Seconds between the operator's drift checks (switch PITR off by hand, see it back).",
)
@output_option
def up(
    state_dir: Path | None,
    checkout: Path | None,
    json_mode: bool,
    port_base: int,
    free_ports: bool,
    timeout: float,
    drift_interval: int,
    output_mode: str,
) -> None:
    """Start the stack (harmless when it runs already: prints how to reach it)."""
    out = Output(output_mode)
    progress = Progress()
    try:
        ports = PortPlan.free() if free_ports else PortPlan.from_base(port_base)
        options = stack.UpOptions(
            json_mode=json_mode,
            ports=ports,
            state_dir=state_dir,
            checkout=checkout,
            ready_timeout=timeout,
            drift_interval=drift_interval,
        )
        state, started = stack.up(options, progress)
        resolved = stack.resolve_state_dir(state_dir, checkout)
    except DevStackError as exc:
        _fail(out, progress, exc)
        return
    if started:
        progress.total(f"{state.mode} stack up")
    else:
        progress.note("the stack was running already; nothing started")
    timing = {
        "seconds": progress.elapsed,
        "steps": [{"step": t.step, "seconds": t.seconds} for t in progress.steps],
    }
    out.emit(
        {"started": started, **timing, **stack.status(resolved), **_env_doc(state)},
        lambda c: click.echo(what_to_try(state, resolved)),
    )


@dev.command()
@_location_options
@output_option
def down(state_dir: Path | None, checkout: Path | None, output_mode: str) -> None:
    """Stop everything `dev up` started and remove its state folder."""
    out = Output(output_mode)
    progress = Progress()
    try:
        resolved = stack.resolve_state_dir(state_dir, checkout)
        stopped = stack.down(resolved, progress)
    except DevStackError as exc:
        _fail(out, progress, exc)
        return
    if not stopped:
        progress.note(f"nothing recorded in {resolved}: no stack to stop")
    if out.json:
        out.emit({"stateDir": str(resolved), "stopped": stopped})


@dev.command()
@_location_options
@output_option
def status(state_dir: Path | None, checkout: Path | None, output_mode: str) -> None:
    """What runs. Exit code 1 when a recorded process is gone or the last `dev up` failed."""
    out = Output(output_mode)
    progress = Progress()
    try:
        report = stack.status(stack.resolve_state_dir(state_dir, checkout))
    except DevStackError as exc:
        _fail(out, progress, exc)
        return
    out.emit(report, lambda c: click.echo(_status_text(report)))
    if report.get("failed") or any(not p["alive"] for p in report["processes"]):
        sys.exit(int(ExitCode.CHECK_FAILED))


@dev.command()
@_location_options
@output_option
def env(state_dir: Path | None, checkout: Path | None, output_mode: str) -> None:
    """Shell settings of the running stack: `eval "$(forumctl dev env)"` puts forumctl and
    kubectl on PATH and sets KUBECONFIG and the AWS_* settings of its moto server. With
    -o json: the variables ("env") and the folders to put before PATH ("pathPrepend")."""
    out = Output(output_mode)
    progress = Progress()
    try:
        resolved = stack.resolve_state_dir(state_dir, checkout)
        state = stack.load_running(resolved)
    except DevStackError as exc:
        _fail(out, progress, exc)
        return
    out.emit(
        {"stateDir": str(resolved), "mode": state.mode, **_env_doc(state)},
        lambda c: click.echo("\n".join(export_lines(state))),
    )


@dev.command()
@click.option(
    "--user",
    "user_id",
    type=click.IntRange(1),
    required=True,
    help="The forum user the token writes as (its id, e.g. 4 in the sample data).",
)
@click.option("--admin", is_flag=True, help="Also in the admin group: may change anything.")
@click.option(
    "--ttl",
    type=click.IntRange(60, 86400),
    default=3600,
    show_default=True,
    help="Lifetime of the token, in seconds.",
)
@_location_options
@output_option
def token(
    user_id: int,
    admin: bool,
    ttl: int,
    state_dir: Path | None,
    checkout: Path | None,
    output_mode: str,
) -> None:
    """A bearer token of the running stack's OIDC issuer, for writes to its services:
    `curl -H "Authorization: Bearer $(forumctl dev token --user 4)" ...`. Full stack only
    (`--json-mode` services take writes without a token)."""
    out = Output(output_mode)
    progress = Progress()
    try:
        resolved = stack.resolve_state_dir(state_dir, checkout)
        state = stack.load_running(resolved)
        if not state.oidc_issuer:
            raise DevStackError(
                "this stack runs without an OIDC issuer (JSON mode): writes need no token",
                hint="start the full stack (forumctl dev up) for authenticated writes",
            )
        issued = oidc.mint(resolved, state.oidc_issuer, user_id, admin=admin, ttl_seconds=ttl)
    except DevStackError as exc:
        _fail(out, progress, exc)
        return
    doc = {"token": issued, "user": user_id, "admin": admin, "expiresInSeconds": ttl,
           "issuer": state.oidc_issuer}  # fmt: skip
    out.emit(doc, lambda c: click.echo(issued))


def _env_doc(state: DevState) -> dict[str, Any]:
    """shell_env for machines: PATH's "$PATH" means nothing outside a shell, so the folders
    to put before it are a list of their own."""
    variables = shell_env(state)
    path = variables.pop("PATH", "")
    return {"env": variables, "pathPrepend": [p for p in path.split(":") if p and p != "$PATH"]}


def _status_text(report: dict[str, Any]) -> str:
    failed = report.get("failed")
    if failed:
        lines = [f"the last `forumctl dev up` failed: {failed['error']}"]
        if failed.get("log"):
            lines.append(f"  log: {failed['log']}")
        if failed.get("logs"):
            lines.append(f"  logs kept in {failed['logs']}")
        lines.append(f"  `forumctl dev down` removes {report['stateDir']}")
        if not report["processes"]:
            return "\n".join(lines)
        return "\n".join([*lines, _processes_text(report)])
    if not report["processes"]:
        return f"no stack recorded in {report['stateDir']}"
    return _processes_text(report)


def _processes_text(report: dict[str, Any]) -> str:
    state = "running" if report["running"] else "NOT running (see below)"
    lines = [f"{report['mode']} stack {state}; state in {report['stateDir']}"]
    for p in report["processes"]:
        mark = "up  " if p["alive"] else "DOWN"
        url = f"  {p['url']}" if p["url"] else ""
        lines.append(f"  {mark} {p['name']:<16} pid {p['pid']:<8}{url}  log {p['log']}")
    if report.get("webhook"):
        hook = report["webhook"]
        lines.append(
            f"  admission webhook: ValidatingWebhookConfiguration {hook['configuration']} -> "
            f"{hook['url']} (served by forum-operator)"
        )
    if report.get("kubeconfig"):
        lines.append(f"  KUBECONFIG={report['kubeconfig']}")
    return "\n".join(lines)
