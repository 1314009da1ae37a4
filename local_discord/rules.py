"""Message rules Discord enforces that its OpenAPI schema cannot express: limits across fields, flags.

Each returns :class:`FieldError` s in Discord's words, for a 400/50035 Invalid Form Body. Codes and messages
are copied from Discord responses where they are known (see the tests); the two marked *unconfirmed* below
use Discord's form but a wording not checked against the live API.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .openapi import FieldError

COMPONENTS_V2 = 1 << 15
MAX_V2_COMPONENTS = 40  # nested ones included
MAX_V2_TEXT = 4000  # characters across every text display of a message
MAX_CLASSIC_ROWS = 5
ROW_WIDTH = 5  # a button takes 1, a select the whole row
MAX_EMBED_TOTAL = 6000
V2_ONLY_TYPES = frozenset({9, 10, 11, 12, 13, 14, 17})  # section … container
_SELECT_TYPES = frozenset({3, 5, 6, 7, 8})
_TEXT_DISPLAY = 10

Path = tuple[str | int, ...]


def _walk(components: Any, path: Path) -> Iterator[tuple[Path, Mapping[str, Any]]]:
    """Every component, depth first, with its location: children and section accessories included."""
    if not isinstance(components, list):
        return
    for i, c in enumerate(components):
        if not isinstance(c, Mapping):
            continue
        here = (*path, i)
        yield here, c
        yield from _walk(c.get("components"), (*here, "components"))
        if isinstance(c.get("accessory"), Mapping):
            yield (*here, "accessory"), c["accessory"]


def legacy_fields(message: Mapping[str, Any], flags: int) -> list[FieldError]:
    """A V2 message may not have content or embeds (checked on the message as it would be stored)."""
    if not flags & COMPONENTS_V2:
        return []
    return [
        FieldError.rule(
            (name,),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            f"The '{name}' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
        )
        for name in ("content", "embeds")
        if message.get(name)
    ]


def components(components: Any, flags: int) -> list[FieldError]:
    """Layout limits, V2-only types without the flag, and duplicate custom ids."""
    if not isinstance(components, list):
        return []
    errors: list[FieldError] = []
    everything = list(_walk(components, ("components",)))
    if flags & COMPONENTS_V2:
        if len(everything) > MAX_V2_COMPONENTS:
            # Code as Discord sends it; the message wording is unconfirmed.
            errors.append(
                FieldError.rule(
                    ("components",),
                    "COMPONENT_MAX_TOTAL_COMPONENTS_EXCEEDED",
                    f"The message may have at most {MAX_V2_COMPONENTS} components, nested ones included.",
                )
            )
        text = sum(len(c.get("content") or "") for _, c in everything if c.get("type") == _TEXT_DISPLAY)
        if text > MAX_V2_TEXT:
            # Unconfirmed code and wording: Discord's limit is documented, its error body is not.
            errors.append(
                FieldError.rule(
                    ("components",),
                    "BASE_TYPE_MAX_LENGTH",
                    f"Text display content must be {MAX_V2_TEXT} or fewer in length in total.",
                )
            )
    else:
        for i, c in enumerate(components):
            if isinstance(c, Mapping) and c.get("type") in V2_ONLY_TYPES:
                # Without the flag Discord parses the list as action rows only.
                errors.append(
                    FieldError.rule(
                        ("components", i), "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
                    )
                )
        if len(components) > MAX_CLASSIC_ROWS:
            errors.append(
                FieldError.rule(
                    ("components",), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CLASSIC_ROWS} or fewer in length."
                )
            )
    for path, c in everything:
        if c.get("type") == 1:
            errors += _row_width(c.get("components"), (*path, "components"))
    seen: set[str] = set()
    for path, c in everything:
        custom_id = c.get("custom_id")
        if isinstance(custom_id, str):
            if custom_id in seen:
                errors.append(
                    FieldError.rule(
                        (*path, "custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                )
            seen.add(custom_id)
    return errors


def _row_width(children: Any, path: Path) -> list[FieldError]:
    if not isinstance(children, list):
        return []
    errors, used = [], 0
    for i, c in enumerate(children):
        used += ROW_WIDTH if isinstance(c, Mapping) and c.get("type") in _SELECT_TYPES else 1
        if used > ROW_WIDTH:
            errors.append(
                FieldError.rule(
                    (*path, i),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
            )
    return errors


def _embed_size(embed: Mapping[str, Any]) -> int:
    def text(obj: Any, key: str) -> int:
        value = obj.get(key) if isinstance(obj, Mapping) else None
        return len(value) if isinstance(value, str) else 0

    fields: list[Any] = embed.get("fields") or []
    return (
        text(embed, "title")
        + text(embed, "description")
        + text(embed.get("footer"), "text")
        + text(embed.get("author"), "name")
        + sum(text(f, "name") + text(f, "value") for f in fields)
    )


def embeds(embeds: Any) -> list[FieldError]:
    """The 6000-character total across a message's embeds, and empty field names or values."""
    if not isinstance(embeds, list):
        return []
    errors: list[FieldError] = []
    items = [e for e in embeds if isinstance(e, Mapping)]
    for i, e in enumerate(items):
        for j, f in enumerate(e.get("fields") or []):
            for key in ("name", "value"):
                if isinstance(f, Mapping) and f.get(key) == "":
                    errors.append(
                        FieldError.rule(
                            ("embeds", i, "fields", j, key), "BASE_TYPE_REQUIRED", "This field is required"
                        )
                    )
    if sum(_embed_size(e) for e in items) > MAX_EMBED_TOTAL:
        errors.append(
            FieldError.rule(
                ("embeds",),
                "MAX_EMBED_SIZE_EXCEEDED",
                f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}",
            )
        )
    return errors


def allowed_mentions(allowed: Any) -> list[FieldError]:
    """``parse: ["users"]`` and an explicit ``users`` list (or the same for roles) exclude each other."""
    if not isinstance(allowed, Mapping):
        return []
    parse = allowed.get("parse") or []
    return [
        FieldError.rule(
            ("allowed_mentions",),
            "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
            f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
        )
        for kind in ("users", "roles")
        if kind in parse and allowed.get(kind)
    ]
