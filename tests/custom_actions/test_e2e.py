"""End to end: the real dev server, `python worker.py`, and the local Discord (which validates every
request against Discord's OpenAPI document). A scheduled Custom Action posts through the channel's
kept webhook, once, whatever Discord or the worker does in between; a run that Discord refuses
before it posts pays nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from activities.custom_actions import KEPT_WEBHOOK_NAME
from clients.custom_actions import CustomActions
from clients.store import PersistentStore
from local_discord import FakeDiscord, FakeWebhook
from tests.support.stack import CHANNEL, GUILD, Stack
from workflows.custom_actions_models import ActionDefinition, CardOutcome, CurrencyOutcome, TextOutcome
from workflows.jobs_models import JobResult
from workflows.safari_engine import player_key, store_name

pytestmark = pytest.mark.asyncio(loop_scope="module")

HOST, PLAYER = 7003, 7004
# Each test's worker has a queue of its own, and a guild's store workflows stay on the queue they
# started on: each test after the first uses a guild of its own.
OTHER_GUILD, OTHER_CHANNEL = 7101, 7102
V2 = 1 << 15
EXECUTE = r"^/webhooks/\d+/[^/]+$"


async def finished(stack: Stack, job_id: str, timeout: float = 60) -> JobResult:
    handle = stack.client.get_workflow_handle(job_id, result_type=JobResult)
    return await asyncio.wait_for(handle.result(), timeout=timeout)


def live_webhooks(fake: FakeDiscord, channel_id: int) -> list[FakeWebhook]:
    return [w for w in fake.webhooks() if w.channel_id == channel_id and not w.deleted]


async def paying_action(stack: Stack, guild: int, name: str, amount: int = 10) -> ActionDefinition:
    """An action that pays `amount` and says so, and a player with 100 in the guild's Safari."""
    actions = CustomActions(stack.client, stack.task_queue)
    safari = await PersistentStore.create(stack.client, store_name(guild), stack.task_queue)
    await safari.set(player_key(PLAYER), {"balance": 100, "name": "player", "joined_round": 1})
    created = await actions.create(guild, name, by=HOST)
    outcomes = [CurrencyOutcome(amount=amount), TextOutcome(text="Well done.")]
    return await actions.edit(guild, created.id, lambda d: d.model_copy(update={"outcomes": outcomes}))


async def balance(stack: Stack, guild: int) -> object:
    safari = await PersistentStore.create(stack.client, store_name(guild), stack.task_queue)
    record = await safari.get(player_key(PLAYER))
    return record.get("balance") if isinstance(record, dict) else None


async def test_a_scheduled_card_is_posted_through_the_channels_kept_webhook(stack: Stack) -> None:
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
    tasks = [
        await actions.schedule(
            definition, guild_id=GUILD, channel_id=CHANNEL, by=PLAYER, delay=timedelta(seconds=s)
        )
        for s in (3, 5)
    ]
    results = [await finished(stack, task.job_id) for task in tasks]

    assert [r.outcome for r in results] == ["done", "done"], results
    # Both posts through one webhook, which stays for the next: nothing made for one post is left.
    [webhook] = stack.discord.webhooks()
    assert webhook.name == KEPT_WEBHOOK_NAME and webhook.channel_id == CHANNEL and not webhook.deleted
    first, second = stack.discord.messages()
    assert first.webhook_id == webhook.id and first.channel_id == CHANNEL
    assert first.username == "Treasure Hunt"  # each post carries the action's name
    assert first.flags & V2 and first.content == ""
    header = first.components[0]
    assert header["type"] == 10  # a text display: the first line
    assert header["content"] == f"⏰ <@{PLAYER}>'s scheduled action **Treasure Hunt**"
    # The marker a retry looks for: one per run.
    assert header["id"] != second.components[0]["id"]
    shown = str(first.components)
    assert "The map leads to a cave." in shown and "### A chest!" in shown
    assert "gained 25 (balance 40 → **65**)" in shown and "balance 65 → **90**" in str(second.components)
    assert (await safari.get(player_key(PLAYER))) == {"balance": 90, "name": "player", "joined_round": 1}
    execute = stack.discord.requests("POST", EXECUTE)[0]
    assert execute.query.get("wait") in ("1", "true"), execute.query
    assert execute.json is not None
    mentions = execute.json["allowed_mentions"]
    assert [int(user) for user in mentions["users"]] == [PLAYER] and mentions["parse"] == []
    assert len(stack.discord.requests("POST", r"^/channels/\d+/webhooks$")) == 1
    assert stack.discord.requests("DELETE", r"^/webhooks/") == []
    stack.discord.assert_no_violations()


async def test_a_plain_result_reads_as_text_and_a_gone_channel_fails_with_discords_reason(
    stack: Stack,
) -> None:
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
    # One text display (it carries the marker): it reads as the plain text would.
    assert post.webhook_id is not None and post.flags & V2
    [text] = post.components
    assert text["type"] == 10
    assert text["content"] == f"⏰ <@{HOST}>'s scheduled action **Weather**\nSunny all day."
    assert failed.outcome == "failed"
    assert failed.reason is not None and "Unknown Channel" in failed.reason
    # The job workflow's notice: the channel is gone, so it goes to the host's DMs.
    [notice] = stack.discord.dms(HOST)
    assert "Custom Action: Weather" in notice.content and "Unknown Channel" in notice.content
    stack.discord.assert_no_violations()


