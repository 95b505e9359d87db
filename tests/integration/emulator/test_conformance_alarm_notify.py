"""SNS e-mail subscriptions and CloudWatch alarm actions, as AWS answers them.

Sources: emulator/forumdb_emulator/sns.py and cloudwatch.py (each rule's citation)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from harness.alarms import user_errors_alarm
from harness.emulator_support import EAST

WEST = "us-west-2"


def _listed(sns: Any, topic: str) -> dict[str, str]:
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    return {s["Endpoint"]: s["SubscriptionArn"] for s in subs if s["Protocol"] == "email"}


def test_an_email_subscription_is_pending_until_its_recipient_confirms(ext):
    """ListSubscriptionsByTopic shows an unconfirmed e-mail subscription with SubscriptionArn
    "PendingConfirmation" (moto lists it with an ARN at once)."""
    sns = ext.client("sns", EAST)
    topic = sns.create_topic(Name="forumdb-alarms-pending")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    assert _listed(sns, topic) == {"ops@example.com": "PendingConfirmation"}
    arn = ext.control.sns_confirm(topic, "ops@example.com")["SubscriptionArn"]
    assert arn.startswith(topic + ":")
    assert _listed(sns, topic) == {"ops@example.com": arn}


def test_an_unsubscribed_email_is_listed_as_deleted_for_a_while(ext):
    """The recipient unsubscribes (the link in every mail): SNS lists the subscription with
    SubscriptionArn "Deleted" (ansible/ansible#20086) for a while, then not at all; a Subscribe
    afterwards is a new pending subscription."""
    sns = ext.client("sns", EAST)
    topic = sns.create_topic(Name="forumdb-alarms-gone")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    ext.control.sns_confirm(topic, "ops@example.com")
    ext.control.sns_unsubscribe(topic, "ops@example.com")
    assert _listed(sns, topic) == {"ops@example.com": "Deleted"}
    ext.control.configure(unsubscribed_listed_seconds=0)
    assert _listed(sns, topic) == {}
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    assert _listed(sns, topic) == {"ops@example.com": "PendingConfirmation"}


def test_an_unconfirmed_subscription_is_removed_after_the_limit(ext):
    """SNS removes an unconfirmed subscription after 48 hours (a setting here)."""
    sns = ext.client("sns", EAST)
    topic = sns.create_topic(Name="forumdb-alarms-pruned")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    ext.control.configure(unconfirmed_subscription_seconds=0)
    assert _listed(sns, topic) == {}


def test_an_alarm_action_must_be_a_topic_of_the_alarms_region(ext):
    """PutMetricAlarm with a topic of another region: "ValidationError: Invalid region R
    specified. Only S is supported." (cds-snc/notification-terraform#128)."""
    west_topic = ext.client("sns", WEST).create_topic(Name="forumdb-alarms-west")["TopicArn"]
    east_topic = ext.client("sns", EAST).create_topic(Name="forumdb-alarms-east")["TopicArn"]
    alarm = {
        "AlarmName": "forumdb/ns1/forum/forum-Posts/ReplicationLatency/us-west-2",
        "Namespace": "AWS/DynamoDB",
        "MetricName": "ReplicationLatency",
        "Statistic": "Average",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1000.0,
        "ComparisonOperator": "GreaterThanThreshold",
    }
    cloudwatch = ext.client("cloudwatch", EAST)
    with pytest.raises(ClientError) as info:
        cloudwatch.put_metric_alarm(**alarm, AlarmActions=[west_topic])
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert info.value.response["Error"]["Message"] == (
        f"Invalid region {WEST} specified. Only {EAST} is supported."
    )
    cloudwatch.put_metric_alarm(**alarm, AlarmActions=[east_topic])
    (found,) = cloudwatch.describe_alarms(AlarmNames=[alarm["AlarmName"]])["MetricAlarms"]
    assert found["AlarmActions"] == [east_topic]


def test_deleting_an_alarm_deletes_its_tags(ext):
    """An alarm made again under the name of a deleted one starts without tags (AWS deletes a
    resource's tags with it; moto kept them by ARN)."""
    cloudwatch = ext.client("cloudwatch", EAST)
    alarm = user_errors_alarm(AlarmName="forumdb-account/UserErrors")
    cloudwatch.put_metric_alarm(**alarm, Tags=[{"Key": "forumdb.io/user/a", "Value": "x"}])
    (found,) = cloudwatch.describe_alarms(AlarmNames=[alarm["AlarmName"]])["MetricAlarms"]
    arn = found["AlarmArn"]
    assert cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "forumdb.io/user/a", "Value": "x"}
    ]
    cloudwatch.delete_alarms(AlarmNames=[alarm["AlarmName"]])
    cloudwatch.put_metric_alarm(**alarm)
    assert cloudwatch.list_tags_for_resource(ResourceARN=arn)["Tags"] == []
