"""Canonical JSON for venue records, so a fingerprint depends on values and never on spelling.

BingX sends the same rate as ``0.0002``, ``"0.00020"`` or ``2E-4`` depending on the endpoint and
the client; a snapshot fingerprint must not change with that, and the stored JSON (PostgreSQL
JSONB, Kubernetes status) must keep money as strings so no reader ever turns it into a float.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Annotated, Any

from pydantic import PlainSerializer


def canonical_decimal(value: Decimal) -> str:
    """Plain notation without trailing zeros: ``0.00020`` -> ``0.0002``, ``1E+2`` -> ``100``."""
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    if value.is_zero():
        return "0"
    return format(value.normalize(), "f")


CanonicalDecimal = Annotated[Decimal, PlainSerializer(canonical_decimal, return_type=str, when_used="json")]
"""A Decimal that serialises to its canonical string in JSON mode."""


def canonical_json(document: Any) -> str:
    """Sorted keys, no whitespace: the byte string a fingerprint is taken over."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def sha256_fingerprint(document: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(document).encode()).hexdigest()
