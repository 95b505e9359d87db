"""CloudWatch alarms start where AWS starts them, and notify topics of their own region.

PutMetricAlarm API reference: "When this operation creates an alarm, the alarm state is
immediately set to INSUFFICIENT_DATA"; updating an existing alarm leaves its state as it was.
moto sets every alarm it (re)creates to OK.

An alarm's SNS action must be a topic of the alarm's region: AWS answers another region's
topic "ValidationError: Invalid region ca-central-1 specified. Only us-west-2 is supported."
(cds-snc/notification-terraform#128; cds-snc/covid-alert-portal#333: "Cloudwatch alarms cannot
communicate across regions"). moto accepts any ARN.

DeleteAlarms deletes the alarms' tags with them (an alarm made again under the name starts
without tags, as a new resource does on AWS); moto keeps them by ARN and shows them again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import CloudWatchBackend

from .state import STATE


def install() -> None:
    CloudWatchBackend.put_metric_alarm = _keeping_state(CloudWatchBackend.put_metric_alarm)  # type: ignore[method-assign]
    CloudWatchBackend.delete_alarms = _with_tags(CloudWatchBackend.delete_alarms)  # type: ignore[method-assign]


def _with_tags(original: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(original)
    def wrapper(self: CloudWatchBackend, alarm_names: list[str]) -> Any:
        if STATE.active:
            for name in alarm_names:
                alarm = self.alarms.get(name)
                if alarm is not None:
                    self.tagger.delete_all_tags_for_resource(alarm.alarm_arn)
        return original(self, alarm_names)

    return wrapper


def _keeping_state(original: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(original)
    def wrapper(self: CloudWatchBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        if STATE.active and STATE.rules.alarm_actions_in_alarm_region:
            _check_action_regions(self.region_name, kwargs)
        previous = self.alarms.get(name)
        alarm = original(self, name, *args, **kwargs)
        if not (STATE.active and STATE.rules.alarms_start_insufficient_data):
            return alarm
        if previous is None:
            alarm.state_value = "INSUFFICIENT_DATA"
        else:
            alarm.state_value = previous.state_value
            alarm.state_reason = previous.state_reason
            alarm.state_reason_data = previous.state_reason_data
            alarm.state_updated_timestamp = previous.state_updated_timestamp
        return alarm

    return wrapper


ACTION_LISTS = ("alarm_actions", "ok_actions", "insufficient_data_actions")


def _check_action_regions(region: str, kwargs: dict[str, Any]) -> None:
    for key in ACTION_LISTS:
        for arn in kwargs.get(key) or []:
            parts = str(arn).split(":")
            if len(parts) > 5 and parts[2] == "sns" and parts[3] != region:
                raise ValidationError(
                    f"Invalid region {parts[3]} specified. Only {region} is supported."
                )
