"""The parts of an ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE) the operator reads."""

from __future__ import annotations

from typing import Any


def _parts(arn: Any) -> list[str]:
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    return parts if len(parts) == 6 and parts[0] == "arn" else []


def region_of(arn: Any) -> str | None:
    """The region an ARN names; None for a global resource or what is not an ARN."""
    parts = _parts(arn)
    return parts[3] or None if parts else None


def partition_of(arn: Any) -> str:
    """The ARN's partition (aws, aws-cn, aws-us-gov); "aws" when it names none."""
    parts = _parts(arn)
    return parts[1] if parts and parts[1] else "aws"


def table_of(arn: Any) -> str:
    """The table a DynamoDB table ARN names (also from a stream's or index's ARN); "" else."""
    parts = _parts(arn)
    if not parts or parts[2] != "dynamodb" or not parts[5].startswith("table/"):
        return ""
    return parts[5].split("/", 2)[1]
