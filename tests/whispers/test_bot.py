"""Whispers through the bot, in process (simcord), on the time-skipping server: /whisper send,
the user select, the modal, the "Read Message" button across a bot restart, the card's Reply
button, unsend, and the per-guild switch."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import discord
import pytest
import simcord
from aiohttp.test_utils import TestClient, TestServer
from discord.http import handle_message_parameters
from simcord import assert_responded
from temporalio import activity
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from activities.whispers import WhisperActivities
from bot.cogs.whispers import PickRecipient, ReadButton, ReplyButton, UnsendButton
from bot.replies import WORKER_WAIT
from clients.whispers import Whispers
from components.whispers import READ_BUTTON
from stack.codec_server import create_app
from tests.support.bot_harness import World, answered, bot_env, last_reply
from tests.support.temporal import TEST_KEY
from tests.support.whispers import WHISPER_KEYS, whisper_seal
from worker import build_worker
from workflows.whispers_models import (
    DELETE_NOTIFICATION,
    DM_SENDER,
    EDIT_NOTIFICATION,
    POST_NOTIFICATION,
    NotificationEdit,
    NotificationInput,
    PostedNotification,
    SenderNotice,
    WhisperResult,
)

QUEUE = "bot-whispers"
SECRET = "psst: the golden idol is behind the waterfall"


class Discordish:
    """The real whisper activities, bound at call time to whichever bot is running, so the
    notification lands in simcord's channel (the worker's REST client would, in production)."""

    def __init__(self) -> None:
        self.world: World | None = None
        self.dms: list[SenderNotice] = []
        self.keep_notifications = False

    def _real(self) -> WhisperActivities:
        assert self.world is not None
        return WhisperActivities(self.world.bot)

    def activities(self) -> list[object]:
        @activity.defn(name=POST_NOTIFICATION)
        async def post(notice: NotificationInput) -> PostedNotification:
            return await self._real().post_notification(notice)

        @activity.defn(name=DELETE_NOTIFICATION)
        async def delete(posted: PostedNotification) -> bool:
            if self.keep_notifications:  # as if someone had deleted it already (a 404)
                return False
            return await self._real().delete_notification(posted)

        @activity.defn(name=EDIT_NOTIFICATION)
        async def edit(change: NotificationEdit) -> bool:
            return await self._real().edit_notification(change)

        @activity.defn(name=DM_SENDER)
        async def dm(notice: SenderNotice) -> None:
            self.dms.append(notice)

        return [post, delete, edit, dm]


@pytest.fixture
async def world(
    time_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[World, Discordish]]:
    # The bot reads its whisper key from the environment, as in production.
    monkeypatch.setenv("WHISPER_KEYS", WHISPER_KEYS)
    fake = Discordish()
    async with (
        build_worker(time_env.client, QUEUE, fake.activities()),
        bot_env(time_env.client, QUEUE) as w,
    ):
        fake.world = w
        yield w, fake


async def eventually_message(w: World, predicate: Any, timeout: float = 15.0) -> discord.Message:
    end = asyncio.get_running_loop().time() + timeout
    while True:
        for message in w.channel.history():
            if predicate(message):
                return message
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"no such message in {[m.content for m in w.channel.history()]}")
        await asyncio.sleep(0.05)


async def eventually_gone(w: World, message_id: int, timeout: float = 15.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while any(m.id == message_id for m in w.channel.history()):
        if asyncio.get_running_loop().time() > end:
            raise AssertionError("the notification was not removed")
        await asyncio.sleep(0.05)


async def send_whisper(
    w: World, sender: simcord.MemberActor, recipient: simcord.MemberActor, text: str
) -> str:
    """/whisper send -> user select -> modal -> "Whisper sent"; returns the whisper id."""
    return unsend_id(await send_whisper_reply(w, sender, recipient, text))


def unsend_id(reply: simcord.ResponseMessage) -> str:
    [row] = reply.components
    custom_id = str(row["components"][0]["custom_id"])
    assert custom_id.startswith("whisper:unsend:")
    return custom_id.removeprefix("whisper:unsend:")


async def send_whisper_reply(
    w: World, sender: simcord.MemberActor, recipient: simcord.MemberActor, text: str
) -> simcord.ResponseMessage:
    """As `send_whisper`; returns the sender's "Whisper sent" message (with its Unsend button)."""
    picker = answered(await sender.slash(w.channel, "whisper send"))
    assert_responded(picker, contains="Who do you want to whisper to?", ephemeral=True)
    assert picker.response is not None
    shown = answered(await sender.select(picker.response.message, [recipient]))
    assert shown.modal is not None and shown.modal["title"] == f"Whisper to {recipient.name}"
    sent = answered(await sender.submit_modal(shown, {"text": text}))
    assert_responded(sent, contains=f"Whisper sent to <@{recipient.id}>", ephemeral=True)
    reply = last_reply(sent)
    assert text not in reply.content
    return reply


