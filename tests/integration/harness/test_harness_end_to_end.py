"""The issue's bar: "give me an apiserver, a moto server with replicas, and a running
operator" in a few lines of a test."""

from __future__ import annotations

import boto3
import pytest

from harness.scenario import (
    apply_and_wait_ready,
    check_configmap,
    check_tables,
    example_forumdatabase,
)

pytestmark = [pytest.mark.apiserver, pytest.mark.slow]


def test_operator_makes_the_example_ready_against_moto_with_replicas(
    aws, kubectl, namespace, operator_runner
) -> None:
    aws.control.set_replication(replica_activation_calls=2)
    operator_runner.start("--namespace", namespace)
    manifest = example_forumdatabase()  # us-east-1 with a replica in us-west-2
    apply_and_wait_ready(kubectl, namespace, manifest, timeout=120)

    check_configmap(kubectl, namespace, manifest)
    check_tables(lambda region: boto3.client("dynamodb", region_name=region), manifest["spec"])
