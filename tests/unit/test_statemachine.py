"""The shared state-machine helper: table checks, writing through the status model, one audit entry."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from harness.statemachine_toy import DOOR, DOOR_TABLE, T0, DoorSpec, DoorState, DoorStatus
from pydantic import ValidationError

from tradeplane.reconcilers.statemachine import (
    IllegalTransition,
    StateFields,
    StateNotWritten,
    Transition,
)

pytestmark = pytest.mark.unit

LOCKABLE = DoorSpec()
CLOSED = DoorStatus(state="Closed", state_since=T0, state_reason="installed")
LATER = T0 + timedelta(minutes=5)
DIGEST = "ab" * 32


def test_apply_writes_state_since_and_reason_and_audits_once() -> None:
    move = Transition[DoorState]("Open", "Moved", "opened for a delivery", "janitor", {"order": DIGEST})
    step = DOOR.apply(CLOSED, move, LATER)
    assert (step.status.state, step.status.state_since, step.status.state_reason) == (
        "Open",
        LATER,
        "opened for a delivery",
    )
    (entry,) = step.audit
    assert (entry.from_state, entry.to_state, entry.reason, entry.message) == (
        "Closed",
        "Open",
        "Moved",
        "opened for a delivery",
    )
    assert entry.actor == "janitor" and entry.evidence == {"order": DIGEST}
    assert CLOSED.state == "Closed" and CLOSED.state_since == T0  # the given status is not modified


def test_the_first_state_is_audited_from_no_state() -> None:
    step = DOOR.apply(DoorStatus(), Transition[DoorState]("Closed", "Installed", "installed"), T0)
    assert [(e.from_state, e.to_state, e.actor) for e in step.audit] == [
        ("", "Closed", "tradeplane-operator")
    ]


@pytest.mark.parametrize(
    ("status", "target", "named"),
    [
        (DoorStatus(state="Open"), "Locked", "Open -> Locked"),
        (DoorStatus(), "Open", "(no state) -> Open"),
        (DoorStatus(state="Locked"), "Open", "Locked -> Open"),
    ],
)
def test_a_move_the_table_does_not_list_raises_naming_from_and_to(
    status: DoorStatus, target: DoorState, named: str
) -> None:
    with pytest.raises(IllegalTransition, match=re.escape(f"door: {named} is not")) as raised:
        DOOR.apply(status, Transition[DoorState](target, "Moved", ""), T0)
    assert (raised.value.from_state, raised.value.to_state) == (status.state, target)
    assert raised.value.machine == "door"


def test_a_write_that_does_not_record_the_state_is_refused() -> None:
    def forgetful(status: DoorStatus, transition: Transition[DoorState], now: datetime) -> DoorStatus:
        return status.model_copy(update={"state_reason": transition.message})

    broken = replace(DOOR, write=forgetful)
    with pytest.raises(StateNotWritten, match="writing Open left Closed"):
        broken.apply(CLOSED, Transition[DoorState]("Open", "Moved", ""), T0)


def test_the_status_model_validates_what_is_written() -> None:
    with pytest.raises(ValidationError, match="state_reason"):
        DOOR.apply(CLOSED, Transition[DoorState]("Open", "Moved", "x" * 65), T0)


def test_state_fields_name_the_status_fields() -> None:
    class Custom(DoorStatus):
        phase: DoorState | None = None
        entered: datetime | None = None
        why: str | None = None

    fields = StateFields(state="phase", since="entered", reason="why")
    written = fields.write(Custom(), Transition[DoorState]("Closed", "Installed", "new door"), T0)
    assert (written.phase, written.entered, written.why, written.state) == ("Closed", T0, "new door", None)


def test_a_table_may_not_lead_a_state_to_itself_nor_chain_a_move_it_lacks() -> None:
    with pytest.raises(ValueError, match="must change the state"):
        replace(DOOR, table={**DOOR_TABLE, "Open": frozenset({"Open", "Closed"})})
    with pytest.raises(ValueError, match="not in the table"):
        replace(DOOR, chained=frozenset({("Open", "Locked")}))


def test_run_follows_chained_moves_in_one_pass() -> None:
    step = DOOR.run(LOCKABLE, DoorStatus(state="Open", state_since=T0), "Locked", LATER)
    assert step.status.state == "Locked" and step.status.state_since == LATER
    assert [(e.from_state, e.to_state, e.reason) for e in step.audit] == [
        ("Open", "Closed", "Closing"),
        ("Closed", "Locked", "Moved"),
    ]
    assert DOOR.run(LOCKABLE, step.status, "Locked", LATER).audit == ()


def test_run_leaves_a_move_that_is_not_chained_to_the_next_pass() -> None:
    unchained = replace(DOOR, chained=frozenset())
    first = unchained.run(LOCKABLE, DoorStatus(state="Open"), "Locked", T0)
    assert [e.to_state for e in first.audit] == ["Closed"]
    second = unchained.run(LOCKABLE, first.status, "Locked", T0)
    assert [e.to_state for e in second.audit] == ["Locked"]


def test_run_without_a_move_changes_nothing() -> None:
    step = DOOR.run(LOCKABLE, CLOSED, "Closed", LATER)
    assert step.status == CLOSED and step.audit == ()


def test_a_chained_move_repeating_in_one_pass_is_a_loop() -> None:
    def flapping(
        _spec: DoorSpec, status: DoorStatus, _wanted: DoorState | None, _now: datetime
    ) -> Transition[DoorState]:
        return Transition("Open" if status.state == "Closed" else "Closed", "Flap", "")

    looping = replace(DOOR, decide=flapping, chained=frozenset({("Closed", "Open"), ("Open", "Closed")}))
    with pytest.raises(IllegalTransition, match="a second time in one pass"):
        looping.run(LOCKABLE, CLOSED, None, T0)


def test_an_audit_prefix_names_the_machine_in_a_shared_chain() -> None:
    prefixed = replace(DOOR, audit_prefix="door:")
    (entry,) = prefixed.apply(CLOSED, Transition[DoorState]("Open", "Moved", ""), T0).audit
    assert (entry.from_state, entry.to_state) == ("door:Closed", "door:Open")
    assert prefixed.label(None) == ""
