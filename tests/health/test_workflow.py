"""The health check on the time-skipping server, with its probes replaced by doubles registered
under the same names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.discord_rest import rest_client
from activities.guild_checks import GuildChecks
from activities.health import HealthActivities, report_text
from clients.health import HealthChecks, HealthError
from local_discord import FakeDiscord
from tests.support.health_doubles import ADMIN, ADMIN_CHANNEL, GUILD, QUEUE, Probes
from tests.support.histories import run_histories
from tests.support.jobs_doubles import assert_near
from worker import build_worker
from workflows.health import HealthCheckWorkflow
from workflows.health_models import (
    PROBE_FAILED_JOBS,
    PROBE_TASK_QUEUE,
    STOP_SIGNAL,
    HealthRequest,
    HealthStop,
    health_id_for,
)

ROLE = 777


@pytest.fixture
async def probes(time_env: WorkflowEnvironment) -> Probes:
    return Probes(time_env)


@pytest.fixture
async def worker(time_env: WorkflowEnvironment, probes: Probes) -> AsyncIterator[Worker]:
    async with build_worker(
        time_env.client, QUEUE, probes.activities(), workflows=[HealthCheckWorkflow]
    ) as running:
        yield running


@pytest.fixture
def checks(time_env: WorkflowEnvironment) -> HealthChecks:
    return HealthChecks(time_env.client, QUEUE)


async def test_it_posts_only_when_the_state_changes_across_an_outage(
    time_env: WorkflowEnvironment, probes: Probes, worker: Worker, checks: HealthChecks
) -> None:
    now = await time_env.get_current_time()
    probes.outages = [(now + timedelta(hours=3, minutes=30), now + timedelta(hours=6, minutes=30))]
    await checks.start(guild_id=GUILD, admin_channel_id=ADMIN_CHANNEL, interval=timedelta(hours=1))
    await time_env.sleep(timedelta(hours=10, minutes=30))
    status = await checks.status(GUILD)

    assert status.checks == 11
    assert [(r.state, r.previous, r.kind) for r in probes.reports] == [
        ("healthy", None, "change"),
        ("failing", "healthy", "change"),
        ("healthy", "failing", "change"),
    ]
    # Each change is posted at the second check that shows it (the first failing at 4 h, the
    # first healthy again at 7 h).
    for report, hours in zip(probes.reports, (0, 5, 8), strict=True):
        assert_near(report.at, now + timedelta(hours=hours))
        assert report.channel_id == ADMIN_CHANNEL
    failing = probes.reports[1]
    assert [(r.name, r.state) for r in failing.results if r.state != "healthy"] == [
        ("health_probe_discord", "failing")
    ]
    # Each check counts failed jobs since the one before.
    assert probes.since[2] == probes.checks[1] or abs(probes.since[2] - probes.checks[1]) < timedelta(
        seconds=5
    )
    assert status.state == "healthy" and status.posts == 3


async def test_an_outage_that_could_not_be_posted_is_reported_when_posts_get_through(
    time_env: WorkflowEnvironment, probes: Probes, worker: Worker, checks: HealthChecks
) -> None:
    now = await time_env.get_current_time()
    outage_start = now + timedelta(hours=3, minutes=30)
    probes.outages = [(outage_start, now + timedelta(hours=6, minutes=30))]
    probes.post_fails_during_outage = True  # Discord is down for the worker's posts too
    await checks.start(guild_id=GUILD, admin_channel_id=ADMIN_CHANNEL, interval=timedelta(hours=1))
    await time_env.sleep(timedelta(hours=7, minutes=30))

    assert [(r.state, r.previous, r.unposted) for r in probes.reports] == [
        ("healthy", None, None),
        ("healthy", "healthy", "failing"),
    ]
    recovered = probes.reports[1]
    assert_near(recovered.at, now + timedelta(hours=7))
    # Failing from the first check that showed it, though that was only confirmed at 5 h.
    assert recovered.unposted_since is not None
    assert_near(recovered.unposted_since, now + timedelta(hours=4))
    assert "It was **failing** from <t:" in report_text(recovered)
    assert (await checks.status(GUILD)).posts == 2


async def test_a_heartbeat_once_a_day_and_a_bounded_history_over_weeks(
    time_env: WorkflowEnvironment, probes: Probes, worker: Worker, checks: HealthChecks
) -> None:
    now = await time_env.get_current_time()
    await checks.start(
        guild_id=None, admin_channel_id=ADMIN_CHANNEL, interval=timedelta(hours=2), checks_per_run=20
    )
    handle = time_env.client.get_workflow_handle(health_id_for(None))
    first_run = (await handle.describe()).run_id
    await time_env.sleep(timedelta(days=14, minutes=30))
    status = await checks.status(None)

    assert status.checks == 14 * 12 + 1
    assert [r.kind for r in probes.reports] == ["change"] + ["heartbeat"] * 14
    # The test server's clock also runs in real time while 169 checks run, so the later
    # heartbeats drift by the seconds those took; a minute still tells a day from a 2-hour check.
    for day, report in enumerate(probes.reports):
        assert_near(report.at, now + timedelta(days=day), slack=timedelta(minutes=1))
    # One run per 20 checks, each about as long as the first, however long the check has run.
    sizes = await run_histories(time_env.client, handle.id, first_run)
    assert len(sizes) == 9 and status.generation == 8
    assert max(sizes) < 300, sizes


async def test_pause_resume_and_run_now(
    time_env: WorkflowEnvironment, probes: Probes, worker: Worker, checks: HealthChecks
) -> None:
    await checks.start(guild_id=GUILD, admin_channel_id=ADMIN_CHANNEL, interval=timedelta(hours=1))
    await time_env.sleep(timedelta(minutes=30))
    paused = await checks.pause(GUILD, by=ADMIN)
    assert paused.paused and paused.checks == 1
    await time_env.sleep(timedelta(hours=5))
    assert len(probes.checks) == 1  # paused: no check ran

    # Run now checks even while paused, and answers with the fresh results.
    fresh = await checks.run_now(GUILD, by=ADMIN)
    assert fresh.checks == 2 and fresh.paused and [r.state for r in fresh.results] == ["healthy"] * 3
    with pytest.raises(HealthError, match="already paused"):
        await checks.pause(GUILD, by=ADMIN)

    resumed = await checks.resume(GUILD, by=ADMIN)
    assert not resumed.paused
    await time_env.sleep(timedelta(hours=2, minutes=30))
    assert len(probes.checks) == 4
    # The state never changed: the first check's post is the only one.
    assert [r.kind for r in probes.reports] == ["change"]


async def test_run_now_is_answered_across_continue_as_new(
    time_env: WorkflowEnvironment, probes: Probes, worker: Worker, checks: HealthChecks
) -> None:
    # One check per run: every run-now's check is followed by a continue-as-new.
    await checks.start(guild_id=GUILD, admin_channel_id=ADMIN_CHANNEL, checks_per_run=1)
    await time_env.sleep(timedelta(minutes=1))  # the first check, then the first continue-as-new
    answers = [await checks.run_now(GUILD, by=ADMIN) for _ in range(3)]

    assert [a.checks for a in answers] == [2, 3, 4]
    status = await checks.status(GUILD)
    assert status.checks == 4 and status.generation == 4
    assert [r.kind for r in probes.reports] == ["change"]


async def test_starting_twice_attaches_and_other_guilds_are_refused(
    time_env: WorkflowEnvironment, probes: Probes, worker: Worker, checks: HealthChecks
) -> None:
    first = await checks.start(guild_id=GUILD, admin_channel_id=ADMIN_CHANNEL)
    run = (await time_env.client.get_workflow_handle(first).describe()).run_id
    again = await checks.start(guild_id=GUILD, admin_channel_id=999)
    assert again == first == f"health-{GUILD}"
    assert (await time_env.client.get_workflow_handle(first).describe()).run_id == run
    assert (await checks.status(GUILD)).admin_channel_id == ADMIN_CHANNEL

    handle = time_env.client.get_workflow_handle_for(HealthCheckWorkflow.run, first)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(HealthCheckWorkflow.pause, HealthRequest(by=ADMIN, guild_id=999))
    assert "another server" in str(refused.value.cause)
    await checks.pause(GUILD, by=ADMIN)


async def test_against_the_fake_discord_an_outage_is_posted_once_and_its_end_once(
    time_env: WorkflowEnvironment, probes: Probes, checks: HealthChecks
) -> None:
    """The real Discord probe and report, talking to the fake Discord; the bot's token is
    refused (401) for two checks, as when it was revoked and then reset."""
    doubles = {getattr(a, "__temporal_activity_definition").name: a for a in probes.activities()}
    async with FakeDiscord() as fake, rest_client("fake-bot-token", fake.base_url) as discord_client:
        fake.add_channel(ADMIN_CHANNEL, GUILD)
        real = HealthActivities(discord_client, time_env.client)
        activities = [
            real.probe_discord,
            real.post_health_report,
            doubles[PROBE_TASK_QUEUE],
            doubles[PROBE_FAILED_JOBS],
            GuildChecks(discord_client).check_guild,
        ]
        async with build_worker(time_env.client, QUEUE, activities, workflows=[HealthCheckWorkflow]):
            await checks.start(
                guild_id=GUILD,
                admin_channel_id=ADMIN_CHANNEL,
                interval=timedelta(hours=1),
                alert_role_id=ROLE,
            )
            await time_env.sleep(timedelta(minutes=90))  # checks at 0 and 1 h: healthy
            fake.inject("GET", r"^/users/@me$", 401, times=2, code=0, message="401: Unauthorized")
            await time_env.sleep(timedelta(hours=2))  # checks at 2 and 3 h: failing
            await time_env.sleep(timedelta(hours=2))  # checks at 4 and 5 h: healthy again
            status = await checks.status(GUILD)
        posted = [m.content for m in fake.messages(ADMIN_CHANNEL)]
        allowed = [
            (r.json or {})["allowed_mentions"] for r in fake.requests("POST", rf"/channels/{ADMIN_CHANNEL}/")
        ]
        fake.assert_no_violations()

    assert status.checks == 6
    assert len(posted) == 3, posted
    assert posted[0].startswith("🟢 **Health: healthy**")
    # Only the failure mentions the role, and the post lets that one role be pinged.
    assert posted[1].startswith(f"<@&{ROLE}> 🔴 **Health: failing** (was healthy)")
    assert allowed[1]["roles"] == [ROLE] and allowed[1]["parse"] == []
    assert [a.get("roles", []) for a in (allowed[0], allowed[2])] == [[], []]
    assert "🔴 Discord: Discord refused the token (401)" in posted[1]
    assert posted[2].startswith("🟢 **Health: healthy** (was failing)")
    assert not any("health_probe" in text for text in posted)


async def test_a_flapping_check_posts_a_change_only_once_it_persists(
    time_env: WorkflowEnvironment, probes: Probes, worker: Worker, checks: HealthChecks
) -> None:
    """The rule (workflows/health.py): a change is posted once two checks in a row show it."""
    now = await time_env.get_current_time()
    minute = timedelta(minutes=1)

    def failing_at(hour: int) -> tuple[datetime, datetime]:
        return (now + timedelta(hours=hour) - minute, now + timedelta(hours=hour) + minute)

    # Hourly checks: 0-12 alternate healthy and failing, 13 and 14 fail, 15 is healthy, 16 fails,
    # 17 and 18 are healthy.
    probes.outages = [failing_at(hour) for hour in (1, 3, 5, 7, 9, 11, 13, 14, 16)]
    await checks.start(guild_id=GUILD, admin_channel_id=ADMIN_CHANNEL, interval=timedelta(hours=1))
    await time_env.sleep(timedelta(hours=18, minutes=30))
    status = await checks.status(GUILD)

    assert status.checks == 19
    assert [(r.state, r.previous) for r in probes.reports] == [
        ("healthy", None),
        ("failing", "healthy"),
        ("healthy", "failing"),
    ]
    for report, hours in zip(probes.reports, (0, 14, 18), strict=True):
        assert_near(report.at, now + timedelta(hours=hours))


async def test_the_role_is_mentioned_on_degraded_and_failing_never_on_recovery_or_while_steady(
    time_env: WorkflowEnvironment, probes: Probes, worker: Worker, checks: HealthChecks
) -> None:
    now = await time_env.get_current_time()
    # Failing from 3 h to 6 h, then steady for twelve more checks.
    probes.outages = [(now + timedelta(hours=2, minutes=30), now + timedelta(hours=5, minutes=30))]
    await checks.start(
        guild_id=GUILD, admin_channel_id=ADMIN_CHANNEL, interval=timedelta(hours=1), alert_role_id=ROLE
    )
    await time_env.sleep(timedelta(hours=18, minutes=30))

    assert [(r.state, r.mention_role_id) for r in probes.reports] == [
        ("healthy", None),
        ("failing", ROLE),
        ("healthy", None),  # the recovery, said once
    ]
    recovered = report_text(probes.reports[2])
    assert recovered.startswith("🟢 **Health: healthy** (was failing)") and "<@&" not in recovered
    status = await checks.status(GUILD)
    assert status.alert_role_id == ROLE and status.checks == 19
    # The last runs, oldest first, for the status to show.
    assert [r.state for r in status.runs] == ["healthy"] * 5
    assert_near(status.runs[-1].at, now + timedelta(hours=18))


async def test_a_degraded_check_mentions_the_role_once_and_its_recovery_is_said_once_without_it(
    time_env: WorkflowEnvironment, probes: Probes, worker: Worker, checks: HealthChecks
) -> None:
    now = await time_env.get_current_time()
    # Jobs fail from 3 h to 6 h (degraded), then steady for twelve more checks.
    probes.failures = [(now + timedelta(hours=2, minutes=30), now + timedelta(hours=5, minutes=30))]
    await checks.start(
        guild_id=GUILD, admin_channel_id=ADMIN_CHANNEL, interval=timedelta(hours=1), alert_role_id=ROLE
    )
    await time_env.sleep(timedelta(hours=18, minutes=30))

    assert [(r.state, r.mention_role_id) for r in probes.reports] == [
        ("healthy", None),
        ("degraded", ROLE),
        ("healthy", None),
    ]
    assert f"<@&{ROLE}>" in report_text(probes.reports[1])
    assert "<@&" not in report_text(probes.reports[2])


async def test_health_stop_ends_the_check(
    time_env: WorkflowEnvironment, probes: Probes, worker: Worker, checks: HealthChecks
) -> None:
    await checks.start(guild_id=GUILD, admin_channel_id=ADMIN_CHANNEL, interval=timedelta(hours=1))
    await time_env.sleep(timedelta(hours=2, minutes=30))
    await checks.stop(GUILD, by=ADMIN)
    handle = time_env.client.get_workflow_handle(health_id_for(GUILD))
    await handle.result()
    assert not await checks.is_running(GUILD)
    ran = len(probes.checks)
    await time_env.sleep(timedelta(hours=5))
    assert len(probes.checks) == ran == 3


async def test_an_operator_signal_by_name_ends_a_paused_check(
    time_env: WorkflowEnvironment, probes: Probes, worker: Worker, checks: HealthChecks
) -> None:
    """What README's operator section runs: `temporal workflow signal --name stop`."""
    await checks.start(guild_id=None, admin_channel_id=ADMIN_CHANNEL, interval=timedelta(hours=1))
    await time_env.sleep(timedelta(minutes=30))
    await checks.pause(None, by=ADMIN)
    handle = time_env.client.get_workflow_handle(health_id_for(None))
    await handle.signal(STOP_SIGNAL, HealthStop(reason="moving the deployment"))
    await handle.result()
    assert not await checks.is_running(None)


async def test_a_check_posting_into_another_servers_channel_is_refused_and_nothing_runs(
    time_env: WorkflowEnvironment, probes: Probes, worker: Worker, checks: HealthChecks
) -> None:
    elsewhere = ADMIN_CHANNEL + 1
    probes.discord_guild.channels[elsewhere] = GUILD + 1  # Discord places it in another server
    workflow_id = await checks.start(guild_id=GUILD, admin_channel_id=elsewhere)
    with pytest.raises(WorkflowFailureError) as refused:
        await time_env.client.get_workflow_handle(workflow_id).result()

    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.message == (
        f"The channel <#{elsewhere}> is not in this server, so nothing was posted there."
    )
    assert probes.checks == [] and probes.reports == []
    assert not await checks.is_running(GUILD)
