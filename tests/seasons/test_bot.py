"""Seasons through the bot, in process (simcord), on the time-skipping server, with the real
season activities posting through the bot's own connection (as the worker's REST client would):
create, join by button and by command, claim from the DM button and by command, submit a
writing and a drawing from the modal and by command, and the finished games posted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import discord
import pytest
import simcord
from simcord import assert_responded
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.guild_checks import GuildChecks
from activities.jobs import JobsActivities
from activities.seasons import SeasonActivities
from bot.cogs.seasons import game_line
from clients.seasons import Seasons
from tests.support.bot_harness import World, answered, bot_env, last_reply, unix_times
from tests.support.temporal import eventually
from worker import build_worker
from workflows.common import EDIT_ANNOUNCEMENT, AnnouncementEdit
from workflows.guild_checks import CHECK_GUILD, GuildFacts, GuildQuery
from workflows.seasons import SeasonWorkflow
from workflows.seasons_models import (
    DM_OFFER,
    DM_PLAYER,
    EDIT_OFFER,
    POST_CHANNEL,
    POST_GAME,
    ChannelPost,
    GameCard,
    GameRecord,
    OfferEdit,
    OfferInput,
    OfferMessage,
    PlayerMessage,
    SeasonResult,
    Step,
    Submission,
    season_id_for,
)
from workflows.seasons_turns import TurnWorkflow
from workflows.times import wall_clock

QUEUE = "bot-seasons"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


class Discordish:
    """The real season activities, bound at call time to the running bot."""

    def __init__(self) -> None:
        self.world: World | None = None
        # As if the worker's edits had not reached Discord: stale buttons stay clickable.
        self.keep_buttons = False

    def _real(self) -> SeasonActivities:
        assert self.world is not None
        return SeasonActivities(self.world.bot)

    def activities(self) -> list[object]:
        @activity.defn(name=DM_OFFER)
        async def dm_offer(offer: OfferInput) -> OfferMessage:
            return await self._real().dm_offer(offer)

        @activity.defn(name=EDIT_OFFER)
        async def edit_offer(edit: OfferEdit) -> bool:
            return False if self.keep_buttons else await self._real().edit_offer(edit)

        @activity.defn(name=DM_PLAYER)
        async def dm_player(message: PlayerMessage) -> None:
            await self._real().dm_player(message)

        @activity.defn(name=POST_CHANNEL)
        async def post_channel(post: ChannelPost) -> None:
            await self._real().post_channel(post)

        @activity.defn(name=POST_GAME)
        async def post_game(card: GameCard) -> int:
            return await self._real().post_game(card)

        @activity.defn(name=EDIT_ANNOUNCEMENT)
        async def edit_announcement(edit: AnnouncementEdit) -> bool:
            assert self.world is not None
            return await JobsActivities(self.world.bot).edit_announcement(edit)

        @activity.defn(name=CHECK_GUILD)
        async def check_guild(query: GuildQuery) -> GuildFacts:
            assert self.world is not None
            return await GuildChecks(self.world.bot).check_guild(query)

        return [dm_offer, edit_offer, dm_player, post_channel, post_game, edit_announcement, check_guild]


@pytest.fixture
async def world(time_env: WorkflowEnvironment) -> AsyncIterator[tuple[World, Discordish]]:
    fake = Discordish()
    async with (
        build_worker(time_env.client, QUEUE, fake.activities(), workflows=[SeasonWorkflow, TurnWorkflow]),
        bot_env(time_env.client, QUEUE) as w,
    ):
        fake.world = w
        yield w, fake


def buttons(message: discord.Message) -> list[str]:
    return [
        str(getattr(child, "label", ""))
        for row in message.components
        for child in getattr(row, "children", [row])
        if getattr(child, "custom_id", None)
    ]


async def eventually_dm(
    who: simcord.MemberActor, predicate: Callable[[discord.Message], bool], timeout: float = 15.0
) -> discord.Message:
    end = asyncio.get_running_loop().time() + timeout
    while True:
        for message in reversed(who.user.dm_channel.history()):
            if predicate(message):
                return message
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"no such DM in {[m.content for m in who.user.dm_channel.history()]}")
        await asyncio.sleep(0.05)


def offer_for(game: int) -> Callable[[discord.Message], bool]:
    return lambda message: f"Game {game} has" in message.content and "Claim" in buttons(message)


def buttons_of(message: simcord.ResponseMessage) -> list[str]:
    """The buttons' labels on a message the bot answered with."""

    def labels(components: list[dict[str, Any]]) -> list[str]:
        found: list[str] = []
        for component in components:
            if component.get("type") == 2:
                found.append(str(component.get("label", "")))
            found += labels(component.get("components") or [])
        return found

    return labels(message.components)


