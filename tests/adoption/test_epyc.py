"""EPYC's ScheduledJob rows imported on the time-skipping server: the pending season becomes a
season here with its rules and players, turn timeouts become plain jobs that post a notice (with
their warnings as reminders), and what cannot come is reported with its row."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from adoption.epyc import Fallback, import_rows
from adoption.report import Outcome, Report
from adoption.target import Target
from tests.support.adoption import Recorders, at_now, import_worker
from tests.support.whispers import recording
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_models import JobResult, JobSpec, job_id_for
from workflows.seasons_models import season_id_for

GUILD, CHANNEL, ACTIVE_CHANNEL = 900000000000000001, 900000000000000002, 900000000000000003
HANA, PAX, HOST = 900000000000000011, 900000000000000012, 900000000000000020
QUEUE = "adoption"
FILE = "epyc_export.json"


@dataclass
class World:
    env: WorkflowEnvironment
    target: Target
    recorders: Recorders
    now: datetime


@pytest.fixture
async def world(time_env: WorkflowEnvironment) -> AsyncIterator[World]:
    now = await time_env.get_current_time()
    async with import_worker(time_env.client, QUEUE, time_env) as recorders:
        yield World(time_env, Target(time_env.client, QUEUE, clock=lambda: now), recorders, now)


def lines(report: Report, outcome: Outcome) -> list[str]:
    return [f"{e.where} | {e.what} | {e.why}" for e in report.of(outcome)]


async def test_the_pending_season_and_turn_timeouts_come_over(world: World) -> None:
    report = await import_rows(world.target, at_now(FILE, world.now), Fallback(by=HOST))
    created = lines(report, "created")
    assert len(created) == 4, report.text()

    # The season: open until the row's moment, with its rules, its creator as host, its players.
    assert "season of server 900000000000000001 in channel 900000000000000002" in created[0]
    assert "2 players joined again" in created[0]
    status = await world.target.seasons.status(GUILD)
    assert status.host_id == HOST and status.channel_id == CHANNEL and status.players == [HANA, PAX]
    assert abs(status.open_until - (world.now + timedelta(days=2))) < timedelta(milliseconds=2)
    assert status.rules.drawing_timeout == timedelta(days=2) and status.rules.min_players == 2

    # The claim timeout: a notice in the active season's channel, its warning a reminder 1h before.
    claim = job_id_for(GUILD, "epyc:turn-claim-timeout-Tw1rn8Gx4Hk2Lp6Qs9Uv3")
    assert claim in created[1] and "warning kept as a reminder 1h before" in created[1]
    assert "row 3 (turn-warning-Tw1rn8Gx4Hk2Lp6Qs9Uv3) | a turn warning | kept as a reminder of" in created[2]
    spec = await world.target.started_input(claim, JobSpec)
    assert spec.action == "post_message" and spec.channel_id == ACTIVE_CHANNEL
    assert spec.scheduled_by == HOST  # the season's creator
    assert f"<@{HANA}>'s time to claim their writing turn has run out" in str(spec.payload["content"])
    assert [(r.offset, r.message) for r in spec.reminders] == [(timedelta(hours=1), "1h")]
    assert abs(spec.deadline - (world.now + timedelta(days=1))) < timedelta(milliseconds=2)

    # Overdue: the submission timeout posts its notice at once.
    submission = job_id_for(GUILD, "epyc:turn-submission-timeout-Tw2drw5Ab7Cd9Ef1Gh3Ij")
    assert submission in created[3] and "overdue by 5m: runs at once" in created[3]
    handle = world.env.client.get_workflow_handle_for(ScheduledJobWorkflow.run, submission)
    result = await handle.result()
    assert isinstance(result, JobResult) and result.outcome == "done"
    [(posted, _)] = world.recorders.jobs.actions
    assert f"<@{PAX}>'s time to hand in their drawing turn" in str(posted.payload["content"])

    refused = lines(report, "refused")
    assert len(refused) == 3, report.text()
    assert "row 5 (season-activation-Gh0stSeason1NoRowsHere)" in refused[0]
    assert "give --guild and --channel" in refused[0]
    assert (
        "row 7 (stale-game-sweep-1)" in refused[1] and "nothing like EPYC's 'stale-game-sweep'" in refused[1]
    )
    assert "row 8 (turn-claim-timeout-BrokenRowNoFireDate1)" in refused[2] and "fireDate" in refused[2]
    skipped = lines(report, "skipped")
    assert any("row 6" in line and "status there is EXECUTED" in line for line in skipped)
    assert any("row 9" in line and "no pending timeout of this turn" in line for line in skipped)


async def test_a_second_import_starts_nothing_and_the_fallback_places_what_the_rows_do_not(
    world: World,
) -> None:
    await import_rows(world.target, at_now(FILE, world.now), Fallback(by=HOST))
    client, starts = recording(world.env.client)
    again = Target(client, QUEUE, clock=lambda: world.now)
    second = await import_rows(again, at_now(FILE, world.now), Fallback(by=HOST))
    assert second.count("created") == 0 and starts.started == []
    assert sum("already imported" in e.why for e in second.of("skipped")) == 4
    # With a server and channel given, the season that has no rows becomes a plain notice job.
    placed = await import_rows(again, at_now(FILE, world.now), Fallback(GUILD, CHANNEL, HOST))
    [made] = placed.of("created")
    assert "Gh0stSeason1NoRowsHere" in made.what and "a plain job, not a season" in made.why
    assert starts.started == [job_id_for(GUILD, "epyc:season-activation-Gh0stSeason1NoRowsHere")]


async def test_a_dry_run_starts_nothing(world: World) -> None:
    client, starts = recording(world.env.client)
    dry = Target(client, QUEUE, dry_run=True, clock=lambda: world.now)
    report = await import_rows(dry, at_now(FILE, world.now), Fallback(by=HOST))
    assert report.count("created") == 4 and starts.started == []
    assert report.lines()[-1] == "Dry run, nothing changed. Would create 4, skip 2, refuse 3."
    assert not await world.target.exists(season_id_for(GUILD))


async def test_an_overdue_season_starts_at_once_with_its_players(world: World) -> None:
    report = await import_rows(world.target, at_now(FILE, world.now - timedelta(days=3)), Fallback(by=HOST))
    [season] = [e for e in report.of("created") if e.what.startswith("season")]
    assert "overdue by 1d: it starts at once" in season.why
    await world.env.sleep(timedelta(minutes=2))
    status = await world.target.seasons.status(GUILD)
    assert status.state == "running" and status.players == [HANA, PAX]
