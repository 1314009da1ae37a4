"""Reading what a user typed into a modal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def modal_values(components: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Text input values by custom_id from a modal submission (action rows or labels)."""
    values: dict[str, str] = {}
    for component in components:
        if "value" in component and "custom_id" in component:
            values[str(component["custom_id"])] = str(component["value"] or "")
        children = list(component.get("components") or [])
        if component.get("component"):
            children.append(component["component"])
        values.update(modal_values(children))
    return values
