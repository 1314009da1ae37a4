"""Safari: a guild's game state and the pure functions that change it.

A guild's Safari lives in the store `safari-<guild_id>`, one key per thing that changes on
its own, so no value grows with the game and a join never contends with another join:

| key | value |
|---|---|
| `game` | `SafariGame`: settings and the round to resolve next (no players, no results) |
| `player:<user_id>` | `Player`: {"balance": int, "name": str, "joined_round": int} |
| `round:<n>` | `RoundResult` of round n, with its post record |

A round is resolved in ONE store transaction: every changed `player:*` key at the version read,
`round:<n>` only if absent, and `game` at the version read. So it happens exactly once, and a
retry finds `round:<n>` and posts those numbers.

Size (store limits: 64 KiB a value, 10,000 keys, 1 MiB in all). A round record keeps only what
its card needs: every player's balance before the round (`before`, id → balance); the balance
after is `max(0, before + amount)`. With at most MAX_PLAYERS = 1,000 players, names clipped
to 64 bytes of JSON and balances under 10^12:
- a player entry is at most 26 (key) + 36 + 12 + 64 + 2 = 140 bytes: 140,000 for 1,000;
- a round record is at most 1,500 (event, times, the post record's 28 message ids) +
  1,000 x (19 + 12 + 4) = 36,500 bytes (a 64 KiB value holds 1,000 balances of 40 digits);
- 20 rounds: 730,000; with the players and `game` (< 1 KiB): ~871,000 of 1,048,576 bytes,
  and 1,021 keys of 10,000.
The game alone cannot pass 10^12 (starting 10^6 + 20 x 10^6); the bot checks the actual
numbers again when a round is scheduled (`round_record_bytes`), so a store that custom
actions filled with huge balances is refused then, not at the deadline.

Games stored in the first layout (everything under `game`) are read as they are and moved to
this layout by the first write (`clients.safari.migrate`, one transaction).

Nothing here does I/O or draws random numbers: the roll comes in as an argument. A round is
resolved by the jobs action `process_round_results`, registered here in the jobs' catalogue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from workflows.common import Snowflake, UserError
from workflows.jobs_actions import ActionSpec, register

GAME_KEY = "game"
PLAYER_PREFIX = "player:"
ROUND_PREFIX = "round:"
# Good-event chance (percent) of rounds 1, 2, 3; later rounds keep the last one.
DEFAULT_GOOD_PERCENT: tuple[int, ...] = (70, 50, 30)
MAX_ROUNDS = 20
# The most players a game takes: see the size budget in the module docstring.
MAX_PLAYERS = 1_000
# A player's name is shown nowhere by the card (it mentions); it is clipped to keep entries small.
MAX_NAME_BYTES = 64
# What a round record holds besides its balances (event, roll, times, post record), at most.
ROUND_OVERHEAD_BYTES = 1_500

Event = Literal["good", "bad"]


def store_name(guild_id: int) -> str:
    return f"safari-{guild_id}"


def player_key(user_id: int) -> str:
    return f"{PLAYER_PREFIX}{user_id}"


def round_key(round_number: int) -> str:
    return f"{ROUND_PREFIX}{round_number}"


def player_id_of(key: str) -> int | None:
    rest = key.removeprefix(PLAYER_PREFIX)
    return int(rest) if rest != key and rest.isdigit() else None


class SafariError(UserError):
    """A Safari request that cannot be done; the message is fit to show the host."""


class GameOver(SafariError):
    pass


class RoundNotNext(SafariError):
    pass


class GameFull(SafariError):
    pass


class SafariSettings(BaseModel):
    total_rounds: int = Field(default=3, ge=1, le=MAX_ROUNDS)
    # Per-round overrides of the good-event chance. A configured 0 is a real 0 (never good);
    # only a round with no entry falls back to DEFAULT_GOOD_PERCENT.
    good_percent: dict[int, int] = Field(default_factory=dict)
    good_amount: int = Field(default=100, ge=0, le=1_000_000)
    bad_amount: int = Field(default=50, ge=0, le=1_000_000)
    starting_balance: int = Field(default=100, ge=0, le=1_000_000)

    def probability(self, round_number: int) -> int:
        """The good-event chance of a round, in percent (0..100)."""
        if round_number in self.good_percent:
            return self.good_percent[round_number]  # not `or`: 0 must stay 0
        return DEFAULT_GOOD_PERCENT[min(round_number, len(DEFAULT_GOOD_PERCENT)) - 1]

    @field_validator("good_percent")
    @classmethod
    def _check_percent(cls, value: dict[int, int]) -> dict[int, int]:
        for round_number, percent in value.items():
            if not 1 <= round_number <= MAX_ROUNDS:
                raise ValueError(f"there is no round {round_number}")
            if not 0 <= percent <= 100:
                raise ValueError(f"round {round_number} has {percent}%, not 0..100")
        return value


class Player(BaseModel):
    """The value of `player:<user_id>` (custom actions change `balance` too)."""

    balance: int
    name: str = ""
    joined_round: int = 1


class PlayerChange(BaseModel):
    player_id: int
    before: int
    after: int


class PostRecord(BaseModel):
    """Where a round's card went. Chunk i of the card is posted iff i < len(message_ids)."""

    channel_id: int
    # The temporary webhook of a post in progress; None once it is deleted.
    webhook_id: int | None = None
    message_ids: list[int] = Field(default_factory=list)
    done: bool = False


