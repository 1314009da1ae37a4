"""Season rules, durations, and the inputs, messages and results of the Season and Turn workflows.

Deterministic and shared by workflows, activities, clients and the bot. Durations are written
like `1d`, `6h`, `3d6h30m10s` (`workflows/times.py`); deadlines are absolute UTC instants,
computed by whoever made the promise (the workflow from its own clock, the client from a host's
wall-clock time).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from workflows.common import Snowflake, has_visible
from workflows.times import check_duration, format_duration, parse_duration

SEASONS_WORKFLOW = "Season"
TURN_WORKFLOW = "Turn"
# The guild setting (workflows.store_models.settings_store_name) holding the guild's default
# rules: a RulesOverride as JSON, or absent.
SEASON_RULES = "season_rules"

# The signal by which the bot tells the season where its opening post is.
ANNOUNCED = "announced"

# Activity names (activities/seasons.py registers under these; test doubles too).
DM_OFFER = "season_dm_offer"
EDIT_OFFER = "season_edit_offer"
DM_PLAYER = "season_dm_player"
POST_CHANNEL = "season_post_channel"
POST_GAME = "season_post_game"

# Error types of refused updates, so the client can tell them apart without parsing messages.
NOT_YOURS = "SeasonNotYours"
TOO_LATE = "SeasonTooLate"
ALREADY = "SeasonAlready"
REFUSED = "SeasonRefused"

TurnKind = Literal["writing", "drawing"]
SeasonState = Literal["open", "running", "completed", "cancelled", "ended"]
TurnState = Literal["offering", "offered", "claimed", "submitted", "skipped", "dismissed", "cancelled"]
TurnOutcome = Literal["submitted", "skipped", "dismissed"]

TEXT_MAX = 1000
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
URL_MAX = 2048
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# The ceiling keeps a season's history (one child per offer) far below Temporal's 50k events.
PLAYERS_FLOOR, PLAYERS_CEILING = 2, 30
MAX_DURATION = timedelta(days=60)

# --- durations ----------------------------------------------------------------------------------


def _duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return check_duration(value, maximum=MAX_DURATION)
    if isinstance(value, str):
        return parse_duration(value, maximum=MAX_DURATION)
    raise ValueError(f"a duration is text like 1d or 3d6h30m10s, not {value!r}")


# Written to JSON as `1d6h`, so the Web UI and the stored guild defaults read like the commands.
Duration = Annotated[
    timedelta, BeforeValidator(_duration), PlainSerializer(format_duration, return_type=str, when_used="json")
]

# --- rules --------------------------------------------------------------------------------------

# The deadlines that each have a warning before them.
WARNED = ("claim", "writing", "drawing")


def fitted_warning(timeout: timedelta) -> timedelta:
    """The warning a timeout gets when none given fits it: a quarter of it, in whole seconds."""
    return max(timedelta(seconds=int(timeout.total_seconds() // 4)), timedelta(seconds=1))


class RulesOverride(BaseModel):
    """Any subset of the rules: a guild's defaults, or one season's changes to them. A rule it
    does not know is refused, never ignored (stored defaults are read with `stored`)."""

    model_config = ConfigDict(extra="forbid")

    turn_pattern: list[TurnKind] | None = Field(default=None, min_length=1, max_length=10)
    claim_timeout: Duration | None = None
    claim_warning: Duration | None = None
    writing_timeout: Duration | None = None
    writing_warning: Duration | None = None
    drawing_timeout: Duration | None = None
    drawing_warning: Duration | None = None
    open_duration: Duration | None = None
    min_players: int | None = Field(default=None, ge=PLAYERS_FLOOR, le=PLAYERS_CEILING)
    max_players: int | None = Field(default=None, ge=PLAYERS_FLOOR, le=PLAYERS_CEILING)

    @model_validator(mode="before")
    @classmethod
    def _known(cls, data: object) -> object:
        if isinstance(data, dict):
            unknown = [str(key) for key in data if key not in cls.model_fields]
            if unknown:
                raise ValueError(
                    f"there is no season rule called {', '.join(unknown)[:200]}; the rules are "
                    f"{', '.join(cls.model_fields)}"
                )
        return data

    @classmethod
    def stored(cls, value: dict[str, Any]) -> RulesOverride:
        """A guild's stored defaults, without the rules a later version no longer has."""
        return cls.model_validate({key: item for key, item in value.items() if key in cls.model_fields})


