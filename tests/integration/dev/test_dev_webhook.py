"""`forumctl dev up` runs the operator's validating admission webhook, as a cluster installed with
the chart does: `kubectl apply` of a spec with a cross-field mistake is refused at once, with
the webhook's message, instead of being stored and only reported in the status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from devcli import DevCli, alive_pids

from forumctl.dev.procs import port_open
from harness.kube import Kubectl
from harness.provision import require_tool

pytestmark = [pytest.mark.apiserver, pytest.mark.slow]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "forumdatabase.yaml"


def test_dev_up_refuses_a_cross_field_mistake_at_apply(dev: DevCli) -> None:
    up = dev.up("--drift-interval", "3600")
    step = r"^✓ admission webhook \(ValidatingWebhookConfiguration forumdb\.io refuses a bad spec\)"
    assert re.search(step, up.stderr, re.M), up.stderr
    report = dev.status()
    hook = report["webhook"]
    port = int(hook["url"].rsplit(":", 1)[1])
    assert hook["url"] == f"https://127.0.0.1:{port}"
    assert hook["configuration"] == "forumdb.io"
    assert f"admission webhook ({hook['url']}" in up.stdout  # the summary says so

    kubectl = Kubectl(
        require_tool("kubectl"), Path(report["kubeconfig"]), cache_dir=dev.state_dir / "kcache"
    )
    registered = kubectl.json("get", "validatingwebhookconfiguration", "forumdb.io")
    assert [w["clientConfig"]["url"] for w in registered["webhooks"]] == [f"{hook['url']}/spec"]

    bad = yaml.safe_load(EXAMPLE.read_text())
    bad["metadata"]["name"] = "wrong-region"
    bad["spec"]["activeRegion"] = "eu-central-1"  # neither us-east-1 nor the replica us-west-2
    refused = kubectl("apply", "-n", "default", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert refused.returncode != 0, refused.stdout
    assert 'admission webhook "spec.forumdb.io" denied the request' in refused.stderr
    assert (
        "spec.activeRegion: eu-central-1 is neither the primary region (us-east-1) "
        "nor one of spec.replicaRegions (us-west-2)"
    ) in refused.stderr
    assert not kubectl.exists("forumdb", "wrong-region", namespace="default")  # nothing stored
    # the example dev up applied is still admitted: an unchanged re-apply goes through
    assert kubectl("apply", "-n", "default", "-f", str(EXAMPLE)).returncode == 0

    pids = [p["pid"] for p in report["processes"]]
    dev.ok("down", timeout=120)
    assert not dev.state_dir.exists()  # certificates and the etcd holding the configuration
    assert alive_pids(pids) == []
    assert not port_open(port)
