"""End to end: the real dev server, `python worker.py`, and the fake Discord (which validates every
request against Discord's OpenAPI document). A scheduled Custom Action posts through a temporary
webhook, deleted afterwards; a gone channel ends the job with Discord's reason and a notice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from clients.custom_actions import CustomActions
from clients.store import PersistentStore
from tests.support.stack import CHANNEL, GUILD, Stack
from workflows.custom_actions_models import CardOutcome, CurrencyOutcome, TextOutcome
from workflows.jobs_models import JobResult
from workflows.safari_engine import player_key, store_name

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST, PLAYER = 7003, 7004
# Each test's worker has a queue of its own, and a guild's store workflows stay on the queue they
# started on: the second test uses a guild of its own.
OTHER_GUILD, OTHER_CHANNEL = 7101, 7102
V2 = 1 << 15


async def finished(stack: Stack, job_id: str) -> JobResult:
    handle = stack.client.get_workflow_handle(job_id, result_type=JobResult)
    return await asyncio.wait_for(handle.result(), timeout=60)


async def test_a_scheduled_card_is_posted_through_a_webhook_that_is_then_deleted(stack: Stack) -> None:
    actions = CustomActions(stack.client, stack.task_queue)
    safari = await PersistentStore.create(stack.client, store_name(GUILD), stack.task_queue)
    await safari.set(player_key(PLAYER), {"balance": 40, "name": "player", "joined_round": 1})
    created = await actions.create(GUILD, "Treasure Hunt", by=HOST)
    outcomes = [
        TextOutcome(text="The map leads to a cave."),
        CardOutcome(title="A chest!", body="Full of coins.", colour=0xF1C40F),
        CurrencyOutcome(amount=25),
    ]
    definition = await actions.edit(GUILD, created.id, lambda d: d.model_copy(update={"outcomes": outcomes}))
    # Scheduled for the player: the post names, and may ping, only them.
    task = await actions.schedule(
        definition, guild_id=GUILD, channel_id=CHANNEL, by=PLAYER, delay=timedelta(seconds=3)
    )
    result = await finished(stack, task.job_id)

    assert result.outcome == "done", result.reason
    [webhook] = stack.discord.webhooks()
    assert webhook.name == "Treasure Hunt" and webhook.channel_id == CHANNEL and webhook.deleted
    [post] = stack.discord.messages()
    assert post.webhook_id == webhook.id and post.channel_id == CHANNEL
    assert post.flags & V2 and post.content == ""
    header = post.components[0]
    assert header["type"] == 10  # a text display: the first line
    assert header["content"] == f"⏰ <@{PLAYER}>'s scheduled action **Treasure Hunt**"
    shown = str(post.components)
    assert "The map leads to a cave." in shown and "### A chest!" in shown
    assert "gained 25 (balance 40 → **65**)" in shown
    assert (await safari.get(player_key(PLAYER))) == {"balance": 65, "name": "player", "joined_round": 1}
    [execute] = stack.discord.requests("POST", r"^/webhooks/\d+/[^/]+$")
    assert execute.query.get("wait") in ("1", "true"), execute.query
    assert execute.query.get("with_components") in ("1", "true"), execute.query
    assert execute.json is not None
    mentions = execute.json["allowed_mentions"]
    assert [int(user) for user in mentions["users"]] == [PLAYER] and mentions["parse"] == []
    assert [r.status for r in stack.discord.requests("DELETE", r"^/webhooks/\d+")] == [204]
    stack.discord.assert_no_violations()


async def test_a_plain_result_is_content_and_a_gone_channel_fails_with_discords_reason(stack: Stack) -> None:
    stack.discord.add_channel(OTHER_CHANNEL, OTHER_GUILD)
    actions = CustomActions(stack.client, stack.task_queue)
    created = await actions.create(OTHER_GUILD, "Weather", by=HOST)
    definition = await actions.edit(
        OTHER_GUILD,
        created.id,
        lambda d: d.model_copy(update={"outcomes": [TextOutcome(text="Sunny all day.")]}),
    )
    posted = await actions.schedule(
        definition, guild_id=OTHER_GUILD, channel_id=OTHER_CHANNEL, by=HOST, delay=timedelta(seconds=2)
    )
    gone = await actions.schedule(
        definition, guild_id=OTHER_GUILD, channel_id=7999, by=HOST, delay=timedelta(seconds=2)
    )
    done = await finished(stack, posted.job_id)
    failed = await finished(stack, gone.job_id)

    assert done.outcome == "done"
    [post] = stack.discord.messages(OTHER_CHANNEL)
    assert post.webhook_id is not None and not post.flags & V2
    assert post.content == f"⏰ <@{HOST}>'s scheduled action **Weather**\nSunny all day."
    assert failed.outcome == "failed"
    assert failed.reason is not None and "Unknown Channel" in failed.reason
    # The job workflow's notice: the channel is gone, so it goes to the host's DMs.
    [notice] = stack.discord.dms(HOST)
    assert "Custom Action: Weather" in notice.content and "Unknown Channel" in notice.content
    assert all(w.deleted for w in stack.discord.webhooks())
    stack.discord.assert_no_violations()


async def test_a_failed_webhook_delete_does_not_post_the_result_twice(stack: Stack) -> None:
    guild, channel = 7201, 7202
    stack.discord.add_channel(channel, guild)
    actions = CustomActions(stack.client, stack.task_queue)
    created = await actions.create(guild, "Echo", by=HOST)
    definition = await actions.edit(
        guild, created.id, lambda d: d.model_copy(update={"outcomes": [TextOutcome(text="once")]})
    )
    # Discord fails the first delete after the post (503, which discord.py does not retry).
    stack.discord.inject("DELETE", r"^/webhooks/\d+$", 503, times=1)
    task = await actions.schedule(
        definition, guild_id=guild, channel_id=channel, by=HOST, delay=timedelta(seconds=2)
    )
    result = await finished(stack, task.job_id)

    assert result.outcome == "done"
    assert [p.content for p in stack.discord.messages(channel)] == [
        f"⏰ <@{HOST}>'s scheduled action **Echo**\nonce"
    ]
    assert [r.status for r in stack.discord.requests("DELETE", r"^/webhooks/\d+$")] == [503, 204]
    assert [w.deleted for w in stack.discord.webhooks()] == [True]
