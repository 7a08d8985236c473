"""The stable-baselines3 keyword arguments a Model may set, each with its type, as the API server serves them.

Why a table: ``gamma: "0.99"`` reaching the trainer would fail hours into a retraining workflow (or,
worse, be coerced); declared here, the API server refuses it at apply time naming the field. The
entries follow the documented signatures of PPO, A2C, DQN, SAC, TD3 and DDPG (stable-baselines3 2.x).
Keys not declared here stay allowed (``x-kubernetes-preserve-unknown-fields``): the trainer checks the
whole set against the chosen algorithm's signature. Nested or union-typed values stay open where a
structural schema cannot type them: ``policy_kwargs`` (holds ``net_arch``), the buffer kwargs, and
``train_freq`` (an integer or ``[n, "step"|"episode"]``). ``ent_coef`` and ``target_entropy`` are a
number or ``"auto"``: a structural schema has no number-or-string type, so their node is untyped and
constrained by keywords that apply by value kind (a pattern for strings, a minimum for numbers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

Kind = Literal["integer", "number", "boolean", "object", "number_or_auto", "open"]

ON_POLICY = ("PPO", "A2C")
OFF_POLICY = ("DQN", "SAC", "TD3", "DDPG")
ALL = ON_POLICY + OFF_POLICY


@dataclass(frozen=True)
class Hyperparameter:
    """One keyword argument: its kind, the algorithms that take it, and an inclusive range if any."""

    name: str
    kind: Kind
    algorithms: tuple[str, ...]
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    auto: str | None = None
    """For ``number_or_auto``: the pattern the string form must match (``auto``, ``auto_0.1``)."""

    def schema(self) -> dict[str, Any]:
        """The property's structural schema node."""
        node: dict[str, Any] = {"description": f"{self.doc} ({', '.join(self.algorithms)})."}
        if self.kind in ("integer", "number", "boolean"):
            node["type"] = self.kind
        elif self.kind == "object":
            node.update({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
        else:
            node["x-kubernetes-preserve-unknown-fields"] = True
        if self.auto is not None:
            node.update({"pattern": self.auto, "maxLength": 32})
        if self.minimum is not None:
            node["minimum"] = self.minimum
            if self.exclusive_minimum:
                node["exclusiveMinimum"] = True
        if self.maximum is not None:
            node["maximum"] = self.maximum
        return node

    def problem(self, value: object) -> str | None:
        """Why ``value`` is refused, in the API server's words, or None when it is accepted."""
        if not _IS_KIND[self.kind](value):
            expected = "a number or a string" if self.kind == "number_or_auto" else f"of type {self.kind}"
            return f"must be {expected}, got {value!r}"
        if isinstance(value, str) and self.auto is not None and not re.fullmatch(self.auto, value):
            return f"should match '{self.auto}', got {value!r}"
        return self._range_problem(float(value)) if _is_number(value) else None

    def _range_problem(self, value: float) -> str | None:
        if self.minimum is not None and (
            value < self.minimum or (self.exclusive_minimum and value == self.minimum)
        ):
            relation = "greater than" if self.exclusive_minimum else "greater than or equal to"
            return f"should be {relation} {self.minimum:g}, got {value:g}"
        if self.maximum is not None and value > self.maximum:
            return f"should be less than or equal to {self.maximum:g}, got {value:g}"
        return None


def _is_number(value: object) -> TypeGuard[int | float]:
    """JSON numbers; ``True`` is an ``int`` in Python but a boolean on the wire."""
    return isinstance(value, int | float) and not isinstance(value, bool)


_IS_KIND: Mapping[Kind, Callable[[object], bool]] = {
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": _is_number,
    "boolean": lambda value: isinstance(value, bool),
    "object": lambda value: isinstance(value, dict),
    "number_or_auto": lambda value: _is_number(value) or isinstance(value, str),
    "open": lambda value: True,
}


def _h(name: str, kind: Kind, algorithms: tuple[str, ...], doc: str, **bounds: Any) -> Hyperparameter:
    return Hyperparameter(name, kind, algorithms, doc, **bounds)


ENT_COEF_AUTO = r"^auto(_[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)?$"

HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    # every algorithm
    _h("learning_rate", "number", ALL, "Optimizer step size (a constant)", minimum=0, exclusive_minimum=True),
    _h("gamma", "number", ALL, "Discount factor", minimum=0, maximum=1),
    _h("batch_size", "integer", ("PPO", *OFF_POLICY), "Minibatch size of each gradient update", minimum=1),
    _h("policy_kwargs", "object", ALL, "Keyword arguments of the policy, e.g. net_arch (open)"),
    _h("stats_window_size", "integer", ALL, "Episodes averaged in rollout statistics", minimum=1),
    _h("verbose", "integer", ALL, "0 silent, 1 info, 2 debug", minimum=0, maximum=2),
    # on-policy: PPO and A2C
    _h("n_steps", "integer", ON_POLICY, "Steps per environment per update", minimum=1),
    _h("gae_lambda", "number", ON_POLICY, "Bias/variance trade-off of GAE", minimum=0, maximum=1),
    _h("vf_coef", "number", ON_POLICY, "Value-function loss coefficient", minimum=0),
    _h("normalize_advantage", "boolean", ON_POLICY, "Normalise the advantage"),
    _h("rollout_buffer_kwargs", "object", ON_POLICY, "Keyword arguments of the rollout buffer (open)"),
    _h("n_epochs", "integer", ("PPO",), "Epochs over each rollout", minimum=1),
    _h("clip_range", "number", ("PPO",), "Policy clipping (a constant)", minimum=0, exclusive_minimum=True),
    _h("clip_range_vf", "number", ("PPO",), "Value clipping (a constant)", minimum=0, exclusive_minimum=True),
    _h("target_kl", "number", ("PPO",), "Early-stop KL divergence", minimum=0, exclusive_minimum=True),
    _h("rms_prop_eps", "number", ("A2C",), "RMSProp epsilon", minimum=0, exclusive_minimum=True),
    _h("use_rms_prop", "boolean", ("A2C",), "RMSProp (true) or Adam (false)"),
    _h(
        "max_grad_norm",
        "number",
        ("PPO", "A2C", "DQN"),
        "Gradient clipping norm",
        minimum=0,
        exclusive_minimum=True,
    ),
    _h(
        "ent_coef",
        "number_or_auto",
        ("PPO", "A2C", "SAC"),
        "Entropy coefficient; SAC also takes 'auto' or 'auto_<initial value>'",
        minimum=0,
        auto=ENT_COEF_AUTO,
    ),
    _h("use_sde", "boolean", ("PPO", "A2C", "SAC"), "State-dependent exploration (gSDE)"),
    _h(
        "sde_sample_freq",
        "integer",
        ("PPO", "A2C", "SAC"),
        "Steps between gSDE noise samples (-1: per rollout)",
        minimum=-1,
    ),
    # off-policy: DQN, SAC, TD3, DDPG
    _h("buffer_size", "integer", OFF_POLICY, "Replay buffer capacity", minimum=1),
    _h("learning_starts", "integer", OFF_POLICY, "Steps collected before learning starts", minimum=0),
    _h("tau", "number", OFF_POLICY, "Soft (Polyak) target update coefficient", minimum=0, maximum=1),
    _h("train_freq", "open", OFF_POLICY, "Update every n steps, or [n, 'step'|'episode'] (open)"),
    _h(
        "gradient_steps",
        "integer",
        OFF_POLICY,
        "Gradient steps per rollout (-1: as many as steps)",
        minimum=-1,
    ),
    _h("replay_buffer_kwargs", "object", OFF_POLICY, "Keyword arguments of the replay buffer (open)"),
    _h("optimize_memory_usage", "boolean", OFF_POLICY, "Memory-efficient replay buffer"),
    _h(
        "target_update_interval", "integer", ("DQN", "SAC"), "Steps between target network updates", minimum=1
    ),
    _h(
        "exploration_fraction",
        "number",
        ("DQN",),
        "Share of training over which epsilon decays",
        minimum=0,
        maximum=1,
    ),
    _h("exploration_initial_eps", "number", ("DQN",), "Initial epsilon", minimum=0, maximum=1),
    _h("exploration_final_eps", "number", ("DQN",), "Final epsilon", minimum=0, maximum=1),
    _h(
        "target_entropy",
        "number_or_auto",
        ("SAC",),
        "Target entropy, or 'auto' (-dim(action))",
        auto="^auto$",
    ),
    _h("use_sde_at_warmup", "boolean", ("SAC",), "gSDE instead of uniform sampling during warm-up"),
    _h("policy_delay", "integer", ("TD3",), "Critic updates per policy update", minimum=1),
    _h("target_policy_noise", "number", ("TD3",), "Target policy smoothing noise", minimum=0),
    _h("target_noise_clip", "number", ("TD3",), "Clip of the target policy noise", minimum=0),
)
"""The declared keyword arguments and the algorithms that take them, spelled as stable-baselines3 does."""

BY_NAME: Mapping[str, Hyperparameter] = {h.name: h for h in HYPERPARAMETERS}


def hyperparameters_schema() -> dict[str, Any]:
    """``spec.algorithm.hyperparameters``: declared keys typed, any other key kept for the trainer."""
    return {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "maxProperties": 64,
        "properties": {h.name: h.schema() for h in sorted(HYPERPARAMETERS, key=lambda h: h.name)},
    }


def check_hyperparameters(values: dict[str, Any]) -> dict[str, Any]:
    """The API server's checks in Python, so an object it would refuse does not parse either."""
    for name, value in values.items():
        declared = BY_NAME.get(name)
        if declared is not None and (problem := declared.problem(value)) is not None:
            raise ValueError(f"spec.algorithm.hyperparameters.{name} {problem}")
    return values
