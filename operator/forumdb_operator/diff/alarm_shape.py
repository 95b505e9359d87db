"""Whether an alarm as CloudWatch describes it is the alarm the operator would put."""

from __future__ import annotations

from typing import Any


def _dims(raw: list[dict[str, str]] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((x["Name"], x["Value"]) for x in raw or []))


def _metrics_shape(metrics: list[dict[str, Any]] | None) -> tuple[Any, ...]:
    out = []
    for m in metrics or []:
        stat = m.get("MetricStat") or {}
        metric = stat.get("Metric") or {}
        out.append(
            (
                m.get("Id"),
                m.get("Expression"),
                metric.get("MetricName"),
                _dims(metric.get("Dimensions")),
                stat.get("Stat"),
                stat.get("Period"),
            )
        )
    return tuple(sorted(out, key=str))


def alarm_matches(want: dict[str, Any], have: dict[str, Any]) -> bool:
    """Compare the fields the operator sets (what AWS adds on its own is ignored)."""
    if float(have.get("Threshold", -1)) != float(want["Threshold"]):
        return False
    for key in ("ComparisonOperator", "EvaluationPeriods", "TreatMissingData", "ActionsEnabled"):
        if have.get(key) != want.get(key):
            return False
    if sorted(have.get("AlarmActions") or []) != sorted(want.get("AlarmActions") or []):
        return False
    if "Metrics" in want:
        return _metrics_shape(have.get("Metrics")) == _metrics_shape(want["Metrics"])
    return (
        have.get("MetricName") == want["MetricName"]
        and have.get("Namespace") == want["Namespace"]
        and have.get("Statistic") == want["Statistic"]
        and have.get("Period") == want["Period"]
        and _dims(have.get("Dimensions")) == _dims(want["Dimensions"])
    )
