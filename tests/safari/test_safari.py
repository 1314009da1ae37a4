"""Safari round results end to end: the real dev server, an in-process worker with the real
activities on a discord.py client logged in to the fake Discord, and jobs scheduled through
the bot's Jobs facade. The roll is the only thing the tests fix (an rng they control)."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest
import pytest_asyncio
from pydantic import JsonValue
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.discord_rest import rest_client
from activities.safari import (
    MAX_COMPONENTS,
    MAX_TEXT,
    WEBHOOK_NAME,
    SafariActivities,
    build_cards,
    count_components,
)
from clients import safari as safari_client
from clients.jobs import Jobs
from clients.jobs_retry import retry_job
from clients.safari import join, load_game, safari_store, setup_game
from clients.store import PersistentStore
from local_discord import FakeDiscord, FakeMessage
from stack.devserver import DevServer
from tests.support.temporal import eventually
from worker import activities_for, build_worker
from workflows import search_attributes as sa
from workflows.jobs_actions import action_spec
from workflows.jobs_models import JobResult, job_suffix, run_tag
from workflows.safari_engine import (
    GAME_KEY,
    MAX_PLAYERS,
    PROCESS_ROUND_RESULTS,
    GameFull,
    GameOver,
    Player,
    PlayerChange,
    PostRecord,
    RoundNotNext,
    RoundResult,
    RoundResultsPayload,
    Safari,
    SafariSettings,
    apply_round,
    new_game,
    player_key,
    round_key,
)
from workflows.store_models import TransactOp

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST = 9001
COMPONENTS_V2 = 1 << 15
EXECUTE_WEBHOOK = r"^/webhooks/\d+/[^/]+$"
MENTION = re.compile(r"<@(\d+)>")


class Rolls(random.Random):
    """The rng the Safari activity draws its 0..99 roll from: queued rolls, then `default`."""

    def __init__(self) -> None:
        super().__init__(0)
        self.queue: deque[int] = deque()
        self.default = 50
        self.drawn: list[int] = []

    def randrange(self, *args: Any, **kwargs: Any) -> int:
        roll = self.queue.popleft() if self.queue else self.default
        self.drawn.append(roll)
        return roll


ROLLS = Rolls()
TASK_QUEUE = f"safari-{uuid.uuid4().hex[:8]}"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as api:
        yield api
        api.assert_no_violations()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def worker(client: Client, fake: FakeDiscord) -> AsyncIterator[Worker]:
    async with rest_client("fake-bot-token", fake.base_url) as discord_client:
        safari = SafariActivities(discord_client, client, TASK_QUEUE, rng=ROLLS)
        activities = [*activities_for(discord_client), safari.process_round_results]
        async with build_worker(client, TASK_QUEUE, activities) as running:
            yield running


class Table:
    """One guild's Safari: its store, its channel, and jobs scheduled through the facade."""

    def __init__(self, client: Client, fake: FakeDiscord, store: PersistentStore, guild: int) -> None:
        self.client, self.fake, self.store, self.guild = client, fake, store, guild
        self.channel = guild + 1
        fake.add_channel(self.channel, guild, name="safari")
        self.jobs = Jobs(client, TASK_QUEUE)

    async def run_job(self, payload: dict[str, Any]) -> JobResult:
        job_id = await self.jobs.schedule(
            PROCESS_ROUND_RESULTS,
            payload,
            guild_id=self.guild,
            channel_id=self.channel,
            scheduled_by=HOST,
            delay=timedelta(0),
            description="Safari Round Results",
        )
        result: JobResult = await self.client.get_workflow_handle(job_id, result_type=JobResult).result()
        return result

    async def game(self) -> Safari:
        game = await load_game(self.store)
        assert game is not None
        return game

    def cards(self) -> list[FakeMessage]:
        return [m for m in self.fake.messages(self.channel) if m.webhook_id is not None]


async def table(
    client: Client, fake: FakeDiscord, players: int, settings: SafariSettings | None = None
) -> Table:
    guild = random.randrange(10**17, 10**18) // 10 * 10
    store = await safari_store(client, guild, TASK_QUEUE)
    await setup_game(store, settings)
    for i in range(players):
        await join(store, guild + 100 + i, f"player {i}")
    return Table(client, fake, store, guild)


