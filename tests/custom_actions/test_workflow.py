"""Custom Actions' scheduled and armed runs on the time-skipping server: the real scheduled job,
store and `execute_custom_action` activity, with Discord replaced by a recording double."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from clients.custom_actions import marker_prefix
from clients.jobs import Jobs
from clients.jobs_retry import retry_job
from clients.store import PersistentStore
from tests.support.custom_actions_doubles import Harness, custom_actions_worker
from tests.support.jobs_doubles import assert_near
from workflows.custom_actions_models import (
    MAX_STACK,
    NOT_IN_SAFARI,
    ActionDefinition,
    CardOutcome,
    Condition,
    CurrencyOutcome,
    Delayed,
    RetriggerPolicy,
    TextOutcome,
    armed_key,
)
from workflows.jobs_models import JobResult, job_id_for, run_tag
from workflows.safari_engine import store_name
from workflows.times import TimeError

QUEUE = "custom-actions"
GUILD, CHANNEL, HOST, PLAYER = 5101, 5102, 5103, 5104


@pytest.fixture
async def h(time_env: WorkflowEnvironment) -> AsyncIterator[Harness]:
    async with custom_actions_worker(time_env.client, QUEUE, await time_env.get_current_time()) as harness:
        yield harness


async def action(h: Harness, name: str, **fields: object) -> ActionDefinition:
    created = await h.actions.create(GUILD, name, by=HOST)
    return await h.actions.edit(GUILD, created.id, lambda d: d.model_copy(update=fields))


async def result_of(time_env: WorkflowEnvironment, job_id: str) -> JobResult:
    result: JobResult = await time_env.client.get_workflow_handle(job_id, result_type=JobResult).result()
    return result


async def fire(time_env: WorkflowEnvironment, job_id: str, after: timedelta) -> JobResult:
    await time_env.sleep(after)
    return await result_of(time_env, job_id)


# --- the deadline ----------------------------------------------------------------------------


async def test_a_successful_result_is_posted(time_env: WorkflowEnvironment, h: Harness) -> None:
    """Regression: the seed treated a successful result as an error and posted nothing."""
    found = await action(
        h,
        "Treasure",
        outcomes=[TextOutcome(text="You found a chest!"), CardOutcome(title="Chest", body="Gold")],
    )
    job_id = (
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1))
    ).job_id
    result = await fire(time_env, job_id, timedelta(hours=2))

    assert result.outcome == "done"
    assert isinstance(result.action_result, dict) and result.action_result["posted"] is True
    [post] = h.discord.posts
    assert post.channel_id == CHANNEL and post.webhook_name == "Treasure" and post.mention == HOST
    assert post.first_line == f"⏰ <@{HOST}>'s scheduled action **Treasure**"
    # A card makes it Components V2: the text and the card's container follow the header.
    assert post.content is None and "You found a chest!" in post.text and "### Chest" in post.text
    assert h.notices == []


async def test_a_custom_action_scheduled_into_another_servers_channel_is_refused_and_nothing_runs(
    time_env: WorkflowEnvironment, h: Harness
) -> None:
    found = await action(h, "Bounty", outcomes=[CurrencyOutcome(amount=10), TextOutcome(text="Paid")])
    await h.give(GUILD, HOST, 100)
    elsewhere = 6102
    h.guild.channels[elsewhere] = GUILD + 1  # Discord places the channel in another server
    task = await h.actions.schedule(
        found, guild_id=GUILD, channel_id=elsewhere, by=HOST, delay=timedelta(hours=1)
    )
    result = await result_of(time_env, task.job_id)

    assert result.outcome == "failed"
    assert result.reason == f"The channel <#{elsewhere}> is not in this server, so nothing was posted there."
    # Ended at once, before its deadline: nothing posted, nothing paid, no notice in that channel.
    assert result.ran_at is None and result.at < task.deadline
    assert h.discord.posts == [] and h.notices == []
    assert await h.balance(GUILD, HOST) == 100


async def test_a_custom_action_31_days_out_is_refused_and_nothing_runs(
    time_env: WorkflowEnvironment, h: Harness
) -> None:
    """Once accepted (the scheduler's own limit is a year); a custom action's is 30 days."""
    found = await action(h, "Far", outcomes=[TextOutcome(text="Too late")])
    with pytest.raises(TimeError, match="“31d” is too long: at most 30 days"):
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(days=31))
    await time_env.sleep(timedelta(days=32))
    assert h.discord.posts == [] and h.notices == []


async def test_a_plain_result_is_content(time_env: WorkflowEnvironment, h: Harness) -> None:
    found = await action(h, "Hello", outcomes=[TextOutcome(text="Hi there")])
    job_id = (
        await h.actions.schedule(
            found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(minutes=5)
        )
    ).job_id
    await fire(time_env, job_id, timedelta(minutes=10))

    [post] = h.discord.posts
    assert post.content == f"⏰ <@{HOST}>'s scheduled action **Hello**\nHi there"


async def test_the_definition_is_read_at_fire_time(time_env: WorkflowEnvironment, h: Harness) -> None:
    found = await action(h, "Forecast", outcomes=[TextOutcome(text="Sunny")])
    job_id = (
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1))
    ).job_id
    await time_env.sleep(timedelta(minutes=30))
    await h.actions.edit(
        GUILD,
        found.id,
        lambda d: d.model_copy(update={"name": "Storm warning", "outcomes": [TextOutcome(text="Rain")]}),
    )
    await fire(time_env, job_id, timedelta(hours=1))

    [post] = h.discord.posts
    assert post.webhook_name == "Storm warning"
    assert post.content == f"⏰ <@{HOST}>'s scheduled action **Storm warning**\nRain"


async def test_a_deleted_action_ends_the_job_with_its_reason(
    time_env: WorkflowEnvironment, h: Harness
) -> None:
    found = await action(h, "Ephemeral", outcomes=[TextOutcome(text="never shown")])
    job_id = (
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1))
    ).job_id
    assert await h.actions.delete(GUILD, found.id)
    result = await fire(time_env, job_id, timedelta(hours=2))

    assert result.outcome == "failed"
    assert result.reason == "the custom action 'Ephemeral' was deleted before its scheduled run"
    assert h.discord.posts == []
    # The job workflow tells the channel (non-retryable: one attempt, one notice).
    assert [n.reason for n in h.notices] == [result.reason]


async def test_a_failing_condition_posts_the_not_met_text(time_env: WorkflowEnvironment, h: Harness) -> None:
    await h.give(GUILD, HOST, 50)
    rich = Condition(min_balance=100, not_met_text="You need 100 coins first.")
    found = await action(h, "Toll", condition=rich, outcomes=[CurrencyOutcome(amount=-100)])
    silent = await action(h, "Silent", condition=Condition(role_id=42), outcomes=[TextOutcome(text="secret")])
    first = (
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1))
    ).job_id
    second = (
        await h.actions.schedule(
            silent, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1)
        )
    ).job_id
    results = [await fire(time_env, job, timedelta(hours=2)) for job in (first, second)]

    assert [r.outcome for r in results] == ["done", "done"]
    assert [r.action_result["met"] for r in results if isinstance(r.action_result, dict)] == [False, False]
    # The toll's "not met" text is posted; the silent one (no such text) posts nothing.
    [post] = h.discord.posts
    assert post.content == f"⏰ <@{HOST}>'s scheduled action **Toll**\nYou need 100 coins first."
    assert await h.balance(GUILD, HOST) == 50


async def test_a_role_condition_uses_the_members_roles_at_fire_time(
    time_env: WorkflowEnvironment, h: Harness
) -> None:
    found = await action(
        h, "Guild hall", condition=Condition(role_id=42), outcomes=[TextOutcome(text="Welcome")]
    )
    job_id = (
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1))
    ).job_id
    h.discord.roles[HOST] = [7, 42]  # given the role after the task was scheduled
    await fire(time_env, job_id, timedelta(hours=2))

    assert [p.content for p in h.discord.posts] == [
        f"⏰ <@{HOST}>'s scheduled action **Guild hall**\nWelcome"
    ]


async def test_a_player_outside_the_safari_is_told_and_nothing_is_written(
    time_env: WorkflowEnvironment, h: Harness
) -> None:
    found = await action(h, "Bonus", outcomes=[CurrencyOutcome(amount=25)])
    job_id = (
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1))
    ).job_id
    await fire(time_env, job_id, timedelta(hours=2))

    [post] = h.discord.posts
    assert post.content is not None and post.content.endswith(NOT_IN_SAFARI.format(name="Bonus"))
    assert await h.balance(GUILD, HOST) is None


async def test_currency_is_applied_once_across_a_retried_activity(
    time_env: WorkflowEnvironment, h: Harness
) -> None:
    await h.give(GUILD, HOST, 100)
    # Evaluated again on the retry, this would fail (the balance is 40 by then): the retry must
    # reuse what the first attempt applied instead.
    found = await action(
        h,
        "Market",
        condition=Condition(min_balance=100, not_met_text="too poor"),
        outcomes=[CurrencyOutcome(amount=-70), CurrencyOutcome(amount=10), TextOutcome(text="Bought a map")],
    )

    def discord_blip(attempt: int) -> None:
        if attempt < 3:
            raise ApplicationError("Discord is unavailable (503)", type="DiscordUnavailable")

    h.discord.fail = discord_blip
    job_id = (
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1))
    ).job_id
    result = await fire(time_env, job_id, timedelta(hours=2))

    assert result.outcome == "done"
    assert h.discord.attempts == 3
    assert await h.balance(GUILD, HOST) == 40  # 100 - 70 + 10, once
    [post] = h.discord.posts
    assert post.content == (
        f"⏰ <@{HOST}>'s scheduled action **Market**\n"
        "🪙 lost 70 (balance 100 → **30**)\n"
        "🪙 gained 10 (balance 30 → **40**)\n"
        "Bought a map"
    )
    safari = await PersistentStore.create(h.client, store_name(GUILD), QUEUE)
    description = await time_env.client.get_workflow_handle(job_id).describe()
    markers = await safari.keys(marker_prefix(f"{job_id}:{description.run_id}"))
    assert sorted(markers) == [f"applied:{job_id}:{description.run_id}/{i}" for i in (0, 1)]


async def test_a_run_whose_channel_is_gone_pays_nothing(time_env: WorkflowEnvironment, h: Harness) -> None:
    """Regression: Unknown Channel at the deadline failed the run after it had paid (100 -> 110)."""
    await h.give(GUILD, HOST, 100)
    found = await action(h, "Payday", outcomes=[CurrencyOutcome(amount=10)])
    job_id = (
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1))
    ).job_id
    h.discord.gone.add(CHANNEL)  # deleted while the job waited
    result = await fire(time_env, job_id, timedelta(hours=2))

    assert result.outcome == "failed"
    assert result.reason == "Discord refused (404, code 10003): Unknown Channel"
    assert await h.balance(GUILD, HOST) == 100
    assert h.discord.posts == [] and [n.reason for n in h.notices] == [result.reason]


async def test_a_post_refused_after_paying_says_what_was_paid(
    time_env: WorkflowEnvironment, h: Harness
) -> None:
    await h.give(GUILD, HOST, 100)
    found = await action(h, "Payday", outcomes=[CurrencyOutcome(amount=10), TextOutcome(text="Spend it")])

    def permissions_taken(attempt: int) -> None:
        # The channel was there when the run paid; the post itself is refused.
        raise ApplicationError(
            "Discord refused (403, code 50013): Missing Permissions",
            type="DiscordRejected",
            non_retryable=True,
        )

    h.discord.fail = permissions_taken
    job_id = (
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1))
    ).job_id
    result = await fire(time_env, job_id, timedelta(hours=2))

    assert result.outcome == "failed"
    assert result.reason == (
        "Discord refused (403, code 50013): Missing Permissions; its currency was paid all the same: "
        "🪙 gained 10 (balance 100 → **110**)"
    )
    assert await h.balance(GUILD, HOST) == 110
    assert [n.reason for n in h.notices] == [result.reason]


async def test_a_channel_gone_after_the_run_paid_is_reported_with_what_was_paid(
    time_env: WorkflowEnvironment, h: Harness
) -> None:
    await h.give(GUILD, HOST, 100)
    found = await action(h, "Payday", outcomes=[CurrencyOutcome(amount=10)])

    def deleted_meanwhile(attempt: int) -> None:
        # Paid, then Discord did not answer the post; the channel is gone by the retry.
        h.discord.gone.add(CHANNEL)
        raise ApplicationError("Discord is unavailable (503)", type="DiscordUnavailable")

    h.discord.fail = deleted_meanwhile
    job_id = (
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1))
    ).job_id
    result = await fire(time_env, job_id, timedelta(hours=2))

    assert result.outcome == "failed"
    assert result.reason == (
        "Discord refused (404, code 10003): Unknown Channel; its currency was paid all the same: "
        "🪙 gained 10 (balance 100 → **110**)"
    )
    assert await h.balance(GUILD, HOST) == 110


async def test_balance_never_goes_below_zero(time_env: WorkflowEnvironment, h: Harness) -> None:
    await h.give(GUILD, HOST, 30)
    found = await action(h, "Robbery", outcomes=[CurrencyOutcome(amount=-50)])
    job_id = (
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1))
    ).job_id
    await fire(time_env, job_id, timedelta(hours=2))

    assert await h.balance(GUILD, HOST) == 0
    assert "lost 30 (balance 30 → **0**)" in h.discord.posts[0].text


# --- armed by players ------------------------------------------------------------------------


async def armed_action(h: Harness, policy: RetriggerPolicy) -> ActionDefinition:
    return await action(
        h,
        "Expedition",
        delayed=Delayed(delay=timedelta(hours=2), policy=policy, armed_text="Your expedition returns soon."),
        outcomes=[TextOutcome(text="Your expedition is back!")],
    )


async def test_block_answers_with_the_time_left(time_env: WorkflowEnvironment, h: Harness) -> None:
    found = await armed_action(h, "block")
    first = await h.actions.arm(found, guild_id=GUILD, channel_id=CHANNEL, user_id=PLAYER)
    await time_env.sleep(timedelta(minutes=30))
    await h.sync_clock(await time_env.get_current_time())
    again = await h.actions.arm(found, guild_id=GUILD, channel_id=CHANNEL, user_id=PLAYER)

    assert first.outcome == "armed"
    assert again.outcome == "blocked" and again.job_id == first.job_id
    # The answer carries the first run's deadline: 1 h 30 min left.
    assert again.deadline == first.deadline
    assert_near(again.deadline, await time_env.get_current_time() + timedelta(minutes=90))
    assert await h.actions.running_deadline(job_id_for(GUILD, armed_key(found.id, PLAYER, 2))) is None
    # Another player is not blocked by this one.
    other = await h.actions.arm(found, guild_id=GUILD, channel_id=CHANNEL, user_id=PLAYER + 1)
    assert other.outcome == "armed"


async def test_replace_leaves_exactly_one_job(time_env: WorkflowEnvironment, h: Harness) -> None:
    found = await armed_action(h, "replace")
    first = await h.actions.arm(found, guild_id=GUILD, channel_id=CHANNEL, user_id=PLAYER)
    first_run = (await time_env.client.get_workflow_handle(first.job_id).describe()).run_id
    await time_env.sleep(timedelta(minutes=30))
    await h.sync_clock(await time_env.get_current_time())
    second = await h.actions.arm(found, guild_id=GUILD, channel_id=CHANNEL, user_id=PLAYER)

    assert second.outcome == "armed" and second.replaced == 1
    old = await time_env.client.get_workflow_handle(
        first.job_id, run_id=first_run, result_type=JobResult
    ).result()
    assert old.outcome == "cancelled"
    running = [
        slot
        for slot in range(1, MAX_STACK + 1)
        if await h.actions.running_deadline(job_id_for(GUILD, armed_key(found.id, PLAYER, slot)))
    ]
    assert running == [1]
    assert_near(second.deadline, await time_env.get_current_time() + timedelta(hours=2))
    # Only the new run posts.
    await fire(time_env, second.job_id, timedelta(hours=3))
    assert len(h.discord.posts) == 1


async def test_stack_stops_at_five(time_env: WorkflowEnvironment, h: Harness) -> None:
    found = await armed_action(h, "stack")
    runs = []
    for minute in range(MAX_STACK + 1):
        await h.sync_clock(await time_env.get_current_time())
        runs.append(await h.actions.arm(found, guild_id=GUILD, channel_id=CHANNEL, user_id=PLAYER))
        await time_env.sleep(timedelta(minutes=1 + minute))

    assert [r.outcome for r in runs] == ["armed"] * MAX_STACK + ["full"]
    assert len({r.job_id for r in runs[:MAX_STACK]}) == MAX_STACK
    # The refusal names the run that ends first.
    assert runs[-1].job_id == runs[0].job_id and runs[-1].deadline == runs[0].deadline


async def test_a_fired_job_never_arms_itself_again(time_env: WorkflowEnvironment, h: Harness) -> None:
    found = await armed_action(h, "stack")
    armed = await h.actions.arm(found, guild_id=GUILD, channel_id=CHANNEL, user_id=PLAYER)
    result = await fire(time_env, armed.job_id, timedelta(hours=3))

    assert result.outcome == "done"
    [post] = h.discord.posts
    assert post.mention == PLAYER
    assert post.content == f"⏰ <@{PLAYER}>'s scheduled action **Expedition**\nYour expedition is back!"
    # Nothing is waiting in any of the player's slots: the fire ran the outcomes only.
    for slot in range(1, MAX_STACK + 1):
        assert await h.actions.running_deadline(job_id_for(GUILD, armed_key(found.id, PLAYER, slot))) is None
    await time_env.sleep(timedelta(hours=5))
    assert len(h.discord.posts) == 1


async def test_a_retry_of_a_failed_custom_action_does_not_apply_its_currency_again(
    time_env: WorkflowEnvironment, h: Harness
) -> None:
    await h.give(GUILD, HOST, 100)
    found = await action(
        h, "Market", outcomes=[CurrencyOutcome(amount=-70), TextOutcome(text="Bought a map")]
    )

    def refused(attempt: int) -> None:
        raise ApplicationError("Missing Permissions (403)", type="DiscordRefused", non_retryable=True)

    h.discord.fail = refused
    job_id = (
        await h.actions.schedule(found, guild_id=GUILD, channel_id=CHANNEL, by=HOST, delay=timedelta(hours=1))
    ).job_id
    failed = await fire(time_env, job_id, timedelta(hours=2))
    assert failed.outcome == "failed"
    assert await h.balance(GUILD, HOST) == 30  # applied before the post was refused
    first_run = (await time_env.client.get_workflow_handle(job_id).describe()).run_id

    # The host fixed the channel's permissions and clicks Retry.
    h.discord.fail = lambda attempt: None
    jobs = Jobs(time_env.client, QUEUE, clock=lambda: h.clock.now)
    await retry_job(
        time_env.client, jobs, GUILD, job_id.removeprefix(f"job-{GUILD}-"), run_tag(first_run), by=HOST
    )
    retried = await fire(time_env, job_id, timedelta(minutes=1))

    assert retried.outcome == "done"
    assert await h.balance(GUILD, HOST) == 30  # still once
    [post] = h.discord.posts
    assert post.content is not None
    assert "lost 70 (balance 100 → **30**)" in post.content and "Bought a map" in post.content
