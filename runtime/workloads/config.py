"""What every workload's configuration is: one typed, frozen document, passed as one argument.

A workload (ingestor, dataset builder, and the trainer and executor to come) is configured by exactly
one pydantic model derived from :class:`WorkloadConfig`. The model is the only place its defaults live;
a pure function in ``reconcilers/`` produces it from the custom resources, the workload builder passes
it as ``--config '<canonical JSON>'``, and the workload's CLI validates it with the same model before
starting anything. Command-line flags of a CLI may override single fields for a manual run, but they
have no defaults of their own, so a default is never written twice.

The JSON is canonical (sorted keys, no whitespace, every field written): the same spec gives the same
argument, so the same workload spec, and any change to the configuration changes the workload and
makes the driver replace it. Secrets never enter a configuration: they come from the environment
(``SecretEnv`` references in the workload spec).

The pattern for a new workload: a module next to its plane (light: pydantic and ``crds`` only, so
reconcilers can import it without numpy or SQLAlchemy) defining ``class XConfig(WorkloadConfig)``,
``x_config(...) -> XConfig`` in the workload's reconciler, and a CLI option ``--config`` read with
:meth:`WorkloadConfig.from_argument`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, ValidationError

from tradeplane.crds.common import format_duration, parse_duration

FILE_PREFIX = "@"
"""``--config @path`` reads the document from a file (a mounted ConfigMap, a saved configuration)."""
_MAX_SHOWN_INPUT = 80


class ConfigError(ValueError):
    """A configuration the model refuses; the message names every offending field."""


def _go_duration(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, timedelta):
        return value
    raise ValueError("must be a Go duration string such as 30s, 5m or 1h30m")


def _format_go_duration(value: timedelta) -> str:
    """The Go duration that reads back as ``value``: whole seconds as ``1h30m``, finer as ms or us."""
    if value < timedelta(0):
        raise ValueError(f"{value!r} is negative")
    if value.microseconds == 0:
        return format_duration(value)
    if value % timedelta(milliseconds=1) == timedelta(0):
        return f"{value // timedelta(milliseconds=1)}ms"
    return f"{value // timedelta(microseconds=1)}us"


GoDuration = Annotated[
    timedelta,
    BeforeValidator(_go_duration),
    PlainSerializer(_format_go_duration, return_type=str, when_used="json"),
]
"""A duration as a timedelta in Python and a Go duration string (the API's one syntax) in JSON."""


def describe(error: ValidationError) -> str:
    """One line per refused field, ``field.path: reason (got value)``, without pydantic's URLs."""
    lines = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "config"
        reason = str(item["msg"]).removeprefix("Value error, ")
        shown = item.get("input")
        scalar = isinstance(shown, str | int | float | bool) and len(repr(shown)) <= _MAX_SHOWN_INPUT
        suffix = f" (got {shown!r})" if scalar and item["type"] not in {"missing", "value_error"} else ""
        lines.append(f"{where}: {reason}{suffix}")
    return "; ".join(lines)


class WorkloadConfig(BaseModel):
    """Base of every workload configuration: frozen, unknown fields refused, canonical JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    def to_json(self) -> str:
        """The canonical document: what the workload builder passes and what the CLI reads back."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @classmethod
    def build(cls, document: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> Self:
        """``document`` with ``overrides`` (fields given on a command line) on top, validated once."""
        merged = {**document, **(overrides or {})}
        try:
            return cls.model_validate(merged)
        except ValidationError as error:
            raise ConfigError(f"invalid {cls.__name__}: {describe(error)}") from None

    @classmethod
    def document(cls, argument: str) -> dict[str, Any]:
        """The JSON object ``--config`` names: inline JSON, or ``@path`` to a file holding it."""
        text = argument
        if argument.startswith(FILE_PREFIX):
            path = Path(argument.removeprefix(FILE_PREFIX))
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as error:
                raise ConfigError(f"cannot read {cls.__name__} from {path}: {error.strerror}") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{cls.__name__} is not JSON: {error.msg} at position {error.pos}") from None
        if not isinstance(document, dict):
            raise ConfigError(f"{cls.__name__} must be a JSON object")
        return document

    @classmethod
    def from_argument(cls, argument: str, overrides: Mapping[str, Any] | None = None) -> Self:
        """Parse and validate ``--config`` (JSON or ``@path``), with ``overrides`` on top."""
        return cls.build(cls.document(argument), overrides)
