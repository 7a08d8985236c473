"""Metadata keys: every key follows the documented scheme and keeps the name clusters already carry."""

from __future__ import annotations

import re

import pytest

from tradeplane.crds import annotations

pytestmark = pytest.mark.unit

OWNED = re.compile(r"^tradeplane\.io/[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
REQUEST = re.compile(r"^[a-z]+\.tradeplane\.io/requested-at$")
DUE = re.compile(r"^[a-z]+\.tradeplane\.io/due-at$")


def test_every_key_follows_one_of_the_three_shapes() -> None:
    keys = {name: value for name, value in vars(annotations).items() if name.isupper() and name != "PREFIX"}
    assert keys
    for name, key in keys.items():
        shape = REQUEST if name.endswith("_REQUESTED_AT") else DUE if name.endswith("_DUE_AT") else OWNED
        assert shape.match(key), f"{name} = {key!r}"


def test_existing_keys_keep_their_names() -> None:
    assert annotations.RECONCILE_REQUESTED_AT == "reconcile.tradeplane.io/requested-at"
    assert annotations.DATASET_REQUESTED_AT == "dataset.tradeplane.io/requested-at"
    assert annotations.RECONCILE_DUE_AT == "reconcile.tradeplane.io/due-at"
    assert annotations.AUDIT_HASH == "tradeplane.io/audit-hash"
    assert annotations.AUDIT_SEQ == "tradeplane.io/audit-seq"
    assert annotations.LAST_COMMAND == "tradeplane.io/last-command"
    assert annotations.FINALIZER == "tradeplane.io/finalizer"
    assert annotations.INSTRUMENT_LABEL == "tradeplane.io/instrument"
    assert annotations.FEATURESET_LABEL == "tradeplane.io/featureset"