def card_text(result: simcord.InteractionResult) -> str:
    return str(last_reply(result).components)


async def test_a_season_played_through_the_bot(
    world: tuple[World, Discordish], time_env: WorkflowEnvironment
) -> None:
    w, _ = world
    refused = answered(await w.player.slash(w.channel, "season create"))
    assert_responded(refused, contains="Only a host", ephemeral=True)
    opened = answered(await w.host.slash(w.channel, "season create", min_players=2, max_players=2))
    assert opened.response is not None and "opened a season" in opened.response.content
    assert "<t:" in opened.response.content and not opened.response.ephemeral

    joined = answered(await w.player.click(opened.response.message, label="Join"))
    assert_responded(joined, contains="You joined: 1 of 2 players", ephemeral=True)
    again = answered(await w.player.slash(w.channel, "season join"))
    assert_responded(again, contains="already joined", ephemeral=True)
    full = answered(await w.other_player.slash(w.channel, "season join"))
    assert_responded(full, contains="the season is full and starts now", ephemeral=True)

    # Writing turns: the player claims from the DM button and writes in the modal.
    offer = await eventually_dm(w.player, offer_for(1))
    assert "writing" in offer.content and "<t:" in offer.content
    await w.restart()  # a new bot process: the worker's DM buttons still work (DynamicItem)
    claimed = answered(await w.player.user.click(offer, label="Claim"))
    assert "starts with you" in card_text(claimed)
    # Claimed: the DM's Claim button gives way to Submit; claiming again by command is refused.
    await eventually_dm(w.player, lambda m: m.id == offer.id and buttons(m) == ["Submit writing"])
    twice = answered(await w.player.slash(w.channel, "season claim"))
    assert_responded(twice, contains="You already claimed this turn.", ephemeral=True)
    shown = answered(await w.player.user.click(last_reply(claimed).message, label="Submit writing"))
    assert shown.modal is not None
    sent = answered(await w.player.user.submit_modal(shown, {"text": "a giraffe rides a bicycle"}))
    # The claim card becomes the answer and gives up its Submit button (before, it kept it).
    assert not sent.followups and "Your writing for game 1 is in" in card_text(claimed)
    assert buttons_of(last_reply(claimed)) == [] and last_reply(claimed).ephemeral

    # The other player claims and writes by command in the server.
    by_command = answered(await w.other_player.slash(w.channel, "season claim"))
    assert "starts with you" in card_text(by_command)
    wrong = answered(await w.other_player.slash(w.channel, "season submit", drawing=("x.png", PNG)))
    assert_responded(wrong, contains="writing turn", ephemeral=True)
    wrote = answered(await w.other_player.slash(w.channel, "season submit", text="an octopus bakes bread"))
    assert_responded(wrote, contains="Your writing for game 2 is in", ephemeral=True)

    # Drawing turns: each sees the other's sentence.
    draw_offer = await eventually_dm(w.player, offer_for(2))
    assert "drawing" in draw_offer.content
    claim2 = answered(await w.player.user.click(draw_offer, label="Claim"))
    assert "Draw this" in card_text(claim2) and "an octopus bakes bread" in card_text(claim2)
    # The offer DM now carries the Submit button too (posted by the worker).
    edited = await eventually_dm(w.player, lambda m: m.id == draw_offer.id and "Submit drawing" in buttons(m))
    upload = answered(await w.player.user.click(edited, label="Submit drawing"))
    assert upload.modal is not None
    drew = answered(await w.player.user.submit_modal(upload, {"image": [("octopus.png", PNG)]}))
    assert_responded(drew, contains="Your drawing for game 2 is in", ephemeral=True)

    claim3 = answered(await w.other_player.slash(w.channel, "season claim"))
    assert "a giraffe rides a bicycle" in card_text(claim3)
    not_image = answered(
        await w.other_player.slash(w.channel, "season submit", drawing=("notes.txt", b"just words"))
    )
    assert_responded(not_image, contains="not an image", ephemeral=True)
    drew2 = answered(await w.other_player.slash(w.channel, "season submit", drawing=("giraffe.png", PNG)))
    assert_responded(drew2, contains="Your drawing for game 1 is in", ephemeral=True)

    # Every game has been through both players: the season posts them, every step in order.
    handle = time_env.client.get_workflow_handle(season_id_for(w.guild.id), result_type=SeasonResult)
    result = await handle.result()
    assert result.outcome == "completed"

    def posted() -> list[discord.Message]:
        return [m for m in w.channel.history() if m.author.id == w.bot.user.id and m.components]  # type: ignore[union-attr]

    end = asyncio.get_running_loop().time() + 15
    while len([m for m in posted() if "Game" in str(m.components)]) < 2:
        assert asyncio.get_running_loop().time() < end, "the finished games were not posted"
        await asyncio.sleep(0.05)
    cards = [str(m.components) for m in posted() if "📜 Game" in str(m.components)]
    game1 = next(card for card in cards if "Game 1," in card)
    assert game1.index("a giraffe rides a bicycle") < game1.index("giraffe.png")
    assert any("season is over" in m.content for m in w.channel.history())


