"""A door as a small machine on the shared state-machine helper, to test the helper and the harness.

Closed, Open and Locked; a door is installed Closed; the observation is the state someone wants.
Open -> Locked and Locked -> Open go through Closed, the second move chained in the same pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from hypothesis import strategies as st
from pydantic import BaseModel, StringConstraints

from tradeplane.reconcilers.statemachine import StateFields, StateMachine, Transition

DoorState = Literal["Closed", "Open", "Locked"]
STATES: tuple[DoorState, ...] = ("Closed", "Open", "Locked")
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class DoorSpec:
    lockable: bool = True


class DoorStatus(BaseModel):
    state: DoorState | None = None
    state_since: datetime | None = None
    state_reason: Annotated[str, StringConstraints(max_length=64)] | None = None


DOOR_TABLE: dict[DoorState | None, frozenset[DoorState]] = {
    None: frozenset({"Closed"}),
    "Closed": frozenset({"Open", "Locked"}),
    "Open": frozenset({"Closed"}),
    "Locked": frozenset({"Closed"}),
}
DOOR_CHAINED: frozenset[tuple[DoorState, DoorState]] = frozenset({("Closed", "Open"), ("Closed", "Locked")})


def decide_door(
    spec: DoorSpec, status: DoorStatus, wanted: DoorState | None, _now: datetime
) -> Transition[DoorState] | None:
    current = status.state
    if current is None:
        return Transition("Closed", "Installed", "the door is installed closed")
    if wanted is None or wanted == current or (wanted == "Locked" and not spec.lockable):
        return None
    if current != "Closed":
        return Transition("Closed", "Closing", f"closing on the way to {wanted}", actor="janitor")
    return Transition(wanted, "Moved", f"{wanted.lower()} as wanted", actor="janitor")


def door_state(status: DoorStatus) -> DoorState | None:
    return status.state


DOOR: StateMachine[DoorSpec, DoorStatus, DoorState | None, DoorState] = StateMachine(
    name="door",
    table=DOOR_TABLE,
    decide=decide_door,
    read=door_state,
    write=StateFields().write,
    chained=DOOR_CHAINED,
)
"""Tests derive broken doors from it with ``dataclasses.replace`` (another decide, another table)."""


SPECS = st.builds(DoorSpec, lockable=st.booleans())
STATUSES = st.builds(
    DoorStatus,
    state=st.sampled_from((None, *STATES)),
    state_since=st.sampled_from((None, T0)),
    state_reason=st.sampled_from((None, "", "installed")),
)
WANTED = st.sampled_from((None, *STATES))
TIMES = st.integers(0, 3600).map(lambda seconds: T0 + timedelta(seconds=seconds))
