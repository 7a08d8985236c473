"""The laws every state machine on ``reconcilers.statemachine`` obeys, checked by Hypothesis.

For any spec, status, observation and time a machine's strategies produce:

1. Idempotent: deciding again from the status a transition produced, with the same inputs, gives no
   transition, or only a move the machine declares ``chained``; after a whole pass (``run``) a
   second pass changes nothing. A level-based reconciler runs every pass on the same inputs many
   times; a machine that moves again each time flaps.
2. Only allowed transitions: every move decide proposes is in the machine's table, and a move
   always changes the state.
3. Audited exactly once: each state change yields one audit entry naming its from and to states,
   the entries of a pass chain from the old state to the new one, and nothing is audited, nor the
   status changed, when nothing moves.

Decide must also be pure: the same inputs give the same transition and leave the status untouched.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from datetime import datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradeplane.reconcilers.statemachine import StateMachine

Edge = tuple[Hashable, Hashable]
AnyMachine = StateMachine[Any, Any, Any, Any]


def _idempotent(machine: AnyMachine, spec: Any, status: Any, observed: Any, now: datetime) -> None:
    """Law 1, for one move and for a whole pass."""
    transition = machine.decide(spec, status, observed, now)
    assert transition is not None
    moved = machine.apply(status, transition, now)
    again = machine.decide(spec, moved.status, observed, now)
    assert again is None or (transition.to, again.to) in machine.chained, (
        f"{machine.name}: not idempotent: after {transition.to} ({transition.reason}) it decides "
        f"{again.to} ({again.reason}), a move not declared chained"
    )
    ran = machine.run(spec, status, observed, now)
    after = machine.decide(spec, ran.status, observed, now)
    assert after is None, (
        f"{machine.name}: not idempotent: a second pass after {machine.read(ran.status)} "
        f"decides {after.to} ({after.reason})"
    )


def _audited_once(
    machine: AnyMachine, spec: Any, status: Any, observed: Any, now: datetime
) -> tuple[Edge, ...]:
    """Law 3 over a whole pass; returns the moves the pass made."""
    ran = machine.run(spec, status, observed, now)
    before, after = machine.read(status), machine.read(ran.status)
    if machine.decide(spec, status, observed, now) is None:
        assert ran.audit == (), f"{machine.name}: audited {ran.audit} though nothing moved"
        assert ran.status == status, f"{machine.name}: the status changed though nothing moved"
        return ()
    assert ran.audit, f"{machine.name}: {machine.label(before)} -> {machine.label(after)} was not audited"
    labels = [machine.label(before)]
    for entry in ran.audit:
        assert entry.from_state == labels[-1], (
            f"{machine.name}: audit entry {entry.from_state} -> {entry.to_state} does not start at "
            f"{labels[-1]}: a move was audited twice or not at all"
        )
        assert entry.from_state != entry.to_state, f"{machine.name}: audited a move to the same state"
        labels.append(entry.to_state)
    assert labels[-1] == machine.label(after), (
        f"{machine.name}: the audit ends at {labels[-1]} but the status is in {machine.label(after)}"
    )
    return tuple(itertools.pairwise(labels))


def check_laws(machine: AnyMachine, spec: Any, status: Any, observed: Any, now: datetime) -> tuple[Edge, ...]:
    """Every law for one set of inputs; returns the moves a pass made (as audit labels)."""
    untouched = status.model_copy(deep=True)
    current = machine.read(status)
    transition = machine.decide(spec, status, observed, now)
    assert machine.decide(spec, status, observed, now) == transition, f"{machine.name}: decide is not pure"
    if transition is not None:
        allowed = machine.table.get(current, frozenset())
        assert transition.to in allowed, (
            f"{machine.name}: {machine.label(current) or '(no state)'} -> {transition.to} "
            f"({transition.reason}) is not in the table; allowed: {sorted(allowed)}"
        )
        assert transition.to != current, f"{machine.name}: a move to the same state {current}"
        _idempotent(machine, spec, status, observed, now)
    edges = _audited_once(machine, spec, status, observed, now)
    assert status == untouched, f"{machine.name}: deciding or applying changed the status it was given"
    return edges


def table_edges(machine: AnyMachine) -> set[Edge]:
    """Every move the table allows, as audit labels, to compare with what the strategies reached."""
    return {
        (machine.label(source), machine.label(target))
        for source, targets in machine.table.items()
        for target in targets
    }


def assert_machine_laws(
    machine: AnyMachine,
    *,
    specs: st.SearchStrategy[Any],
    statuses: st.SearchStrategy[Any],
    observations: st.SearchStrategy[Any],
    times: st.SearchStrategy[datetime],
    max_examples: int = 300,
) -> set[Edge]:
    """Check the laws on generated inputs (fixed seed); returns the moves the examples made, so a
    test can assert that its strategies reach every edge of the table and the laws were not vacuous."""
    reached: set[Edge] = set()

    @settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(spec=specs, status=statuses, observed=observations, now=times)
    def laws(spec: Any, status: Any, observed: Any, now: datetime) -> None:
        reached.update(check_laws(machine, spec, status, observed, now))

    laws()
    return reached