async def test_a_stale_claim_button_is_answered_too_late(
    world: tuple[World, Discordish], time_env: WorkflowEnvironment
) -> None:
    w, fake = world
    fake.keep_buttons = True
    bad = answered(await w.host.slash(w.channel, "season create", claim_timeout="1h", claim_warning="1h"))
    assert_responded(
        bad, contains="the claim warning (1h) must come before the claim timeout (1h)", ephemeral=True
    )
    opened = answered(
        await w.host.slash(w.channel, "season create", min_players=2, max_players=2, claim_timeout="2h")
    )
    assert opened.response is not None and "opened a season" in opened.response.content
    answered(await w.player.slash(w.channel, "season join"))
    answered(await w.other_player.slash(w.channel, "season join"))
    offer = await eventually_dm(w.player, offer_for(1))
    await time_env.sleep(timedelta(hours=2, minutes=1))
    late = answered(await w.player.user.click(offer, label="Claim"))
    assert_responded(late, contains="Too late", ephemeral=True)
    ended = answered(await w.host.slash(w.channel, "season end", reason="testing"))
    assert_responded(ended, contains="ending", ephemeral=True)


@pytest.mark.wall_clock
async def test_a_closing_time_in_a_named_zone_is_shown_as_that_instant(
    world: tuple[World, Discordish],
) -> None:
    w, _ = world
    before = datetime.now(UTC)
    opened = answered(
        await w.host.slash(w.channel, "season create", closes_at="Friday 18:00", timezone="Europe/Paris")
    )
    after = datetime.now(UTC)
    assert opened.response is not None
    expected = {wall_clock("Friday 18:00", "Europe/Paris", moment) for moment in (before, after)}
    assert any(f"<t:{int(moment.timestamp())}:F>" in opened.response.content for moment in expected)
    unknown = answered(
        await w.host.slash(w.channel, "season create", closes_at="Friday 18:00", timezone="Paris")
    )
    assert_responded(unknown, contains="not a time zone", ephemeral=True)
    status = answered(await w.player.slash(w.channel, "season status"))
    assert_responded(status, contains="Season: open", ephemeral=True)
    nothing = answered(await w.player.slash(w.channel, "season claim"))
    assert_responded(nothing, contains="no turn waiting", ephemeral=True)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"claim_timeout": "99999999999d"}, "“99999999999d” is too long: at most 60 days"),
        ({"open_for": "\u0667d"}, "write its numbers with the digits 0 to 9"),
        ({"closes_at": "0001-01-01 00:00", "timezone": "Europe/Paris"}, "give a year from 2000 to 2100"),
        ({"closes_at": "9999-12-31 23:59", "timezone": "America/New_York"}, "give a year from 2000 to 2100"),
    ],
)
async def test_times_that_used_to_crash_are_refused_and_nothing_starts(
    world: tuple[World, Discordish], options: dict[str, str], says: str
) -> None:
    w, _ = world
    refused = answered(await w.host.slash(w.channel, "season create", **options))
    assert_responded(refused, contains=says, ephemeral=True)
    nothing = answered(await w.player.slash(w.channel, "season status"))
    assert_responded(nothing, contains="no season running", ephemeral=True)


