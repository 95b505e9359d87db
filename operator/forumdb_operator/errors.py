"""AWS errors -> what the reconciler does about them.

botocore's retry mode has already retried throttling and 5xx by the time an error reaches us;
what is left is either transient (back off and try again later: kopf.TemporaryError-like) or a
spec that cannot work (report in status and events, do not hammer AWS).
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    EndpointConnectionError,
    ReadTimeoutError,
)

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "LimitExceededException",
        "InternalServerError",
        "InternalFailure",
        "InternalServiceError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "ResourceInUseException",  # the table is being created/updated: wait, do not fight
        "TransactionInProgressException",
        "ConcurrentModificationException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

# Transient answers that clear within seconds: retried soon, not after the long default.
SHORT_RETRY_CODES = {
    # UpdateContinuousBackups right after CreateTable: "Backups are being enabled for the
    # table" (aws-amplify/amplify-backend#1654; emulator/README.md)
    "ContinuousBackupsUnavailableException": 5.0,
}

PERMANENT_CODES = frozenset(
    {
        "ValidationException",
        "InvalidParameterValueException",
        "InvalidParameterValue",
        "InvalidParameterCombination",
        "InvalidParameterException",
        "InvalidRequestException",
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "KMSAccessDeniedException",
        "KMSNotFoundException",
        "KMSInvalidStateException",
        "KMSDisabledException",
        "NotFoundException",  # KMS: the key does not exist
        "DisabledException",
        "InvalidArnException",
        "AuthorizationError",
        "OptInRequired",
    }
)


ACCESS_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "AuthorizationError"})


class ReconcileError(Exception):
    """An error that names the resource, the region and the cause."""

    transient: bool = True

    def __init__(self, message: str, *, region: str | None = None, code: str | None = None):
        self.region = region
        self.code = code
        super().__init__(message)


class TransientError(ReconcileError):
    transient = True

    def __init__(self, message: str, *, delay: float = 30.0, **kw: str | None) -> None:
        self.delay = delay
        super().__init__(message, **kw)


class PermanentError(ReconcileError):
    """The spec (or the account) cannot work as asked; retried only on a spec change or after a
    long back-off."""

    transient = False

    def __init__(self, message: str, *, reason: str = "InvalidSpec", **kw: str | None) -> None:
        self.reason = reason
        super().__init__(message, **kw)


def error_code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def is_not_found(exc: BaseException) -> bool:
    code = error_code(exc) or ""
    return code in {"ResourceNotFoundException", "NotFoundException", "NotFound"} or (
        code.endswith("NotFound") or code.endswith("NotFoundException")
    )


def iam_action(service: str | None, exc: BaseException) -> str | None:
    """The IAM action of the call that failed (`backup:ListBackupVaults`), where known."""
    operation = getattr(exc, "operation_name", None)
    if not service or not operation:
        return None
    return f"{service}:{operation}"


def classify(
    exc: BaseException, what: str, region: str, *, service: str | None = None
) -> ReconcileError:
    """Map a boto3/botocore exception raised while doing `what` (which names the resource) in
    `region`; `service` (the boto3 service name, which is also the IAM prefix of the services
    the operator calls) lets an access-denied answer name the IAM action."""
    if isinstance(exc, ReconcileError):
        return exc
    code = error_code(exc)
    if isinstance(exc, ClientError):
        message = exc.response.get("Error", {}).get("Message", "") or str(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        text = f"{what} in {region}: {code}: {message}"
        if code in SHORT_RETRY_CODES:
            return TransientError(text, region=region, code=code, delay=SHORT_RETRY_CODES[code])
        if code in TRANSIENT_CODES or status >= 500 or status == 429:
            delay = 10.0 if code == "ResourceInUseException" else 30.0
            return TransientError(text, region=region, code=code, delay=delay)
        if code in ACCESS_DENIED_CODES:
            action = iam_action(service, exc) or "this call"
            return PermanentError(
                f"{what} in {region}: access denied: the operator's IAM role must allow "
                f"{action} on this resource (examples/iam/operator-policy.json); "
                f"AWS said {code}: {message}",
                region=region,
                code=code,
                reason="AccessDenied",
            )
        if code in PERMANENT_CODES:
            return PermanentError(text, region=region, code=code, reason=code or "AWSError")
        # Unknown 4xx: treat as transient, but with a long delay (no retry storm).
        return TransientError(text, region=region, code=code, delay=120.0)
    if isinstance(exc, EndpointConnectionError | ConnectionError | ReadTimeoutError):
        return TransientError(f"{what} in {region}: {exc}", region=region, code="Connection")
    if isinstance(exc, BotoCoreError):
        return TransientError(f"{what} in {region}: {exc}", region=region, delay=60.0)
    if isinstance(exc, NotImplementedError):
        return PermanentError(
            f"{what} in {region}: not implemented by this endpoint", region=region
        )
    raise exc
