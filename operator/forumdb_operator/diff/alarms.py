"""CloudWatch alarms and their SNS topic (created when asked) and e-mail subscriptions."""

from __future__ import annotations

from typing import Any

from forumdb import naming
from forumdb_operator.desired import DesiredAlarms, DesiredState
from forumdb_operator.diff.model import Action, Plan
from forumdb_operator.observed import Observed, ObservedAlarms
from forumdb_operator.remembered import arn_region

ALARM_DELETE_BATCH = 100


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


def delete_alarms(names: list[str], region: str, why: str) -> list[Action]:
    names = sorted(names)
    return [
        Action(
            "alarm",
            "cloudwatch",
            region,
            "delete_alarms",
            {"AlarmNames": names[i : i + ALARM_DELETE_BATCH]},
            f"delete {len(names[i : i + ALARM_DELETE_BATCH])} alarm(s) in {region} ({why}): "
            + ", ".join(names[i : i + ALARM_DELETE_BATCH][:3])
            + ("..." if len(names[i : i + ALARM_DELETE_BATCH]) > 3 else ""),
        )
        for i in range(0, len(names), ALARM_DELETE_BATCH)
    ]


# ListSubscriptionsByTopic's SubscriptionArn for a subscription that was removed (unsubscribed
# from the e-mail's link or the console) and is still listed: it is no subscription at all.
# Seen on AWS (ansible/ansible#20086: "Unsubscribing ... results in the API returning
# SubscriptionArn: Deleted"); AWS's ListSubscriptionsByTopic reference does not name the value.
SUBSCRIPTION_DELETED = "Deleted"


def _topic_action(d: DesiredState, a: DesiredAlarms, region: str) -> Action:
    return Action(
        "topic",
        "sns",
        region,
        "create_topic",
        {
            "Name": a.create_topic_name,
            "Tags": [
                {"Key": k, "Value": v}
                for k, v in naming.owner_tags(d.namespace, d.name, d.uid, d.cluster).items()
            ],
        },
        f"create SNS topic {a.create_topic_name} in {region}",
    )


def _subscribe_actions(a: DesiredAlarms, topic: str, region: str, subs: dict[str, str]) -> list:
    # Absent, or listed as "Deleted" (unsubscribed by its owner, or an unconfirmed one SNS
    # pruned): subscribe again. Confirmed (an ARN) and "PendingConfirmation" are left
    # alone: subscribing a pending one again mails a new confirmation at every check.
    return [
        Action(
            "topic",
            "sns",
            region,
            "subscribe",
            {"TopicArn": topic, "Protocol": "email", "Endpoint": email},
            f"subscribe {email} to {topic}",
        )
        for email in a.emails
        if subs.get(email, SUBSCRIPTION_DELETED) == SUBSCRIPTION_DELETED
    ]


def alarm_topic(a: DesiredAlarms, oa: ObservedAlarms, region: str) -> str | None:
    """The topic the alarms of `region` notify: the operator's own topic there, or the spec's
    topic where it is in that region (an alarm's action must be in the alarm's region); None:
    those alarms notify no one."""
    if a.topic_arn:
        return a.topic_arn if arn_region(a.topic_arn) in (region, None) else None
    return oa.topic_in(region, a.region)


def diff_alarms(d: DesiredState, obs: Observed, plan: Plan) -> None:
    a: DesiredAlarms | None = d.alarms
    oa = obs.alarms
    if a is None or oa is None:
        return
    regions = (a.region, *sorted(set(a.regions or ()) - {a.region}))
    if not a.enabled:
        for region in regions:
            have = oa.alarms_in(region, a.region)
            plan.actions.extend(delete_alarms(list(have), region, "alarms disabled"))
        return
    missing = [r for r in a.topic_regions if oa.topic_in(r, a.region) is None]
    if missing:
        plan.actions.extend(_topic_action(d, a, r) for r in missing)
        return  # alarms name the topic's ARN: next pass
    if a.topic_arn:
        plan.actions.extend(_subscribe_actions(a, a.topic_arn, a.region, oa.subscriptions))
    for region in a.topic_regions:
        topic = oa.topic_in(region, a.region)
        assert topic is not None
        plan.actions.extend(
            _subscribe_actions(a, topic, region, oa.subscriptions_in(region, a.region))
        )
    wanted: dict[str, set[str]] = {r: set() for r in regions}
    for alarm in a.alarms:
        wanted.setdefault(alarm.region, set()).add(alarm.name)
        topic = alarm_topic(a, oa, alarm.region)
        req = alarm.put_request([topic] if topic else [])
        have = oa.alarms_in(alarm.region, a.region).get(alarm.name)
        if have is not None and alarm_matches(req, have):
            continue
        summary = (
            f"create alarm {alarm.name} in {alarm.region}"
            if have is None
            else f"update alarm {alarm.name} in {alarm.region} (its settings had changed)"
        )
        plan.actions.append(
            Action("alarm", "cloudwatch", alarm.region, "put_metric_alarm", req, summary)
        )
    for region in regions:
        extra = [n for n in oa.alarms_in(region, a.region) if n not in wanted[region]]
        if extra:
            plan.actions.extend(delete_alarms(extra, region, "no longer wanted"))
