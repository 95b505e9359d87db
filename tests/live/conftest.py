"""Live AWS: opt-in only (FORUMDB_LIVE_AWS=1 plus credentials), never in CI.

    FORUMDB_LIVE_AWS=1 AWS_PROFILE=sandbox .venv/bin/python -m pytest tests/live -m live

Settings: FORUMDB_LIVE_REGION (default us-east-1), FORUMDB_LIVE_REPLICA_REGION (default
us-west-2; empty for no replica), FORUMDB_LIVE_BACKUP_ROLE_ARN (enables backups with that
role; unset: no backups, so no vault is left behind). Costs a few cents: three on-demand
tables with PITR and a replica, for a few minutes; everything created is deleted afterwards.
"""

from __future__ import annotations

import os

import boto3
import pytest

LIVE_SWITCH = "FORUMDB_LIVE_AWS"


def live_unavailable_reason() -> str | None:
    if os.environ.get("CI"):
        return "live AWS tests never run in CI"
    if os.environ.get(LIVE_SWITCH) != "1":
        return f"live AWS tests are opt-in: set {LIVE_SWITCH}=1 and AWS credentials"
    if os.environ.get("AWS_ENDPOINT_URL"):
        return "AWS_ENDPOINT_URL is set: the live suite talks to real AWS only"
    if boto3.session.Session().get_credentials() is None:
        return f"{LIVE_SWITCH}=1 but boto3 finds no AWS credentials"
    return None


@pytest.fixture(scope="session")
def live_aws_env() -> dict[str, str]:
    """The caller's AWS settings (profile, keys, config files), for the operator process."""
    reason = live_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
