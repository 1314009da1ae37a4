"""What every workflow shares: retry policies, activity timeouts, failure reasons.

Deterministic code only, imported by workflows (through the sandbox's pass-through) and clients.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, ValidationError
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
    """Pydantic's first complaint as one line a user can read: `field: message`."""
    first = err.errors()[0]
    where = ".".join(map(str, first["loc"]))
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


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
