"""AWS failures become messages that say what to do, with their documented exit codes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoRegionError

from forumctl.errors import ExitCode
from forumctl.main import translate


def client_error(code: str, message: str = "msg", op: str = "DescribeTable") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, op)


@pytest.mark.parametrize(
    ("exc", "says", "hint"),
    [
        (
            client_error("ResourceNotFoundException", "Table: forum-Users not found"),
            "forum-Users not found",
            "forumctl tables create",
        ),
        (client_error("UnrecognizedClientException"), "rejected the credentials", "AWS_"),
        (client_error("AccessDeniedException", "not allowed"), "access denied", "permissions"),
        (
            client_error("ProvisionedThroughputExceededException", op="Scan"),
            "still throttled",
            "--workers",
        ),
        (NoRegionError(), "no AWS region", "--region"),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:1"),
            "http://127.0.0.1:1",
            "--endpoint-url",
        ),
    ],
    ids=["missing-table", "credentials", "denied", "throttled", "region", "endpoint"],
)
def test_aws_errors_become_hints_with_exit_3(exc: Exception, says: str, hint: str) -> None:
    err = translate(exc, "eu-west-1")
    assert err is not None
    assert err.code == ExitCode.AWS
    assert says in err.message
    assert hint in (err.hint or "")
    if isinstance(exc, ClientError):
        assert "in region eu-west-1" in err.message


def test_unexpected_errors_are_not_swallowed() -> None:
    assert translate(ZeroDivisionError(), None) is None


def test_help_documents_the_exit_codes() -> None:
    from click.testing import CliRunner

    from forumctl.main import cli

    out = CliRunner().invoke(cli, ["--help"]).output
    for text in ("0 ok", "1 a check failed", "2 usage", "3 AWS", "4 data"):
        assert text in out
