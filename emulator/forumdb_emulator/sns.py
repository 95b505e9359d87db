"""SNS e-mail subscriptions listed as AWS lists them (moto lists every one as confirmed).

- A new e-mail subscription waits for its recipient: ListSubscriptionsByTopic (and
  ListSubscriptions) show SubscriptionArn "PendingConfirmation" until the recipient confirms
  (the control `sns_confirm`). SNS removes an unconfirmed subscription after 48 hours (AWS
  What's New, 2023-05-10, "Amazon SNS now supports automatic deletion of unconfirmed
  subscriptions ... for 48 hours"); `unconfirmed_subscription_seconds`.
- A recipient who unsubscribes (the link in every e-mail; the control `sns_unsubscribe`) ends
  the subscription, and the listing shows it with SubscriptionArn "Deleted" for a while
  (ansible/ansible#20086: "Unsubscribing from SNS topics (at least via the console for email
  subscriptions) results in the API returning "SubscriptionArn": "Deleted""; ekristen/aws-nuke#813
  skips such entries). AWS publishes no duration: `unsubscribed_listed_seconds`.
A Subscribe of the address afterwards makes a new pending subscription.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from moto.sns.models import SNSBackend, Subscription

from .state import STATE

PENDING = "PendingConfirmation"
DELETED = "Deleted"


@dataclass
class Unsubscribed:
    """A subscription its recipient ended, listed as "Deleted" for unsubscribed_listed_seconds
    after `ended_at`."""

    topic_arn: str
    owner: str
    protocol: str
    endpoint: str
    ended_at: float  # monotonic


def install() -> None:
    SNSBackend.subscribe = _subscribing(SNSBackend.subscribe)  # type: ignore[method-assign]
    SNSBackend.list_subscriptions_by_topic = _listing(  # type: ignore[method-assign]
        SNSBackend.list_subscriptions_by_topic
    )
    SNSBackend.list_subscriptions = _listing(SNSBackend.list_subscriptions)  # type: ignore[method-assign]


def _strict() -> bool:
    return STATE.active and STATE.rules.email_subscriptions_need_confirmation


def _subscribing(original: Callable[..., Subscription]) -> Callable[..., Subscription]:
    @wraps(original)
    def wrapper(self: SNSBackend, topic_arn: str, endpoint: str, protocol: str) -> Subscription:
        known = set(self.subscriptions)
        sub = original(self, topic_arn, endpoint, protocol)
        if _strict() and protocol == "email" and sub.arn not in known:
            STATE.sns_pending[sub.arn] = time.monotonic()
        return sub

    return wrapper


def _listing(original: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(original)
    def wrapper(self: SNSBackend, *args: Any, **kwargs: Any) -> Any:
        if not _strict():
            return original(self, *args, **kwargs)
        _prune(self)
        subs, token = original(self, *args, **kwargs)
        listed: list[Any] = [_entry(s) for s in subs]
        if token is None:  # the last page: the ended ones of this listing's topic (or all)
            topic = kwargs.get("topic_arn") or (args[0] if args else None)
            since = time.monotonic() - STATE.rules.unsubscribed_listed_seconds
            listed += [
                {
                    "SubscriptionArn": DELETED,
                    "Owner": u.owner,
                    "Protocol": u.protocol,
                    "Endpoint": u.endpoint,
                    "TopicArn": u.topic_arn,
                }
                for arn, u in sorted(STATE.sns_unsubscribed.items())
                if u.ended_at > since
                and (topic is None or u.topic_arn == topic)
                and arn.split(":")[3] == self.region_name
            ]
        return listed, token

    return wrapper


def _entry(sub: Subscription) -> Any:
    if sub.arn not in STATE.sns_pending:
        return sub
    return {
        "SubscriptionArn": PENDING,
        "Owner": sub.owner,
        "Protocol": sub.protocol,
        "Endpoint": sub.endpoint,
        "TopicArn": sub.topic.arn,
    }


def _prune(backend: SNSBackend) -> None:
    """Unconfirmed subscriptions older than the rule's limit are gone, as SNS removes them."""
    limit = time.monotonic() - STATE.rules.unconfirmed_subscription_seconds
    for arn, created in list(STATE.sns_pending.items()):
        if created <= limit and arn in backend.subscriptions:
            backend.subscriptions.pop(arn, None)
            STATE.sns_pending.pop(arn, None)


def _find(topic_arn: str, endpoint: str) -> tuple[SNSBackend, Subscription]:
    from moto.sns.models import sns_backends

    parts = topic_arn.split(":")
    if len(parts) < 6:
        raise ValueError(f"not a topic ARN: {topic_arn}")
    backend = sns_backends[parts[4]][parts[3]]
    for sub in backend.subscriptions.values():
        if sub.topic.arn == topic_arn and sub.endpoint == endpoint and sub.protocol == "email":
            return backend, sub
    raise KeyError(f"no e-mail subscription of {endpoint} to {topic_arn}")


def confirm(topic_arn: str, endpoint: str) -> str:
    """The recipient follows the confirmation link: the subscription gets its ARN."""
    _backend, sub = _find(topic_arn, endpoint)
    STATE.sns_pending.pop(sub.arn, None)
    return str(sub.arn)


def unsubscribe(topic_arn: str, endpoint: str) -> str:
    """The recipient follows the unsubscribe link: the subscription ends and is listed as
    "Deleted" for `unsubscribed_listed_seconds`."""
    backend, sub = _find(topic_arn, endpoint)
    backend.unsubscribe(sub.arn)
    STATE.sns_pending.pop(sub.arn, None)
    STATE.sns_unsubscribed[sub.arn] = Unsubscribed(
        topic_arn=topic_arn,
        owner=str(sub.owner),
        protocol=sub.protocol,
        endpoint=sub.endpoint,
        ended_at=time.monotonic(),
    )
    return str(sub.arn)
