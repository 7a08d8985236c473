"""Read a status the way the API server stores it, so a reconciler can never write what the CRD lacks.

A key the status model does not declare would be pruned by the API server without a word (the
status schema is structural), and a value of the wrong type would make it refuse the whole patch.
Both fail here: the status goes through JSON, as it does on the wire, and is validated in strict mode
(no ``"5"`` for ``5``) against the status model, whose every object forbids unknown keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from tradeplane.crds.common import StatusBase

Status = TypeVar("Status", bound=StatusBase)


def declared(model: type[Status], status: Mapping[str, Any]) -> Status:
    """``status`` parsed by ``model``; raises ``pydantic.ValidationError`` naming what drifted."""
    return model.model_validate_json(json.dumps(status), strict=True)
