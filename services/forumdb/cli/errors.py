"""forumctl's exit codes and the errors that carry them.

Every expected failure is a `CliError`: main() prints its message (what failed and what to do)
without a traceback and exits with its code. The codes are documented in `forumctl --help`.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # verify found a problem, or a migration/restore did not verify
    USAGE = 2  # bad flags or arguments (click's own code)
    AWS = 3  # AWS or configuration: credentials, region, endpoint, missing table, retries out
    DATA = 4  # input data: unreadable file, bad format, checksum mismatch inside a backup


EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 a check failed (verify, or content did not verify after migrate/"
    "restore); 2 usage error; 3 AWS or configuration error (credentials, region, endpoint, "
    "missing table, retries exhausted); 4 data error (input file unreadable or malformed, "
    "backup checksum mismatch)."
)


class CliError(Exception):
    code: ExitCode = ExitCode.AWS

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class AwsError(CliError):
    code = ExitCode.AWS


class DataError(CliError):
    code = ExitCode.DATA


class CheckFailed(CliError):
    code = ExitCode.CHECK_FAILED
