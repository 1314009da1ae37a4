"""Inputs, messages and results of the challenge chain workflow.

A chain is a list of rounds run in order. Each round starts a wait after the previous one ended
(`after`) or at an absolute time (`at`), sends its reminders before that moment, then runs its
actions (names from the jobs' catalogue, workflows/jobs_actions.py). What a run has done travels
to the next run (`ChainProgress`) when the chain continues as new.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, JsonValue, model_validator

from workflows.common import Snowflake
from workflows.jobs_actions import POST_MESSAGE
from workflows.jobs_models import DEFAULT_REMINDER_GRACE, MAX_DELAY, Reminder, ReminderRecord
from workflows.times import format_human

CHALLENGES_WORKFLOW = "ChallengeChain"
# Ids are business keys: `challenge-<guild>-<key>`, computed again from guild and key.
ID_PREFIX = "challenge-"
KEY_PATTERN = r"^[A-Za-z0-9_.:-]{1,60}$"
KEY_HELP = "a key is 1 to 60 letters, digits, -, _, . or :, like photo-hunt"
MAX_ROUNDS = 300
MAX_ACTIONS_PER_ROUND = 5
MAX_REMINDERS_PER_ROUND = 5
# Rounds finished per run before the chain continues as new (sooner if the server suggests it).
DEFAULT_ROUNDS_PER_RUN = 25
# What a chain may carry, as JSON. Every continue-as-new carries the whole plan and the records of
# the rounds done (names and reminder messages again, failure reasons cut to MAX_REASON_CHARS), and
# the server refuses a payload over 2 MB: a plan of 256 KB leaves its records room below that,
# whatever is added later. A round fits five messages of Discord's 2,000 characters in any script.
MAX_ROUND_BYTES = 48 * 1024
MAX_PLAN_BYTES = 256 * 1024
MAX_REASON_CHARS = 300
# A request that names no round means the current one, unless the round before it ended this
# recently: then it may have been meant for that round, and is refused rather than guessed.
JUST_ENDED = timedelta(seconds=10)
# A round's post must fit one Discord message (2,000 characters) with the line naming the chain
# and the round that the workflow puts above it.
MAX_ROUND_MESSAGE = 1800


def challenge_id_for(guild_id: int, key: str) -> str:
    return f"{ID_PREFIX}{guild_id}-{key}"


def round_bytes(round_: RoundSpec) -> int:
    return len(round_.model_dump_json().encode())


def kilobytes(size: int) -> str:
    return f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} bytes"


def round_size_problem(round_: RoundSpec) -> str | None:
    size = round_bytes(round_)
    if size > MAX_ROUND_BYTES:
        return f"it takes {kilobytes(size)}, and a round may take at most {kilobytes(MAX_ROUND_BYTES)}"
    return None


def plan_size_problem(total: int, added: int | None = None) -> str | None:
    """What is wrong with a plan of `total` bytes (or with adding `added` bytes to it), if anything."""
    if added is None and total > MAX_PLAN_BYTES:
        return f"the rounds take {kilobytes(total)}, and a chain may take at most {kilobytes(MAX_PLAN_BYTES)}"
    if added is not None and total + added > MAX_PLAN_BYTES:
        return (
            f"this chain's rounds take {kilobytes(total)} already, and with this round they would "
            f"pass the {kilobytes(MAX_PLAN_BYTES)} a chain may take"
        )
    return None


def round_header(title: str, number: int, total: int) -> str:
    """The line above a round's post, so players know which chain and round it is."""
    return f"**{title}** · Round {number} of {total}"


def reminder_problem(round_: RoundSpec, now: datetime) -> str | None:
    """A reminder due before its round is current is never sent: what is wrong, if anything.
    A round after a wait is current for exactly that wait; one at a time, from now at most."""
    longest = max(round_.reminders, key=lambda r: r.offset, default=None)
    if longest is None:
        return None
    reminder = f"its {format_human(longest.offset)} reminder"
    if round_.after is not None and longest.offset > round_.after:
        return (
            f"it is {format_human(round_.after)} long, shorter than {reminder}, which could never be "
            "sent: give the round a longer wait, or drop that reminder"
        )
    if round_.at is not None and round_.at - now < longest.offset:  # no overflow, whatever the year
        return (
            f"it comes in {format_human(round_.at - now)}, sooner than {reminder}, which could never "
            "be sent: give the round a later time, or drop that reminder"
        )
    return None


def message_problem(round_: RoundSpec) -> str | None:
    """A post too long to carry the line naming the chain and round: what is wrong, if anything."""
    for step in round_.actions:
        content = step.payload.get("content") if step.action == POST_MESSAGE else None
        if isinstance(content, str) and len(content) > MAX_ROUND_MESSAGE:
            return (
                f"its message has {len(content)} characters; a round's message may have at most "
                f"{MAX_ROUND_MESSAGE} (the rest of a Discord message names the chain and the round)"
            )
    return None


ChainState = Literal["waiting", "paused", "running", "done", "cancelled", "failed"]
ChainOutcome = Literal["done", "cancelled", "failed"]
RoundOutcome = Literal["done", "skipped", "failed"]
OnFailure = Literal["continue", "stop"]


