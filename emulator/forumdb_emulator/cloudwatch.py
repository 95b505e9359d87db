"""CloudWatch alarms start where AWS starts them.

PutMetricAlarm API reference: "When this operation creates an alarm, the alarm state is
immediately set to INSUFFICIENT_DATA"; updating an existing alarm leaves its state as it was.
moto sets every alarm it (re)creates to OK.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from moto.cloudwatch.models import CloudWatchBackend

from .state import STATE


def install() -> None:
    CloudWatchBackend.put_metric_alarm = _keeping_state(CloudWatchBackend.put_metric_alarm)  # type: ignore[method-assign]


def _keeping_state(original: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(original)
    def wrapper(self: CloudWatchBackend, name: str, *args: Any, **kwargs: Any) -> Any:
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
