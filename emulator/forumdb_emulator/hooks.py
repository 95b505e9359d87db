"""Where the extension hooks into moto: one wrapper around every API call, plus the patches
of the DynamoDB and AWS Backup modules. Installed once per process; inert while inactive."""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

from botocore.exceptions import EndpointConnectionError
from moto.core.exceptions import JsonRESTError, ServiceException
from moto.core.responses import ActionResult, BaseResponse
from moto.moto_api._internal.models import MotoAPIBackend

from . import (
    backup_api,
    backup_runs,
    batch_faults,
    cloudwatch,
    global_tables,
    list_backups,
    pitr,
    ratelimits,
    replication,
    sns,
    tags,
    transactions,
)
from .faults import AwsError, Decision, error_for
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
        list_backups.install()
        tags.install()
        batch_faults.install()  # after pitr and replication: they see only the processed items
        transactions.install()
        backup_api.install()
        cloudwatch.install()
        sns.install()
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
        backup_runs.advance()
        decision = STATE.faults.decide(region, service, operation)
    if decision.latency_ms:
        _sleep(decision.latency_ms / 1000)
    if decision.outcome in ("pass", "error_after_write"):
        # One process lock around every call: writes to a table are serialised, so a
        # conditional write is atomic however many clients race (as DynamoDB's are).
        with STATE.lock:
            refusal = _refusal(self, service, region, operation)
            if refusal is not None:
                return refusal
            self._forumdb_decision = decision  # type: ignore[attr-defined]
            result = _original_call_action(self)
        if decision.outcome == "pass":
            return result
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
    return _error_response(self, error_for(decision.outcome, region, service, operation))


def decision_of(handler: BaseResponse) -> Decision | None:
    """The fault decision taken for the call this handler serves."""
    return getattr(handler, "_forumdb_decision", None)


def _refusal(self: BaseResponse, service: str, region: str, operation: str) -> Any:
    """AWS's answer when a rule refuses the call before it runs, else None."""
    limited = ratelimits.check(self.current_account, region, service, operation)
    if limited is not None:
        return _error_response(self, limited)
    if service != "dynamodb":
        return None
    body = self.body if isinstance(self.body, dict) else {}
    try:
        global_tables.gate(self.current_account, region, operation, _tables_named(body), body)
    except JsonRESTError as refused:
        headers = dict(refused.get_headers() or [])
        headers["status"] = refused.code
        status, headers, text = self._transform_response(
            self.response_headers, (refused.description, headers)
        )
        return status, *self._enrich_response(headers, text)
    return None


def _tables_named(body: dict[str, Any]) -> list[str]:
    """The DynamoDB tables a request names (TableName, batch/transaction items, table ARNs)."""
    names: list[str] = []
    if isinstance(body.get("TableName"), str):
        names.append(body["TableName"].split("/")[-1])
    for table in body.get("RequestItems") or {}:
        names.append(table)
    for entry in body.get("TransactItems") or []:
        for part in entry.values():
            if isinstance(part, dict) and isinstance(part.get("TableName"), str):
                names.append(part["TableName"])
    arn = body.get("ResourceArn")
    if isinstance(arn, str) and ":table/" in arn:
        names.append(arn.split(":table/", 1)[1].split("/")[0])
    return list(dict.fromkeys(names))


def _error_response(self: BaseResponse, error: AwsError) -> Any:
    with warnings.catch_warnings():
        # codes such as ThrottlingException are not in every service model; moto warns
        warnings.simplefilter("ignore", UserWarning)
        _, headers, body = self.serialized(ActionResult(InjectedFault(error.code, error.message)))
    return error.status, headers, body