def texts(component: dict[str, Any]) -> list[str]:
    found = [component["content"]] if component.get("type") == 10 else []
    for child in component.get("components", []):
        found += texts(child)
    return found


def card_text(message: FakeMessage) -> str:
    return "\n".join(t for c in message.components for t in texts(c))


def assert_cards_show(t: Table, game: Safari, round_number: int, cards: list[FakeMessage]) -> None:
    """The cards are valid V2 messages showing every player once, with the recorded numbers."""
    result = game.results[round_number]
    assert result.post is not None and result.post.done
    assert [m.id for m in cards] == result.post.message_ids
    mentioned: list[int] = []
    for message in cards:
        assert message.flags & COMPONENTS_V2
        assert message.content == ""
        assert count_components(message.components) <= MAX_COMPONENTS
        text = card_text(message)
        assert len(text) <= MAX_TEXT
        mentioned += [int(m) for m in MENTION.findall(text)]
    shown = "\n".join(card_text(m) for m in cards)
    for change in result.changes:
        assert f"<@{change.player_id}> 🪙 {change.before:,} → **{change.after:,}**" in shown
    # Every player once, and the winner once more on the last round's card.
    last_round = round_number == game.settings.total_rounds
    assert sorted(set(mentioned)) == sorted(c.player_id for c in result.changes)
    assert len(mentioned) == len(result.changes) + last_round
    webhooks = [w for w in t.fake.webhooks() if w.channel_id == t.channel]
    assert webhooks and all(w.name == WEBHOOK_NAME and w.deleted for w in webhooks)


# --- end to end -----------------------------------------------------------------------------


async def test_a_scheduled_round_resolves_once_and_posts_one_card_per_chunk(
    client: Client, fake: FakeDiscord, worker: Worker
) -> None:
    t = await table(client, fake, players=45)
    ROLLS.queue.extend([10])  # round 1 is good at 70%: 10 < 70
    result = await t.run_job({"round": 1})

    assert result.outcome == "done", result.reason
    game = await t.game()
    assert game.current_round == 2 and not game.over
    assert [p.balance for p in game.players.values()] == [200] * 45
    cards = t.cards()
    assert len(cards) == 2  # 36 players fit in a card (40 components), 9 in the second
    assert_cards_show(t, game, 1, cards)
    assert "Good event!** (rolled 10 against 70%): everyone gains 🪙 100" in card_text(cards[0])
    assert "(part 1 of 2)" in card_text(cards[0]) and "(part 2 of 2)" in card_text(cards[1])
    assert "Next up: round 2 of 3." in card_text(cards[1])
    assert isinstance(result.action_result, dict)
    assert result.action_result["message_ids"] == [str(m.id) for m in cards]
    assert len([w for w in fake.webhooks() if w.channel_id == t.channel]) == 1

    # Resolving round 1 again returns the record: no roll applied, no post, nothing written.
    version = await t.store.version(GAME_KEY)
    again = await t.run_job({"round": 1})
    assert again.outcome == "done"
    assert isinstance(again.action_result, dict) and again.action_result["posted_now"] is False
    assert await t.store.version(GAME_KEY) == version
    assert len(t.cards()) == 2
    fake.assert_no_violations()


