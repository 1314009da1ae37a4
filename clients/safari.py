"""Safari over PersistentStore: the store-level calls the bot's cog (and the worker) make.

The layout is in workflows.safari_engine: `game`, one `player:<id>` per player, one `round:<n>`
per resolved round. A join writes only its own key (`compare_and_set(player:<id>, 0, ...)`),
so 300 players pressing Join at once never contend with each other; a round is resolved in one
`transact` (activities.safari). A game still in the first layout (everything under `game`) is
read as it is, and moved to the new keys in one transaction by the first write.

The player cap is exact without a shared counter: the store keeps keys in the order they were
first written, so a join whose key lands past the first MAX_PLAYERS `player:*` keys takes it
back and is refused; the round resolution counts only the first MAX_PLAYERS keys too.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from temporalio.client import Client

from clients.arguments import DiscordId, refuses
from clients.store import PersistentStore, StoreError, StoreLimitError, VersionConflict, Versioned
from workflows.safari_engine import (
    GAME_KEY,
    MAX_PLAYERS,
    PLAYER_PREFIX,
    ROUND_PREFIX,
    GameFull,
    GameOver,
    Player,
    RoundResult,
    Safari,
    SafariError,
    SafariGame,
    SafariSettings,
    configure,
    from_legacy,
    is_legacy,
    new_game,
    new_player,
    player_id_of,
    player_key,
    round_key,
    round_record_bytes,
    store_name,
)
from workflows.store_models import TransactOp

ATTEMPTS = 100


@refuses(SafariError)
async def safari_store(client: Client, guild_id: DiscordId, task_queue: str) -> PersistentStore:
    """The guild's Safari store (started on first use)."""
    return await PersistentStore.create(client, store_name(guild_id), task_queue)


@refuses(SafariError)
def existing_store(client: Client, guild_id: DiscordId, task_queue: str) -> PersistentStore:
    """The guild's Safari store for reading: not started when absent (reads then find no game)."""
    return PersistentStore.attach(client, store_name(guild_id), task_queue)


@refuses(SafariError)
def guild_of(store: PersistentStore) -> int:
    prefix = store_name(0)[:-1]
    if not store.name.startswith(prefix):
        raise SafariError(f"store {store.name!r} is not a Safari store")
    return int(store.name[len(prefix) :])


# --- reads ---------------------------------------------------------------------------------


@refuses(SafariError)
async def load_game(store: PersistentStore, *, results: bool = True) -> Safari | None:
    """The whole game (settings, players and, unless `results=False`, every round's record);
    None when there is none (or no store). Reads only: a first-layout game is converted, not
    moved."""
    try:
        found = await store.get_versioned(GAME_KEY)
    except StoreError:
        return None
    if found is None:
        return None
    if is_legacy(found.value):
        return from_legacy(found.value)
    players = {pid: player for pid, (player, _) in (await players_versioned(store)).items()}
    rounds: dict[int, RoundResult] = {}
    if results:
        for entry in (await store.snapshot(ROUND_PREFIX)).entries.values():
            record = RoundResult.model_validate(entry.value)
            rounds[record.round] = record
    return Safari(SafariGame.model_validate(found.value), players, dict(sorted(rounds.items())))


@refuses(SafariError)
async def player_versioned(store: PersistentStore, player_id: DiscordId) -> tuple[Player, int] | None:
    """One player's record with its key's version; None when they have not joined."""
    found = await store.get_versioned(player_key(player_id))
    return None if found is None else (Player.model_validate(found.value), found.version)


@refuses(SafariError)
async def players_versioned(store: PersistentStore) -> dict[int, tuple[Player, int]]:
    """The players who count (the first MAX_PLAYERS keys), with their keys' versions."""
    return dict(list((await all_players(store)).items())[:MAX_PLAYERS])


@refuses(SafariError)
async def all_players(store: PersistentStore) -> dict[int, tuple[Player, int]]:
    """Every `player:*` key in the order first written, with its version."""
    snapshot = await store.snapshot(PLAYER_PREFIX)
    return {
        pid: (Player.model_validate(entry.value), entry.version)
        for key, entry in snapshot.entries.items()
        if (pid := player_id_of(key)) is not None
    }


@refuses(SafariError)
async def current_game(store: PersistentStore) -> tuple[SafariGame, int] | None:
    """The `game` value and its version, moving a first-layout game to the new keys first."""
    for _ in range(ATTEMPTS):
        found = await store.get_versioned(GAME_KEY)
        if found is None:
            return None
        if not is_legacy(found.value):
            return SafariGame.model_validate(found.value), found.version
        await migrate(store, found)
    raise SafariError("the Safari is too busy right now; try again")