class RoundResult(BaseModel):
    """The value of `round:<n>`."""

    round: int
    event: Event
    roll: int = Field(ge=0, le=99)
    good_percent: int
    amount: int  # what each player's balance was meant to change by (before the floor at 0)
    resolved_at: AwareDatetime
    # Who resolved it (the scheduled job's workflow and run id): its retries find it again.
    resolved_by: str
    # Every player's balance before the round, in join order: all the card needs.
    before: dict[Snowflake, int] = Field(default_factory=dict)
    post: PostRecord | None = None

    @property
    def changes(self) -> list[PlayerChange]:
        return [
            PlayerChange(player_id=player_id, before=was, after=after_round(was, self.amount))
            for player_id, was in self.before.items()
        ]


class SafariGame(BaseModel):
    """The value of `game`."""

    guild_id: int
    settings: SafariSettings = Field(default_factory=SafariSettings)
    # The round to resolve next; total_rounds + 1 once the game is over.
    current_round: int = Field(default=1, ge=1)

    @property
    def over(self) -> bool:
        return self.current_round > self.settings.total_rounds


@dataclass
class Safari:
    """A whole game as read from its keys (or from a first-layout `game`)."""

    game: SafariGame
    players: dict[int, Player] = field(default_factory=dict)
    results: dict[int, RoundResult] = field(default_factory=dict)

    @property
    def over(self) -> bool:
        return self.game.over

    @property
    def settings(self) -> SafariSettings:
        return self.game.settings

    @property
    def current_round(self) -> int:
        return self.game.current_round


class RoundResultsPayload(BaseModel):
    """The scheduled job's payload: which round to resolve; None resolves the next one."""

    round: int | None = Field(default=None, ge=1, le=MAX_ROUNDS)


# The jobs action that resolves a round and posts its card (activities/safari.py).
PROCESS_ROUND_RESULTS = "process_round_results"
register(
    ActionSpec(
        PROCESS_ROUND_RESULTS,
        # Several HTTP calls and store writes: a regular activity with its own retries.
        local=False,
        start_to_close=timedelta(seconds=60),
        heartbeat=timedelta(seconds=15),
        payload=RoundResultsPayload,
    )
)


# --- the first layout (everything under `game`) ---------------------------------------------


class LegacyRoundResult(BaseModel):
    round: int
    event: Event
    roll: int
    good_percent: int
    amount: int
    resolved_at: AwareDatetime
    resolved_by: str
    changes: list[PlayerChange]
    post: PostRecord | None = None


class LegacyGame(BaseModel):
    guild_id: int
    settings: SafariSettings = Field(default_factory=SafariSettings)
    players: dict[int, Player] = Field(default_factory=dict)
    current_round: int = Field(default=1, ge=1)
    results: dict[int, LegacyRoundResult] = Field(default_factory=dict)


