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

# Retryable answers, by what they mean. The throttling and transient lists are botocore's
# standard retry mode's (botocore/retries/standard.py, which the AWS SDKs share: "Retry
# behavior", AWS SDKs and Tools Reference Guide); by the time such an error reaches us the
# client has already retried it, so we back off longer (forumdb_operator.backoff).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
SERVER_CODES = frozenset(
    {
        "InternalServerError",
        "InternalFailure",
        "InternalServiceError",
        "InternalServiceErrorException",  # Application Auto Scaling
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "KMSInternalException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# Another operation on the same resource is under way: look again soon, do not fight.
IN_PROGRESS_CODES = frozenset(
    {
        "ResourceInUseException",  # DynamoDB: the table is CREATING/UPDATING/DELETING
        "ConcurrentModificationException",
        "ConcurrentUpdateException",  # Application Auto Scaling
        "ConflictException",  # AWS Backup: "until it finishes performing a previous action"
        "ConcurrentAccess",  # SNS tagging
        "AlreadyExistsException",  # AWS Backup create racing another: observe again
    }
)
# LimitExceededException means different things per service (each API reference):
# DynamoDB: too many control-plane operations at once (retryable), or a capacity decrease
# beyond the day's allowance ("decreases are limited": not before the next UTC day);
# Application Auto Scaling and AWS Backup: an account quota (terminal until raised).
RETRYABLE_LIMIT_SERVICES = frozenset({"dynamodb", "kms"})
QUOTA_CODES = frozenset(
    {
        "LimitExceededFault",  # CloudWatch: alarm quota
        "TopicLimitExceeded",
        "SubscriptionLimitExceeded",
        "ServiceQuotaExceededException",
    }
)
TRANSIENT_CODES = THROTTLING_CODES | SERVER_CODES | IN_PROGRESS_CODES

# First waits (forumdb_operator.backoff doubles them, with jitter, up to its cap).
THROTTLE_DELAY = 2.0
IN_PROGRESS_DELAY = 5.0
CONNECTION_DELAY = 5.0
UNKNOWN_DELAY = 120.0  # an unknown 4xx: retried, but rarely (no retry storm)
DECREASE_LIMIT_DELAY = 3600.0

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
        "InvalidClientTokenId",
        "KMSAccessDeniedException",
        "KMSNotFoundException",
        "KMSInvalidStateException",
        "KMSDisabledException",
        "NotFoundException",  # KMS: the key does not exist
        "DisabledException",
        "InvalidArnException",
        "AuthorizationError",
        "OptInRequired",
        "MissingParameterValueException",
        "ObjectNotFoundException",  # Application Auto Scaling: no such target
        "FailedResourceAccessException",  # Application Auto Scaling: cannot read the table
        *QUOTA_CODES,
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
        if code == "LimitExceededException":
            return _limit_exceeded(text, message, region, service)
        if code in IN_PROGRESS_CODES:
            return TransientError(text, region=region, code=code, delay=IN_PROGRESS_DELAY)
        if code in THROTTLING_CODES or code in SERVER_CODES or status >= 500 or status == 429:
            return TransientError(text, region=region, code=code, delay=THROTTLE_DELAY)
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
        return TransientError(text, region=region, code=code, delay=UNKNOWN_DELAY)
    if isinstance(exc, EndpointConnectionError | ConnectionError | ReadTimeoutError):
        return TransientError(
            f"{what} in {region}: {exc}", region=region, code="Connection", delay=CONNECTION_DELAY
        )
    if isinstance(exc, BotoCoreError):
        return TransientError(f"{what} in {region}: {exc}", region=region, delay=60.0)
    if isinstance(exc, NotImplementedError):
        return PermanentError(
            f"{what} in {region}: not implemented by this endpoint", region=region
        )
    raise exc


def _limit_exceeded(text: str, message: str, region: str, service: str | None) -> ReconcileError:
    """LimitExceededException, by service and message (see RETRYABLE_LIMIT_SERVICES)."""
    code = "LimitExceededException"
    if service in RETRYABLE_LIMIT_SERVICES or service is None:
        if "decreases are limited" in message.lower():
            return TransientError(
                f"{text} (DynamoDB allows only a few capacity decreases per UTC day; "
                "tried again in an hour)",
                region=region,
                code=code,
                delay=DECREASE_LIMIT_DELAY,
            )
        return TransientError(text, region=region, code=code, delay=THROTTLE_DELAY)
    return PermanentError(
        f"{text} (an account quota of {service}: raise it in Service Quotas, or remove unused "
        "resources)",
        region=region,
        code=code,
        reason="QuotaExceeded",
    )
