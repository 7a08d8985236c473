"""The state-machine law harness itself: it passes a sound machine and catches each broken law."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import datetime

import pytest
from harness.statemachine import assert_machine_laws, table_edges
from harness.statemachine_toy import (
    DOOR,
    SPECS,
    STATUSES,
    TIMES,
    WANTED,
    DoorSpec,
    DoorState,
    DoorStatus,
    decide_door,
)

from tradeplane.reconcilers.plan import AuditEntry
from tradeplane.reconcilers.statemachine import StateMachine, Step, Transition

pytestmark = pytest.mark.unit

DoorMachine = StateMachine[DoorSpec, DoorStatus, DoorState | None, DoorState]


def laws(machine: DoorMachine) -> set[tuple[object, object]]:
    return assert_machine_laws(
        machine, specs=SPECS, statuses=STATUSES, observations=WANTED, times=TIMES, max_examples=200
    )


def test_a_sound_machine_passes_and_the_strategies_reach_every_move() -> None:
    assert laws(DOOR) == table_edges(DOOR)


def test_law_2_a_move_outside_the_table_is_caught() -> None:
    def reckless(
        spec: DoorSpec, status: DoorStatus, wanted: DoorState | None, now: datetime
    ) -> Transition[DoorState] | None:
        if status.state is not None and wanted is not None and wanted != status.state:
            return Transition(wanted, "Jumped", "straight there")
        return decide_door(spec, status, wanted, now)

    with pytest.raises(AssertionError, match="is not in the table"):
        laws(replace(DOOR, decide=reckless))


def test_law_1_a_machine_that_moves_again_on_the_same_inputs_is_caught() -> None:
    def restless(
        spec: DoorSpec, status: DoorStatus, wanted: DoorState | None, now: datetime
    ) -> Transition[DoorState] | None:
        if status.state == "Open":
            return Transition("Closed", "Draught", "the wind closed it")
        return decide_door(spec, status, wanted, now)

    with pytest.raises(AssertionError, match="not idempotent"):
        laws(replace(DOOR, decide=restless))


def test_law_1_a_move_left_for_a_later_pass_is_caught() -> None:
    """Without the chained moves a door that must pass through Closed needs two passes."""
    with pytest.raises(AssertionError, match="not idempotent"):
        laws(replace(DOOR, chained=frozenset()))


@dataclass(frozen=True)
class AuditsTwice(StateMachine[DoorSpec, DoorStatus, DoorState | None, DoorState]):
    def apply(self, status: DoorStatus, transition: Transition[DoorState], now: datetime) -> Step[DoorStatus]:
        step = super().apply(status, transition, now)
        return Step(step.status, step.audit * 2)


@dataclass(frozen=True)
class AuditsNothing(StateMachine[DoorSpec, DoorStatus, DoorState | None, DoorState]):
    def apply(self, status: DoorStatus, transition: Transition[DoorState], now: datetime) -> Step[DoorStatus]:
        return Step(super().apply(status, transition, now).status)


@dataclass(frozen=True)
class AuditsStaying(StateMachine[DoorSpec, DoorStatus, DoorState | None, DoorState]):
    def run(
        self, spec: DoorSpec, status: DoorStatus, observed: DoorState | None, now: datetime
    ) -> Step[DoorStatus]:
        step = super().run(spec, status, observed, now)
        if step.audit:
            return step
        label = self.label(self.read(status))
        return Step(status, (AuditEntry(label, label, "Checked", "looked at the door"),))


def _as(kind: type[DoorMachine]) -> DoorMachine:
    return kind(
        name=DOOR.name,
        table=DOOR.table,
        decide=DOOR.decide,
        read=DOOR.read,
        write=DOOR.write,
        chained=DOOR.chained,
    )


@pytest.mark.parametrize(
    ("kind", "caught"),
    [
        (AuditsTwice, "audited twice or not at all"),
        (AuditsNothing, "was not audited"),
        (AuditsStaying, "though nothing moved"),
    ],
)
def test_law_3_a_move_audited_twice_or_not_at_all_or_an_entry_without_a_move_is_caught(
    kind: type[DoorMachine], caught: str
) -> None:
    with pytest.raises(AssertionError, match=caught):
        laws(_as(kind))


def test_a_decide_that_is_not_pure_is_caught() -> None:
    calls = itertools.count()

    def forgetful(
        spec: DoorSpec, status: DoorStatus, wanted: DoorState | None, now: datetime
    ) -> Transition[DoorState] | None:
        found = decide_door(spec, status, wanted, now)
        return replace(found, message=f"decision {next(calls)}") if found is not None else None

    with pytest.raises(AssertionError, match="decide is not pure"):
        laws(replace(DOOR, decide=forgetful))


def test_a_decide_that_modifies_the_status_it_reads_is_caught() -> None:
    def scribbling(
        spec: DoorSpec, status: DoorStatus, wanted: DoorState | None, now: datetime
    ) -> Transition[DoorState] | None:
        status.state_reason = "seen"
        return decide_door(spec, status, wanted, now)

    with pytest.raises(AssertionError, match="changed the status it was given"):
        laws(replace(DOOR, decide=scribbling))