def is_legacy(value: Any) -> bool:
    return isinstance(value, dict) and ("players" in value or "results" in value)


def from_legacy(value: Any) -> Safari:
    old = LegacyGame.model_validate(value)
    results = {
        n: RoundResult(
            **r.model_dump(exclude={"changes", "post"}),
            before={c.player_id: c.before for c in r.changes},
            post=r.post,
        )
        for n, r in old.results.items()
    }
    game = SafariGame(guild_id=old.guild_id, settings=old.settings, current_round=old.current_round)
    return Safari(game, dict(old.players), results)


# --- pure changes ------------------------------------------------------------------------


def new_game(guild_id: int, settings: SafariSettings | None = None) -> SafariGame:
    return SafariGame(guild_id=guild_id, settings=settings or SafariSettings())


def configure(game: SafariGame, settings: SafariSettings) -> SafariGame:
    """New settings; only before the first round is resolved."""
    if game.current_round > 1:
        raise SafariError("the Safari has started: its settings can no longer change")
    return game.model_copy(update={"settings": settings})


def clip_name(name: str) -> str:
    """The name, cut to at most MAX_NAME_BYTES of JSON (quotes and escapes included)."""
    while name and len(json.dumps(name, ensure_ascii=False).encode()) > MAX_NAME_BYTES:
        name = name[:-1]
    return name


def new_player(game: SafariGame, name: str = "") -> Player:
    """A player joining now; GameOver once the game is over."""
    if game.over:
        raise GameOver("the Safari is over: nobody can join any more")
    return Player(
        balance=game.settings.starting_balance, name=clip_name(name), joined_round=game.current_round
    )


def event_for(settings: SafariSettings, round_number: int, roll: int) -> Event:
    """A roll of 0..99 is good when below the round's chance: 0% is never good, 100% always."""
    return "good" if roll < settings.probability(round_number) else "bad"


def after_round(balance: int, amount: int) -> int:
    return max(0, balance + amount)  # balances never go below zero


def check_round(game: SafariGame, round_number: int) -> None:
    """Whether `round_number` can be resolved now (it is not recorded yet)."""
    if game.over:
        raise GameOver(f"the Safari is over: all {game.settings.total_rounds} rounds are resolved")
    if round_number != game.current_round:
        raise RoundNotNext(f"round {round_number} cannot be resolved yet: round {game.current_round} is next")


def apply_round(
    game: SafariGame, players: dict[int, Player], round_number: int, roll: int, *, resolver: str, at: datetime
) -> tuple[SafariGame, dict[int, Player], RoundResult]:
    """Resolve `round_number` (not recorded yet): the advanced game, the players whose balance
    changed, and the round's record. The inputs are not changed."""
    check_round(game, round_number)
    if not 0 <= roll <= 99:
        raise ValueError(f"a roll is 0..99, not {roll}")
    event = event_for(game.settings, round_number, roll)
    amount = game.settings.good_amount if event == "good" else -game.settings.bad_amount
    changed = {
        player_id: player.model_copy(update={"balance": after_round(player.balance, amount)})
        for player_id, player in players.items()
        if after_round(player.balance, amount) != player.balance
    }
    result = RoundResult(
        round=round_number,
        event=event,
        roll=roll,
        good_percent=game.settings.probability(round_number),
        amount=amount,
        resolved_at=at,
        resolved_by=resolver,
        before={player_id: player.balance for player_id, player in players.items()},
    )
    return game.model_copy(update={"current_round": round_number + 1}), changed, result


def round_record_bytes(players: dict[int, Player]) -> int:
    """An upper bound on the JSON size of a round record for these players."""
    return ROUND_OVERHEAD_BYTES + sum(len(str(pid)) + len(str(p.balance)) + 4 for pid, p in players.items())


def standings(players: dict[int, Player]) -> list[tuple[int, Player]]:
    """Players by balance, richest first; ties in join order."""
    order = {player_id: i for i, player_id in enumerate(players)}
    return sorted(players.items(), key=lambda item: (-item[1].balance, order[item[0]]))
