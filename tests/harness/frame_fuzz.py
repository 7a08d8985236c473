"""Hypothesis pieces shared by the frame fuzzers: JSON values a venue (or a fault) could put in any
field, and one mutation of a frame's ``data`` payload."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

NUMBER_TEXTS = [
    "94977.3",
    "67000.5",
    "0",
    "-0",
    "-1",
    "NaN",
    "sNaN",
    "Infinity",
    "1e400",
    "1E-7",
    "",
    "00.10",
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(
        ["94977.3", "67000.5", "0", "-0", "-1", "NaN", "sNaN", "Infinity", "1e400", "1E-7", "", "00.10"]
    )
    | st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)
"""Numbers as the decimal strings BingX sends and every way one can be wrong, plus any JSON."""


def mutate_data(frame: dict[str, Any], data: st.DataObject, fields: list[str]) -> None:
    """Replace ``frame["data"]`` (when it is not an object), or drop or replace one of ``fields`` in
    it (in one element, when it is a list)."""
    target = frame.get("data")
    if isinstance(target, list) and target:
        target = target[data.draw(st.integers(min_value=0, max_value=len(target) - 1))]
    if not isinstance(target, dict):
        frame["data"] = data.draw(json_values)
        return
    key = data.draw(st.sampled_from(fields))
    if data.draw(st.booleans()):
        target.pop(key, None)
    else:
        target[key] = data.draw(json_values)
