"""The operator ends on SIGTERM within its grace period, even with an AWS call hanging in a
pool thread (the interpreter would otherwise join that thread first: in a pod, 12-60 s past
SIGTERM, then killed). Exit code 0 proves it stopped by itself, not by the SIGKILL after the
grace period."""

from __future__ import annotations

import yaml
from op_example import example

from harness.procs import wait_for

HANG_MS = 25_000  # one DescribeTable takes this long (under botocore's 30 s read timeout)
GRACE = 10.0  # seconds between SIGTERM and SIGKILL: far less than the hanging call


def test_sigterm_with_an_aws_call_hanging_exits_cleanly(aws, kubectl, namespace, operator_runner):
    aws.control.set_fault(service="dynamodb", operation="DescribeTable", latency_ms=HANG_MS)
    op = operator_runner.start("--namespace", namespace)
    op.wait_healthy()
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(example()))
    # the first reconcile is under way: it set phase Pending, then its AWS calls hang
    wait_for(
        lambda: (
            kubectl.json("get", "forumdb", "forum", "-n", namespace).get("status", {}).get("phase")
        ),
        timeout=30,
        what="the first reconcile to start",
    )
    assert op.stop(grace=GRACE) == 0, op.logs()
    assert "stopped" in op.logs()
