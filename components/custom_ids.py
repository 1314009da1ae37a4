r"""A custom id written once: its format gives both the template that answers it and the builder.

    PAGE = CustomId("jobs:page:{page}:{direction}", page=Field(r"\d{1,4}", number=True), direction=...)
    PAGE.build(page=2, direction="next")   # "jobs:page:2:next", each value checked against its field
    PAGE.template                          # the regex the bot's DynamicItem (or modal router) matches
    PAGE.parse(match)                      # {"page": 2, "direction": "next"}: the answering item's arguments

Ids already posted are a contract (a button stays on a message for years): a format never
changes; a component that must carry more gets a new definition beside the old one.
Pure: no discord import, so any layer that may import components can build an id.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

CUSTOM_ID_MAX = 100  # Discord's limit on a custom id


@dataclass(frozen=True)
class Field:
    """One value an id carries: the text it may be (a regex), read back as an int if `number`;
    `optional` fields may be empty (older buttons carried nothing there)."""

    pattern: str
    number: bool = False
    optional: bool = False


class CustomId:
    """`format` is the id as a `str.format` string; every `{name}` is one of `fields`."""

    def __init__(self, format: str, **fields: Field) -> None:
        named: list[str] = []
        template = ""
        for literal, name, spec, conversion in string.Formatter().parse(format):
            template += re.escape(literal)
            if name is None:
                continue
            if spec or conversion or name not in fields or name in named:
                raise ValueError(f"{format!r}: {{{name}}} must be a field of its own, used once")
            named.append(name)
            field = fields[name]
            template += f"(?P<{name}>{field.pattern})" + ("?" if field.optional else "")
        if set(named) != set(fields):
            raise ValueError(f"{format!r} does not use the fields {sorted(set(fields) - set(named))}")
        self.format = format
        self.fields = dict(fields)
        self.template = template
        self._compiled = re.compile(template)

    def __repr__(self) -> str:
        return f"CustomId({self.format!r})"

    def build(self, **values: str | int) -> str:
        """The id for these values; ValueError for a value its template would not answer.
        Values it does not name are ignored, so an older format is built from the same
        arguments as the one that replaced it."""
        texts: dict[str, str] = {}
        for name, field in self.fields.items():
            if name not in values:
                raise ValueError(f"{self.format!r} needs {name}")
            text = str(values[name])
            if not (field.optional and text == "") and not re.fullmatch(field.pattern, text):
                raise ValueError(f"{text!r} is not a {name} that {self.format!r} can carry")
            texts[name] = text
        custom_id = self.format.format(**texts)
        if len(custom_id) > CUSTOM_ID_MAX:
            raise ValueError(f"{custom_id!r} is longer than Discord's {CUSTOM_ID_MAX} characters")
        return custom_id

    def parse(self, match: re.Match[str]) -> dict[str, Any]:
        """The values of a match of `template`, by field name (the answering item's arguments)."""
        values: dict[str, Any] = {}
        for name, field in self.fields.items():
            text = match[name] or ""
            values[name] = int(text) if field.number and text else text
        return values

    def match(self, custom_id: str) -> dict[str, Any] | None:
        """The values `custom_id` carries, or None if it is not one of these ids."""
        found = self._compiled.fullmatch(custom_id)
        return None if found is None else self.parse(found)