@pytest.mark.parametrize(
    ("method", "path", "status", "times"),
    [
        # The webhook cannot be created: nothing is posted on the first attempt.
        ("POST", r"^/channels/\d+/webhooks$", 503, 1),
        # Posting the first card fails (discord.py retries 5 times in itself, then gives up).
        ("POST", EXECUTE_WEBHOOK, 429, 5),
    ],
)
async def test_a_post_failing_after_resolving_is_retried_with_the_same_numbers(
    client: Client, fake: FakeDiscord, worker: Worker, method: str, path: str, status: int, times: int
) -> None:
    t = await table(client, fake, players=40)
    # The first attempt rolls 10 (good); were the retry to roll again it would get 95 (bad).
    ROLLS.queue.extend([10, 95])
    fault = fake.inject(method, path, status, times=times)
    result = await t.run_job({})

    assert result.outcome == "done", result.reason
    assert fault.fired == times
    game = await t.game()
    assert [p.balance for p in game.players.values()] == [200] * 40  # paid once
    assert game.results[1].event == "good" and game.results[1].roll == 10
    cards = t.cards()
    assert len(cards) == 2  # posted once, by the retry
    assert_cards_show(t, game, 1, cards)
    assert ROLLS.queue == deque([95])  # the retry did not resolve again
    ROLLS.queue.clear()
    fake.assert_no_violations()


async def test_a_failed_webhook_delete_is_retried_without_posting_again(
    client: Client, fake: FakeDiscord, worker: Worker
) -> None:
    t = await table(client, fake, players=3)
    ROLLS.queue.extend([99])  # bad at 70%
    fault = fake.inject("DELETE", r"^/webhooks/\d+$", 503)
    result = await t.run_job({"round": 1})

    assert result.outcome == "done", result.reason
    assert fault.fired == 1
    game = await t.game()
    assert [p.balance for p in game.players.values()] == [50] * 3
    cards = t.cards()
    assert len(cards) == 1
    assert_cards_show(t, game, 1, cards)
    assert "Bad event!** (rolled 99 against 70%): everyone loses 🪙 50" in card_text(cards[0])
    fake.assert_no_violations()


async def test_a_retry_posts_only_the_cards_not_recorded_and_deletes_the_old_webhook(
    client: Client, fake: FakeDiscord, worker: Worker
) -> None:
    """As if an earlier attempt died after posting part 1 of 2: its webhook is still there."""
    t = await table(client, fake, players=40)
    ROLLS.queue.extend([10])
    game = await t.game()
    advanced, changed, result = apply_round(
        game.game, game.players, 1, 10, resolver="elsewhere", at=datetime.now(UTC)
    )
    # Post part 1 by hand, through a webhook left behind.
    async with rest_client("fake-bot-token", fake.base_url) as discord_client:
        data = await discord_client.http.create_webhook(t.channel, name=WEBHOOK_NAME)
        webhook = discord.Webhook.partial(int(data["id"]), str(data["token"]), client=discord_client)
        first = await webhook.send(view=build_cards(result, 3)[0], wait=True)
    post = PostRecord(channel_id=t.channel, webhook_id=webhook.id, message_ids=[first.id])
    result = result.model_copy(update={"post": post})
    ops = [TransactOp(key=player_key(pid), value=p.model_dump(mode="json")) for pid, p in changed.items()]
    ops += [
        TransactOp(key=round_key(1), value=result.model_dump(mode="json")),
        TransactOp(key=GAME_KEY, value=advanced.model_dump(mode="json")),
    ]
    await t.store.transact(ops)

    job = await t.run_job({"round": 1})
    assert job.outcome == "done", job.reason
    game = await t.game()
    cards = t.cards()
    assert len(cards) == 2 and cards[0].id == first.id
    assert_cards_show(t, game, 1, cards)
    assert ROLLS.queue == deque([10])  # nothing was rolled
    ROLLS.queue.clear()
    fake.assert_no_violations()


async def test_a_configured_zero_percent_stays_zero(
    client: Client, fake: FakeDiscord, worker: Worker
) -> None:
    settings = SafariSettings(good_percent={1: 0, 2: 100}, good_amount=7, bad_amount=3)
    t = await table(client, fake, players=2, settings=settings)
    ROLLS.queue.extend([0, 99])  # the luckiest roll in a 0% round, the unluckiest in a 100% one
    assert (await t.run_job({})).outcome == "done"
    assert (await t.run_job({})).outcome == "done"

    game = await t.game()
    assert [game.results[1].event, game.results[2].event] == ["bad", "good"]
    assert [game.results[1].good_percent, game.results[2].good_percent] == [0, 100]
    assert [p.balance for p in game.players.values()] == [100 - 3 + 7] * 2
    assert "(rolled 0 against 0%)" in card_text(t.cards()[0])
    fake.assert_no_violations()


