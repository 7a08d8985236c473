"""Types shared by every tradeplane kind.

The pydantic models are the single source of truth: ``crds/generate.py`` turns them into the CRD
schemas, so each constraint written here is enforced twice - by pydantic in Python (reconcilers,
tests, CLIs) and by the API server (``kubectl apply``, GitOps). Constraints the JSON schema cannot
express are CEL rules attached with :func:`cel`, and mirrored by a pydantic validator next to them.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    StringConstraints,
    WithJsonSchema,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel, to_snake

from tradeplane.runtime import intervals

GROUP = "tradeplane.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "tradeplane"

# Kubernetes rejects CEL rules whose estimated cost is unbounded, so every list and string that a
# rule can reach carries a maximum size.
MAX_LIST = 64
MAX_NAME = 253


def cel(rule: str, message: str, field_path: str | None = None, reason: str | None = None) -> dict[str, str]:
    """One ``x-kubernetes-validations`` entry; the message always names the field it is about."""
    entry = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    if reason:
        entry["reason"] = reason
    return entry


def validations(*rules: dict[str, str]) -> dict[str, Any]:
    """``json_schema_extra`` carrying CEL rules for a model or a field."""
    return {"x-kubernetes-validations": list(rules)}


class CamelModel(BaseModel):
    """Base of every spec/status object: camelCase on the wire, unknown fields rejected.

    ``extra="forbid"`` mirrors the API server's strict field validation (the kubectl default), so a
    typo or a stray field (for example an API key pasted into a Venue) fails loudly in both places.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", validate_default=True
    )

    @model_validator(mode="after")
    def _unique_list_items(self) -> Any:
        # Lists declared ``set`` or ``map`` reject duplicates on the API server; mirror that here.
        for name, keys in _list_keys(type(self)).items():
            seen: set[Any] = set()
            for index, item in enumerate(getattr(self, name) or ()):
                key = tuple(getattr(item, k) for k in keys) if keys else item
                if key in seen:
                    alias = type(self).model_fields[name].alias or name
                    raise ValueError(f"{alias}[{index}]: Duplicate value")
                seen.add(key)
        return self

    @model_serializer(mode="wrap")
    def _omit_empty_collections(self, handler: SerializerFunctionWrapHandler) -> Any:
        # An empty list or map that is also the default is left out, as the API server does
        # (it has no default for them), so a model round-trips to the object Kubernetes stores.
        data = handler(self)
        if not isinstance(data, dict):
            return data
        empty_by_default = _empty_default_keys(type(self))
        return {k: v for k, v in data.items() if not (k in empty_by_default and v in ([], {}))}

    def to_k8s(self) -> dict[str, Any]:
        """The object as the API server stores it (camelCase, unset optionals omitted)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


@functools.cache
def _list_keys(model: type[BaseModel]) -> dict[str, tuple[str, ...]]:
    """Fields declared ``x-kubernetes-list-type`` set (key: the item) or map (key: the map keys)."""
    found: dict[str, tuple[str, ...]] = {}
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if extra.get("x-kubernetes-list-type") == "set":
            found[name] = ()
        elif extra.get("x-kubernetes-list-type") == "map":
            keys = extra.get("x-kubernetes-list-map-keys") or []
            found[name] = tuple(to_snake(str(k)) for k in keys) if isinstance(keys, list) else ()
    return found


@functools.cache
def _empty_default_keys(model: type[BaseModel]) -> frozenset[str]:
    keys: set[str] = set()
    for name, info in model.model_fields.items():
        if info.default_factory in (list, dict):
            keys.update({name, info.alias or name})
    return frozenset(keys)


class Resource(CamelModel):
    """A whole object as read from the API server: apiVersion, kind and metadata, then spec and status.

    Subclasses narrow ``spec`` and ``status``; metadata stays a plain mapping because the API server
    owns its schema.
    """

    model_config = ConfigDict(extra="ignore")

    api_version: str = API_VERSION
    kind: str
    metadata: dict[str, Any] = Field(default_factory=dict)


def object_default() -> dict[str, Any]:
    """``default: {}`` for a nested object, so the API server applies the defaults inside it."""
    return {"default": {}}


# ---- names and references --------------------------------------------------------------------

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"

ObjectName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME, pattern=DNS_SUBDOMAIN)]
LabelName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=DNS_LABEL)]
SecretKeyName = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_NAME, pattern=r"^[-._a-zA-Z0-9]+$")
]


class LocalObjectReference(CamelModel):
    """A tradeplane object in the same namespace.

    References never cross namespaces: ownerReferences and RBAC are per namespace, and a
    namespace is the unit a team (or a GitOps Application) owns.
    """

    name: ObjectName


class SecretReference(CamelModel):
    """A Secret in the same namespace, by name only: the value never appears in a tradeplane object."""

    name: ObjectName


class SecretKeyReference(CamelModel):
    """One key of a Secret in the same namespace (the shape of ``secretKeyRef`` in a Pod)."""

    name: ObjectName
    key: SecretKeyName


# ---- durations -------------------------------------------------------------------------------

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> timedelta:
    """A Go duration string (``30s``, ``1h30m``, ``250ms``) as a timedelta.

    Go syntax because CEL's ``duration()`` and every Kubernetes tool read it the same way.
    """
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration such as 30s, 5m or 1h30m")
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text)))


def format_duration(value: timedelta) -> str:
    """The shortest Go duration string for whole seconds (``8h``, ``1h30m``, ``45s``, ``0s``)."""
    seconds = int(value.total_seconds())
    if seconds < 0 or seconds != value.total_seconds():
        raise ValueError(f"{value!r} is not a non-negative whole number of seconds")
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return "".join(parts) or "0s"


def format_time(value: datetime) -> str:
    """``metav1.Time`` as status carries it: RFC 3339, UTC ``Z``, whole seconds."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(value: object) -> datetime | None:
    """A status time back as an aware datetime; None for anything that is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def duration_check(minimum: str | None, maximum: str | None) -> AfterValidator:
    """Pydantic side of a bounded duration (bounds inclusive); :func:`duration_schema` is the CEL side."""
    lo = parse_duration(minimum) if minimum else None
    hi = parse_duration(maximum) if maximum else None

    def check(value: str) -> str:
        parsed = parse_duration(value)
        too_short = lo is not None and parsed < lo
        if too_short or (hi is not None and parsed > hi):
            # Same wording as the CEL rule, so both layers report a bad value identically.
            bounds = f"between {minimum} and {maximum}" if maximum else f"of at least {minimum}"
            raise ValueError(f"{value} must be a duration {bounds}")
        return value

    return AfterValidator(check)


def duration_schema(minimum: str | None, maximum: str | None) -> WithJsonSchema:
    """Schema of a bounded duration: the Go pattern plus a CEL range rule using ``duration()``."""
    schema: dict[str, Any] = {"type": "string", "pattern": DURATION_PATTERN, "maxLength": 32}
    if minimum and maximum:
        schema["x-kubernetes-validations"] = [
            cel(
                f"duration(self) >= duration('{minimum}') && duration(self) <= duration('{maximum}')",
                f"must be a duration between {minimum} and {maximum}",
            )
        ]
    elif minimum:
        schema["x-kubernetes-validations"] = [
            cel(f"duration(self) >= duration('{minimum}')", f"must be a duration of at least {minimum}")
        ]
    return WithJsonSchema(schema)


Duration = Annotated[str, duration_check("1s", None), duration_schema("1s", None)]
"""A Go-style duration of at least one second: ``30s``, ``5m``, ``1h30m``."""

AnyDuration = Annotated[str, duration_check(None, None), duration_schema(None, None)]
"""A Go-style duration that may be zero (an offset such as an embargo)."""

# ---- decimal quantities (money, notional, prices) --------------------------------------------

DECIMAL_PATTERN = r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,12})?$"
SIGNED_DECIMAL_PATTERN = r"^-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,12})?$"


def _decimal_parser(pattern: str) -> Any:
    def parse(value: Any) -> Decimal:
        # A float already lost the exact value the user meant; refuse it rather than guess.
        if isinstance(value, float | bool | int):
            raise ValueError("decimal amounts are strings such as '1000' or '0.0005', never numbers")
        text = format(value, "f") if isinstance(value, Decimal) else str(value)
        if not re.fullmatch(pattern, text):
            raise ValueError(f"{text!r} is not a plain decimal string (pattern {pattern})")
        return Decimal(text)

    return parse


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


Quantity = Annotated[
    Decimal,
    BeforeValidator(_decimal_parser(DECIMAL_PATTERN)),
    PlainSerializer(_decimal_text, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "maxLength": 32}),
]
"""A non-negative decimal kept as a string on the wire and as ``Decimal`` in Python (never float)."""

SignedQuantity = Annotated[
    Decimal,
    BeforeValidator(_decimal_parser(SIGNED_DECIMAL_PATTERN)),
    PlainSerializer(_decimal_text, return_type=str),
    WithJsonSchema({"type": "string", "pattern": SIGNED_DECIMAL_PATTERN, "maxLength": 33}),
]
"""A signed decimal string (PnL, net exposure) for status fields."""

Ratio = Annotated[float, Field(ge=0, le=1)]
"""A dimensionless fraction in [0, 1] (a statistic or a share, never an amount of money)."""

# ---- trading vocabulary ----------------------------------------------------------------------

SYMBOL_PATTERN = r"^[A-Z0-9]{2,15}-[A-Z0-9]{2,10}$"
Symbol = Annotated[str, StringConstraints(max_length=32, pattern=SYMBOL_PATTERN)]
"""A BingX perpetual symbol, ``BASE-QUOTE`` (the hyphen is required by every BingX endpoint)."""

KlineInterval = intervals.KlineInterval
"""The kline intervals BingX serves, from the one interval table (``runtime.intervals``)."""

Fingerprint = Annotated[str, StringConstraints(max_length=71, pattern=r"^sha256:[0-9a-f]{64}$")]
"""A content hash written as ``sha256:<hex>``."""

# ---- status building blocks ------------------------------------------------------------------

CONDITION_TYPE = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(CamelModel):
    """``metav1.Condition``, field for field, so kstatus, Flux and Argo CD read it without configuration."""

    type: Annotated[str, StringConstraints(max_length=316, pattern=CONDITION_TYPE)]
    status: Literal["True", "False", "Unknown"]
    observed_generation: Annotated[int | None, Field(ge=0, json_schema_extra={"format": "int64"})] = None
    last_transition_time: datetime
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1024, pattern=CONDITION_REASON)]
    message: Annotated[str, StringConstraints(max_length=32768)]


class AuditHead(CamelModel):
    """Head of the object's hash chain in PostgreSQL; lets anyone check the log against the object."""

    seq: Annotated[int, Field(ge=0, json_schema_extra={"format": "int64"})]
    head_hash: Fingerprint