def notification_for(whisper_id: str) -> Any:
    def match(message: discord.Message) -> bool:
        return any(
            getattr(child, "custom_id", None) == READ_BUTTON.build(whisper_id=whisper_id)
            for row in message.components
            for child in getattr(row, "children", [])
        )

    return match


async def test_send_read_across_a_restart_and_reply(world: tuple[World, Discordish]) -> None:
    w, fake = world
    sender, recipient, bystander = w.player, w.other_player, w.host

    whisper_id = await send_whisper(w, sender, recipient, SECRET)
    notice = await eventually_message(w, notification_for(whisper_id))
    assert notice.content == f"💬 <@{sender.id}> whispers to <@{recipient.id}>"
    assert SECRET not in notice.content

    await w.restart()  # a new bot process: the button still works (DynamicItem)

    refused = answered(await bystander.click(notice, label="Read Message"))
    assert_responded(refused, contains="This whisper is not for you.", ephemeral=True)
    assert SECRET not in last_reply(refused).content
    also_refused = answered(await sender.click(notice, label="Read Message"))
    assert_responded(also_refused, contains="This whisper is not for you.", ephemeral=True)

    opened = answered(await recipient.click(notice, label="Read Message"))
    card = last_reply(opened)
    assert card.ephemeral
    card_text = str(card.components)
    assert SECRET in card_text and f"<@{sender.id}>" in card_text and "Already read" not in card_text

    # The card's promise holds: the notification says it was read and keeps its Read Message
    # button, which opens it again (once the card was dismissed, nothing else would).
    assert "Read Message opens it again until <t:" in card_text
    kept = await eventually_message(w, lambda m: m.id == notice.id and "was read" in m.content)
    assert "can open it again until <t:" in kept.content
    again = answered(await recipient.click(kept, label="Read Message"))
    assert SECRET in str(last_reply(again).components) and "Already read" in str(last_reply(again).components)
    assert [dm.content for dm in fake.dms] == [f"📬 <@{recipient.id}> opened your whisper."]

    # Reply: the send modal, addressed to the original sender.
    shown = answered(await recipient.click(card.message, label="Reply"))
    assert shown.modal is not None and shown.modal["title"].startswith("Whisper to")
    back = answered(await recipient.submit_modal(shown, {"text": "thanks!"}))
    assert_responded(back, contains=f"Whisper sent to <@{sender.id}>", ephemeral=True)


async def test_reading_again_is_marked_and_after_24_hours_it_has_expired(
    world: tuple[World, Discordish], time_env: WorkflowEnvironment
) -> None:
    w, fake = world
    fake.keep_notifications = True  # so the button can be pressed again
    whisper_id = await send_whisper(w, w.player, w.other_player, SECRET)
    notice = await eventually_message(w, notification_for(whisper_id))

    first = answered(await w.other_player.click(notice, label="Read Message"))
    assert SECRET in str(last_reply(first).components)
    assert "Already read" not in str(last_reply(first).components)
    again = answered(await w.other_player.click(notice, label="Read Message"))
    assert SECRET in str(last_reply(again).components)
    assert "Already read" in str(last_reply(again).components)

    await time_env.sleep(timedelta(hours=24, minutes=1))
    outcome = await time_env.client.get_workflow_handle(whisper_id, result_type=WhisperResult).result()
    assert outcome.outcome == "read"
    late = answered(await w.other_player.click(notice, label="Read Message"))
    assert_responded(late, contains="This whisper has expired.", ephemeral=True)
    assert SECRET not in str(last_reply(late).components) + last_reply(late).content


