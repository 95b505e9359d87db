"""AWS Backup schedule expressions as AWS Backup accepts them, checked in the spec so that a
schedule CreateBackupPlan would refuse is reported at once, naming the field.

AWS Backup Developer Guide, "Cron expressions" (the EventBridge format):
`cron(Minutes Hours Day-of-month Month Day-of-week Year)`, six fields, UTC;
minutes 0-59, hours 0-23, day-of-month 1-31 (also ? L W), month 1-12 or JAN-DEC,
day-of-week 1-7 or SUN-SAT (also ? L #), year 1970-2199; wildcards , - * /; the two day
fields cannot both be given: one of them is `?`. A backup rule runs at most hourly ("backup
frequency ... at least 1 hour"), so the minutes field is a single minute.
"""

from __future__ import annotations

import re

_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_DAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"


def _field(value: str, extra: str = "") -> re.Pattern[str]:
    """A comma list of `*`, a value or a range, each with an optional /step."""
    item = rf"(\*|(?:{value})(?:-(?:{value}))?)(/[0-9]+)?{extra}"
    return re.compile(rf"^{item}(,{item})*$")


# (name, pattern, low, high): numbers are range-checked separately.
_FIELDS: tuple[tuple[str, re.Pattern[str], int, int], ...] = (
    ("minutes", re.compile(r"^[0-9]{1,2}$"), 0, 59),
    ("hours", _field(r"[0-9]{1,2}"), 0, 23),
    (
        "day-of-month",
        re.compile(r"^(\?|L|LW|[0-9]{1,2}W|" + _field(r"[0-9]{1,2}").pattern[1:-1] + r")$"),
        1,
        31,
    ),
    ("month", _field(rf"[0-9]{{1,2}}|{_MONTHS}"), 1, 12),
    (
        "day-of-week",
        re.compile(r"^(\?|[1-7]L|[1-7]#[1-5]|" + _field(rf"[1-7]|{_DAYS}").pattern[1:-1] + r")$"),
        1,
        7,
    ),
    ("year", _field(r"[0-9]{4}"), 1970, 2199),
)


def schedule_problem(expression: str) -> str | None:
    """Why AWS Backup would refuse `expression`, or None when it is a valid schedule."""
    match = re.fullmatch(r"\s*cron\((.*)\)\s*", expression)
    if match is None:
        return f"{expression!r} is not cron(...): AWS Backup takes cron(M H DOM MON DOW Y)"
    fields = match.group(1).split()
    if len(fields) != 6:
        return (
            f"{expression!r} has {len(fields)} fields; AWS Backup's cron takes 6: minutes hours "
            "day-of-month month day-of-week year, e.g. cron(0 5 * * ? *)"
        )
    for (name, pattern, low, high), text in zip(_FIELDS, fields, strict=True):
        if name == "minutes" and pattern.match(text) is None:
            return (
                f"{expression!r}: minutes {text!r} would run more often than hourly; AWS Backup "
                "runs a rule at most once an hour: give one minute (0-59)"
            )
        if pattern.match(text.upper()) is None:
            return f"{expression!r}: {name} {text!r} is not a valid field"
        for number in re.findall(r"(?<![/#0-9])[0-9]+", text):
            if not low <= int(number) <= high:
                return f"{expression!r}: {name} {number} is out of range {low}-{high}"
    dom, dow = fields[2], fields[4]
    if (dom == "?") == (dow == "?"):
        return (
            f"{expression!r}: day-of-month ({dom}) and day-of-week ({dow}): exactly one of "
            "them must be ?, e.g. cron(0 5 * * ? *) or cron(0 5 ? * MON *)"
        )
    return None