class SeasonRules(BaseModel):
    turn_pattern: list[TurnKind] = Field(default=["writing", "drawing"], min_length=1, max_length=10)
    claim_timeout: Duration = timedelta(days=1)
    claim_warning: Duration = timedelta(hours=1)
    writing_timeout: Duration = timedelta(days=1)
    writing_warning: Duration = timedelta(minutes=1)
    drawing_timeout: Duration = timedelta(days=1)
    drawing_warning: Duration = timedelta(minutes=10)
    open_duration: Duration = timedelta(days=7)
    min_players: int = Field(default=6, ge=PLAYERS_FLOOR, le=PLAYERS_CEILING)
    max_players: int = Field(default=20, ge=PLAYERS_FLOOR, le=PLAYERS_CEILING)

    @model_validator(mode="after")
    def _consistent(self) -> SeasonRules:
        if self.min_players > self.max_players:
            raise ValueError(
                f"the minimum of {self.min_players} players is above the maximum of {self.max_players}"
            )
        for what in WARNED:
            timeout, warning = getattr(self, f"{what}_timeout"), getattr(self, f"{what}_warning")
            if warning >= timeout:
                raise ValueError(
                    f"the {what} warning ({format_duration(warning)}) must come before the "
                    f"{what} timeout ({format_duration(timeout)})"
                )
        return self

    def with_overrides(self, *overrides: RulesOverride | None) -> SeasonRules:
        """These rules with each override's set fields applied in order (validated again). A
        timeout given without its warning gets a warning that fits it (`fitted_warning`) when the
        one it would keep does not: a warning never needs a second command."""
        merged = self.model_dump()
        for override in overrides:
            if override is None:
                continue
            given = override.model_dump(exclude_none=True)
            merged.update(given)
            for what in WARNED:
                timeout, warning = f"{what}_timeout", f"{what}_warning"
                if timeout in given and warning not in given and merged[warning] >= merged[timeout]:
                    merged[warning] = fitted_warning(merged[timeout])
        return SeasonRules.model_validate(merged)

    def kind_of(self, position: int) -> TurnKind:
        return self.turn_pattern[position % len(self.turn_pattern)]

    def submit_timeout(self, kind: TurnKind) -> timedelta:
        return self.writing_timeout if kind == "writing" else self.drawing_timeout

    def submit_warning(self, kind: TurnKind) -> timedelta:
        return self.writing_warning if kind == "writing" else self.drawing_warning


# --- ids ---------------------------------------------------------------------------------------

SEASON_PREFIX = "season-"
# `turn-<guild>-<season start, unix s>-g<game>-s<step>-o<offer>`: everything the bot needs
# (the turn's buttons carry it: components/seasons.py).
TURN_ID_PATTERN = r"turn-[0-9]{1,20}-[0-9]{1,12}-g[0-9]{1,2}-s[0-9]{1,2}-o[0-9]{1,2}"


def season_id_for(guild_id: int) -> str:
    """One season at a time per guild: the bot can always find it again."""
    return f"{SEASON_PREFIX}{guild_id}"


def turn_id_for(guild_id: int, season_started: datetime, game: int, step: int, offer: int) -> str:
    return f"turn-{guild_id}-{int(season_started.timestamp())}-g{game}-s{step}-o{offer}"


def is_turn_id(text: str) -> bool:
    return re.fullmatch(TURN_ID_PATTERN, text) is not None


# --- submissions --------------------------------------------------------------------------------


class Submission(BaseModel):
    """What a player hands in: text for writing, an image attachment for drawing. Checked by
    `problem()` in the client (before anything is sent) and again in the turn's validator."""

    kind: TurnKind
    text: str | None = None
    image_url: str | None = None
    content_type: str | None = None

    def problem(self) -> str | None:
        if self.kind == "writing":
            text = (self.text or "").strip()
            if not text:
                return "Your writing is empty: write between 1 and 1000 characters."
            if not has_visible(text):
                return "Your writing has no visible characters: write some words."
            if len(text) > TEXT_MAX:
                return f"Your writing has {len(text)} characters; the limit is {TEXT_MAX}."
            if self.image_url is not None:
                return "This is a writing turn: send text, not an image."
            return None
        if self.image_url is None:
            return "This is a drawing turn: attach an image (PNG, JPEG, GIF or WebP)."
        parts = urlsplit(self.image_url)
        # Discord's attachment links are https; the local Discord (the playground) serves its
        # uploads over http on loopback, which no link from elsewhere can be.
        local = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        if (parts.scheme != "https" and not local) or not parts.netloc or len(self.image_url) > URL_MAX:
            return "That drawing is not an image uploaded to Discord (an https attachment link)."
        if self.content_type not in IMAGE_TYPES:
            shown = self.content_type or "unknown"
            return f"That file is {shown}, not an image: attach a PNG, JPEG, GIF or WebP."
        return None

    def normalised(self) -> Submission:
        if self.kind == "writing":
            return Submission(kind="writing", text=(self.text or "").strip())
        return Submission(kind="drawing", image_url=self.image_url, content_type=self.content_type)


class Step(BaseModel):
    """One submitted step of a game, in order."""

    position: int
    player_id: Snowflake
    submission: Submission
    submitted_at: datetime


# --- the turn -----------------------------------------------------------------------------------


class TurnSpec(BaseModel):
    season_id: str
    guild_id: Snowflake
    channel_id: Snowflake
    game: int = Field(ge=0)
    position: int = Field(ge=0)
    offer: int = Field(ge=0)
    kind: TurnKind
    player_id: Snowflake
    claim_timeout: Duration
    claim_warning: Duration
    submit_timeout: Duration
    submit_warning: Duration
    previous: Step | None = None


class ClaimRequest(BaseModel):
    player_id: Snowflake