async def test_the_sender_unsends(world: tuple[World, Discordish]) -> None:
    w, _ = world
    picker = answered(await w.player.slash(w.channel, "whisper send", to=w.other_player))
    assert picker.modal is not None
    sent = answered(await w.player.submit_modal(picker, {"text": SECRET}))
    reply = last_reply(sent)
    whisper_id = str(reply.components[0]["components"][0]["custom_id"]).removeprefix("whisper:unsend:")
    notice = await eventually_message(w, notification_for(whisper_id))

    await w.restart()
    undone = answered(await w.player.click(reply.message, label="Unsend"))
    assert undone.acknowledged
    edited = await eventually_message(w, lambda m: m.id == notice.id and "was unsent" in m.content)
    assert edited.components == []
    gone = await Whispers(w.client, QUEUE, whisper_seal()).status(whisper_id)
    assert gone.state == "cancelled"


async def test_whispering_to_yourself_or_a_bot_is_refused(world: tuple[World, Discordish]) -> None:
    w, _ = world
    me = answered(await w.player.slash(w.channel, "whisper send", to=w.player))
    assert me.modal is None
    assert_responded(me, contains="yourself", ephemeral=True)

    helper = w.guild.add_member(w.env.create_user("helper-bot", bot=True))
    named = answered(await w.player.slash(w.channel, "whisper send", to=helper))
    assert named.modal is None
    assert_responded(named, contains="Bots cannot read whispers.", ephemeral=True)
    picker = answered(await w.player.slash(w.channel, "whisper send"))
    assert picker.response is not None
    picked = answered(await w.player.select(picker.response.message, [helper]))
    assert picked.modal is None
    assert_responded(picked, contains="Bots cannot read whispers.", ephemeral=True)


async def test_a_host_switches_whispers_off_and_it_stays_off_after_a_restart(
    world: tuple[World, Discordish],
) -> None:
    w, _ = world
    refused = answered(await w.player.slash(w.channel, "whisper toggle"))
    assert_responded(refused, contains="Only a host", ephemeral=True)

    off = answered(await w.host.slash(w.channel, "whisper toggle", enabled=False))
    assert_responded(off, contains="switched off", ephemeral=True)
    await w.restart()
    blocked = answered(await w.player.slash(w.channel, "whisper send"))
    assert_responded(blocked, contains="switched off", ephemeral=True)
    assert answered(await w.player.slash(w.channel, "whisper send", to=w.other_player)).modal is None

    on = answered(await w.host.slash(w.channel, "whisper toggle"))
    assert_responded(on, contains="now **on**", ephemeral=True)
    assert answered(await w.player.slash(w.channel, "whisper send", to=w.other_player)).modal is not None


async def test_an_error_inside_the_read_button_is_answered(world: tuple[World, Discordish]) -> None:
    w, _ = world
    whisper_id = await send_whisper(w, w.player, w.other_player, SECRET)
    notice = await eventually_message(w, notification_for(whisper_id))
    cog = w.bot.get_cog("Whispers")
    assert cog is not None

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the Temporal frontend is down")

    cog.whispers.read = broken  # type: ignore[attr-defined]
    failed = answered(await w.other_player.click(notice, label="Read Message"))
    assert_responded(failed, contains="Something went wrong", ephemeral=True)


def history_payloads(history: WorkflowHistory) -> list[dict[str, Any]]:
    """Every payload of a history, in the codec server's JSON shape, as the Web UI posts them."""
    found: list[dict[str, Any]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "data" in node and "encoding" in (node.get("metadata") or {}):
                found.append({"metadata": node["metadata"], "data": node["data"]})
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(history.to_json()))
    return found


