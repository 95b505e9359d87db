"""The plumbing that runs the operator's admission webhook in `forumctl dev up`: its serving
certificate, the operator's options, the probe spec and the wait for a refusal, and what
`dev status` and the summary show (tests/integration/dev/test_dev_webhook.py runs it for real)."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from conftest import forumctl, recorded_dev_state

from forumctl.dev import admission
from forumctl.dev.pki import write_serving_cert
from forumctl.dev.ports import SERVICES, PortPlan
from forumctl.dev.procs import GiveUp, ToolError
from forumctl.dev.stack import status
from forumctl.dev.state import DevState, ProcessRecord, save_state
from forumctl.dev.summary import what_to_try
from forumdb_operator.main import cli as operator_cli
from forumdb_operator.webhook import CONFIGURATION_NAME, check_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "forumdatabase.yaml"


def _handshake(cert_dir: Path, server_name: str) -> str:
    """A TLS handshake with a server on the certificate, as a client trusting only ca.crt."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_dir / "tls.crt", cert_dir / "tls.key")
    client_ctx = ssl.create_default_context(cafile=str(cert_dir / "ca.crt"))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            # SSLError: the client refused the certificate (what some tests expect)
            with (
                conn,
                contextlib.suppress(ssl.SSLError),
                server_ctx.wrap_socket(conn, server_side=True) as tls,
            ):
                tls.sendall(b"ok")

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                client_ctx.wrap_socket(raw, server_hostname=server_name) as tls,
            ):
                return tls.recv(2).decode()
        finally:
            thread.join(timeout=10)


def test_the_webhook_certificate_is_trusted_for_127_0_0_1_through_its_ca(tmp_path: Path) -> None:
    cert_dir = admission.write_certs(tmp_path / "webhook")
    assert sorted(p.name for p in cert_dir.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]
    assert (cert_dir / "tls.key").stat().st_mode & 0o077 == 0  # a private key: owner only
    assert _handshake(cert_dir, "127.0.0.1") == "ok"  # what the API server checks (url host)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(cert_dir, "10.0.0.1")  # an address the certificate does not name


def test_another_ca_does_not_vouch_for_the_webhook(tmp_path: Path) -> None:
    cert_dir = admission.write_certs(tmp_path / "webhook")
    other = write_serving_cert(tmp_path / "other", "someone-else")
    (cert_dir / "ca.crt").write_bytes(other.ca_cert.read_bytes())
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(cert_dir, "127.0.0.1")


def test_the_operator_takes_the_options_dev_up_gives_it(tmp_path: Path) -> None:
    args = admission.operator_args(9555, tmp_path)
    ctx = operator_cli.make_context("forum-operator", [*args, "--standalone"])
    assert ctx.params["webhook_port"] == 9555
    assert ctx.params["webhook_host"] == "127.0.0.1"  # a url clientConfig, not a Service
    assert ctx.params["webhook_service"] == ""
    assert ctx.params["webhook_cert_dir"] == tmp_path
    assert ctx.params["webhook_configuration"] == CONFIGURATION_NAME == admission.CONFIGURATION


def test_the_probe_is_the_example_with_an_active_region_the_webhook_refuses() -> None:
    example = yaml.safe_load(EXAMPLE.read_text())
    before = yaml.safe_dump(example)
    check_spec(example, None, None)  # the example itself is admitted
    probe = admission.probe_manifest(example)
    assert yaml.safe_dump(example) == before  # the example is left as it was
    assert probe["metadata"] == {"name": admission.PROBE_NAME}
    active = probe["spec"]["activeRegion"]
    assert active not in (example["spec"]["primaryRegion"], *example["spec"]["replicaRegions"])
    with pytest.raises(kopf.AdmissionError, match=rf"spec\.activeRegion: {active} is neither"):
        check_spec(probe, None, None)


def test_the_probe_is_refused_without_replicas_too() -> None:
    # replicaRegions unset means unmanaged replicas, where any active region may be one
    bare = {"metadata": {"name": "x"}, "spec": {"tablePrefix": "x-", "primaryRegion": "eu-north-1"}}
    probe = admission.probe_manifest(bare)
    assert probe["spec"]["activeRegion"] != "eu-north-1"
    with pytest.raises(kopf.AdmissionError, match=r"spec\.activeRegion"):
        check_spec(probe, None, None)


DENIAL = (
    'Error from server: error when creating "probe.yaml": admission webhook "spec.forumdb.io" '
    "denied the request: invalid spec: spec.activeRegion: eu-north-1 is neither the primary "
    "region (us-east-1) nor one of spec.replicaRegions (us-west-2)"
)