async def test_a_guild_default_that_used_to_crash_is_refused(world: tuple[World, Discordish]) -> None:
    w, _ = world
    refused = answered(await w.host.slash(w.channel, "season defaults", claim_timeout="99999999999d"))
    assert_responded(refused, contains="“99999999999d” is too long: at most 60 days", ephemeral=True)
    shown = answered(await w.player.slash(w.channel, "season defaults"))
    assert_responded(shown, contains="claim within 1d", ephemeral=True)


async def test_a_season_whose_channel_the_bot_cannot_post_in_is_refused(
    world: tuple[World, Discordish],
) -> None:
    w, _ = world
    assert w.bot.user is not None
    closed = w.guild.create_text_channel(
        "read-only", overwrites={w.bot.user: discord.PermissionOverwrite(send_messages=False)}
    )
    refused = answered(await w.host.slash(w.channel, "season create", channel=closed))
    assert_responded(refused, contains=f"I cannot post in <#{closed.id}>", ephemeral=True)
    nothing = answered(await w.player.slash(w.channel, "season status"))
    assert_responded(nothing, contains="no season running", ephemeral=True)


async def eventually_channel(w: World, predicate: Callable[[discord.Message], bool]) -> discord.Message:
    end = asyncio.get_running_loop().time() + 15
    while True:
        for message in reversed(w.channel.history()):
            if predicate(message):
                return message
        assert asyncio.get_running_loop().time() < end, [m.content for m in w.channel.history()]
        await asyncio.sleep(0.05)


async def test_short_timers_in_one_command_a_start_post_and_turns_from_the_dm(
    world: tuple[World, Discordish], time_env: WorkflowEnvironment
) -> None:
    """What a new host and players tripped over: short timers took three tries (the default
    1-hour warning refused a shorter claim timeout, and only `/season defaults` could change it);
    nothing said the season had started (the opening post still invited players to join); and
    `/season claim` and `submit` were unknown in the DM where the turn's buttons are."""
    w, _ = world
    opened = answered(
        await w.host.slash(
            w.channel,
            "season create",
            min_players=2,
            max_players=2,
            claim_timeout="10m",
            writing_timeout="4m",
            drawing_timeout="6m",
            drawing_warning="1m",
        )
    )
    assert opened.response is not None and "opened a season" in opened.response.content
    rules = opened.response.content
    assert "claim within 10m (warned 2m30s before)" in rules and "writing 4m (warned 1m before)" in rules
    assert "drawing 6m (warned 1m before)" in rules
    opening = opened.response.message
    answered(await w.player.click(opening, label="Join"))
    answered(await w.other_player.slash(w.channel, "season join"))

    # The season says it started, and its opening post stops inviting players.
    started = await eventually_channel(w, lambda m: "The season has started" in m.content)
    assert "2 players" in started.content
    edited = await eventually_channel(w, lambda m: m.id == opening.id and "started" in m.content)
    assert "joining is closed" in edited.content and buttons(edited) == []

    # Claimed and handed in from the DM, by command, where the offer's buttons are.
    await eventually_dm(w.player, offer_for(1))
    claimed = answered(await w.player.user.slash("season claim"))
    assert "starts with you" in card_text(claimed) and last_reply(claimed).ephemeral
    sent = answered(await w.player.user.slash("season submit", text="a cat plays chess"))
    assert_responded(sent, contains="Your writing for game 1 is in", ephemeral=True)

    # Once the season has taken the step, nothing waits for them; the other commands say they
    # need a server.
    async def taken() -> bool:
        status = answered(await w.host.slash(w.channel, "season status"))
        return "Game 1: 1 step so far" in last_reply(status).content

    await eventually(taken)
    status = last_reply(answered(await w.host.slash(w.channel, "season status"))).content
    assert "2 players" in status and "1 steps" not in status
    none = answered(await w.player.user.slash("season claim"))
    assert "no turn waiting for you" in last_reply(none).content
    elsewhere = answered(await w.player.user.slash("season status"))
    assert last_reply(elsewhere).content == "This only works inside a server."


