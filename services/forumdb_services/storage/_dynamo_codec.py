"""Plain Python values <-> DynamoDB's typed AttributeValues.

boto3's serializer refuses floats and its deserializer hands back Decimals; the services
speak JSON, so floats go in as Decimals and numbers come out as int (integral) or float.

Items written by other tools (a restored backup, a script) may hold types the API never
writes: Binary and string/number/binary sets. They come out JSON-ready, binary as a base64
string and a set as a sorted list, so every reader (the API, forumctl) can serialise a
record as it is. The two wrapper types below remember the DynamoDB type, so writing such a
record back (an update of another field) keeps B as B and a set as a set.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class BinaryText(str):
    """A stored Binary value, read as its base64 text."""

    __slots__ = ("raw",)
    raw: bytes

    def __new__(cls, raw: bytes) -> BinaryText:
        text = super().__new__(cls, base64.b64encode(raw).decode("ascii"))
        text.raw = raw
        return text

    def __getnewargs__(self) -> tuple[bytes]:  # type: ignore[override]
        # copy and pickle rebuild from the bytes, not from the text
        return (self.raw,)


class SetList(list):
    """A stored set (SS, NS or BS), read as a sorted list."""

    __slots__ = ()


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, BinaryText):
        return Binary(value.raw)
    if isinstance(value, SetList):
        return {_to_dynamo(v) for v in value}
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    if isinstance(value, set | frozenset):  # only tables written by other tools hold sets
        return SetList(sorted(_from_dynamo(v) for v in value))
    if isinstance(value, Binary | bytes | bytearray):
        return BinaryText(bytes(value))
    return value


def serialize_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(_to_dynamo(v)) for k, v in item.items()}


def serialize_value(value: Any) -> dict[str, Any]:
    return _serializer.serialize(_to_dynamo(value))


def deserialize_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}