async def test_resolving_the_last_round_ends_the_game(
    client: Client, fake: FakeDiscord, worker: Worker
) -> None:
    t = await table(client, fake, players=3, settings=SafariSettings(total_rounds=2, good_percent={1: 100}))
    ROLLS.queue.extend([0, 99])
    assert (await t.run_job({})).outcome == "done"
    await join(t.store, t.guild + 999, "late")  # joins for round 2 only
    last = await t.run_job({})
    assert last.outcome == "done"
    assert isinstance(last.action_result, dict) and last.action_result["game_over"] is True

    game = await t.game()
    assert game.over and game.current_round == 3
    assert [p.balance for p in game.players.values()] == [150, 150, 150, 50]
    final = card_text(t.cards()[-1])
    assert "round 2 of 2" in final
    assert f"🏁 **The Safari is over!** Winner: <@{t.guild + 100}> with 🪙 150." in final

    with pytest.raises(GameOver, match="nobody can join"):
        await join(t.store, t.guild + 1000)
    over = await t.run_job({})
    assert over.outcome == "failed"
    assert over.reason == "the Safari is over: all 2 rounds are resolved"
    assert len(t.cards()) == 2
    # The scheduler says so where the job was meant to post.
    notices = [m for m in fake.messages(t.channel) if m.webhook_id is None]
    assert len(notices) == 1 and "the Safari is over" in notices[0].content
    fake.assert_no_violations()


async def test_a_round_that_is_not_next_or_a_missing_game_fails_with_a_reason(
    client: Client, fake: FakeDiscord, worker: Worker
) -> None:
    t = await table(client, fake, players=1)
    result = await t.run_job({"round": 2})
    assert result.outcome == "failed"
    assert result.reason == "round 2 cannot be resolved yet: round 1 is next"

    empty = Table(client, fake, await safari_store(client, t.guild + 50, TASK_QUEUE), t.guild + 50)
    result = await empty.run_job({})
    assert result.outcome == "failed"
    assert result.reason == "there is no Safari in this server: nobody has joined yet"
    assert await load_game(t.store) is not None and (await t.game()).current_round == 1


async def test_300_simultaneous_joins_are_all_kept(
    server: DevServer, client: Client, fake: FakeDiscord, worker: Worker
) -> None:
    """300 players press Join at once from two processes (the bot's shards), a few twice: every
    join is kept exactly once, and none dies of the server's busy refusals."""
    t = await table(client, fake, players=0)
    other = await Client.connect(server.address, data_converter=client.data_converter)
    bot_side = await PersistentStore.create(other, t.store.name, TASK_QUEUE)
    players = list(range(t.guild + 100, t.guild + 400))
    outcomes = await asyncio.gather(
        *(join(bot_side if i % 2 else t.store, player, f"p{i}") for i, player in enumerate(players)),
        *(join(t.store, player) for player in players[:5]),  # double clicks
    )
    game = await t.game()
    assert sorted(game.players) == players
    assert sum(o.joined for o in outcomes) == len(players)
    assert all(p.balance == 100 and p.joined_round == 1 for p in game.players.values())


async def test_the_player_cap_is_exact_under_simultaneous_joins(
    client: Client, fake: FakeDiscord, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safari_client, "MAX_PLAYERS", 5)
    t = await table(client, fake, players=0)
    players = list(range(t.guild + 100, t.guild + 112))
    outcomes = await asyncio.gather(*(join(t.store, p) for p in players), return_exceptions=True)
    kept = [p for p, o in zip(players, outcomes, strict=True) if not isinstance(o, BaseException)]
    full = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(kept) == 5 and len(full) == 7
    assert all(isinstance(o, GameFull) and "at most 5 players" in str(o) for o in full)
    game = await t.game()
    assert sorted(game.players) == sorted(kept)
    assert len(await t.store.keys("player:")) == 5  # the refused took their places back
    ROLLS.queue.extend([10])
    assert (await t.run_job({"round": 1})).outcome == "done"
    assert [p.balance for p in (await t.game()).players.values()] == [200] * 5


