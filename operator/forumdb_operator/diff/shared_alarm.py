"""The account-level UserErrors alarm, shared by every ForumDatabase of one operator (cluster
id) in one account and region.

DynamoDB publishes UserErrors per account and region, without a table dimension: N resources
there would make N identical alarms. There is one, named naming.shared_alarm_name, and each
resource that wants it records itself on it as a tag (CloudWatch TagResource on the alarm's
ARN): key naming.alarm_user_key (a digest of its ownership record), value its settings and its
topic. Tags are per key, so two resources recording themselves at once do not overwrite each
other. The alarm holds the most sensitive settings of its users (the lowest threshold, the
shortest period, the fewest evaluation periods) and notifies each user's topic (CloudWatch: at
most 5 actions per state, so the first 5 in ARN order). A resource that stops wanting it
(alarms disabled, deletion) removes its own tag; the last one deletes the alarm. CloudWatch
allows 50 tags per alarm: 48 users besides the managed-by and cluster tags; a further one that
cannot record itself still finds the alarm made and keeps it in shape, but is not counted when
the others leave (it makes the alarm again at its next check).
"""

from __future__ import annotations

from typing import Any

from forumdb import naming
from forumdb_operator.desired import (
    DesiredAlarm,
    DesiredAlarms,
    DesiredSharedAlarm,
    DesiredState,
)
from forumdb_operator.diff.alarm_shape import alarm_matches
from forumdb_operator.diff.model import Action, Plan
from forumdb_operator.observed import ObservedAlarms

TAG_VALUE_MAX = 256
ALARM_ACTIONS_MAX = 5  # PutMetricAlarm AlarmActions: at most 5 (botocore CloudWatch model)


def user_value(alarm: DesiredAlarm, topic: str | None, owner: str) -> str:
    """THRESHOLD/PERIOD/EVALUATION_PERIODS TOPIC_ARN|- NAMESPACE/NAME, cut to a tag value's 256
    characters; a topic ARN that does not fit is left out ("-"): that resource's topic is then
    no action of the alarm."""
    settings = f"{alarm.threshold:g}/{alarm.period}/{alarm.evaluation_periods}"
    head = f"{settings} {topic}" if topic and len(settings) + 1 + len(topic) <= 256 else None
    return f"{head or settings + ' -'} {owner}"[:TAG_VALUE_MAX]


def _parse(value: str) -> tuple[float, int, int, str | None] | None:
    parts = value.split(" ")
    try:
        threshold, period, evaluations = parts[0].split("/")
        topic = parts[1] if len(parts) > 1 and parts[1] != "-" else None
        return float(threshold), int(period), int(evaluations), topic
    except (ValueError, IndexError):
        return None  # not ours to read: ignored


def shared_request(alarm: DesiredAlarm, users: dict[str, str]) -> dict[str, Any]:
    """The alarm as its users want it: the most sensitive settings, every user's topic."""
    parsed = [p for p in (_parse(v) for v in users.values()) if p is not None]
    threshold = min((p[0] for p in parsed), default=alarm.threshold)
    period = min((p[1] for p in parsed), default=alarm.period)
    evaluations = min((p[2] for p in parsed), default=alarm.evaluation_periods)
    topics = sorted({p[3] for p in parsed if p[3]})[:ALARM_ACTIONS_MAX]
    merged = DesiredAlarm(
        name=alarm.name,
        region=alarm.region,
        description=alarm.description,
        threshold=threshold,
        comparison=alarm.comparison,
        period=period,
        evaluation_periods=evaluations,
        metric_name=alarm.metric_name,
        statistic=alarm.statistic,
    )
    return merged.put_request(topics)


def _found(s: DesiredSharedAlarm, oa: ObservedAlarms) -> dict[str, Any] | None:
    """The shared alarm as observed, where it is the one this resource wants (its name)."""
    if oa.shared is None or oa.shared.get("AlarmName") != s.alarm.name:
        return None
    return oa.shared


def _users(oa: ObservedAlarms) -> dict[str, str]:
    return {k: v for k, v in oa.shared_tags.items() if k.startswith(naming.TAG_ALARM_USER)}


def leave_shared_alarm(a: DesiredAlarms, oa: ObservedAlarms, plan: Plan, why: str) -> None:
    """This resource no longer wants the alarm: remove its tag, or the alarm where it is the
    last user. Never the alarm while another resource's tag is on it."""
    s = a.shared
    have = None if s is None else _found(s, oa)
    if s is None or have is None:
        return
    users = _users(oa)
    name, region = s.alarm.name, a.region
    if s.user_key not in users:
        return  # not (or no longer) one of its users
    if set(users) == {s.user_key}:
        plan.actions.append(
            Action(
                "alarm",
                "cloudwatch",
                region,
                "delete_alarms",
                {"AlarmNames": [name]},
                f"delete alarm {name} in {region} ({why}; no other ForumDatabase uses it)",
            )
        )
        return
    plan.actions.append(
        Action(
            "alarm",
            "cloudwatch",
            region,
            "untag_resource",
            {"ResourceARN": have["AlarmArn"], "TagKeys": [s.user_key]},
            f"stop using the shared alarm {name} in {region} ({why}; "
            f"{len(users) - 1} other ForumDatabase(s) still use it)",
        )
    )


def diff_shared_alarm(
    d: DesiredState, a: DesiredAlarms, oa: ObservedAlarms, topic: str | None, plan: Plan
) -> None:
    """Make the shared alarm where it is missing (with this resource's tag), record this
    resource on it, and keep it at its users' most sensitive settings."""
    s = a.shared
    if s is None:
        return
    mine = user_value(s.alarm, topic, d.owner)
    name, region = s.alarm.name, a.region
    have = _found(s, oa)
    if have is None:
        req = shared_request(s.alarm, {s.user_key: mine})
        # Tags given to PutMetricAlarm apply when it creates the alarm (ignored on an update).
        req["Tags"] = [
            {"Key": k, "Value": v} for k, v in sorted({**s.tags, s.user_key: mine}.items())
        ]
        plan.actions.append(
            _put(region, req, f"create alarm {name} in {region} (account-level, shared)")
        )
        return
    users = _users(oa)
    if users.get(s.user_key) != mine:
        plan.actions.append(
            Action(
                "alarm",
                "cloudwatch",
                region,
                "tag_resource",
                {
                    "ResourceARN": have["AlarmArn"],
                    "Tags": [{"Key": s.user_key, "Value": mine}],
                },
                f"record {d.owner} as a user of the shared alarm {name} in {region}",
            )
        )
        users[s.user_key] = mine
    req = shared_request(s.alarm, users)
    if not alarm_matches(req, have):
        plan.actions.append(
            _put(
                region,
                req,
                f"update alarm {name} in {region} (to its users' most sensitive settings)",
            )
        )


def _put(region: str, request: dict[str, Any], summary: str) -> Action:
    """PutMetricAlarm of the shared alarm (it creates or replaces the whole alarm)."""
    return Action("alarm", "cloudwatch", region, "put_metric_alarm", request, summary)
