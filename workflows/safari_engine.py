"""Safari: a guild's game state and the pure functions that change it.

A guild's Safari lives under one key (`game`) of the store `safari-<guild_id>`: its
settings, its players and their balances, the round to resolve next, and every resolved
round's results. Every change is a function from one game to the next, so a caller can apply
it inside a compare_and_set loop (read, apply, write if unchanged) and a round is resolved,
recorded and advanced in one write. Nothing here does I/O or draws random numbers: the roll
comes in as an argument (the activity draws it).

"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from workflows.common import UserError

GAME_KEY = "game"
# Good-event chance (percent) of rounds 1, 2, 3; later rounds keep the last one.
DEFAULT_GOOD_PERCENT: tuple[int, ...] = (70, 50, 30)
MAX_ROUNDS = 20

Event = Literal["good", "bad"]


def store_name(guild_id: int) -> str:
    return f"safari-{guild_id}"


class SafariError(UserError):
    """A Safari request that cannot be done; the message is fit to show the host."""


class GameOver(SafariError):
    pass


class RoundNotNext(SafariError):
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
    round: int
    event: Event
    roll: int = Field(ge=0, le=99)
    good_percent: int
    amount: int  # what each player's balance was meant to change by (before the floor at 0)
    resolved_at: AwareDatetime
    # Who resolved it (the scheduled job's workflow and run id): its retries find it again.
    resolved_by: str
    changes: list[PlayerChange]
    post: PostRecord | None = None


class SafariGame(BaseModel):
    guild_id: int
    settings: SafariSettings = Field(default_factory=SafariSettings)
    players: dict[int, Player] = Field(default_factory=dict)
    # The round to resolve next; total_rounds + 1 once the game is over.
    current_round: int = Field(default=1, ge=1)
    results: dict[int, RoundResult] = Field(default_factory=dict)

    @property
    def over(self) -> bool:
        return self.current_round > self.settings.total_rounds


class RoundResultsPayload(BaseModel):
    """The scheduled job's payload: which round to resolve; None resolves the next one."""

    round: int | None = Field(default=None, ge=1, le=MAX_ROUNDS)


# --- pure changes ------------------------------------------------------------------------


def new_game(guild_id: int, settings: SafariSettings | None = None) -> SafariGame:
    return SafariGame(guild_id=guild_id, settings=settings or SafariSettings())


def configure(game: SafariGame, settings: SafariSettings) -> SafariGame:
    """New settings; only before the first round is resolved."""
    if game.results:
        raise SafariError("the Safari has started: its settings can no longer change")
    return game.model_copy(update={"settings": settings})


def add_player(game: SafariGame, player_id: int, name: str = "") -> SafariGame:
    """The game with the player in it (unchanged if already there)."""
    if game.over:
        raise GameOver("the Safari is over: nobody can join any more")
    if player_id in game.players:
        return game
    player = Player(balance=game.settings.starting_balance, name=name, joined_round=game.current_round)
    return game.model_copy(update={"players": {**game.players, player_id: player}})


def event_for(settings: SafariSettings, round_number: int, roll: int) -> Event:
    """A roll of 0..99 is good when below the round's chance: 0% is never good, 100% always."""
    return "good" if roll < settings.probability(round_number) else "bad"


def resolved_by(game: SafariGame, resolver: str) -> RoundResult | None:
    return next((r for r in game.results.values() if r.resolved_by == resolver), None)


def apply_round(
    game: SafariGame, round_number: int, roll: int, *, resolver: str, at: datetime
) -> tuple[SafariGame, RoundResult]:
    """Resolve `round_number`: apply its event to every player, record it, advance the round.

    A round already resolved returns its recorded result and the game unchanged.
    """
    if round_number in game.results:
        return game, game.results[round_number]
    if game.over:
        raise GameOver(f"the Safari is over: all {game.settings.total_rounds} rounds are resolved")
    if round_number != game.current_round:
        raise RoundNotNext(f"round {round_number} cannot be resolved yet: round {game.current_round} is next")
    if not 0 <= roll <= 99:
        raise ValueError(f"a roll is 0..99, not {roll}")
    event = event_for(game.settings, round_number, roll)
    amount = game.settings.good_amount if event == "good" else -game.settings.bad_amount
    players: dict[int, Player] = {}
    changes: list[PlayerChange] = []
    for player_id, player in game.players.items():
        after = max(0, player.balance + amount)  # balances never go below zero
        players[player_id] = player.model_copy(update={"balance": after})
        changes.append(PlayerChange(player_id=player_id, before=player.balance, after=after))
    result = RoundResult(
        round=round_number,
        event=event,
        roll=roll,
        good_percent=game.settings.probability(round_number),
        amount=amount,
        resolved_at=at,
        resolved_by=resolver,
        changes=changes,
    )
    advanced = game.model_copy(
        update={
            "players": players,
            "current_round": round_number + 1,
            "results": {**game.results, round_number: result},
        }
    )
    return advanced, result


def record_post(game: SafariGame, round_number: int, post: PostRecord) -> SafariGame:
    """The game with the round's post record replaced (nothing else changes)."""
    result = game.results[round_number].model_copy(update={"post": post})
    return game.model_copy(update={"results": {**game.results, round_number: result}})


def standings(game: SafariGame) -> list[tuple[int, Player]]:
    """Players by balance, richest first; ties in join order."""
    order = {player_id: i for i, player_id in enumerate(game.players)}
    return sorted(game.players.items(), key=lambda item: (-item[1].balance, order[item[0]]))
