"""E-mail subscriptions against the strict emulator, which lists them as SNS does: pending
until confirmed, "Deleted" for a while after the recipient unsubscribes, then not at all.

Each address is asked once per topic region (status.alarms.subscriptions records it): a
recipient who unsubscribed, or never confirmed, gets no new confirmation mail at the next
check; a person asks again by taking the address out of the spec and putting it back."""

from __future__ import annotations

from typing import Any

import boto3
from op_clock import SETTLE_TIMEOUT_SECONDS, pause, reconcile_rounds
from op_factories import spec

from forumdb_operator.awsclients import Clients
from forumdb_operator.reconcile import Outcome, Reconciler

NS, NAME = "ns1", "forum"
EAST = "us-east-1"
OPS, DEV = "ops@example.com", "dev@example.com"


def raw(emails: list[str]) -> dict[str, Any]:
    return spec(
        replicaRegions=[],
        backups=None,
        pointInTimeRecovery=None,
        alarms={"enabled": True, "createTopic": True, "emailSubscriptions": emails},
    )


def converge(r: Reconciler, doc: dict, previous: dict | None, generation: int) -> Outcome:
    """Reconcile until Ready; the outcome carries the actions of every reconcile it took."""
    previous = previous or {}
    applied = []
    for _ in reconcile_rounds(SETTLE_TIMEOUT_SECONDS):
        out = r.reconcile(
            namespace=NS, name=NAME, spec=doc, generation=generation, previous=previous
        )
        applied += out.applied
        previous = out.status
        if out.phase in ("Ready", "Failed") and out.requeue_after is None:
            assert out.phase == "Ready", out.status["message"]
            out.applied = applied
            return out
        pause(out.requeue_after)
    raise AssertionError(f"not converged: {previous}")


def listed(topic: str) -> dict[str, str]:
    subs = boto3.client("sns", region_name=EAST).list_subscriptions_by_topic(TopicArn=topic)
    return {s["Endpoint"]: s["SubscriptionArn"] for s in subs["Subscriptions"]}


def states(out: Outcome) -> dict[str, str]:
    return {s["endpoint"]: s["state"] for s in out.status["alarms"]["subscriptions"]}


def subscribes(out: Outcome) -> list[str]:
    return [a.params["Endpoint"] for a in out.applied if a.operation == "subscribe"]


def test_an_unsubscribed_or_unconfirmed_address_is_not_asked_again(ext):
    r = Reconciler(Clients())
    ready = converge(r, raw([OPS, DEV]), None, 1)
    topic = ready.status["alarms"]["topicArn"]
    assert sorted(subscribes(ready)) == [DEV, OPS]
    assert listed(topic) == {OPS: "PendingConfirmation", DEV: "PendingConfirmation"}
    assert states(ready) == {OPS: "PendingConfirmation", DEV: "PendingConfirmation"}

    ext.sns_confirm(topic, OPS)
    check = r.reconcile(
        namespace=NS, name=NAME, spec=raw([OPS, DEV]), generation=1, previous=ready.status
    )
    assert check.calls.writes == []
    assert states(check) == {OPS: "Confirmed", DEV: "PendingConfirmation"}

    ext.sns_unsubscribe(topic, OPS)  # the recipient leaves: SNS lists it "Deleted"
    check = r.reconcile(
        namespace=NS, name=NAME, spec=raw([OPS, DEV]), generation=1, previous=check.status
    )
    assert check.calls.writes == []  # no new confirmation mail
    assert states(check)[OPS] == "Unsubscribed"

    # later SNS lists neither (the "Deleted" entry gone, the unconfirmed one removed)
    ext.configure(unsubscribed_listed_seconds=0, unconfirmed_subscription_seconds=0)
    check = r.reconcile(
        namespace=NS, name=NAME, spec=raw([OPS, DEV]), generation=1, previous=check.status
    )
    assert listed(topic) == {}
    assert check.calls.writes == []
    assert states(check) == {OPS: "NotListed", DEV: "NotListed"}


def test_a_person_asks_again_by_removing_the_address_and_putting_it_back(ext):
    r = Reconciler(Clients())
    ready = converge(r, raw([OPS]), None, 1)
    topic = ready.status["alarms"]["topicArn"]
    ext.sns_confirm(topic, OPS)
    ext.sns_unsubscribe(topic, OPS)
    without = converge(r, raw([]), ready.status, 2)
    assert subscribes(without) == []
    assert without.status["alarms"]["subscriptions"] is None  # the patch removes the record
    again = converge(r, raw([OPS]), without.status, 3)
    assert subscribes(again) == [OPS]
    subs = boto3.client("sns", region_name=EAST).list_subscriptions_by_topic(TopicArn=topic)
    # the new pending one, beside the ended one SNS still lists for a while
    assert sorted(x["SubscriptionArn"] for x in subs["Subscriptions"]) == [
        "Deleted",
        "PendingConfirmation",
    ]
    assert states(again) == {OPS: "PendingConfirmation"}
