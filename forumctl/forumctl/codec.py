"""DynamoDB items as exact JSON, and order-independent content checksums.

The low-level client gives items as typed AttributeValues (`{"N": "1"}`, `{"B": b"..."}`).
`to_json_item` turns the binary members into base64 text so an item survives a JSON round
trip with every type intact; `from_json_item` reverses it. `item_digest` is the SHA-256 of a
canonical form (sorted keys, sorted set members, normalised numbers), so the same content
read from a file, a source record or a table gives the same digest. A table's checksum adds
the item digests modulo 2**256: independent of order, so parallel scans can build it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from boto3.dynamodb.types import TypeSerializer

Item = dict[str, Any]  # a typed item: attribute name -> AttributeValue

_MOD = 2**256
_serializer = TypeSerializer()


def _b64(value: bytes | bytearray | Any) -> str:
    raw = value.value if hasattr(value, "value") else value  # boto3's Binary wrapper
    return base64.b64encode(bytes(raw)).decode("ascii")


def _av_to_json(av: Mapping[str, Any]) -> dict[str, Any]:
    ((tag, value),) = av.items()
    if tag == "B":
        return {"B": _b64(value)}
    if tag == "BS":
        return {"BS": [_b64(v) for v in value]}
    if tag == "L":
        return {"L": [_av_to_json(v) for v in value]}
    if tag == "M":
        return {"M": {k: _av_to_json(v) for k, v in value.items()}}
    return {tag: value}


def _av_from_json(av: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(av, Mapping) or len(av) != 1:
        raise ValueError(f"not an AttributeValue: {av!r}")
    ((tag, value),) = av.items()
    if tag == "B":
        return {"B": base64.b64decode(value, validate=True)}
    if tag == "BS":
        return {"BS": [base64.b64decode(v, validate=True) for v in value]}
    if tag == "L":
        return {"L": [_av_from_json(v) for v in value]}
    if tag == "M":
        return {"M": {k: _av_from_json(v) for k, v in value.items()}}
    if tag in ("S", "N", "BOOL", "NULL", "SS", "NS"):
        return {tag: value}
    raise ValueError(f"unknown AttributeValue type {tag!r}")


def to_json_item(item: Mapping[str, Any]) -> Item:
    """A typed item as the client returns it -> JSON-safe (binary as base64)."""
    return {name: _av_to_json(av) for name, av in item.items()}


def from_json_item(item: Mapping[str, Any]) -> Item:
    """The reverse of `to_json_item`; raises ValueError on anything that is not an item."""
    if not isinstance(item, Mapping):
        raise ValueError(f"an item must be an object, got {type(item).__name__}")
    return {name: _av_from_json(av) for name, av in item.items()}


def serialize_record(item: Mapping[str, Any]) -> Item:
    """Plain Python values (ints, Decimals, str, lists, dicts, sets) -> a typed item."""
    return {k: _serializer.serialize(_no_floats(v)) for k, v in item.items()}


def _no_floats(value: Any) -> Any:
    # DynamoDB numbers are decimals; boto3 refuses floats to avoid silent rounding.
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list):
        return [_no_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _no_floats(v) for k, v in value.items()}
    return value


def _norm_number(text: str) -> str:
    try:
        d = Decimal(text)
    except InvalidOperation:
        return text
    return "0" if d == 0 else format(d.normalize(), "f")


def _canonical(av: Mapping[str, Any]) -> Any:
    ((tag, value),) = av.items()
    if tag == "N":
        return ["N", _norm_number(value)]
    if tag == "NS":
        return ["NS", sorted(_norm_number(v) for v in value)]
    if tag == "SS":
        return ["SS", sorted(value)]
    if tag == "B":
        return ["B", _b64(value)]
    if tag == "BS":
        return ["BS", sorted(_b64(v) for v in value)]
    if tag == "L":
        return ["L", [_canonical(v) for v in value]]
    if tag == "M":
        return ["M", {k: _canonical(v) for k, v in sorted(value.items())}]
    return [tag, value]


def item_digest(item: Mapping[str, Any]) -> bytes:
    """SHA-256 of the canonical form of a typed item as the client gives it (binary as bytes)."""
    canonical = {k: _canonical(v) for k, v in sorted(item.items())}
    raw = json.dumps(canonical, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).digest()


# The records' optimistic-concurrency counter (the API's ETag): not content, and it only grows.
VERSION_ATTR = "version"


def content_digest(item: Mapping[str, Any]) -> bytes:
    """`item_digest` without the version: whether two items hold the same record content."""
    if VERSION_ATTR not in item:
        return item_digest(item)
    return item_digest({k: v for k, v in item.items() if k != VERSION_ATTR})


def version_of(item: Mapping[str, Any]) -> int | None:
    """The item's version number; None when it has none (or not a whole number)."""
    av = item.get(VERSION_ATTR)
    if not isinstance(av, Mapping) or "N" not in av:
        return None
    try:
        number = Decimal(av["N"])
    except InvalidOperation:
        return None
    return int(number) if number == number.to_integral_value() else None


def key_of(item: Mapping[str, Any], key_names: tuple[str, ...]) -> tuple[Any, ...]:
    """A hashable primary key of a typed item, comparable across sources."""
    return tuple(json.dumps(_canonical(item[name]), sort_keys=True) for name in key_names)


class TableChecksum:
    """Count and order-independent checksum of a set of items; merge partial sums freely."""

    def __init__(self, count: int = 0, total: int = 0) -> None:
        self.count = count
        self.total = total

    def add_digest(self, digest: bytes) -> None:
        self.count += 1
        self.total = (self.total + int.from_bytes(digest, "big")) % _MOD

    def add(self, item: Mapping[str, Any]) -> None:
        self.add_digest(item_digest(item))

    def merge(self, other: TableChecksum) -> None:
        self.count += other.count
        self.total = (self.total + other.total) % _MOD

    @property
    def hexdigest(self) -> str:
        return f"{self.total:064x}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TableChecksum) and (self.count, self.total) == (
            other.count,
            other.total,
        )

    def __hash__(self) -> int:
        return hash((self.count, self.total))

    def __repr__(self) -> str:
        return f"TableChecksum(count={self.count}, sha256sum={self.hexdigest[:16]}...)"
