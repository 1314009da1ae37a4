"""The `process_round_results` action: resolve a Safari round once, then post its card.

CastBot mutated balances and then posted, so a failed post retried paid everyone twice. Here
the order is: resolve (roll the event, apply it to every player, record the result and
advance the round in ONE store transaction: the changed `player:*` keys, `round:<n>` only if
absent, `game`), then post what was recorded. A retry finds `round:<n>` recorded and posts
those same numbers; nobody is paid twice.

Posting goes through a temporary webhook named "Safari Round Results" as Components V2 cards,
one message per chunk of players (Discord allows 40 components per message, nested ones
included). Progress is recorded on the round's record (`round:<n>`): the webhook's id before the
first post, each message id right after its post, `done` after the webhook is deleted. A retry
deletes a recorded webhook (404 counts as deleted), posts only the chunks not recorded, and
posts nothing once `done`.

Remaining window (documented, not closed): a webhook post has no nonce, so if Discord commits
a chunk and the worker dies (or the store write fails) before its message id is recorded, the
retry posts that one chunk again. Balances are never affected.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import discord
from discord.http import Route
from pydantic import JsonValue, ValidationError
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from activities.discord_rest import already_gone, discord_errors, require_login
from clients.safari import ATTEMPTS, current_game, players_versioned, safari_store
from clients.store import PersistentStore, StoreError, VersionConflict
from stack.settings import DEFAULT_TASK_QUEUE
from workflows.jobs_models import ActionInput
from workflows.safari_engine import (
    GAME_KEY,
    PROCESS_ROUND_RESULTS,
    PostRecord,
    RoundResult,
    RoundResultsPayload,
    SafariError,
    SafariGame,
    apply_round,
    check_round,
    player_key,
    round_key,
)
from workflows.store_models import TransactOp

WEBHOOK_NAME = "Safari Round Results"
MAX_COMPONENTS = 40  # per message, nested ones included
MAX_TEXT = 4000  # display characters across every text display of a message
# Container, header, separator and footer: what each card has besides its player lines.
CARD_OVERHEAD = 4
PLAYERS_PER_CARD = MAX_COMPONENTS - CARD_OVERHEAD
GOOD_COLOUR, BAD_COLOUR = 0x2ECC71, 0xE74C3C
NO_PINGS = discord.AllowedMentions.none()


# --- the card ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardPart:
    header: str
    lines: list[str]
    footer: str
    colour: int


def _player_lines(result: RoundResult) -> list[str]:
    order = {c.player_id: i for i, c in enumerate(result.changes)}
    ranked = sorted(result.changes, key=lambda c: (-c.after, order[c.player_id]))
    return [
        f"{rank}. <@{c.player_id}> 🪙 {c.before:,} → **{c.after:,}** ({c.after - c.before:+,})"
        for rank, c in enumerate(ranked, start=1)
    ]


def card_parts(result: RoundResult, total_rounds: int, late_note: str | None = None) -> list[CardPart]:
    """The round's card, split into messages. Depends only on the recorded result (and the
    job's late line, the same on every attempt), so every retry builds the same parts."""
    if result.event == "good":
        event = (
            f"🌞 **Good event!** (rolled {result.roll} against {result.good_percent}%): "
            f"everyone gains 🪙 {result.amount:,}"
        )
    else:
        event = (
            f"⛈️ **Bad event!** (rolled {result.roll} against {result.good_percent}%): "
            f"everyone loses 🪙 {-result.amount:,}"
        )
    if result.round >= total_rounds:
        best = max(result.changes, key=lambda c: c.after, default=None)
        winner = f" Winner: <@{best.player_id}> with 🪙 {best.after:,}." if best else ""
        footer = f"🏁 **The Safari is over!**{winner}"
    else:
        footer = f"Next up: round {result.round + 1} of {total_rounds}."
    lines = _player_lines(result) or ["*Nobody has joined the Safari.*"]
    chunks: list[list[str]] = [[]]
    budget = MAX_TEXT - 2 * 400  # room for header and footer
    used = 0
    for line in lines:
        if len(chunks[-1]) >= PLAYERS_PER_CARD or used + len(line) > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(line)
        used += len(line)
    colour = GOOD_COLOUR if result.event == "good" else BAD_COLOUR
    parts = []
    for i, chunk in enumerate(chunks, start=1):
        part = f" (part {i} of {len(chunks)})" if len(chunks) > 1 else ""
        header = f"## 🦁 Safari: round {result.round} of {total_rounds}{part}\n{event}"
        late = f"\n-# {late_note}" if late_note and i == 1 else ""
        parts.append(
            CardPart(
                header[: 400 - len(late)] + late, chunk, footer[:400] if i == len(chunks) else "", colour
            )
        )
    return parts