class ClaimResult(BaseModel):
    turn_id: str
    game: int
    kind: TurnKind
    submit_by: datetime
    previous: Step | None = None


class SubmitRequest(BaseModel):
    player_id: Snowflake
    submission: Submission


class SubmitResult(BaseModel):
    turn_id: str
    game: int
    kind: TurnKind
    submitted_at: datetime


class TurnStatus(BaseModel):
    turn_id: str
    state: TurnState
    game: int
    position: int
    kind: TurnKind
    player_id: Snowflake
    claim_by: datetime | None = None
    submit_by: datetime | None = None


class TurnResult(BaseModel):
    outcome: TurnOutcome
    player_id: Snowflake
    step: Step | None = None
    reason: str | None = None


# --- the season ---------------------------------------------------------------------------------


class SeasonSpec(BaseModel):
    guild_id: Snowflake
    # Where the season is announced: cancellation, the finished games.
    channel_id: Snowflake
    host_id: Snowflake
    rules: SeasonRules = Field(default_factory=SeasonRules)
    # An absolute UTC instant (a host's wall-clock time, converted by the client); None: the
    # season's start + rules.open_duration.
    open_until: datetime | None = None

    @model_validator(mode="after")
    def _utc(self) -> SeasonSpec:
        if self.open_until is not None:
            if self.open_until.tzinfo is None:
                raise ValueError("open_until must be an aware UTC instant")
            self.open_until = self.open_until.astimezone(UTC)
        return self


class JoinRequest(BaseModel):
    player_id: Snowflake
    # The player's display name when they joined, for their turns' summaries in the Web UI.
    name: str | None = Field(default=None, max_length=100)


class JoinResult(BaseModel):
    players: int
    min_players: int
    max_players: int
    open_until: datetime
    started: bool


class StartRequest(BaseModel):
    by: Snowflake
    # Claimed by the bot after it checked the host role; the season asks Discord again before
    # it acts on the claim (workflows/guild_checks.py).
    as_host: bool = False
    # The server the request is for: a request for another server's season is refused. None
    # only from callers before it was carried (and operators).
    guild_id: Snowflake | None = None
    # An operator's request (the command line, the Web UI): no host or server check.
    operator: bool = False


class TerminateRequest(BaseModel):
    by: Snowflake
    as_host: bool = False
    reason: str = Field(default="", max_length=200)
    guild_id: Snowflake | None = None
    operator: bool = False


class MoveCloseRequest(BaseModel):
    """Move the time joining closes by `delta` (negative: sooner), while the season is open."""

    by: Snowflake
    as_host: bool = False
    delta: timedelta
    guild_id: Snowflake | None = None
    operator: bool = False


class TurnHostRequest(BaseModel):
    """A host's change to one player's turn: `delta` extends its current deadline (the claim's
    while offered, the submission's once claimed); without one, the turn is skipped now."""

    by: Snowflake
    # Only the bot can see roles: it sets this once it checked the host role.
    as_host: bool = False
    delta: timedelta | None = None


class PlayerTurnRequest(BaseModel):
    player_id: Snowflake


class PlayerTurn(BaseModel):
    turn_id: str
    game: int
    kind: TurnKind


class GameRecord(BaseModel):
    game: int
    starter_id: Snowflake
    steps: list[Step] = []
    visited: list[Snowflake] = []
    active_turn: str | None = None
    active_player: Snowflake | None = None
    # Offers made so far of the game's next step (the `o` of its turn ids).
    attempt: int = 0
    complete: bool = False


class SeasonStatus(BaseModel):
    state: SeasonState
    guild_id: Snowflake
    channel_id: Snowflake
    host_id: Snowflake
    players: list[Snowflake]
    open_until: datetime
    rules: SeasonRules
    games: list[GameRecord]


class SeasonResult(BaseModel):
    outcome: Literal["completed", "cancelled", "ended"]
    players: list[Snowflake]
    games: list[GameRecord]
    reason: str | None = None


# --- activity inputs and outputs ----------------------------------------------------------------


class OfferInput(BaseModel):
    turn_id: str
    player_id: Snowflake
    guild_id: Snowflake
    game: int
    kind: TurnKind
    claim_by: datetime


class OfferMessage(BaseModel):
    channel_id: Snowflake
    message_id: Snowflake


class OfferEdit(BaseModel):
    """Replace the offer DM's text; with `submit_kind`, a Submit button instead of Claim; with
    `claim`, the Claim button kept (a host extended the time to claim); else no button."""

    offer: OfferMessage
    turn_id: str
    content: str = Field(min_length=1, max_length=2000)
    submit_kind: TurnKind | None = None
    claim: bool = False


class PlayerMessage(BaseModel):
    player_id: Snowflake
    content: str = Field(min_length=1, max_length=2000)


class ChannelPost(BaseModel):
    channel_id: Snowflake
    content: str = Field(min_length=1, max_length=2000)


class GameCard(BaseModel):
    season_id: str
    channel_id: Snowflake
    game: int
    starter_id: Snowflake
    steps: list[Step]