async def test_the_codec_server_shows_no_whisper_text_and_the_recipient_still_reads_it(
    world: tuple[World, Discordish], time_env: WorkflowEnvironment
) -> None:
    """The Web UI's view of a whisper's history, through the codec server with its token."""
    w, _ = world
    whisper_id = await send_whisper(w, w.player, w.other_player, SECRET)
    notice = await eventually_message(w, notification_for(whisper_id))
    opened = answered(await w.other_player.click(notice, label="Read Message"))
    assert SECRET in str(last_reply(opened).components)  # the recipient reads it through the bot

    history = await time_env.client.get_workflow_handle(whisper_id).fetch_history()
    payloads = history_payloads(history)
    token = "whispers-codec-token"
    async with TestClient(TestServer(create_app([TEST_KEY], token))) as http:
        reply = await http.post(
            "/decode", json={"payloads": payloads}, headers={"Authorization": f"Bearer {token}"}
        )
        assert reply.status == 200
        decoded = [
            base64.b64decode(p.get("data", "")).decode(errors="replace")
            for p in (await reply.json())["payloads"]
        ]
    # The codec server did open them (the input is there, ids in plain view) ...
    [spec] = [json.loads(text) for text in decoded if '"sealed_text"' in text and '"channel_id"' in text]
    assert spec["recipient_id"] == str(w.other_player.id)
    assert any('"sealed_text"' in text and '"first_read_at"' in text for text in decoded)  # the read
    # ... and the text is in none of them.
    assert all(SECRET not in text and "golden idol" not in text for text in decoded)


