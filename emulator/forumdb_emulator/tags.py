"""DynamoDB tags are eventually consistent.

TagResource API reference: "If you issue a ListTagsOfResource request immediately after a
TagResource request, DynamoDB might return your previous tag set, if there was one, or an empty
tag set. This is because ListTagsOfResource uses an eventually consistent query, and the
metadata for your tags or table might not be available at that moment." Here, for
AwsRules.tags_settle_seconds after CreateTable, TagResource or UntagResource, ListTagsOfResource
answers the tag set as it was before (empty after CreateTable, tags given there included).

Also: TagResource with a key the table already has replaces its value (moto appends a second
tag with the same key).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler, DynamoResult

from .global_tables import backend, wrap_when_active
from .state import STATE

PAGE_SIZE = 10  # moto's page of ListTagsOfResource; kept for the stale answer too


def install() -> None:
    _wrap("create_table", _create_table)
    _wrap("tag_resource", _changing_tags)
    _wrap("untag_resource", _changing_tags)
    _wrap("list_tags_of_resource", _list_tags)


def _wrap(name: str, replacement: Callable[..., Any]) -> None:
    wrap_when_active(DynamoHandler, name, replacement)


def _table_by_arn(self: DynamoHandler, arn: str) -> Table | None:
    for table in backend(self.current_account, self.region).tables.values():
        if table.table_arn == arn:
            return table
    return None


def visible_tags(table: Table) -> list[dict[str, str]]:
    """The tag set ListTagsOfResource answers now."""
    change = STATE.tag_changes.get(table.table_arn)
    if change is not None and time.monotonic() < change[0]:
        return copy.deepcopy(change[1])
    STATE.tag_changes.pop(table.table_arn, None)
    return copy.deepcopy(table.tags)


def _settle_later(arn: str, previous: list[dict[str, str]]) -> None:
    seconds = STATE.rules.tags_settle_seconds
    if seconds > 0:
        STATE.tag_changes[arn] = (time.monotonic() + seconds, previous)


def _create_table(original: Callable[..., Any], self: DynamoHandler) -> Any:
    result = original(self)
    table = backend(self.current_account, self.region).tables.get(self.body.get("TableName"))
    if table is not None:
        STATE.tag_changes.pop(table.table_arn, None)  # a table re-created under the same ARN
        _settle_later(table.table_arn, [])
    return result


def _changing_tags(original: Callable[..., Any], self: DynamoHandler) -> Any:
    table = _table_by_arn(self, self.body.get("ResourceArn", ""))
    previous = visible_tags(table) if table is not None else []
    result = original(self)
    if table is not None:
        latest: dict[str, dict[str, str]] = {}
        for tag in table.tags:  # the last value given for a key wins, as on AWS
            latest[tag["Key"]] = tag
        table.tags = list(latest.values())
        _settle_later(table.table_arn, previous)
    return result


def _list_tags(original: Callable[..., Any], self: DynamoHandler) -> Any:
    table = _table_by_arn(self, self.body.get("ResourceArn", ""))
    change = STATE.tag_changes.get(table.table_arn) if table is not None else None
    if table is None or change is None or time.monotonic() >= change[0]:
        return original(self)
    tags = copy.deepcopy(change[1])
    start = 0
    marker = self.body.get("NextToken")
    keys = [tag["Key"] for tag in tags]
    if marker in keys:
        start = keys.index(marker) + 1
    page = tags[start : start + PAGE_SIZE]
    response: dict[str, Any] = {"Tags": page}
    if len(tags) > start + PAGE_SIZE:
        response["NextToken"] = page[-1]["Key"]
    return DynamoResult(response)
