"""Typed items survive JSON exactly; digests and table checksums are order-independent."""

from __future__ import annotations

import json
import random

import pytest

from forumctl.codec import (
    TableChecksum,
    from_json_item,
    item_digest,
    key_of,
    serialize_record,
    to_json_item,
)

EVERY_TYPE = {
    "id": {"N": "12345678901234567890.125"},
    "s": {"S": "caf\u00e9 \u2603"},
    "b": {"B": b"\x00\xffbinary"},
    "ss": {"SS": ["b", "a"]},
    "ns": {"NS": ["1", "2.5", "-3"]},
    "bs": {"BS": [b"\x01", b"\x02\x03"]},
    "l": {"L": [{"N": "1"}, {"S": "x"}, {"NULL": True}, {"B": b"\x10"}]},
    "m": {"M": {"inner": {"M": {"bool": {"BOOL": False}}}, "bin": {"BS": [b"z"]}}},
    "t": {"BOOL": True},
    "n": {"NULL": True},
}


def test_every_type_round_trips_through_json_text() -> None:
    text = json.dumps(to_json_item(EVERY_TYPE))
    assert from_json_item(json.loads(text)) == EVERY_TYPE


def test_binary_is_base64_and_numbers_stay_strings() -> None:
    out = to_json_item(EVERY_TYPE)
    assert out["b"] == {"B": "AP9iaW5hcnk="}
    assert out["id"] == {"N": "12345678901234567890.125"}
    assert out["m"]["M"]["bin"] == {"BS": ["eg=="]}


@pytest.mark.parametrize(
    "bad",
    [{"x": {"Q": "1"}}, {"x": {"S": "a", "N": "1"}}, {"x": "plain"}, ["not", "an", "item"]],
)
def test_from_json_rejects_what_is_not_an_item(bad: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies with the defect
        from_json_item(bad)  # type: ignore[arg-type]


def test_digest_ignores_set_order_and_number_spelling() -> None:
    a = {"k": {"N": "1.50"}, "s": {"SS": ["x", "y"]}, "n": {"NS": ["10", "2"]}}
    b = {"s": {"SS": ["y", "x"]}, "n": {"NS": ["2", "1E+1"]}, "k": {"N": "1.5"}}
    assert item_digest(a) == item_digest(b)


def test_digest_sees_every_difference() -> None:
    base = item_digest(EVERY_TYPE)
    for name in EVERY_TYPE:
        changed = dict(EVERY_TYPE)
        changed[name] = {"S": "changed"}
        assert item_digest(changed) != base, name
    # same text, different type
    assert item_digest({"a": {"S": "1"}}) != item_digest({"a": {"N": "1"}})


def test_table_checksum_is_independent_of_order_and_merges() -> None:
    items = [{"id": {"N": str(i)}, "v": {"S": f"value {i}"}} for i in range(200)]
    one = TableChecksum()
    for it in items:
        one.add(it)
    shuffled = items[:]
    random.Random(7).shuffle(shuffled)
    left, right = TableChecksum(), TableChecksum()
    for it in shuffled[:50]:
        left.add(it)
    for it in shuffled[50:]:
        right.add(it)
    left.merge(right)
    assert left == one
    assert left.count == 200
    missing_one = TableChecksum()
    for it in items[1:]:
        missing_one.add(it)
    assert missing_one != one


def test_serialize_record_turns_floats_into_exact_decimals() -> None:
    item = serialize_record({"id": 3, "score": 0.1, "tags": {"a"}, "nested": {"x": [1.5]}})
    assert item["score"] == {"N": "0.1"}
    assert item["nested"] == {"M": {"x": {"L": [{"N": "1.5"}]}}}
    assert item["tags"] == {"SS": ["a"]}


def test_key_of_matches_across_number_spellings() -> None:
    names = ("postId", "threadId")
    a = {"postId": {"N": "1"}, "threadId": {"N": "2"}, "x": {"S": "a"}}
    b = {"postId": {"N": "1.0"}, "threadId": {"N": "2"}}
    assert key_of(a, names) == key_of(b, names)