class RoundCard(discord.ui.LayoutView):
    """One message of a round's card (Components V2: sent with flag 1 << 15)."""

    def __init__(self, part: CardPart) -> None:
        super().__init__(timeout=None)
        container: discord.ui.Container[RoundCard] = discord.ui.Container(accent_colour=part.colour)
        container.add_item(discord.ui.TextDisplay(part.header))
        container.add_item(discord.ui.Separator())
        for line in part.lines:
            container.add_item(discord.ui.TextDisplay(line))
        if part.footer:
            container.add_item(discord.ui.TextDisplay(part.footer))
        self.add_item(container)


def count_components(components: Sequence[dict[str, JsonValue]]) -> int:
    """Every component of a message payload, nested ones included (what Discord limits to 40)."""
    total = 0
    for component in components:
        total += 1
        for field in ("components", "accessory"):
            nested = component.get(field)
            if isinstance(nested, dict):
                nested = [nested]
            if isinstance(nested, list):
                total += count_components([c for c in nested if isinstance(c, dict)])
    return total


def build_cards(result: RoundResult, total_rounds: int, late_note: str | None = None) -> list[RoundCard]:
    cards = [RoundCard(part) for part in card_parts(result, total_rounds, late_note)]
    for card in cards:
        components = card.to_components()  # type: ignore[no-untyped-call]
        if count_components(components) > MAX_COMPONENTS or card.content_length() > MAX_TEXT:
            raise ApplicationError("a round card is over Discord's limits", non_retryable=True)
    return cards


# --- the activity --------------------------------------------------------------------------


def _fail(err: Exception) -> ApplicationError:
    return ApplicationError(str(err), type=type(err).__name__, non_retryable=True)


