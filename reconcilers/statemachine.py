"""One explicit state machine per long-running process, its state kept in the object's status.

Why one shared shape: a kill switch, a dataset build, a rollout and an order each move between a few
named states, and each is threatened by the same three mistakes: a move nobody allowed, a move that
is applied but not audited (or audited twice), and a decision that depends on something besides
spec, status, observation and time, so that an operator restart decides differently. Here the
allowed moves are an explicit table (as NautilusTrader's order state machine has), the decision is
a pure function each machine supplies, and one function applies it: it refuses a move the table does
not list (:class:`IllegalTransition`, a programming error, never applied), writes the new state
through the pydantic status model and yields exactly one :class:`AuditEntry`. ``None`` is the state
of an object that has never entered one; staying is "no transition", never a move to the same
state. The property harness in ``tests/harness/statemachine.py`` checks these laws for every machine.

Next users. Model: its lifecycle (training, evaluating, gated, registered) becomes a machine whose
observation is the trainer's results in PostgreSQL and MLflow. Rollout follows Argo Rollouts'
semantics, "status is the contract": the table holds Progressing, Paused, Analysing, Promoted,
Aborted and Degraded, decide reads the per-policy ledgers and the CEL analysis verdicts, and a
transition's ``write`` also moves the step index and the capital weights, so an abort or a promotion
is one audited edge. The executor's order state machine takes Nautilus' transition table with its
race edges (CANCELED -> FILLED, PENDING_CANCEL -> ACCEPTED); its status model is the persisted order
record and its observation the venue's reports (cumulative fills, the status after a timeout), so
reconciliation replays orders through the same audited edges.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

from tradeplane.reconcilers.plan import AuditEntry

OPERATOR = "tradeplane-operator"

Model = TypeVar("Model", bound=BaseModel)
State = TypeVar("State", bound=str)
Spec = TypeVar("Spec")
Status = TypeVar("Status", bound=BaseModel)
Observed = TypeVar("Observed")


class IllegalTransition(RuntimeError):
    """A decide function proposed a move its table does not allow; the move is not applied."""

    def __init__(self, machine: str, from_state: str | None, to_state: str) -> None:
        super().__init__(
            f"{machine}: {from_state or '(no state)'} -> {to_state} is not an allowed transition"
        )
        self.machine = machine
        self.from_state = from_state
        self.to_state = to_state


class StateNotWritten(RuntimeError):
    """A machine's ``write`` left the status in another state than the transition named."""


@dataclass(frozen=True)
class Transition(Generic[State]):
    """The move a decide function asks for; ``evidence`` values are SHA-256 digests (audit records)."""

    to: State
    reason: str
    message: str
    actor: str = OPERATOR
    evidence: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Step(Generic[Status]):
    """The status after a pass of the machine and the audit entries of the moves it made, in order."""

    status: Status
    audit: tuple[AuditEntry, ...] = ()


def validated(model: Model, **changes: object) -> Model:
    """``model`` with ``changes``, revalidated: ``model_copy(update=...)`` would skip the constraints, and
    a value the CRD refuses (a message too long) must fail in the reconciler, not at the API server."""
    return type(model).model_validate(model.model_dump() | changes)


@dataclass(frozen=True)
class StateFields:
    """Where the common layout keeps the state: three status fields, written together."""

    state: str = "state"
    since: str = "state_since"
    reason: str = "state_reason"

    def write(self, status: Status, transition: Transition[State], now: datetime) -> Status:
        update = {self.state: transition.to, self.since: now, self.reason: transition.message}
        return validated(status, **update)


@dataclass(frozen=True)
class StateMachine(Generic[Spec, Status, Observed, State]):
    """A transition table, the pure decision, and how a state is read from and written to status.

    ``chained`` lists the moves that may directly follow another in the same pass (a build that
    finished and the next one that is already due): :meth:`run` follows them so that one pass
    converges; any other follow-up is left to the next pass.
    """

    name: str
    table: Mapping[State | None, frozenset[State]]
    decide: Callable[[Spec, Status, Observed, datetime], Transition[State] | None]
    read: Callable[[Status], State | None]
    write: Callable[[Status, Transition[State], datetime], Status]
    chained: frozenset[tuple[State, State]] = frozenset()
    audit_prefix: str = ""
    """Prepended to the states in audit entries, when one object's chain records several machines."""

    def __post_init__(self) -> None:
        loops = sorted(
            state for state, targets in self.table.items() if state is not None and state in targets
        )
        if loops:
            raise ValueError(f"{self.name}: a transition must change the state; {loops} lead to themselves")
        unknown = {edge for edge in self.chained if edge[1] not in self.table.get(edge[0], frozenset())}
        if unknown:
            raise ValueError(f"{self.name}: chained moves {sorted(unknown)} are not in the table")

    def label(self, state: State | None) -> str:
        return "" if state is None else f"{self.audit_prefix}{state}"

    def apply(self, status: Status, transition: Transition[State], now: datetime) -> Step[Status]:
        """Check the move against the table, write it, and audit it once."""
        current = self.read(status)
        if transition.to not in self.table.get(current, frozenset()):
            raise IllegalTransition(self.name, current, transition.to)
        written = self.write(status, transition, now)
        if self.read(written) != transition.to:
            raise StateNotWritten(f"{self.name}: writing {transition.to} left {self.read(written)}")
        entry = AuditEntry(
            from_state=self.label(current),
            to_state=self.label(transition.to),
            reason=transition.reason,
            message=transition.message,
            actor=transition.actor,
            evidence=transition.evidence,
        )
        return Step(written, (entry,))

    def run(self, spec: Spec, status: Status, observed: Observed, now: datetime) -> Step[Status]:
        """Decide and apply, then follow chained moves; a chained move repeating in one pass is a loop."""
        step: Step[Status] = Step(status)
        followed: set[tuple[State, State]] = set()
        transition = self.decide(spec, status, observed, now)
        while transition is not None:
            applied = self.apply(step.status, transition, now)
            step = Step(applied.status, step.audit + applied.audit)
            transition = self.decide(spec, step.status, observed, now)
            if transition is None:
                break
            current = self.read(step.status)
            if current is None or (current, transition.to) not in self.chained:
                break  # level-based: the next pass makes it
            if (current, transition.to) in followed:
                raise IllegalTransition(self.name, current, f"{transition.to} a second time in one pass")
            followed.add((current, transition.to))
        return step