class StatusBase(CamelModel):
    """What every kind reports: the generation it acted on, kstatus conditions, the audit chain head."""

    observed_generation: Annotated[
        int | None,
        Field(
            ge=-1,
            description="metadata.generation the status describes; -1 before the first reconcile.",
            json_schema_extra={"format": "int64"},
        ),
    ] = None
    conditions: Annotated[
        list[Condition],
        Field(
            max_length=16,
            description="Ready, Reconciling and Stalled (kstatus) plus kind-specific conditions.",
            json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
        ),
    ] = Field(default_factory=list)
    audit: AuditHead | None = None


UNIQUE_NAMES = cel("self.all(x, self.exists_one(y, y.name == x.name))", "names must be unique")
"""CEL: the ``name`` of each item is unique, for lists that keep their order (and so stay atomic)."""


# ---- per-kind metadata the generator needs ---------------------------------------------------


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: Literal["string", "integer", "number", "boolean", "date"] = "string"
    description: str = ""
    priority: int = 0


READY_COLUMN = PrinterColumn(
    "Ready", '.status.conditions[?(@.type=="Ready")].status', description="The Ready condition"
)
AGE_COLUMN = PrinterColumn("Age", ".metadata.creationTimestamp", "date")


@dataclass(frozen=True)
class KindInfo:
    """Everything about a kind that is not a field: names, columns, and rules on the whole object."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    resource: type[Resource]
    spec: type[CamelModel]
    status: type[StatusBase]
    columns: tuple[PrinterColumn, ...]
    description: str
    spec_validations: tuple[dict[str, str], ...] = field(default=())
    selectable_fields: tuple[str, ...] = field(default=())
    """JSON paths usable in ``--field-selector`` so the operator can list, e.g., a Model's versions."""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"