async def test_1000_players_fit_20_rounds_in_one_store(
    client: Client, fake: FakeDiscord, worker: Worker
) -> None:
    """The size budget at its worst: the cap of players, 64-byte names, 12-digit balances, every
    round good (balances grow), each round with the post record of 28 cards."""
    settings = SafariSettings(
        total_rounds=20, good_percent=dict.fromkeys(range(1, 21), 100), good_amount=10**6
    )
    t = await table(client, fake, players=0, settings=settings)
    start = 999 * 10**9
    name = "n" * 62  # 64 bytes of JSON with its quotes
    players = {10**18 + i: Player(balance=start, name=name) for i in range(MAX_PLAYERS)}
    await t.store.transact(
        [TransactOp(key=player_key(pid), value=p.model_dump(mode="json")) for pid, p in players.items()]
    )
    async with rest_client("fake-bot-token", fake.base_url) as discord_client:
        safari = SafariActivities(discord_client, client, TASK_QUEUE, rng=ROLLS)
        for n in range(1, 21):
            _, result = await safari.resolve(t.store, n, f"job-{n}/run")
            assert result.round == n and len(result.before) == MAX_PLAYERS
            post = PostRecord(channel_id=t.channel, message_ids=[2**62 + i for i in range(28)], done=True)
            await safari._record(t.store, n, post)
    usage = await t.store.usage()
    assert usage.keys == 1 + MAX_PLAYERS + 20
    assert usage.bytes <= usage.limits.max_total_bytes
    game = await t.game()
    assert game.over and len(game.results) == 20
    assert {p.balance for p in game.players.values()} == {start + 20 * 10**6}
    assert game.results[20].changes[0] == PlayerChange(
        player_id=10**18, before=start + 19 * 10**6, after=start + 20 * 10**6
    )
    print(f"1,000 players, 20 rounds: {usage.bytes:,} bytes of {usage.limits.max_total_bytes:,}")


async def test_a_payment_racing_the_resolution_is_kept_and_the_round_applied_once(
    client: Client, fake: FakeDiscord, worker: Worker
) -> None:
    """A custom action pays a player between the resolver's reads and its transaction: the
    transaction conflicts, nothing of it is written, and the retry (same roll) applies the
    round to the paid balance."""
    t = await table(client, fake, players=2)
    paid = t.guild + 100
    real = t.store.transact
    raced = 0

    async def racing(ops: Any) -> Any:
        nonlocal raced
        if not raced:
            raced += 1
            await t.store.set(player_key(paid), Player(balance=1_100, name="paid").model_dump(mode="json"))
        return await real(ops)

    t.store.transact = racing  # type: ignore[method-assign]
    try:
        async with rest_client("fake-bot-token", fake.base_url) as discord_client:
            safari = SafariActivities(discord_client, client, TASK_QUEUE, rng=ROLLS)
            ROLLS.queue.extend([10, 95])  # good; a second draw would be bad
            _, result = await safari.resolve(t.store, 1, "job-race/run")
    finally:
        t.store.transact = real  # type: ignore[method-assign]
    assert raced == 1 and ROLLS.queue == deque([95])
    ROLLS.queue.clear()
    assert result.event == "good" and result.roll == 10
    game = await t.game()
    assert game.players[paid].balance == 1_200 and game.players[t.guild + 101].balance == 200
    assert game.results[1].before == {paid: 1_100, t.guild + 101: 100}
    assert game.current_round == 2


