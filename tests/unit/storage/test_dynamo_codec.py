"""The codec's handling of types only other tools write: Binary and sets."""

from __future__ import annotations

import copy
import json
import pickle

from forumdb_services.storage._dynamo_codec import deserialize_item, serialize_item

ITEM = {
    "b": {"B": b"\x00\xffhi"},
    "bs": {"BS": [b"\x02", b"\x01"]},
    "ss": {"SS": ["b", "a"]},
    "ns": {"NS": ["2", "0.5"]},
    "m": {"M": {"b": {"B": b"x"}}},
}


def test_binary_and_sets_read_as_json() -> None:
    record = deserialize_item(ITEM)
    assert json.loads(json.dumps(record)) == {
        "b": "AP9oaQ==",
        "bs": ["AQ==", "Ag=="],
        "ss": ["a", "b"],
        "ns": [0.5, 2],
        "m": {"b": "eA=="},
    }


def test_binary_and_sets_write_back_as_they_were() -> None:
    record = deserialize_item(ITEM)
    for value in (record, copy.deepcopy(record), pickle.loads(pickle.dumps(record))):
        again = serialize_item(value)
        assert again["b"] == ITEM["b"]
        assert again["m"] == ITEM["m"]
        assert sorted(again["bs"]["BS"]) == sorted(ITEM["bs"]["BS"])
        assert sorted(again["ss"]["SS"]) == ["a", "b"]
        assert sorted(again["ns"]["NS"], key=float) == ["0.5", "2"]


def test_plain_strings_and_lists_stay_plain() -> None:
    again = serialize_item(deserialize_item({"s": {"S": "AA=="}, "l": {"L": [{"S": "x"}]}}))
    assert again == {"s": {"S": "AA=="}, "l": {"L": [{"S": "x"}]}}
