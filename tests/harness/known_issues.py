"""Titles of the project's open issues that tests cite when they are expected to fail
(`pytest.mark.xfail(strict=True, reason=f"{ISSUE_13} -- why")`): when the issue is fixed the
test passes, strict xfail turns that into a failure, and the mark comes off."""

ISSUE_13 = (
    "issue 13: The operator on a real AWS account: survive AWS's real answers, never touch "
    "what it does not own"
)
