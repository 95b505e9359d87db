"""Where the extension hooks into moto: one wrapper around every API call, plus the patches
of the DynamoDB and AWS Backup modules. Installed once per process; inert while inactive."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

from botocore.exceptions import EndpointConnectionError
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse
from moto.moto_api._internal.models import MotoAPIBackend

from . import backup_api, global_tables, pitr, replication
from .faults import error_for
from .state import STATE

log = logging.getLogger("forumdb.moto_ext")

_installed = False
_sleep = time.sleep  # a seam for tests that check the added latency without timing it


class InjectedFault(ServiceException):
    """An error the extension injects; serialised by moto in the service's own protocol."""


_original_call_action = BaseResponse.call_action
_original_reset = MotoAPIBackend.reset


def install() -> None:
    global _installed
    with STATE.lock:
        if _installed:
            return
        BaseResponse.call_action = _call_action  # type: ignore[method-assign]
        MotoAPIBackend.reset = _reset_with_extension  # type: ignore[method-assign]
        global_tables.install()
        replication.install()
        pitr.install()
        backup_api.install()
        _installed = True


def _reset_with_extension(self: MotoAPIBackend) -> None:
    """moto's own reset (POST /moto-api/reset, moto_api_backend.reset()) clears ours too."""
    _original_reset(self)
    STATE.reset()


def _call_action(self: BaseResponse) -> Any:
    if not STATE.active:
        return _original_call_action(self)
    service = self.service_name or ""
    region = self.region
    try:
        operation = self._get_action() or ""
    except Exception:  # some services resolve actions their own way; match them as "any"
        operation = ""
    with STATE.lock:
        replication.apply_due()
        global_tables.advance_timed()
        decision = STATE.faults.decide(region, service, operation)
    if decision.latency_ms:
        _sleep(decision.latency_ms / 1000)
    if decision.outcome == "pass":
        with STATE.lock:
            return _original_call_action(self)
    log.info(
        "injected fault",
        extra={
            "region": region,
            "service": service,
            "operation": operation,
            "outcome": decision.outcome,
        },
    )
    if decision.outcome == "outage" and not STATE.server_mode:
        # In-process there is no socket: fail the way botocore sees an unreachable endpoint.
        raise EndpointConnectionError(endpoint_url=getattr(self, "uri", region))
    error = error_for(decision.outcome, region, service, operation)
    with warnings.catch_warnings():
        # codes such as ThrottlingException are not in every service model; moto warns
        warnings.simplefilter("ignore", UserWarning)
        _, headers, body = self.serialized(ActionResult(InjectedFault(error.code, error.message)))
    return error.status, headers, body