class FakeKubectl:
    """kubectl answering from scripts: each call of a verb takes that verb's next answer (a
    stdout string, or an exception to raise); the last answer repeats."""

    def __init__(self, **answers: list[Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        script = self.answers[args[0]]
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, Exception):
            raise answer
        return subprocess.CompletedProcess(["kubectl", *args], 0, answer, "")


def _refused(stderr: str) -> ToolError:
    return ToolError(1, ["kubectl", "apply"], "", stderr)


def _configuration(url: str) -> str:
    return json.dumps({"webhooks": [{"name": "spec.forumdb.io", "clientConfig": {"url": url}}]})


def _await(kubectl: FakeKubectl, tmp_path: Path, *, timeout: float, alive: bool = True) -> str:
    """await_webhook for port 9443 and TMP/probe.yaml in namespace default."""
    return admission.await_webhook(
        kubectl,
        port=9443,
        probe_file=tmp_path / "probe.yaml",
        namespace="default",
        operator_alive=lambda: alive,
        timeout=timeout,
    )


def test_dev_up_waits_for_its_own_port_then_for_a_refusal(tmp_path: Path) -> None:
    kubectl = FakeKubectl(
        get=[
            _refused('validatingwebhookconfigurations "forumdb.io" not found'),
            _configuration("https://127.0.0.1:94431/spec"),  # another port, same prefix
            _configuration("https://127.0.0.1:9443/spec"),
        ],
        # accepted: the webhook was not reached and the Ignore policy let it through
        apply=[
            "forumdatabase.forumdb.io/forumdb-webhook-probe created (server dry run)",
            _refused(DENIAL),
        ],
    )
    message = _await(kubectl, tmp_path, timeout=10)
    assert message == DENIAL
    verbs = [c[0] for c in kubectl.calls]
    assert verbs == ["get", "get", "get", "apply", "apply"]
    assert kubectl.calls[-1] == (
        *("apply", "--dry-run=server", "-n", "default", "-f", str(tmp_path / "probe.yaml")),
    )


def test_a_failure_other_than_the_webhooks_refusal_is_no_answer(tmp_path: Path) -> None:
    other = _refused("the server could not find the requested resource")
    kubectl = FakeKubectl(get=[_configuration("https://127.0.0.1:9443/spec")], apply=[other])
    with pytest.raises(ToolError):
        admission.refusal(kubectl, tmp_path / "probe.yaml", "default")
    with pytest.raises(TimeoutError, match=r"to refuse spec\.activeRegion of probe\.yaml"):
        _await(kubectl, tmp_path, timeout=0.5)


def test_waiting_ends_at_once_when_the_operator_exits(tmp_path: Path) -> None:
    kubectl = FakeKubectl(get=[_refused("not found")], apply=[""])
    with pytest.raises(GiveUp, match="forum-operator exited"):
        _await(kubectl, tmp_path, timeout=30, alive=False)
    assert kubectl.calls == []


def test_the_webhook_has_a_port_of_its_own_after_the_others() -> None:
    plan = PortPlan.from_base(8080)
    assert [plan.service(s) for s in SERVICES] == [8081, 8082, 8083]  # unchanged
    ports = plan.as_dict()
    assert ports["webhook"] == max(ports.values())
    assert len(set(ports.values())) == len(ports)
    assert PortPlan.free().webhook > 0


def _gone_pid() -> int:
    done = subprocess.Popen(["true"])
    done.wait(timeout=10)
    return done.pid


def _recorded_with_webhook(state_dir: Path) -> DevState:
    return recorded_dev_state(
        state_dir,
        forumdb="forum",
        # recorded, not running (a process that has exited): `status` lists it, exits 1
        processes=[ProcessRecord(name="forum-operator", pid=_gone_pid(), log=state_dir / "op.log")],
        webhook=admission.WebhookRecord(
            configuration="forumdb.io", url="https://127.0.0.1:9443", cert_dir=state_dir / "webhook"
        ),
    )


def test_status_and_summary_show_the_webhook(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state = _recorded_with_webhook(state_dir)
    assert status(state_dir)["webhook"] == {
        "configuration": "forumdb.io",
        "url": "https://127.0.0.1:9443",
        "certDir": str(state_dir / "webhook"),
    }
    doc = forumctl("dev", "status", "--state-dir", str(state_dir), "-o", "json", expect=1)
    assert doc.json["webhook"]["url"] == "https://127.0.0.1:9443"
    text = forumctl("dev", "status", "--state-dir", str(state_dir), expect=1).stdout
    assert (
        "admission webhook: ValidatingWebhookConfiguration forumdb.io -> https://127.0.0.1:9443"
        in text
    )
    shown = what_to_try(state, state_dir)
    assert (
        "admission webhook (https://127.0.0.1:9443, ValidatingWebhookConfiguration forumdb.io)"
        in shown
    )


def test_a_json_mode_stack_shows_no_webhook(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state = DevState(mode="json", checkout=tmp_path, complete=True)
    save_state(state_dir, state)
    assert status(state_dir)["webhook"] is None
    assert "webhook" not in what_to_try(state, state_dir)


def test_dev_up_help_names_the_webhook_port() -> None:
    shown = " ".join(forumctl("dev", "up", "--help").stdout.split())
    assert "OIDC issuer, and the operator's admission webhook" in shown
    assert "admission webhook" in " ".join(forumctl("dev", "--help").stdout.split())