class RoundAction(BaseModel):
    action: str = Field(min_length=1, max_length=80)
    payload: dict[str, JsonValue] = Field(default_factory=dict)


class RoundSpec(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    # Exactly one of: a wait after the previous round ended (or after the chain started), or a time.
    after: timedelta | None = Field(default=None, ge=timedelta(0), le=MAX_DELAY)
    at: AwareDatetime | None = None
    reminders: list[Reminder] = Field(default_factory=list, max_length=MAX_REMINDERS_PER_ROUND)
    actions: list[RoundAction] = Field(min_length=1, max_length=MAX_ACTIONS_PER_ROUND)
    # Where its reminders and posts go, if not the chain's channel (CastBot's `nextRound.channelId`).
    channel_id: Snowflake | None = None

    @model_validator(mode="after")
    def _one_start(self) -> RoundSpec:
        if (self.after is None) == (self.at is None):
            raise ValueError("a round starts either after a wait or at a time (give exactly one)")
        return self


class ChallengeSpec(BaseModel):
    key: str = Field(pattern=KEY_PATTERN)
    title: str = Field(min_length=1, max_length=100)
    guild_id: Snowflake
    channel_id: Snowflake
    host_id: Snowflake
    rounds: list[RoundSpec] = Field(min_length=1, max_length=MAX_ROUNDS)
    # What a round whose action failed for good does to the chain.
    on_failure: OnFailure = "continue"
    reminder_action: str = "send_reminder"
    reminder_grace: timedelta = DEFAULT_REMINDER_GRACE
    rounds_per_run: int = Field(default=DEFAULT_ROUNDS_PER_RUN, ge=1, le=1000)


class RoundRecord(BaseModel):
    index: int
    name: str
    outcome: RoundOutcome
    due: datetime
    at: datetime
    reason: str | None = None
    reminders: list[ReminderRecord] = Field(default_factory=list)


class ChainProgress(BaseModel):
    """Everything a run knows that the next run needs (carried by continue-as-new)."""

    index: int = 0
    records: list[RoundRecord] = Field(default_factory=list)
    # When the previous round ended (the chain's start for the first round).
    previous_end: datetime
    # The current round's moment, once planned; its reminders planned since `since`.
    deadline: datetime | None = None
    since: datetime | None = None
    reminders: list[ReminderRecord] = Field(default_factory=list)
    # A pause keeps the remaining wait; resume plans the deadline that far from then.
    paused: bool = False
    remaining: timedelta | None = None
    generation: int = 0


class ChallengeInput(BaseModel):
    spec: ChallengeSpec
    progress: ChainProgress | None = None


class ChainRequest(BaseModel):
    """Skip, pause or resume. `as_host` is set by the bot when it checked the user's roles;
    otherwise only the user who created the chain may change it."""

    by: Snowflake
    guild_id: Snowflake
    as_host: bool = False


class SkipRequest(ChainRequest):
    """`round` is the index of the round the skip is for (as `ChallengeStatus.current`): a skip
    for a round that is over, running or not current yet is refused with what happened instead.
    None (requests sent before rounds were named): the current round, see JUST_ENDED."""

    round: int | None = Field(default=None, ge=0)


class ShiftChainRequest(ChainRequest):
    """Move round `round` (as SkipRequest; None: the current one) later, or earlier with a
    negative `delta`. `whole`: every round after it moves as much; otherwise the rounds after
    it keep their times. Hosts only."""

    delta: timedelta
    whole: bool = False
    round: int | None = Field(default=None, ge=0)


class CancelChainRequest(ChainRequest):
    reason: str = Field(default="", max_length=200)


class AddRoundRequest(ChainRequest):
    round: RoundSpec


class OperatorCancel(BaseModel):
    """The operators' cancel (a signal, from the CLI or the Web UI): no checks, a reason."""

    reason: str = Field(default="", max_length=200)


class RoundView(BaseModel):
    index: int
    name: str
    state: Literal["done", "skipped", "failed", "running", "current", "ahead"]
    # Done rounds: when they ran; the current one: its moment; rounds ahead: the estimate.
    due: datetime | None
    at: datetime | None = None
    reason: str | None = None
    # While the chain is paused: how long after it resumes the round comes (its clock stands still).
    after_resume: timedelta | None = None
    channel_id: Snowflake | None = None


class ChallengeStatus(BaseModel):
    key: str
    title: str
    state: ChainState
    guild_id: Snowflake
    channel_id: Snowflake
    host_id: Snowflake
    current: int
    rounds: list[RoundView]
    remaining: timedelta | None = None
    generation: int = 0
    # What was on its way to Discord when this was answered (a round's action, a reminder): a
    # cancel does not call it back, so the reply says it may still appear.
    in_flight: str | None = None


class ChallengeResult(BaseModel):
    outcome: ChainOutcome
    at: datetime
    by: Snowflake | None = None
    reason: str | None = None
    rounds: list[RoundRecord] = Field(default_factory=list)
