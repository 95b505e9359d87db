"""CloudWatch alarm requests the tests make by hand (not the operator's own)."""

from __future__ import annotations

from typing import Any


def user_errors_alarm(**fields: Any) -> dict[str, Any]:
    """PutMetricAlarm arguments of an account's DynamoDB UserErrors alarm (Sum over 5 minutes,
    10 or more), without a name unless `fields` gives one (AlarmName=...); a new dict a call."""
    return {
        "Namespace": "AWS/DynamoDB",
        "MetricName": "UserErrors",
        "Statistic": "Sum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 10.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        **fields,
    }
