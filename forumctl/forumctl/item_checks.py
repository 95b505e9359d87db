"""What DynamoDB and the services would take, checked on every item before the first write.

migrate and restore check all their items with `ItemChecker` first, so bad input is refused
(exit 4) with nothing written, never after part of it (a ValidationException from
BatchWriteItem mid-run) or with a traceback. Items are in backup-file JSON form
(`forumctl.codec.to_json_item`: N as strings, binary as base64). DynamoDB's rules (Developer
Guide, "Supported data types and naming rules" and "Service quotas"):

- an AttributeValue has exactly one of S, N, B, SS, NS, BS, M, L, NULL, BOOL;
- strings are valid Unicode (no lone surrogate); numbers at most 38 significant digits,
  magnitude 1E-130 to below 1E+126; sets non-empty without duplicates; NULL only true;
  nesting at most 32 levels;
- an item at most 400 KB (attribute names and values, UTF-8 lengths);
- key attributes present, of the declared type, strings and binaries non-empty, at most
  2048 bytes (partition key) / 1024 bytes (sort key); index keys likewise where present.

And the services' own: a record's key ids are integers from 0 to MAX_ID (a negative id is
a guard item, never in a backup), one item per key, and a post id in one thread only.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import re
from collections.abc import Mapping
from typing import Any

from forumctl.errors import DataError
from forumdb.ids import MAX_ID
from forumdb.legacy import DYNAMODB_NUMBERS, HASH_KEY_MAX_BYTES, RANGE_KEY_MAX_BYTES
from forumdb.tables import GUARD_ATTR, Kind, table_def

MAX_ITEM_BYTES = 400 * 1024
_NUMBER_TEXT = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
MAX_DEPTH = 32
_TAGS = {"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"}


class BadItem(ValueError):
    """An item DynamoDB or the services would refuse; the message names the attribute."""


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _text_bytes(value: Any, path: str) -> int:
    if not isinstance(value, str):
        raise BadItem(f"{path}: expected a string, got {_shown(value)}")
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadItem(f"{path}: contains a lone UTF-16 surrogate (not valid Unicode)") from None


def _number_bytes(value: Any, path: str) -> int:
    if not isinstance(value, str):
        raise BadItem(f"{path}: a number must be written as a string, got {_shown(value)}")
    try:
        if not _NUMBER_TEXT.fullmatch(value):
            raise decimal.InvalidOperation
        number = DYNAMODB_NUMBERS.create_decimal(value)
    except decimal.DecimalException:
        raise BadItem(
            f"{path}: {_shown(value)} is not a number DynamoDB can hold (38 significant "
            "digits, magnitude 1E-130 to below 1E+126)"
        ) from None
    # DynamoDB: about one byte per two significant digits, plus one.
    return (len(number.as_tuple().digits) + 1) // 2 + 1


def _binary_bytes(value: Any, path: str) -> int:
    if not isinstance(value, str):
        raise BadItem(f"{path}: binary must be base64 text, got {_shown(value)}")
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        raise BadItem(f"{path}: {_shown(value)} is not base64") from None


def _set_bytes(value: Any, path: str, member: Any) -> int:
    if not isinstance(value, list) or not value:
        raise BadItem(f"{path}: a set must be a non-empty list, got {_shown(value)}")
    size = sum(member(v, f"{path}[{i}]") for i, v in enumerate(value))
    if len(set(value)) != len(value):
        raise BadItem(f"{path}: a set holds the same member twice")
    return size


def value_bytes(av: Any, path: str, depth: int = 1) -> int:
    """The size DynamoDB counts for one AttributeValue; BadItem if it would refuse it."""
    if depth > MAX_DEPTH:
        raise BadItem(f"{path}: nested more than {MAX_DEPTH} levels deep")
    if not isinstance(av, Mapping) or len(av) != 1:
        raise BadItem(f"{path}: not an AttributeValue (one type tag and its value)")
    ((tag, value),) = av.items()
    if tag not in _TAGS:
        raise BadItem(f"{path}: unknown AttributeValue type {_shown(tag)}")
    if tag == "S":
        return _text_bytes(value, path)
    if tag == "N":
        return _number_bytes(value, path)
    if tag == "B":
        return _binary_bytes(value, path)
    if tag == "SS":
        return _set_bytes(value, path, _text_bytes)
    if tag == "NS":
        # duplicates compare as numbers: "1" and "1.0" are one member
        size = _set_bytes(value, path, _number_bytes)
        if len({decimal.Decimal(v) for v in value}) != len(value):
            raise BadItem(f"{path}: a set holds the same number twice")
        return size
    if tag == "BS":
        return _set_bytes(value, path, _binary_bytes)
    if tag == "BOOL":
        if not isinstance(value, bool):
            raise BadItem(f"{path}: BOOL must be true or false, got {_shown(value)}")
        return 1
    if tag == "NULL":
        if value is not True:
            raise BadItem(f"{path}: NULL must be true, got {_shown(value)}")
        return 1
    if tag == "L":
        if not isinstance(value, list):
            raise BadItem(f"{path}: L must be a list, got {_shown(value)}")
        return 3 + sum(value_bytes(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value))
    if not isinstance(value, Mapping):
        raise BadItem(f"{path}: M must be an object, got {_shown(value)}")
    return 3 + sum(
        _text_bytes(k, f"{path} attribute name") + value_bytes(v, f"{path}.{k}", depth + 1)
        for k, v in value.items()
    )


class ItemChecker:
    """Checks the items of one table, one after another; remembers keys (and, for posts,
    which thread each post id is in) to refuse a second item for one record."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.table = table_def(kind)
        self._keys: set[tuple[str, ...]] = set()
        self._threads: dict[str, str] = {}  # posts: postId -> threadId

    def check(self, item: Any) -> None:
        if not isinstance(item, Mapping):
            raise BadItem(f"an item must be an object, got {type(item).__name__}")
        if GUARD_ATTR in item:
            raise BadItem(
                f"attribute {GUARD_ATTR} marks a guard item of the services, not a record "
                "(backups never hold one)"
            )
        size = 0
        for name, av in item.items():
            if not name:
                raise BadItem("an attribute name is empty")
            size += _text_bytes(name, f"attribute name {_shown(name)}")
            size += value_bytes(av, name)
        if size > MAX_ITEM_BYTES:
            raise BadItem(f"the item is {size:,} bytes; DynamoDB holds at most {MAX_ITEM_BYTES:,}")
        key = self._check_keys(item)
        self._check_indexes(item)
        if key in self._keys:
            raise BadItem(
                f"a second item with the key {dict(zip(self._key_names, key, strict=True))}"
            )
        self._keys.add(key)
        if self.kind == "posts":
            post_id, thread_id = key
            other = self._threads.setdefault(post_id, thread_id)
            if other != thread_id:
                raise BadItem(
                    f"post {post_id} is in thread {other} and again in thread {thread_id}: a "
                    "post id names one post"
                )

    @property
    def _key_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.table.key_attrs)

    def _check_keys(self, item: Mapping[str, Any]) -> tuple[str, ...]:
        key: list[str] = []
        for attr in self.table.key_attrs:
            av = item.get(attr.name)
            if av is None:
                raise BadItem(f"key attribute {attr.name} is missing")
            value = av.get(attr.type)
            if value is None:
                raise BadItem(
                    f"key attribute {attr.name} must be of type {attr.type}, got {_shown(av)}"
                )
            number = decimal.Decimal(value)  # checked by value_bytes
            if number != number.to_integral_value() or not 0 <= number <= MAX_ID:
                raise BadItem(
                    f"key attribute {attr.name}: expected an id from 0 to {MAX_ID}, got "
                    f"{_shown(value)}"
                )
            key.append(str(int(number)))
        return tuple(key)

    def _check_indexes(self, item: Mapping[str, Any]) -> None:
        for idx in self.table.indexes:
            for attr, most in (
                (idx.hash_key, HASH_KEY_MAX_BYTES),
                (idx.range_key, RANGE_KEY_MAX_BYTES),
            ):
                if attr is None or attr.name not in item:
                    continue
                av = item[attr.name]
                value = av.get(attr.type)
                if value is None:
                    raise BadItem(
                        f"attribute {attr.name} is a key of index {idx.name} and must be of type "
                        f"{attr.type}, got {_shown(av)}"
                    )
                if attr.type == "S" and not 0 < len(value.encode("utf-8")) <= most:
                    raise BadItem(
                        f"attribute {attr.name} is a key of index {idx.name}: a string of 1 to "
                        f"{most} bytes, got {len(value.encode('utf-8')):,} bytes"
                    )
                if attr.type == "B" and not 0 < len(base64.b64decode(value)) <= most:
                    raise BadItem(
                        f"attribute {attr.name} is a key of index {idx.name}: 1 to {most} bytes"
                    )


def refuse(where: str, exc: BadItem, *, hint: str) -> DataError:
    return DataError(f"{where}: {exc}", hint=hint)
