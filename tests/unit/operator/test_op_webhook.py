"""The admission check: the same messages as the reconciler, never in the way of deletion."""

from __future__ import annotations

import kopf
import pytest
from op_factories import spec

from forumdb_operator.webhook import check_spec


def body(raw_spec, **meta):
    return {"metadata": {"name": "forum", **meta}, "spec": raw_spec}


def test_valid_spec_is_admitted():
    check_spec(body(spec()), None, None)


def test_cross_field_error_is_rejected_naming_the_field():
    with pytest.raises(kopf.AdmissionError) as info:
        check_spec(body(spec(replicaRegions=["us-east-1"])), None, None)
    assert "spec.replicaRegions[0]: us-east-1 is the primary region" in str(info.value)
    assert info.value.code == 422


def test_unchanged_spec_and_deletion_are_not_blocked():
    bad = body(spec(replicaRegions=["us-east-1"]))
    check_spec(bad, bad, None)  # e.g. a finalizer or label change on an old, invalid object
    check_spec(body(bad["spec"], deletionTimestamp="2026-01-01T00:00:00Z"), None, None)


def test_allowed_regions_apply_at_admission():
    with pytest.raises(kopf.AdmissionError, match="allowed regions"):
        check_spec(body(spec()), None, frozenset({"us-east-1"}))