async def test_without_a_whisper_key_the_bot_says_so_and_sends_nothing(
    world: tuple[World, Discordish], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    w, _ = world
    sealed_id = await send_whisper(w, w.player, w.other_player, SECRET)
    notice = await eventually_message(w, notification_for(sealed_id))
    shown = answered(await w.player.slash(w.channel, "whisper send", to=w.other_player))
    assert shown.modal is not None  # opened while the bot still had the key

    monkeypatch.delenv("WHISPER_KEYS")
    with caplog.at_level(logging.WARNING, logger="bot.whispers"):
        await w.restart()
    assert any("WHISPER_KEYS is not set" in r.getMessage() for r in caplog.records)

    for refused in (
        answered(await w.player.slash(w.channel, "whisper send")),
        answered(await w.player.slash(w.channel, "whisper send", to=w.other_player)),
    ):
        assert refused.modal is None
        assert_responded(refused, contains="no whisper key (WHISPER_KEYS)", ephemeral=True)
    late = answered(await w.player.submit_modal(shown, {"text": "never sent"}))
    assert_responded(late, contains="Nothing was sent: Whispers are not set up", ephemeral=True)
    # A whisper sealed earlier cannot be opened by this bot: it says why, and shows no text.
    unread = answered(await w.other_player.click(notice, label="Read Message"))
    assert "no whisper key" in last_reply(unread).content
    assert SECRET not in str(last_reply(unread).components) + last_reply(unread).content
    assert [m for m in w.channel.history() if "whispers to" in m.content] == [notice]


async def test_every_interaction_is_answered_in_a_dm_too(world: tuple[World, Discordish]) -> None:
    """The commands are not offered in DMs; the whisper buttons, pressed in a DM, are answered."""
    w, _ = world
    for user in (w.player.user, w.other_player.user):
        offered = user.available_commands()
        assert not any(name.startswith("whisper") for name in offered), offered
    whisper_id = await send_whisper(w, w.player, w.other_player, SECRET)
    await eventually_message(w, notification_for(whisper_id))

    # The same buttons the bot posts in the server, put in each user's DM with the bot.
    async def dm_with(user: simcord.UserHandle, *items: discord.ui.Item[Any]) -> discord.Message:
        view = discord.ui.View(timeout=None)
        for item in items:
            view.add_item(item)
        # Posted the raw way, as the worker posts them: only the bot's DynamicItems answer them.
        channel = await (await w.bot.fetch_user(user.id)).create_dm()
        params = handle_message_parameters(content="whisper buttons", view=view)
        with params:
            await w.bot.http.send_message(channel.id, params=params)
        message = user.dm_channel.last_message
        assert message is not None
        return message

    recipient_dm = await dm_with(w.other_player.user, ReadButton(whisper_id), ReplyButton(w.player.id))
    sender_dm = await dm_with(w.player.user, PickRecipient(), UnsendButton(whisper_id))

    reply = answered(await w.other_player.user.click(recipient_dm, label="Reply"))
    assert reply.modal is None
    assert_responded(reply, contains="only works inside a server", ephemeral=True)
    picked = answered(await w.player.user.select(sender_dm, [w.other_player.user]))
    assert_responded(picked, contains="only works inside a server", ephemeral=True)
    read = answered(await w.other_player.user.click(recipient_dm, label="Read Message"))
    assert SECRET in str(last_reply(read).components)  # only the recipient, wherever they press it
    unsend = answered(await w.player.user.click(sender_dm, label="Unsend"))
    assert "already been read" in last_reply(unsend).content


async def test_with_no_worker_running_read_unsend_and_toggle_are_answered(
    time_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHISPER_KEYS", WHISPER_KEYS)
    fake = Discordish()
    async with bot_env(time_env.client, QUEUE) as w:
        fake.world = w
        async with build_worker(time_env.client, QUEUE, fake.activities()):
            sent = await send_whisper_reply(w, w.player, w.other_player, SECRET)
            notice = await eventually_message(w, notification_for(unsend_id(sent)))
        # The worker is gone: each update waits for one, and the user is told in time.
        cog: Any = w.bot.get_cog("Whispers")  # the extension's own class (loaded afresh per bot)
        assert cog is not None
        bounded = cog.in_time

        async def waits_on_temporal(call: Awaitable[Any]) -> Any:
            # simcord runs the bot's timers on its own clock and waits for the bot to be idle
            # before moving it: declaring the wait on Temporal lets the clock (and the bot's
            # deadline) move on while the update still waits for a worker.
            update = w.env.external_wait(call, reason="the update waits for a worker")
            return await w.env.external_wait(bounded(update), reason="the bot waits, up to its deadline")

        cog.in_time = waits_on_temporal
        presses: list[Callable[[], Awaitable[simcord.InteractionResult]]] = [
            lambda: w.other_player.click(notice, label="Read Message"),
            lambda: w.player.click(sent.message, label="Unsend"),
            lambda: w.host.slash(w.channel, "whisper toggle", enabled=False),
        ]
        for press in presses:
            result = answered(await press())
            assert result.followups == []  # acknowledged at once; the update waits
            await w.env.advance_time(WORKER_WAIT + 1)
            assert "has not answered yet" in last_reply(result).content
            assert SECRET not in str(last_reply(result).components)


@pytest.mark.parametrize("where", ["another server's channel", "a channel that does not exist"])
async def test_a_whisper_to_a_channel_outside_its_server_posts_nothing_and_tells_the_sender(
    world: tuple[World, Discordish], time_env: WorkflowEnvironment, where: str
) -> None:
    """A client's caller may name any channel: the worker asks Discord before posting."""
    w, fake = world
    elsewhere = w.env.create_guild("Elsewhere").create_text_channel("lobby")
    channel_id = elsewhere.id if where == "another server's channel" else 987_654_321_012_345_678
    whisper_id = await Whispers(time_env.client, QUEUE, whisper_seal()).send(
        guild_id=w.guild.id,
        channel_id=channel_id,
        sender_id=w.player.id,
        recipient_id=w.other_player.id,
        text=SECRET,
    )
    outcome = await time_env.client.get_workflow_handle(whisper_id, result_type=WhisperResult).result()
    assert outcome.outcome == "failed"
    assert outcome.reason == f"channel {channel_id} is not a channel of this server, so nothing was posted"
    assert elsewhere.history() == [] and w.channel.history() == []
    [dm] = fake.dms
    assert "could not be delivered" in dm.content and "not a channel of this server" in dm.content
