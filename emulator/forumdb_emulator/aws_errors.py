"""AWS errors the extension answers with, serialised by moto in the service's protocol.

The codes and messages are AWS's own (see the table in emulator/README.md for each source);
where AWS's message names nothing, the region is added so that a log line says where.
"""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX


class DynamoError(JsonRESTError):
    """A DynamoDB error (HTTP 400 unless told): `DynamoError("ResourceInUseException", msg)`."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(ERROR_TYPE_PREFIX + code, message)
        self.code = status


class BackupError(JsonRESTError):
    """An AWS Backup error (REST-JSON): the code travels in the body and x-amzn-ErrorType."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(code, message)
        self.code = status


def validation(message: str) -> DynamoError:
    return DynamoError("ValidationException", message)


def resource_in_use(
    message: str = "The resource which you are attempting to change is in use.",
) -> DynamoError:
    return DynamoError("ResourceInUseException", message)


def table_not_visible(name: str) -> DynamoError:
    """What a table that is not ACTIVE-and-visible yet answers besides DescribeTable."""
    return DynamoError(
        "ResourceNotFoundException", f"Requested resource not found: Table: {name} not found"
    )


def backup_access_denied() -> BackupError:
    """AWS Backup's answer for a vault that does not exist (aws-sdk-js#2625, boto3#2269)."""
    return BackupError(
        "AccessDeniedException", "Insufficient privileges to perform this action.", 403
    )