def test_a_games_count_reads_right() -> None:
    """Once "Game 1: 0 steps, complete" and "1 steps"."""
    step = Step(position=0, player_id=1, submission=Submission(kind="writing", text="hi"), submitted_at=NOW)
    assert game_line(GameRecord(game=0, starter_id=1, complete=True)) == (
        "Game 1: over with no steps (every turn of it lapsed)"
    )
    assert (
        game_line(GameRecord(game=1, starter_id=1, steps=[step], complete=True)) == "Game 2: complete, 1 step"
    )
    assert game_line(GameRecord(game=2, starter_id=1, steps=[step, step], active_player=7)) == (
        "Game 3: 2 steps so far, <@7>'s turn"
    )
    assert game_line(GameRecord(game=3, starter_id=1)) == "Game 4: 0 steps so far, waiting for a free player"


async def test_a_host_moves_the_closing_time_and_a_player_is_refused(world: tuple[World, Discordish]) -> None:
    w, _ = world
    opened = answered(await w.host.slash(w.channel, "season create", open_for="2d"))
    refused = answered(await w.player.slash(w.channel, "season move-close", by="+1d"))
    assert_responded(refused, contains="Only a host", ephemeral=True)
    before = (await Seasons(w.client, w.task_queue).status(w.guild.id)).open_until
    moved = last_reply(answered(await w.host.slash(w.channel, "season move-close", by="+1d")))
    assert moved.ephemeral and "Joining now closes <t:" in moved.content
    bad = last_reply(answered(await w.host.slash(w.channel, "season move-close", by="-5d")))
    assert "which has passed" in bad.content
    assert unix_times(moved.content)[0] == int((before + timedelta(days=1)).timestamp())
    # Everyone reads the new time on the opening post, whose Join button still works.
    assert opened.response is not None
    post = opened.response.message
    new_stamp = f"<t:{int((before + timedelta(days=1)).timestamp())}:F>"
    channel = w.bot.get_channel(w.channel.id)
    assert isinstance(channel, discord.TextChannel)

    async def corrected() -> bool:
        message = await channel.fetch_message(post.id)
        return new_stamp in message.content and buttons(message) == ["Join"]

    await eventually(corrected)
    joined = answered(await w.player.click(post, label="Join"))
    assert_responded(joined, contains="You joined", ephemeral=True)


async def test_a_host_extends_and_skips_a_players_turn_and_a_player_may_not(
    world: tuple[World, Discordish],
) -> None:
    w, _ = world
    opened = answered(await w.host.slash(w.channel, "season create", min_players=2, max_players=2))
    assert opened.response is not None
    answered(await w.player.slash(w.channel, "season join"))
    answered(await w.other_player.slash(w.channel, "season join"))
    offer = await eventually_dm(w.player, offer_for(1))

    refused = answered(await w.other_player.slash(w.channel, "season extend", player=w.player, by="1h"))
    assert_responded(refused, contains="Only a host", ephemeral=True)
    refused = answered(await w.other_player.slash(w.channel, "season skip-player", player=w.player))
    assert_responded(refused, contains="Only a host", ephemeral=True)

    facade = Seasons(w.client, w.task_queue)
    turn = await facade.player_turn(w.guild.id, w.player.id)
    handle = w.client.get_workflow_handle_for(TurnWorkflow.run, turn.turn_id)
    before = (await handle.query(TurnWorkflow.status)).claim_by
    assert before is not None
    extended = last_reply(answered(await w.host.slash(w.channel, "season extend", player=w.player, by="2h")))
    assert extended.ephemeral and "to claim their turn" in extended.content
    assert unix_times(extended.content)[0] == int((before + timedelta(hours=2)).timestamp())
    # The player's offer DM now says the new deadline, and its Claim button still works.
    new_stamp = f"<t:{int((before + timedelta(hours=2)).timestamp())}"
    edited = await eventually_dm(w.player, lambda m: m.id == offer.id and new_stamp in m.content)
    assert "more time" in edited.content and buttons(edited) == ["Claim"]

    skipped = last_reply(answered(await w.host.slash(w.channel, "season skip-player", player=w.player)))
    assert "Skipped" in skipped.content and w.player.mention in skipped.content
    await eventually_dm(w.player, lambda m: m.id == offer.id and "A host skipped" in m.content)