async def test_a_game_in_the_first_layout_is_read_then_moved_on_first_write(
    client: Client, fake: FakeDiscord, worker: Worker
) -> None:
    t = await table(client, fake, players=0)
    a, b = t.guild + 100, t.guild + 101
    legacy: JsonValue = {
        "guild_id": t.guild,
        "settings": {"total_rounds": 3, "good_percent": {}, "good_amount": 100, "bad_amount": 50,
                     "starting_balance": 100},
        "players": {str(a): {"balance": 200, "name": "a", "joined_round": 1},
                    str(b): {"balance": 200, "name": "b", "joined_round": 1}},
        "current_round": 2,
        "results": {"1": {
            "round": 1, "event": "good", "roll": 10, "good_percent": 70, "amount": 100,
            "resolved_at": "2026-03-01T12:00:00Z", "resolved_by": "job-x/run-1",
            "changes": [{"player_id": a, "before": 100, "after": 200},
                        {"player_id": b, "before": 100, "after": 200}],
            "post": {"channel_id": t.channel, "webhook_id": None, "message_ids": [1], "done": True},
        }},
    }  # fmt: skip
    await t.store.set(GAME_KEY, legacy)
    revision = (await t.store.usage()).revision

    game = await t.game()  # read as it is: nothing written
    assert game.current_round == 2 and {p: x.balance for p, x in game.players.items()} == {a: 200, b: 200}
    assert game.results[1].changes[1] == PlayerChange(player_id=b, before=100, after=200)
    assert (await t.store.usage()).revision == revision

    late = t.guild + 102
    assert (await join(t.store, late, "late")).joined  # the first write moves it
    assert sorted(await t.store.keys()) == sorted(
        [GAME_KEY, player_key(a), player_key(b), round_key(1), player_key(late)]
    )
    assert isinstance(stored := await t.store.get(GAME_KEY), dict) and "players" not in stored
    assert stored["current_round"] == 2

    ROLLS.queue.extend([99])  # round 2 is bad at 50%
    assert (await t.run_job({"round": 2})).outcome == "done"
    game = await t.game()
    assert {p: x.balance for p, x in game.players.items()} == {a: 150, b: 150, late: 50}
    assert game.results[1].roll == 10 and game.results[2].event == "bad"
    assert len(t.cards()) == 1
    fake.assert_no_violations()


async def test_a_query_refused_as_busy_is_sent_again(client: Client) -> None:
    """The server refuses queries past its buffer ("consistent query buffer is full")."""
    store = await PersistentStore.create(client, f"busy-{uuid.uuid4().hex[:8]}", TASK_QUEUE)
    await store.set("k", 1)
    real = store._handle.query
    refusals = 3

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal refusals
        if refusals:
            refusals -= 1
            raise RPCError("consistent query buffer is full", RPCStatusCode.RESOURCE_EXHAUSTED, b"")
        return await real(*args, **kwargs)

    store._handle.query = flaky  # type: ignore[method-assign]
    try:
        assert await store.get("k") == 1
    finally:
        store._handle.query = real  # type: ignore[method-assign]
    assert refusals == 0


# --- wiring and pure parts ------------------------------------------------------------------


async def test_the_worker_hosts_round_results_only_with_a_temporal_client(client: Client) -> None:
    async with rest_client(None) as discord_client:
        plain = {getattr(a, "__name__", "") for a in activities_for(discord_client)}
        full = activities_for(discord_client, client, TASK_QUEUE)
    assert "process_round_results" not in plain
    assert [a.__name__ for a in full if a.__name__ == "process_round_results"] == ["process_round_results"]
    spec = action_spec(PROCESS_ROUND_RESULTS)
    assert spec.local is False and spec.payload is RoundResultsPayload


async def test_settings_keep_zero_and_fall_back_only_when_unset() -> None:
    settings = SafariSettings(total_rounds=5, good_percent={2: 0})
    assert [settings.probability(r) for r in range(1, 6)] == [70, 0, 30, 30, 30]
    reloaded = SafariSettings.model_validate(settings.model_dump(mode="json"))  # JSON keys are strings
    assert reloaded.probability(2) == 0
    with pytest.raises(ValueError, match=r"101%, not 0\.\.100"):
        SafariSettings(good_percent={1: 101})


