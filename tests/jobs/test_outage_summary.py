"""Outage summaries (workflows/outage.py) on the time-skipping server: the jobs of one server that
ran late, were missed or failed while the worker was away are told in one message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import discord
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.discord_rest import rest_client
from activities.outage import OutageActivities, retry_view, summary_text
from clients.guild_settings import LogChannel, MemorySettings
from components.jobs import RETRY_JOB
from local_discord import FakeDiscord
from tests.support.jobs_doubles import GUILD, HOST, Doubles, job
from worker import build_worker
from workflows.custom_actions_models import EXECUTE_CUSTOM_ACTION
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_models import ActionInput, IfLate, job_id_for, job_suffix
from workflows.outage import OutageSummaryWorkflow
from workflows.outage_models import POST_OUTAGE_SUMMARY, OutageEntry, OutageSummary, outage_id_for

QUEUE = "jobs"
LOG = 4242


async def test_an_outage_of_several_jobs_in_one_server_is_told_in_one_summary(
    time_env: WorkflowEnvironment,
) -> None:
    doubles = Doubles(time_env)
    summaries: list[OutageSummary] = []

    @activity.defn(name=POST_OUTAGE_SUMMARY)
    async def post_outage_summary(summary: OutageSummary) -> dict[str, str]:
        summaries.append(summary)
        return {"message_id": "9"}

    real = OutageActivities(discord.Client(intents=discord.Intents.none()), time_env.client, MemorySettings())
    activities = [a for a in doubles.activities() if getattr(a, "__name__", "") != "report_to_outage_summary"]
    now = await time_env.get_current_time()
    async with build_worker(
        time_env.client,
        QUEUE,
        [*activities, real.report, post_outage_summary],
        workflows=[ScheduledJobWorkflow, OutageSummaryWorkflow],
    ):
        # Four posts due at 10 to 13 minutes; no worker takes them until 30 minutes: an outage.
        handles = [
            await time_env.client.start_workflow(
                ScheduledJobWorkflow.run,
                job(now, timedelta(minutes=10 + n), reminders=[]),
                id=job_id_for(GUILD, uuid.uuid4().hex[:8]),
                task_queue=QUEUE,
                start_delay=timedelta(minutes=30),
            )
            for n in range(4)
        ]
        for handle in handles:
            assert (await handle.result()).outcome == "done"
        await time_env.sleep(timedelta(minutes=10))
        summary_run = await time_env.client.get_workflow_handle(outage_id_for(GUILD)).result()

    assert summary_run == 4 and len(summaries) == 1
    told = summaries[0]
    assert told.guild_id == GUILD and {e.job_id for e in told.entries} == {h.id for h in handles}
    assert [e.kind for e in told.entries] == ["late"] * 4
    text = summary_text(told)
    assert text.startswith("### 🧾 While the bot was away\n4 ran late.")
    assert text.count("⏱️ ran late: **Safari Round Results**") == 4


def test_the_summary_lists_each_kind_and_offers_retry_only_where_it_applies() -> None:
    due = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)

    def entry(kind: str, n: int, reason: str | None = None) -> OutageEntry:
        return OutageEntry.model_validate(
            {
                "job_id": job_id_for(GUILD, f"job{n}"),
                "run_id": f"0193a1b2-0000-7000-8000-00000000000{n}",
                "guild_id": GUILD,
                "scheduled_by": HOST,
                "description": f"Post {n}",
                "kind": kind,
                "due": due,
                "at": due + timedelta(minutes=14),
                "reason": reason,
            }
        )

    summary = OutageSummary(
        guild_id=GUILD,
        entries=[entry("late", 1), entry("missed", 2, "too late"), entry("failed", 3, "Discord refused it")],
    )
    text = summary_text(summary)
    assert "1 ran late, 1 missed, 1 failed." in text
    assert "⚠️ failed: **Post 3**" in text and "(Discord refused it)" in text
    buttons = [item for item in retry_view(summary).children if isinstance(item, discord.ui.Button)]
    assert [b.label for b in buttons] == ["Retry 1: Post 2", "Retry 2: Post 3"]
    parsed = [RETRY_JOB.match(b.custom_id or "") for b in buttons]
    assert [p["suffix"] for p in parsed if p is not None] == ["job2", "job3"]


async def test_the_summary_goes_to_the_log_channel_else_to_the_hosts_dms() -> None:
    now = datetime.now(UTC)
    summary = OutageSummary(
        guild_id=GUILD,
        entries=[
            OutageEntry(
                job_id=job_id_for(GUILD, "quiz"),
                run_id="0193a1b2-0000-7000-8000-0000000000aa",
                guild_id=GUILD,
                scheduled_by=HOST,
                description="Quiz night",
                kind="missed",
                due=now - timedelta(hours=3),
                at=now,
                reason="too late",
            )
        ],
    )
    settings = MemorySettings()
    async with FakeDiscord() as fake, rest_client("fake-bot-token", fake.base_url) as discord_client:
        fake.add_channel(LOG, GUILD, name="bot-log")
        real = OutageActivities(discord_client, None, settings)  # type: ignore[arg-type]
        await ActivityEnvironment().run(real.post, summary)  # no log channel set: the host's DMs
        await LogChannel(settings).set(GUILD, LOG)
        await ActivityEnvironment().run(real.post, summary)
        dms, logged = fake.dms(HOST), fake.messages(LOG)
        fake.assert_no_violations()

    assert len(dms) == 1 and len(logged) == 1
    for message in (dms[0], logged[0]):
        assert "⏭️ missed: **Quiz night**" in message.content
        [row] = message.components
        [button] = row["components"]
        assert button["label"] == "Retry 1: Quiz night"
        assert RETRY_JOB.match(button["custom_id"]) is not None


async def test_an_outage_that_made_jobs_late_missed_and_failed_is_one_summary_with_retry_for_two(
    time_env: WorkflowEnvironment,
) -> None:
    doubles = Doubles(time_env)
    summaries: list[OutageSummary] = []

    @activity.defn(name=POST_OUTAGE_SUMMARY)
    async def post_outage_summary(summary: OutageSummary) -> dict[str, str]:
        summaries.append(summary)
        return {"message_id": "9"}

    @activity.defn(name=EXECUTE_CUSTOM_ACTION)
    async def execute_custom_action(action: ActionInput) -> None:
        raise ApplicationError("Discord refused (403): Missing Permissions", non_retryable=True)

    real = OutageActivities(discord.Client(intents=discord.Intents.none()), time_env.client, MemorySettings())
    activities = [a for a in doubles.activities() if getattr(a, "__name__", "") != "report_to_outage_summary"]
    now = await time_env.get_current_time()
    late = [job(now, timedelta(minutes=10 + n), reminders=[]) for n in range(2)]
    # The host chose to skip this one past five minutes; the worker is back twenty minutes after it.
    skipped = job(now, timedelta(minutes=10), reminders=[]).model_copy(
        update={"if_late": IfLate(skip_after=timedelta(minutes=5)), "description": "Skipped post"}
    )
    broken = job(now, timedelta(minutes=12), reminders=[]).model_copy(
        update={"action": EXECUTE_CUSTOM_ACTION, "description": "Broken action"}
    )
    async with build_worker(
        time_env.client,
        QUEUE,
        [*activities, execute_custom_action, real.report, post_outage_summary],
        workflows=[ScheduledJobWorkflow, OutageSummaryWorkflow],
    ):
        handles = [
            await time_env.client.start_workflow(
                ScheduledJobWorkflow.run,
                spec,
                id=job_id_for(GUILD, uuid.uuid4().hex[:8]),
                task_queue=QUEUE,
                start_delay=timedelta(minutes=30),
            )
            for spec in [*late, skipped, broken]
        ]
        outcomes = [(await handle.result()).outcome for handle in handles]
        await time_env.sleep(timedelta(minutes=10))
        await time_env.client.get_workflow_handle(outage_id_for(GUILD)).result()

    assert outcomes == ["done", "done", "missed", "failed"]
    [told] = summaries
    assert sorted(e.kind for e in told.entries) == ["failed", "late", "late", "missed"]
    assert "2 ran late, 1 missed, 1 failed." in summary_text(told)
    buttons = [item for item in retry_view(told).children if isinstance(item, discord.ui.Button)]
    retried = {m["suffix"] for b in buttons if (m := RETRY_JOB.match(b.custom_id or "")) is not None}
    assert retried == {job_suffix(handles[2].id, GUILD), job_suffix(handles[3].id, GUILD)}
