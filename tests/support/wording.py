"""Messages shown to users are written for them: no library text (pydantic's complaints), no regular
expressions, no registered names (actions, workflow types, probes).

`bot_env` runs `offences` over every request the bot made, so every bot test checks every message,
button label, placeholder and form title it caused, refusals included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import workflows.custom_actions_models
import workflows.safari_engine  # noqa: F401  (each registers its actions in the catalogue)
from workflows.challenges_models import CHALLENGES_WORKFLOW
from workflows.health_models import HEALTH_WORKFLOW
from workflows.jobs_actions import ACTIONS
from workflows.jobs_models import JOBS_WORKFLOW
from workflows.store_models import STORE_WORKFLOW

# Keys of a message, component, modal or command whose value a person reads.
SHOWN_KEYS = frozenset({"content", "label", "placeholder", "description", "title"})

LIBRARY_TEXT = (
    "Input should be",
    "String should",
    "List should",
    "Value should",
    "validation error",
    "Field required",
    "Value error,",
    "Extra inputs are not permitted",
    "Traceback (most recent call last)",
    "invalid literal for int()",
    "pydantic",
)
REGEX_TEXT = re.compile(r"\^\[|\]\{\d|\{\d+,\d*\}|\\d|\\s|\(\?P<|\[0-9\]|\[a-z")
# Workflow types that are also plain words (Whisper, Season, Turn) are left out.
REGISTERED = re.compile(
    r"\b(?:"
    + "|".join(
        re.escape(name)
        for name in sorted(
            {*ACTIONS, JOBS_WORKFLOW, STORE_WORKFLOW, CHALLENGES_WORKFLOW, HEALTH_WORKFLOW}, key=len
        )[::-1]
    )
    + r")\b|\bhealth_probe_\w+"
)


@dataclass(frozen=True)
class Offence:
    path: str
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}: {self.why}: {self.text[:300]!r}"


def shown_texts(body: Any) -> Iterator[str]:
    """Every text a person reads in a request body (messages, components, modals, commands)."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key in SHOWN_KEYS and isinstance(value, str):
                yield value
            else:
                yield from shown_texts(value)
    elif isinstance(body, list):
        for value in body:
            yield from shown_texts(value)


def why_not_for_users(text: str) -> str | None:
    for phrase in LIBRARY_TEXT:
        if phrase in text:
            return f"library text ({phrase!r})"
    found = REGEX_TEXT.search(text)
    if found:
        return f"a regular expression ({found.group()!r})"
    found = REGISTERED.search(text)
    if found:
        return f"a registered name ({found.group()!r})"
    return None


def offences(requests: Iterable[tuple[str, str, Any]]) -> list[Offence]:
    """(method, path, json body) of each request -> what in them is not written for users."""
    found = []
    for method, path, body in requests:
        for text in shown_texts(body):
            why = why_not_for_users(text)
            if why is not None:
                found.append(Offence(f"{method} {path}", text, why))
    return found
