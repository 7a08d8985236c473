"""kopf's in-memory index of every kind: what a pass needs to know about other objects, without an
API call, and when each object is due for another look (what the resync sweep reads).

kopf keeps every index current from the watch streams it runs anyway, so a decider resolves a
reference (exists? Ready?), reads the spec of the Venue an Instrument trades on, or finds the
symbols traded on a Venue from memory. A GET per reference per pass would cost a round trip each
and queue behind every other pass's calls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import kopf

from tradeplane.crds.registry import BY_KIND
from tradeplane.operator.engine import Pass
from tradeplane.reconcilers.conditions import raw_ready
from tradeplane.reconcilers.references import Observed, Reference
from tradeplane.reconcilers.requeue import recheck_due

INDEX_SUFFIX = "_index"
WITH_BODY = frozenset({"venues", "instruments"})
"""Kinds whose spec and status other kinds' deciders read (an Instrument's Venue, a FeatureSet's
Instrument and Venue, the symbols traded on a Venue); the others are indexed by verdict only."""


def index_id(plural: str) -> str:
    return f"{plural}{INDEX_SUFFIX}"


def is_index(index_name: str) -> bool:
    """Whether a handler keyword argument is one of these indexes (kopf passes them all)."""
    return index_name.endswith(INDEX_SUFFIX)


@dataclass(frozen=True)
class Indexed:
    """One object as last seen on the watch: one index entry per object serves every lookup
    (kopf runs each index function on every event of the kind, so one is cheaper than several)."""

    plural: str
    name: str
    ready: bool
    due: datetime | None
    """When the object must be looked at again (``reconcilers.requeue``), if ever."""
    spec: Mapping[str, Any] = field(default_factory=dict)
    status: Mapping[str, Any] = field(default_factory=dict)
    """Plain copies, only for the kinds in :data:`WITH_BODY`."""


async def summary(
    namespace: str | None, name: str, body: kopf.Body, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[tuple[str | None, str], Indexed]:
    """Index entry of any tradeplane object: (namespace, name) -> what other passes need of it."""
    kind = str(body.get("kind"))
    plural = BY_KIND[kind].plural
    ready = raw_ready(status)
    entry = Indexed(
        plural=plural,
        name=name,
        ready=ready is not None and ready.get("status") == "True",
        due=recheck_due(kind, spec, status),
    )
    if plural in WITH_BODY:
        entry = dataclasses.replace(entry, spec=_plain(spec), status=_plain(status))
    return {(namespace, name): entry}


def due_objects(indexes: Mapping[str, Any]) -> Iterator[tuple[str | None, Indexed]]:
    """Every indexed object that has a due time, with its namespace."""
    for index_name, index in indexes.items():
        if not is_index(index_name):
            continue
        for (namespace, _name), entries in list(index.items()):
            for entry in entries:
                if isinstance(entry, Indexed) and entry.due is not None:
                    yield namespace, entry


def _plain(value: Any) -> Any:
    """A deep plain copy of a kopf body view (which follows the live object)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def observe(step: Pass[Any], ref: Reference) -> Observed:
    found = _entry(step, ref.plural, ref.name)
    return Observed(exists=False) if found is None else Observed(exists=True, ready=found.ready)


def _entry(step: Pass[Any], plural: str, name: str) -> Indexed | None:
    found = step.indexes.get(index_id(plural), {}).get((step.namespace, name))
    return next(iter(found), None) if found else None


def observe_all(step: Pass[Any], refs: Iterable[Reference]) -> dict[Reference, Observed]:
    return {ref: observe(step, ref) for ref in refs}


def find(step: Pass[Any], plural: str, name: str) -> Indexed | None:
    """The object of this namespace named ``name``, as last seen, or None when it does not exist."""
    return _entry(step, plural, name)


def symbols_on(step: Pass[Any], venue: str) -> list[str]:
    """The symbols Instruments of this namespace trade on ``venue``."""
    symbols = []
    for (namespace, _name), entries in step.indexes.get(index_id("instruments"), {}).items():
        for entry in entries if namespace == step.namespace else ():
            if (entry.spec.get("venueRef") or {}).get("name") == venue and entry.spec.get("symbol"):
                symbols.append(str(entry.spec["symbol"]))
    return symbols
