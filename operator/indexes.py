"""kopf's in-memory indexes: what a pass needs to know about other objects, without an API call.

kopf keeps every index current from the watch streams it runs anyway, so a decider resolves a
reference (exists? Ready?), reads the spec of the Venue an Instrument trades on, or finds the
symbols traded on a Venue from memory. A GET per reference per pass would cost a round trip each
and queue behind every other pass's calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import kopf

from tradeplane.crds.registry import BY_KIND
from tradeplane.operator.engine import Pass
from tradeplane.operator.resync import DUE_SUFFIX
from tradeplane.reconcilers.conditions import raw_ready
from tradeplane.reconcilers.references import Observed, Reference
from tradeplane.reconcilers.requeue import recheck_due

SYMBOLS_INDEX = "instrument_symbols"
OBJECTS_SUFFIX = "_objects"
READY_SUFFIX = "_index"
INDEXED_OBJECTS = ("venues", "instruments")
"""Kinds whose spec and status other kinds' deciders read (an Instrument's Venue, a FeatureSet's
Instrument and Venue)."""


def index_id(plural: str) -> str:
    return f"{plural}{READY_SUFFIX}"


def objects_index_id(plural: str) -> str:
    return f"{plural}{OBJECTS_SUFFIX}"


def is_index(index_name: str) -> bool:
    """Whether a handler keyword argument is one of the indexes above (kopf passes them all)."""
    return index_name == SYMBOLS_INDEX or index_name.endswith((READY_SUFFIX, DUE_SUFFIX, OBJECTS_SUFFIX))


@dataclass(frozen=True)
class Indexed:
    """An object's spec and status as last seen on the watch (plain copies, safe to keep)."""

    name: str
    spec: Mapping[str, Any]
    status: Mapping[str, Any]


async def readiness(
    namespace: str | None, name: str, status: kopf.Status, **_: Any
) -> dict[tuple[str | None, str], bool]:
    """Index entry of any tradeplane object: (namespace, name) -> whether it is Ready."""
    ready = raw_ready(status)
    return {(namespace, name): ready is not None and ready.get("status") == "True"}


async def due(
    namespace: str | None, name: str, body: kopf.Body, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[tuple[str | None, str, str], datetime]:
    """Index entry of an object due for another look (see ``reconcilers.requeue``)."""
    when = recheck_due(str(body.get("kind")), spec, status)
    return {} if when is None else {(namespace, BY_KIND[str(body.get("kind"))].plural, name): when}


async def indexed_object(
    namespace: str | None, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[tuple[str | None, str], Indexed]:
    return {(namespace, name): Indexed(name, _plain(spec), _plain(status))}


async def instrument_symbol(
    namespace: str | None, spec: kopf.Spec, **_: Any
) -> dict[tuple[str | None, str], str]:
    """Index of Instrument symbols by (namespace, Venue name): which tiers a Venue must keep."""
    venue = (spec.get("venueRef") or {}).get("name")
    symbol = spec.get("symbol")
    return {(namespace, str(venue)): str(symbol)} if venue and symbol else {}


def _plain(value: Any) -> Any:
    """A deep plain copy of a kopf body view (which follows the live object)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def observe(step: Pass[Any], ref: Reference) -> Observed:
    index = step.indexes[index_id(ref.plural)]
    key = (step.namespace, ref.name)
    if key not in index:
        return Observed(exists=False)
    return Observed(exists=True, ready=any(index[key]))


def observe_all(step: Pass[Any], refs: Iterable[Reference]) -> dict[Reference, Observed]:
    return {ref: observe(step, ref) for ref in refs}


def find(step: Pass[Any], plural: str, name: str) -> Indexed | None:
    """The object of this namespace named ``name``, as last seen, or None when it does not exist."""
    found = step.indexes.get(objects_index_id(plural), {}).get((step.namespace, name))
    return next(iter(found), None) if found else None


def symbols_on(step: Pass[Any], venue: str) -> list[str]:
    """The symbols Instruments trade on ``venue``."""
    return list(step.indexes.get(SYMBOLS_INDEX, {}).get((step.namespace, venue), []))
