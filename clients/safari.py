"""Safari over PersistentStore: the store-level calls the bot's cog (and the worker) make.

The whole game is one value (key `game` of the store `safari-<guild_id>`), changed only by
compare_and_set loops: read it, apply a pure change from workflows.safari_engine, write it if
nobody wrote in between, else read again. So a join racing a round resolution is never lost,
and a resolution is recorded exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from temporalio.client import Client

from clients.store import PersistentStore, VersionConflict
from workflows.safari_engine import (
    GAME_KEY,
    SafariError,
    SafariGame,
    SafariSettings,
    add_player,
    configure,
    new_game,
    store_name,
)

ATTEMPTS = 100


async def safari_store(client: Client, guild_id: int, task_queue: str) -> PersistentStore:
    """The guild's Safari store (started on first use)."""
    return await PersistentStore.create(client, store_name(guild_id), task_queue)


def guild_of(store: PersistentStore) -> int:
    prefix = store_name(0)[:-1]
    if not store.name.startswith(prefix):
        raise SafariError(f"store {store.name!r} is not a Safari store")
    return int(store.name[len(prefix) :])


async def load_game(store: PersistentStore) -> SafariGame | None:
    found = await store.get_versioned(GAME_KEY)
    return None if found is None else SafariGame.model_validate(found.value)


async def change_game(
    store: PersistentStore, change: Callable[[SafariGame | None], SafariGame]
) -> SafariGame:
    """Apply `change` to the stored game in a compare_and_set loop; returns the game written.

    `change` may run several times (once per conflict) and must be pure. When it returns the
    game unchanged, nothing is written.
    """
    for _ in range(ATTEMPTS):
        current = await store.get_versioned(GAME_KEY)
        game = None if current is None else SafariGame.model_validate(current.value)
        changed = change(game)
        if changed == game:
            return changed
        try:
            await store.compare_and_set(
                GAME_KEY, 0 if current is None else current.version, changed.model_dump(mode="json")
            )
        except VersionConflict:
            continue
        return changed
    raise SafariError("the Safari is too busy right now; try again")


async def setup_game(store: PersistentStore, settings: SafariSettings | None = None) -> SafariGame:
    """Create the guild's game, or change its settings while no round is resolved yet."""
    guild_id = guild_of(store)
    wanted = settings or SafariSettings()

    def change(game: SafariGame | None) -> SafariGame:
        return new_game(guild_id, wanted) if game is None else configure(game, wanted)

    return await change_game(store, change)


@dataclass(frozen=True)
class JoinResult:
    joined: bool  # False when the player was already in
    game: SafariGame


async def join(store: PersistentStore, player_id: int, name: str = "") -> JoinResult:
    """Add a player (the "Join" button). Idempotent: a second click changes nothing.

    Creates the game with default settings when the guild has none yet. Raises GameOver
    (a SafariError) once the game is over.
    """
    guild_id = guild_of(store)
    was_in = False

    def change(game: SafariGame | None) -> SafariGame:
        nonlocal was_in
        game = game or new_game(guild_id)
        was_in = player_id in game.players
        return add_player(game, player_id, name)

    game = await change_game(store, change)
    return JoinResult(joined=not was_in, game=game)