class SafariActivities:
    """Safari's side effects: the round roll, the store writes, the webhook posts."""

    def __init__(
        self,
        discord_client: discord.Client,
        temporal: Client,
        task_queue: str,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._discord = discord_client
        self._temporal = temporal
        # The queue a guild's store workflow starts on, should this activity be the first to use it.
        self._task_queue = task_queue or DEFAULT_TASK_QUEUE
        self._rng = rng or random.SystemRandom()

    @activity.defn(name=PROCESS_ROUND_RESULTS)
    async def process_round_results(self, action: ActionInput) -> dict[str, JsonValue]:
        require_login(self._discord)
        try:
            payload = RoundResultsPayload.model_validate(action.payload)
        except ValidationError as err:
            raise ApplicationError(
                f"bad payload for {PROCESS_ROUND_RESULTS}: {err}", non_retryable=True
            ) from err
        info = activity.info()
        # A Retry resolves as the run it retries: a round it resolved stays resolved once.
        resolver = f"{info.workflow_id}/{action.retry_of or info.workflow_run_id}"
        try:
            store = await safari_store(self._temporal, action.guild_id, self._task_queue)
            game, result = await self.resolve(store, payload.round, resolver)
            already = result.post is not None and result.post.done
            post = result.post if already and result.post else await self._post(store, game, result, action)
        except (SafariError, StoreError) as err:
            raise _fail(err) from err
        return {
            "round": result.round,
            "event": result.event,
            "game_over": result.round >= game.settings.total_rounds,
            "message_ids": [str(m) for m in post.message_ids],
            "posted_now": not already,
        }

    async def resolve(
        self, store: PersistentStore, round_number: int | None, resolver: str
    ) -> tuple[SafariGame, RoundResult]:
        """Resolve the round once; a repeat (same round, or same resolver) returns the record.

        One transaction writes every changed `player:*` key at the version read, `round:<n>`
        only if absent and `game` at the version read: a join, a custom action's payment or
        another resolver in between makes it conflict, and it is computed again from fresh
        reads with the same roll.
        """
        roll: int | None = None  # drawn once, and only when a round is really resolved here
        at = datetime.now(UTC)
        for _ in range(ATTEMPTS):
            current = await current_game(store)  # moves a first-layout game to the new keys
            if current is None:
                raise SafariError("there is no Safari in this server: nobody has joined yet")
            game, game_version = current
            if round_number is None and game.current_round > 1:
                # An unnumbered job's retry: the round it resolved is the last one, if it was ours.
                last = await self._recorded(store, game.current_round - 1)
                if last is not None and last.resolved_by == resolver:
                    return game, last
            wanted = game.current_round if round_number is None else round_number
            recorded = await self._recorded(store, wanted)
            if recorded is not None:
                return game, recorded
            check_round(game, wanted)
            versioned = await players_versioned(store)
            if roll is None:
                roll = self._rng.randrange(100)
            players = {pid: player for pid, (player, _) in versioned.items()}
            advanced, changed, result = apply_round(game, players, wanted, roll, resolver=resolver, at=at)
            ops = [
                TransactOp(
                    key=player_key(pid),
                    value=player.model_dump(mode="json"),
                    expected_version=versioned[pid][1],
                )
                for pid, player in changed.items()
            ]
            ops.append(
                TransactOp(key=round_key(wanted), value=result.model_dump(mode="json"), expected_version=0)
            )
            ops.append(
                TransactOp(
                    key=GAME_KEY, value=advanced.model_dump(mode="json"), expected_version=game_version
                )
            )
            try:
                await store.transact(ops)
            except VersionConflict:
                continue
            return advanced, result
        raise SafariError("the Safari kept changing while this round was resolved; try again")

    @staticmethod
    async def _recorded(store: PersistentStore, round_number: int) -> RoundResult | None:
        found = await store.get_versioned(round_key(round_number))
        return None if found is None else RoundResult.model_validate(found.value)

    async def _post(
        self, store: PersistentStore, game: SafariGame, result: RoundResult, action: ActionInput
    ) -> PostRecord:
        cards = build_cards(result, game.settings.total_rounds, action.late_note)
        post = result.post or PostRecord(channel_id=action.channel_id)
        if post.webhook_id is not None:
            # An earlier attempt's webhook: gone with that attempt, or deleted now.
            await self._delete_webhook(post.webhook_id)
            post = post.model_copy(update={"webhook_id": None})
        remaining = cards[len(post.message_ids) :]
        if remaining:
            with discord_errors():
                data = await self._discord.http.create_webhook(post.channel_id, name=WEBHOOK_NAME)
            webhook = discord.Webhook.partial(int(data["id"]), str(data["token"]), client=self._discord)
            post = await self._record(store, result.round, post.model_copy(update={"webhook_id": webhook.id}))
            try:
                for card in remaining:
                    with discord_errors():
                        message = await webhook.send(view=card, wait=True, allowed_mentions=NO_PINGS)
                    ids = [*post.message_ids, message.id]
                    post = await self._record(
                        store, result.round, post.model_copy(update={"message_ids": ids})
                    )
            except BaseException:
                with contextlib.suppress(Exception):
                    await self._delete_webhook(webhook.id)
                raise
            await self._delete_webhook(webhook.id)
        return await self._record(
            store, result.round, post.model_copy(update={"webhook_id": None, "done": True})
        )

    async def _record(self, store: PersistentStore, round_number: int, post: PostRecord) -> PostRecord:
        # Each step is a heartbeat: a worker that dies mid-post is noticed within the heartbeat
        # timeout, not the whole start-to-close timeout, and the retry resumes from this record.
        if activity.in_activity():
            activity.heartbeat(len(post.message_ids))
        key = round_key(round_number)

        def change(value: JsonValue | None) -> JsonValue:
            if value is None:
                raise SafariError(f"round {round_number} of this Safari is no longer recorded")
            recorded = RoundResult.model_validate(value)
            return recorded.model_copy(update={"post": post}).model_dump(mode="json")

        await store.modify(key, change)
        return post

    async def _delete_webhook(self, webhook_id: int) -> None:
        """Delete with the bot's token; a webhook that is already gone counts as deleted."""
        try:
            with discord_errors():
                await self._discord.http.request(
                    Route("DELETE", "/webhooks/{webhook_id}", webhook_id=webhook_id)
                )
        except ApplicationError as err:
            if not already_gone(err):
                raise