@refuses(SafariError)
async def migrate(store: PersistentStore, found: Versioned) -> None:
    """Write a first-layout game as `game`, `player:*` and `round:*`, in one transaction."""
    old = from_legacy(found.value)
    ops = [TransactOp(key=GAME_KEY, value=old.game.model_dump(mode="json"), expected_version=found.version)]
    ops += [
        TransactOp(key=player_key(pid), value=p.model_dump(mode="json"), expected_version=0)
        for pid, p in old.players.items()
    ]
    ops += [
        TransactOp(key=round_key(n), value=r.model_dump(mode="json"), expected_version=0)
        for n, r in old.results.items()
    ]
    # Another process may have migrated it (or written it) first: the caller reads again.
    with contextlib.suppress(VersionConflict):
        await store.transact(ops)


# --- writes --------------------------------------------------------------------------------


@refuses(SafariError)
async def setup_game(store: PersistentStore, settings: SafariSettings | None = None) -> SafariGame:
    """Create the guild's game, or change its settings while no round is resolved yet."""
    wanted = settings or SafariSettings()
    for _ in range(ATTEMPTS):
        current = await current_game(store)
        game = new_game(guild_of(store), wanted) if current is None else configure(current[0], wanted)
        try:
            await store.compare_and_set(
                GAME_KEY, 0 if current is None else current[1], game.model_dump(mode="json")
            )
        except VersionConflict:
            continue
        return game
    raise SafariError("the Safari is too busy right now; try again")


@refuses(SafariError)
async def ensure_game(store: PersistentStore) -> SafariGame:
    """The game, created with default settings when the guild has none yet."""
    for _ in range(ATTEMPTS):
        current = await current_game(store)
        if current is not None:
            return current[0]
        game = new_game(guild_of(store))
        try:
            await store.compare_and_set(GAME_KEY, 0, game.model_dump(mode="json"))
        except VersionConflict:
            continue  # another join created it first
        return game
    raise SafariError("the Safari is too busy right now; try again")


@dataclass(frozen=True)
class JoinResult:
    joined: bool  # False when the player was already in
    game: SafariGame


@refuses(SafariError)
async def join(store: PersistentStore, player_id: DiscordId, name: str = "") -> JoinResult:
    """Add a player (the "Join" button). Idempotent: a second click changes nothing.

    Creates the game with default settings when the guild has none yet. Raises GameOver once
    the game is over, GameFull past MAX_PLAYERS (both SafariErrors).
    """
    try:
        game = await ensure_game(store)
        player = new_player(game, name)
        key = player_key(player_id)
        await store.compare_and_set(key, 0, player.model_dump(mode="json"))
    except VersionConflict:
        return JoinResult(joined=False, game=game)
    except StoreLimitError:
        raise SafariError("the Safari's records are full, so nobody more can join") from None
    keys = await store.keys(PLAYER_PREFIX)
    if key in keys and keys.index(key) >= MAX_PLAYERS:
        await store.delete(key)  # past the cap: take the place back
        raise GameFull(f"the Safari is full: it takes at most {MAX_PLAYERS:,} players")
    return JoinResult(joined=True, game=game)


# --- scheduling ----------------------------------------------------------------------------


NOBODY_JOINED = (
    "nobody has joined the Safari yet, so a round would have nobody to pay: "
    "players press Join on the Safari panel first"
)


@refuses(SafariError)
async def schedulable_round(store: PersistentStore) -> SafariGame:
    """The game, if its next round can be resolved at a deadline; else a SafariError saying why
    (what the job would otherwise fail with when it fires)."""
    try:
        found = await store.get_versioned(GAME_KEY)
    except StoreError:
        found = None  # no store: nobody ever joined
    if found is None:
        raise SafariError(NOBODY_JOINED)
    if is_legacy(found.value):
        old = from_legacy(found.value)
        # Moved to the new keys when the round resolves: a first-layout game fit in 64 KiB,
        # so its keys and a round record are far inside the limits.
        game, players = old.game, old.players
    else:
        game = SafariGame.model_validate(found.value)
        # Every key, not only the first MAX_PLAYERS: more (written by other code than Join)
        # would be left out of the round, so they are refused here.
        players = {pid: p for pid, (p, _) in (await all_players(store)).items()}
        usage = await store.usage()
        used, extra = usage.bytes, round_record_bytes(dict(list(players.items())[:MAX_PLAYERS]))
        if extra > usage.limits.max_value_bytes or used + extra > usage.limits.max_total_bytes:
            raise SafariError(
                f"the Safari's records are full ({used:,} bytes, a round of {len(players):,} players "
                f"needs {extra:,} more, the limit is {usage.limits.max_total_bytes:,})"
            )
    if game.over:
        raise GameOver(f"the Safari is over: all {game.settings.total_rounds} rounds are resolved")
    if not players:
        raise SafariError(NOBODY_JOINED)
    if len(players) > MAX_PLAYERS:
        raise GameFull(f"the Safari has {len(players):,} players; a round takes at most {MAX_PLAYERS:,}")
    return game