async def test_apply_round_is_pure_and_writes_only_changed_players() -> None:
    game = new_game(1)
    players = {10: Player(balance=100), 11: Player(balance=100)}
    at = datetime(2026, 3, 1, tzinfo=UTC)
    advanced, changed, result = apply_round(game, players, 1, 69, resolver="job/run", at=at)
    assert game.current_round == 1 and players[10].balance == 100  # the inputs are untouched
    assert result.event == "good" and advanced.current_round == 2
    assert result.changes == [
        PlayerChange(player_id=10, before=100, after=200),
        PlayerChange(player_id=11, before=100, after=200),
    ]
    assert {pid: p.balance for pid, p in changed.items()} == {10: 200, 11: 200}
    with pytest.raises(RoundNotNext):
        apply_round(advanced, players, 3, 0, resolver="x", at=at)
    broke = {5: Player(balance=0), 6: Player(balance=20)}
    _, changed, result = apply_round(
        new_game(2, SafariSettings(bad_amount=500)), broke, 1, 99, resolver="r", at=at
    )
    assert [c.after for c in result.changes] == [0, 0]  # never below zero
    assert list(changed) == [6]  # a balance already at 0 does not change: not written
    # The record keeps only the balances before; it reads back the same.
    assert RoundResult.model_validate(result.model_dump(mode="json")).changes == result.changes


async def test_cards_split_at_40_components_with_every_player_once() -> None:
    result = RoundResult(
        round=3, event="good", roll=1, good_percent=30, amount=100,
        resolved_at=datetime(2026, 3, 1, tzinfo=UTC), resolved_by="r",
        before={10**17 + i: 1_000_000 for i in range(100)},
    )  # fmt: skip
    changes = result.changes
    cards = build_cards(result, 3)
    assert len(cards) == 3
    seen: list[int] = []
    for card in cards:
        components = card.to_components()  # type: ignore[no-untyped-call]
        assert count_components(components) <= MAX_COMPONENTS
        assert card.content_length() <= MAX_TEXT
        seen += [int(m) for c in components for text in texts(c) for m in MENTION.findall(text)]
    winner = 10**17
    assert sorted(seen) == sorted([c.player_id for c in changes] + [winner])


async def test_a_retry_of_a_failed_round_posts_it_without_resolving_it_again(
    client: Client, fake: FakeDiscord, worker: Worker
) -> None:
    """The round resolved, then Discord refused its cards for good (the bot lost Manage
    Webhooks): the host's Retry posts the same numbers, and nobody is paid twice."""
    t = await table(client, fake, players=3)
    ROLLS.queue.extend([10, 95])  # good; a second resolution would roll 95 (bad)
    fault = fake.inject("POST", r"^/channels/\d+/webhooks$", 403, times=1, code=50013)
    job_id = await t.jobs.schedule(
        PROCESS_ROUND_RESULTS,
        {"round": 1},
        guild_id=t.guild,
        channel_id=t.channel,
        scheduled_by=HOST,
        delay=timedelta(0),
        description="Safari Round Results",
    )
    handle = client.get_workflow_handle(job_id, result_type=JobResult)
    failed = await handle.result()
    assert failed.outcome == "failed" and fault.fired == 1 and not t.cards()
    game = await t.game()
    assert [p.balance for p in game.players.values()] == [200] * 3  # resolved, paid

    first_run = (await handle.describe()).run_id
    await eventually_outcome(client, job_id, "failed")
    await retry_job(client, t.jobs, t.guild, job_suffix(job_id, t.guild), run_tag(first_run), by=HOST)
    retried = await client.get_workflow_handle(job_id, result_type=JobResult).result()

    assert retried.outcome == "done", retried.reason
    game = await t.game()
    assert [p.balance for p in game.players.values()] == [200] * 3  # still paid once
    assert game.current_round == 2 and game.results[1].roll == 10
    cards = t.cards()
    assert len(cards) == 1
    assert_cards_show(t, game, 1, cards)
    assert ROLLS.queue == deque([95])  # the retry did not roll
    ROLLS.queue.clear()
    fake.assert_no_violations()


async def eventually_outcome(client: Client, job_id: str, outcome: str) -> None:
    """Retry reads the run's outcome from its search attribute, which visibility shows soon after."""

    async def shown() -> bool:
        described = await client.get_workflow_handle(job_id).describe()
        return described.typed_search_attributes.get(sa.OUTCOME) == outcome

    await eventually(shown)
