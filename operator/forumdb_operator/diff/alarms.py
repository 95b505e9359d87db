"""CloudWatch alarms and their SNS topic (created when asked) and e-mail subscriptions."""

from __future__ import annotations

from forumdb import naming
from forumdb_operator.arns import region_of
from forumdb_operator.desired import DesiredAlarms, DesiredState
from forumdb_operator.diff.alarm_shape import alarm_matches
from forumdb_operator.diff.model import Action, Plan
from forumdb_operator.diff.shared_alarm import diff_shared_alarm, leave_shared_alarm
from forumdb_operator.observed import Observed, ObservedAlarms

ALARM_DELETE_BATCH = 100


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


# ListSubscriptionsByTopic's SubscriptionArn for a subscription its recipient ended (the link in
# every mail, or the console) and is still listed for a while: no subscription, and the
# recipient's choice (not subscribed again). Seen on AWS (ansible/ansible#20086: "Unsubscribing
# ... results in the API returning SubscriptionArn: Deleted"; ekristen/aws-nuke#813); AWS's
# ListSubscriptionsByTopic reference does not name the value.
SUBSCRIPTION_DELETED = "Deleted"
SUBSCRIPTION_PENDING = "PendingConfirmation"


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


def _subscribe_actions(
    a: DesiredAlarms, topic: str, region: str, subs: dict[str, str], asked: frozenset
) -> list[Action]:
    """Subscribe each e-mail of the spec the operator has no record of in this region
    (status.alarms.subscriptions: asked for, or seen listed) and SNS lists as no live
    subscription (absent, or "Deleted"). A confirmed one (an ARN) or a "PendingConfirmation"
    one is never subscribed again (that mails a new confirmation at every check). Once recorded,
    an address is not asked again by the operator, whatever SNS lists later: its recipient
    unsubscribed ("Deleted"), or never confirmed (SNS drops it after 48 h); a new confirmation
    request at every check would be spam. A person asks again by taking the address out of
    spec.alarms.emailSubscriptions (its record goes) and putting it back."""
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
        if (region, email) not in asked
        and subs.get(email, SUBSCRIPTION_DELETED) == SUBSCRIPTION_DELETED
    ]


def alarm_topic(a: DesiredAlarms, oa: ObservedAlarms, region: str) -> str | None:
    """The topic the alarms of `region` notify: the operator's own topic there, or the spec's
    topic where it is in that region (an alarm's action must be in the alarm's region); None:
    those alarms notify no one."""
    if a.topic_arn:
        return a.topic_arn if region_of(a.topic_arn) in (region, None) else None
    return oa.topic_in(region, a.region)


def diff_alarms(d: DesiredState, obs: Observed, plan: Plan) -> None:
    a: DesiredAlarms | None = d.alarms
    oa = obs.alarms
    if a is None or oa is None:
        return
    # and a region that left the spec where ours were found (observed.alarms)
    regions = oa.regions_of_ours(a.region, a.regions or ())
    if not a.enabled:
        for region in regions:
            have = oa.alarms_in(region, a.region)
            plan.actions.extend(delete_alarms(list(have), region, "alarms disabled"))
        leave_shared_alarm(a, oa, plan, "alarms disabled")
        return
    missing = [r for r in a.topic_regions if oa.topic_in(r, a.region) is None]
    if missing:
        plan.actions.extend(_topic_action(d, a, r) for r in missing)
        return  # alarms name the topic's ARN: next pass
    if a.topic_arn:
        plan.actions.extend(
            _subscribe_actions(a, a.topic_arn, a.region, oa.subscriptions, obs.subscriptions_asked)
        )
    for region in a.topic_regions:
        topic = oa.topic_in(region, a.region)
        assert topic is not None
        plan.actions.extend(
            _subscribe_actions(
                a,
                topic,
                region,
                oa.subscriptions_in(region, a.region),
                obs.subscriptions_asked,
            )
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
    diff_shared_alarm(d, a, oa, alarm_topic(a, oa, a.region), plan)
    for region in regions:
        # incl. the per-resource UserErrors alarm of earlier versions (now the shared one)
        extra = [n for n in oa.alarms_in(region, a.region) if n not in wanted[region]]
        if extra:
            plan.actions.extend(delete_alarms(extra, region, "no longer wanted"))
