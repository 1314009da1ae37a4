"""Custom Actions: what a host defines, how it is checked, and how it is evaluated for a player.

Pure and deterministic: the bot, the clients and the `execute_custom_action` activity all
evaluate an action with `evaluate()`, given what they know about the player (roles, Safari
balance). The definition is kept in the guild's store `custom-actions-<guild>`, one key per
action (`action:<id>`). A scheduled or armed run is the jobs action `execute_custom_action`,
registered here in the jobs' catalogue.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from workflows.common import Snowflake, visible
from workflows.jobs_actions import ActionSpec, register

EXECUTE_CUSTOM_ACTION = "execute_custom_action"

MAX_NAME = 80
MAX_OUTCOMES = 10
# A text must fit one Discord message (2000) with the header line the scheduled post adds.
MAX_TEXT = 1800
# Everything an action shows, together: Components V2 allow 4000 display characters per
# message; this leaves room for the header and one line per currency change.
MAX_TOTAL_TEXT = 3000
MAX_CARD_TITLE = 200
MAX_AMOUNT = 1_000_000
# A player may have at most this many of one action armed at once (policy "stack").
MAX_STACK = 5
# Hosts schedule, and actions arm, at most this far ahead.
MAX_SCHEDULE = timedelta(days=30)

ACTION_ID_PATTERN = r"^a[0-9a-f]{10}$"
ACTION_KEY_PREFIX = "action:"


def actions_store_name(guild_id: int) -> str:
    return f"custom-actions-{guild_id}"


def action_key(action_id: str) -> str:
    return f"{ACTION_KEY_PREFIX}{action_id}"


def job_key_prefix(action_id: str) -> str:
    """Every job of one action has a key starting with this (host-scheduled and player-armed)."""
    return f"ca:{action_id}:"


def armed_key(action_id: str, user_id: int, slot: int) -> str:
    """The job key of a player's armed action: one per (action, player, slot), slots 1..5, so the
    server itself refuses a second job in a taken slot."""
    return f"{job_key_prefix(action_id)}{user_id}:{slot}"


# The validation context of a definition read back from its store: its texts are taken as
# written, so one saved before they had to show something still loads (to be fixed or deleted).
STORED = {"stored": True}


def _shown(value: str, what: str, info: ValidationInfo) -> str:
    """`visible` for a text a host gives now (an optional text may be empty, never invisible)."""
    if value and not (info.context or {}).get("stored"):
        visible(value, what)
    return value


def _text(value: str, what: str, info: ValidationInfo) -> str:
    _shown(value, what, info)
    if len(value) > MAX_TEXT:
        raise ValueError(
            f"{what} is {len(value)} characters; Discord shows at most {MAX_TEXT} here "
            f"(a message holds 2000, less the header line)"
        )
    return value


class Condition(BaseModel):
    """Who may run the action: a role they hold and/or a minimum Safari balance."""

    role_id: Snowflake | None = None
    min_balance: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    # Shown (or posted, for a scheduled run) when the condition fails; empty: nothing.
    not_met_text: str = ""

    @field_validator("not_met_text")
    @classmethod
    def _not_met(cls, value: str, info: ValidationInfo) -> str:
        return _text(value.strip(), "the 'not met' text", info)


class TextOutcome(BaseModel):
    kind: Literal["text"] = "text"
    text: str

    @field_validator("text")
    @classmethod
    def _check(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a text outcome needs some text")
        return _text(value, "the text", info)


class CardOutcome(BaseModel):
    """A Components V2 card: a container with a title and a body."""

    kind: Literal["card"] = "card"
    title: str = Field(min_length=1, max_length=MAX_CARD_TITLE)
    body: str = ""
    colour: int | None = Field(default=None, ge=0, le=0xFFFFFF)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str, info: ValidationInfo) -> str:
        return _shown(value, "the card's title", info)

    @field_validator("body")
    @classmethod
    def _check(cls, value: str, info: ValidationInfo) -> str:
        return _text(value.strip(), "the card's text", info)


class CurrencyOutcome(BaseModel):
    """Give (positive) or take (negative) Safari currency; a balance never goes below 0."""

    kind: Literal["currency"] = "currency"
    amount: int = Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)

    @field_validator("amount")
    @classmethod
    def _non_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("a currency change of 0 changes nothing")
        return value


Outcome = Annotated[TextOutcome | CardOutcome | CurrencyOutcome, Field(discriminator="kind")]
RetriggerPolicy = Literal["block", "replace", "stack"]
TriggerType = Literal["button", "schedule"]


class Delayed(BaseModel):
    """Run by a player, the action arms itself: its outcomes come `delay` later, posted in the
    channel where it was run ("your expedition returns in 2 hours")."""

    delay: timedelta = Field(ge=timedelta(minutes=1), le=MAX_SCHEDULE)
    policy: RetriggerPolicy = "block"
    armed_text: str = Field(default="", max_length=500)

    @field_validator("armed_text")
    @classmethod
    def _armed(cls, value: str, info: ValidationInfo) -> str:
        return _shown(value, "the text shown when it arms", info)


class Trigger(BaseModel):
    type: TriggerType = "button"
    # The last channel the host picked for a scheduled run (CastBot's trigger.schedule.channelId).
    channel_id: Snowflake | None = None


class ActionDefinition(BaseModel):
    id: str = Field(pattern=ACTION_ID_PATTERN)
    name: str
    condition: Condition | None = None
    outcomes: list[Outcome] = Field(default_factory=list)
    delayed: Delayed | None = None
    trigger: Trigger = Field(default_factory=Trigger)
    created_by: Snowflake

    @field_validator("name")
    @classmethod
    def _name(cls, value: str, info: ValidationInfo) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("the action needs a name")
        _shown(value, "the name", info)
        if len(value) > MAX_NAME:
            raise ValueError(f"a name is at most {MAX_NAME} characters; this one has {len(value)}")
        return value

    @field_validator("outcomes", mode="before")
    @classmethod
    def _count(cls, value: object) -> object:
        if isinstance(value, list) and len(value) > MAX_OUTCOMES:
            raise ValueError(f"an action has at most {MAX_OUTCOMES} outcomes; this one has {len(value)}")
        return value

    @model_validator(mode="after")
    def _total(self) -> ActionDefinition:
        total = sum(len(block.text) + len(block.title) for block in shown_blocks(self.outcomes))
        if total > MAX_TOTAL_TEXT:
            raise ValueError(
                f"the outcomes' texts add up to {total} characters; one message shows at most "
                f"{MAX_TOTAL_TEXT}"
            )
        return self


class ExecuteCustomActionPayload(BaseModel):
    """The scheduled job's payload (CastBot's {channelId, guildId, actionId, userId, actionName})."""

    guild_id: Snowflake
    channel_id: Snowflake
    action_id: str = Field(pattern=ACTION_ID_PATTERN)
    user_id: Snowflake
    action_name: str = Field(min_length=1, max_length=MAX_NAME)
    # "host": a host scheduled it from the editor; "player": a player's run armed it.
    origin: Literal["host", "player"] = "host"


register(
    ActionSpec(
        EXECUTE_CUSTOM_ACTION,
        # Store reads and writes, then create, post and delete a webhook: a regular activity.
        local=False,
        start_to_close=timedelta(seconds=60),
        heartbeat=timedelta(seconds=15),
        # A scheduled result keeps trying through a Discord outage of up to two days.
        schedule_to_close=timedelta(days=2),
        payload=ExecuteCustomActionPayload,
        # A result (and its payout) an hour after its moment is worse than none: missed, the host told.
        late=timedelta(hours=1),
        late_new=True,
        label="Custom action",
    )
)


# --- evaluation -----------------------------------------------------------------------------


class Block(BaseModel):
    """One thing the result shows: a text line, or a card (title set)."""

    text: str = ""
    title: str = ""
    colour: int | None = None

    @property
    def is_card(self) -> bool:
        return bool(self.title)


class Player(BaseModel):
    user_id: Snowflake
    role_ids: list[int] = Field(default_factory=list)
    # None: not in this server's Safari.
    balance: int | None = None


class CurrencyChange(BaseModel):
    index: int  # the outcome's position in the definition
    amount: int  # as defined
    before: int
    after: int  # clamped at 0


class Evaluation(BaseModel):
    met: bool
    # What to show: the outcomes' texts and cards (met), else the "not met" text if any.
    blocks: list[Block]
    changes: list[CurrencyChange] = Field(default_factory=list)


NOT_IN_SAFARI = "You have not joined this server's Safari, so **{name}** cannot run for you."


def needs_balance(definition: ActionDefinition) -> bool:
    return (definition.condition is not None and definition.condition.min_balance is not None) or any(
        isinstance(o, CurrencyOutcome) for o in definition.outcomes
    )


def needs_roles(definition: ActionDefinition) -> bool:
    return definition.condition is not None and definition.condition.role_id is not None


def shown_blocks(outcomes: list[Outcome]) -> list[Block]:
    return [
        Block(text=o.text)
        if isinstance(o, TextOutcome)
        else Block(text=o.body, title=o.title, colour=o.colour)
        for o in outcomes
        if not isinstance(o, CurrencyOutcome)
    ]


def currency_changes(definition: ActionDefinition, balance: int) -> list[CurrencyChange]:
    """The currency outcomes applied in order from `balance`, each clamped at 0."""
    changes = []
    for index, outcome in enumerate(definition.outcomes):
        if isinstance(outcome, CurrencyOutcome):
            after = max(0, balance + outcome.amount)
            changes.append(CurrencyChange(index=index, amount=outcome.amount, before=balance, after=after))
            balance = after
    return changes


def change_line(change: CurrencyChange) -> str:
    verb = "gained" if change.amount > 0 else "lost"
    moved = abs(change.after - change.before)
    return f"🪙 {verb} {moved:,} (balance {change.before:,} → **{change.after:,}**)"


def condition_met(definition: ActionDefinition, player: Player) -> bool:
    condition = definition.condition
    if condition is None:
        return True
    if condition.role_id is not None and condition.role_id not in player.role_ids:
        return False
    return condition.min_balance is None or (player.balance or 0) >= condition.min_balance


def evaluate(definition: ActionDefinition, player: Player) -> Evaluation:
    """What running the action does for this player now: its blocks and currency changes, or
    the "not met" text. A player outside the Safari is told so whenever the action involves
    Safari currency (a clear "not met" line, even if the host wrote none), and nothing changes."""
    if needs_balance(definition) and player.balance is None:
        return Evaluation(met=False, blocks=[Block(text=NOT_IN_SAFARI.format(name=definition.name))])
    if not condition_met(definition, player):
        text = definition.condition.not_met_text if definition.condition else ""
        return Evaluation(met=False, blocks=[Block(text=text)] if text else [])
    changes = currency_changes(definition, player.balance or 0)
    return Evaluation(met=True, blocks=result_blocks(definition, changes), changes=changes)


def result_blocks(definition: ActionDefinition, changes: list[CurrencyChange]) -> list[Block]:
    """The outcomes in their order, currency changes shown as a line each."""
    by_index = {c.index: c for c in changes}
    blocks = []
    for index, outcome in enumerate(definition.outcomes):
        if isinstance(outcome, CurrencyOutcome):
            if index in by_index:
                blocks.append(Block(text=change_line(by_index[index])))
        elif isinstance(outcome, TextOutcome):
            blocks.append(Block(text=outcome.text))
        else:
            blocks.append(Block(text=outcome.body, title=outcome.title, colour=outcome.colour))
    return blocks
