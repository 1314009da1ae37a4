"""What every workflow shares: retry policies, activity timeouts, failure reasons.

Deterministic code only, imported by workflows (through the sandbox's pass-through) and clients.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer, ValidationError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError

# Discord posts: quick first retries for a blip, then once a minute.
DISCORD_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
)
# Short per attempt, so an attempt held by a crashed worker is retried within seconds.
ATTEMPT_TIMEOUT = timedelta(seconds=15)
# How long a best-effort side effect (a notice, an edit) keeps retrying through an outage.
BEST_EFFORT_BUDGET = timedelta(hours=1)


def failure_reason(err: FailureError) -> str:
    """The innermost message of an activity failure: what Discord said, not the wrapper."""
    cause: BaseException | None = err
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    return str(cause.message if isinstance(cause, FailureError) else cause)


class UserError(ValueError):
    """A refusal whose message is fit to show the user as it is (every feature's errors derive
    from it, and the bot answers them all the same way)."""


class NotYours(UserError):
    """A request about something that belongs to someone else (a whisper, a season, a turn):
    only its owner or host may do it. Every feature refuses with this one class."""


def first_error(err: ValidationError) -> str:
    """Pydantic's first complaint as one line a user can read, `where: what`, in our words: never
    pydantic's own text ("Input should be…", "Field required") or the pattern a value missed."""
    first = err.errors()[0]
    where = _where(first["loc"])
    what = _plain(first["type"], str(first["msg"]), first.get("ctx") or {})
    return f"{where}: {what}" if where else what


def _where(loc: tuple[int | str, ...]) -> str:
    """`("rounds", 0, "after")` -> "rounds #1 after"; a union member's tag is left out."""
    parts = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"#{part + 1}")
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):  # a field, not a union member's tag
            parts.append(part.replace("_", " "))
    return " ".join(parts)


def _plain(kind: str, message: str, ctx: dict[str, Any]) -> str:
    if kind in ("value_error", "assertion_error"):
        # Our own validators' words.
        return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    limits = {
        "greater_than_equal": ("must be at least", "ge"),
        "greater_than": ("must be more than", "gt"),
        "less_than_equal": ("must be at most", "le"),
        "less_than": ("must be less than", "lt"),
    }
    if kind in limits:
        words, key = limits[kind]
        return f"{words} {ctx.get(key)}"
    if kind == "string_too_short":
        least = int(ctx.get("min_length", 1))
        return "must not be empty" if least <= 1 else f"must be at least {least} characters long"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long"
    if kind == "too_short":
        least = int(ctx.get("min_length", 1))
        return f"needs at least {least} item{'' if least == 1 else 's'}"
    if kind == "too_long":
        most = int(ctx.get("max_length", 0))
        return f"takes at most {most} item{'' if most == 1 else 's'}"
    if kind == "string_pattern_mismatch":
        return _pattern_words(str(ctx.get("pattern", "")))
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not something this takes"
    return next((words for prefix, words in _TYPE_WORDS if kind.startswith(prefix)), "is not valid")


# Pydantic's error types by prefix (`int_parsing`, `time_delta_type`…): the first that fits.
_TYPE_WORDS = (
    ("int", "must be a whole number"),
    ("float", "must be a number"),
    ("decimal", "must be a number"),
    ("bool", "must be true or false"),
    ("string", "must be text"),
    ("list", "must be a list"),
    ("dict", "must be an object with named fields"),
    ("model", "must be an object with named fields"),
    ("datetime", "must be a date and time, like 2026-12-24T18:00Z"),
    ("timezone", "must be a date and time with its time zone, like 2026-12-24T18:00Z"),
    ("time_delta", "must be a duration, like 90m"),
    ("time", "must be a time of day, like 18:00"),
    ("date", "must be a date, like 2026-12-24"),
    ("union", "is not one of the kinds this takes"),
)

# Character classes as words, for the simple patterns ids and keys use (`^[A-Za-z0-9_.:-]{1,60}$`).
_CLASS_WORDS = (
    ("A-Za-z", "letters"),
    ("a-z", "lower-case letters"),
    ("A-Z", "capital letters"),
    ("0-9", "digits"),
)


def _pattern_words(pattern: str) -> str:
    """What a simple `^[class]{m,n}$` pattern allows, in words; anything else: not in the expected form."""
    found = re.fullmatch(r"\^?\[([^\]]+)\](?:\{(\d+),(\d+)\}|(\+))\$?", pattern)
    if found is None:
        return "is not in the form expected here"
    chars, low, high, _ = found.groups()
    words = []
    for cls, word in _CLASS_WORDS:
        if cls in chars:
            words.append(word)
            chars = chars.replace(cls, "")
    words += [f"{char}" for char in chars.replace("\\", "")]
    allowed = ", ".join(words[:-1]) + f" and {words[-1]}" if len(words) > 1 else "".join(words)
    length = f" ({low} to {high} characters)" if low and high else ""
    return f"may use only {allowed}{length}"


# --- text a user types ----------------------------------------------------------------------------

# Letters that draw nothing: the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), braille blank.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Spaces, controls, format characters (zero-width ones, U+FEFF), surrogates, combining marks.
# Unassigned code points count as visible: an emoji newer than Python's tables is one.
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Mn", "Mc", "Me"})


def has_visible(text: str) -> bool:
    """Whether the text draws anything a reader can see."""
    return any(
        char not in _BLANK_LETTERS and unicodedata.category(char) not in _INVISIBLE_CATEGORIES
        for char in text
    )


def visible(text: str, what: str, error: type[UserError] = UserError) -> str:
    """The text, or a refusal naming `what` ("the name") when it holds no visible character
    (a UserError is a ValueError, so a model's validator may call it as it is)."""
    if not has_visible(text):
        raise error(f"{what} has no visible characters (only spaces or invisible characters)")
    return text


SNOWFLAKE_MAX = 2**63 - 1


def _snowflake(value: object) -> int:
    # bool is an int in Python, and "05101" or 5101.0 would be a different id once printed.
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isascii() and value.isdigit() and not value.startswith("0"):
        number = int(value)
    else:
        raise ValueError(f"a Discord id is a whole number written in digits, not {value!r}")
    if not 0 < number <= SNOWFLAKE_MAX:
        raise ValueError(f"a Discord id is between 1 and 2^63 - 1, not {number}")
    return number


# A Discord id: accepted as an int or a digit string, kept as an int, written to JSON as a
# string, because JavaScript readers (the Web UI, the CLI's JSON) lose digits past 2^53.
Snowflake = Annotated[
    int, BeforeValidator(_snowflake), PlainSerializer(str, return_type=str, when_used="json")
]


# --- public announcements -----------------------------------------------------------------------

# The activity that edits a posted announcement (activities/jobs.py): a job's "results in 30
# minutes" post, a season's opening post. A message gone (404) counts as edited.
EDIT_ANNOUNCEMENT = "edit_announcement"


class Announcement(BaseModel):
    """A public message that announced something a workflow will do: the workflow edits it when
    that is done or called off, so what players read stays true."""

    channel_id: Snowflake
    message_id: Snowflake


class AnnouncementEdit(Announcement):
    content: str = Field(min_length=1, max_length=2000)
    # The post's buttons still apply (a season's Join while joining stays open): keep them.
    keep_buttons: bool = False