async def test_a_run_discord_refuses_before_it_posts_pays_nothing(stack: Stack) -> None:
    """Regression: Unknown Channel at the deadline ended the run failed, with no post, and the
    player's balance 100 -> 110."""
    guild, full = 7301, 7302
    stack.discord.add_channel(full, guild)
    for _ in range(15):
        stack.discord.add_webhook(full)  # the server's admins use every webhook place
    definition = await paying_action(stack, guild, "Payday")
    actions = CustomActions(stack.client, stack.task_queue)
    jobs = [
        await actions.schedule(
            definition, guild_id=guild, channel_id=channel, by=PLAYER, delay=timedelta(seconds=2)
        )
        for channel in (7399, full)  # gone; full of webhooks
    ]
    gone, crowded = [await finished(stack, job.job_id) for job in jobs]

    assert gone.outcome == "failed" and gone.reason is not None and "Unknown Channel" in gone.reason
    assert crowded.outcome == "failed" and crowded.reason is not None
    assert "Maximum number of webhooks reached (15)" in crowded.reason
    assert await balance(stack, guild) == 100
    # The only post there is the job's notice, from the bot (no webhook needed).
    [notice] = stack.discord.messages(full)
    assert notice.webhook_id is None and "Maximum number of webhooks reached (15)" in notice.content
    stack.discord.assert_no_violations()


async def test_a_post_discord_took_before_answering_500_is_made_once(stack: Stack) -> None:
    """Regression: discord.py resent the webhook execute on the 500 by itself: two posts."""
    guild, channel = 7401, 7402
    stack.discord.add_channel(channel, guild)
    definition = await paying_action(stack, guild, "Echo")
    stack.discord.inject("POST", EXECUTE, 500, times=1, lose_response=True)
    task = await CustomActions(stack.client, stack.task_queue).schedule(
        definition, guild_id=guild, channel_id=channel, by=PLAYER, delay=timedelta(seconds=2)
    )
    result = await finished(stack, task.job_id)

    assert result.outcome == "done", result.reason
    [post] = stack.discord.messages(channel)
    assert isinstance(result.action_result, dict) and result.action_result["message_id"] == str(post.id)
    assert [r.status for r in stack.discord.requests("POST", EXECUTE)] == [500]
    # The retry read the channel's history, found the post and did not make it again.
    assert stack.discord.requests("GET", rf"^/channels/{channel}/messages$")
    assert await balance(stack, guild) == 110
    stack.discord.assert_no_violations()


async def test_a_worker_killed_after_discord_took_the_post_makes_it_once(stack: Stack) -> None:
    guild, channel = 7501, 7502
    stack.discord.add_channel(channel, guild)
    definition = await paying_action(stack, guild, "Echo")
    # Discord takes the post; its answer waits until the worker that asked is dead.
    answer = stack.discord.hold("POST", EXECUTE, after_effect=True)
    task = await CustomActions(stack.client, stack.task_queue).schedule(
        definition, guild_id=guild, channel_id=channel, by=PLAYER, delay=timedelta(seconds=2)
    )
    await answer.wait_for(1, timeout=30)
    stack.worker.kill()
    answer.release()
    stack.worker.start()
    await stack.worker.wait_started()
    # The killed attempt times out on its heartbeat (15 s); the next one finds the post.
    result = await finished(stack, task.job_id, timeout=90)

    assert result.outcome == "done", result.reason
    assert len(stack.discord.messages(channel)) == 1
    assert len(stack.discord.requests("POST", EXECUTE)) == 1
    assert await balance(stack, guild) == 110
    stack.discord.assert_no_violations()


async def test_no_webhook_is_left_after_a_lost_create_and_failing_deletes(stack: Stack) -> None:
    """Regression: a create whose answer was lost and deletes failing left webhooks behind (4 of 31),
    and a channel holds only 15."""
    guild, channel = 7601, 7602
    stack.discord.add_channel(channel, guild)
    definition = await paying_action(stack, guild, "Echo")
    # The create is taken but answered 500: discord.py sends it again, and a second webhook is made.
    stack.discord.inject("POST", r"^/channels/\d+/webhooks$", 500, times=1, lose_response=True)
    stack.discord.inject("DELETE", r"^/webhooks/\d+", 503, times=3)
    actions = CustomActions(stack.client, stack.task_queue)
    tasks = [
        await actions.schedule(
            definition, guild_id=guild, channel_id=channel, by=PLAYER, delay=timedelta(seconds=s)
        )
        for s in (2, 3)
    ]
    results = [await finished(stack, task.job_id) for task in tasks]

    assert [r.outcome for r in results] == ["done", "done"], results
    posts = stack.discord.messages(channel)
    assert len(posts) == 2
    # One webhook of ours is left in the channel: the one that posted both.
    [kept] = live_webhooks(stack.discord, channel)
    assert {p.webhook_id for p in posts} == {kept.id}
    assert len(stack.discord.webhooks()) == 2  # the second create's, deleted
    assert await balance(stack, guild) == 120
    stack.discord.assert_no_violations()
