"""Whispers through the bot, in process (simcord), on the time-skipping server: /whisper send,
the user select, the modal, the "Read Message" button across a bot restart, the card's Reply
button, unsend, and the per-guild switch."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import discord
import pytest
import simcord
from simcord import assert_responded
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.whispers import WhisperActivities
from clients.whispers import Whispers
from tests.support.bot_harness import World, answered, bot_env, last_reply
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
    read_custom_id,
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
    picker = answered(await sender.slash(w.channel, "whisper send"))
    assert_responded(picker, contains="Who do you want to whisper to?", ephemeral=True)
    assert picker.response is not None
    shown = answered(await sender.select(picker.response.message, [recipient]))
    assert shown.modal is not None and shown.modal["title"] == f"Whisper to {recipient.name}"
    sent = answered(await sender.submit_modal(shown, {"text": text}))
    assert_responded(sent, contains=f"Whisper sent to <@{recipient.id}>", ephemeral=True)
    reply = last_reply(sent)
    assert text not in reply.content
    [row] = reply.components
    custom_id = str(row["components"][0]["custom_id"])
    assert custom_id.startswith("whisper:unsend:")
    return custom_id.removeprefix("whisper:unsend:")


def notification_for(whisper_id: str) -> Any:
    def match(message: discord.Message) -> bool:
        return any(
            getattr(child, "custom_id", None) == read_custom_id(whisper_id)
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

    # The notification goes, and the sender hears it was opened.
    await eventually_gone(w, notice.id)
    assert [dm.content for dm in fake.dms] == [f"📬 <@{recipient.id}> opened your whisper."]

    # Reading again (the notification is gone by now, so through the facade) is marked as such.
    again = await Whispers(w.client, QUEUE, whisper_seal()).read(whisper_id, reader_id=recipient.id)
    assert again.already_read

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
