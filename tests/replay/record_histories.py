"""Record workflow histories for the replay tests: `python -m tests.replay.record_histories`.

Run it when a workflow gains a new path worth guarding. Histories already recorded are never
rewritten: they stand for executions that may still be running in production, and every later
change to a workflow must replay them (use `workflow.patched` for changes that would not).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from temporalio import activity
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from clients.custom_actions import run_payload
from clients.health import HealthChecks
from clients.seasons import Seasons
from clients.store import PersistentStore, VersionConflict
from clients.whispers import Whispers
from stack.temporal import data_converter
from tests.support import challenges_doubles as chains
from tests.support import health_doubles
from tests.support import seasons_doubles as season_doubles
from tests.support.custom_actions_doubles import custom_actions_worker
from tests.support.jobs_doubles import CHANNEL, GUILD, HOST, Doubles, job, start
from tests.support.temporal import TEST_KEY, binary, eventually, register_search_attributes
from tests.support.whispers import whisper_seal
from tests.whispers import test_workflow as whisper_tests
from worker import build_worker
from workflows.challenges import ChallengeChainWorkflow
from workflows.challenges_models import (
    AddRoundRequest,
    CancelChainRequest,
    ChainRequest,
    RoundAction,
    RoundSpec,
    ShiftChainRequest,
    SkipRequest,
)
from workflows.common import UserError
from workflows.custom_actions_models import EXECUTE_CUSTOM_ACTION, CurrencyOutcome, TextOutcome
from workflows.health import HealthCheckWorkflow
from workflows.health_models import STOP_SIGNAL, HealthStop
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_actions import POST_MESSAGE, SEND_REMINDER
from workflows.jobs_models import (
    ActionInput,
    CancelRequest,
    IfLate,
    JobAnnouncement,
    OperatorCancel,
    Reminder,
    ReminderInput,
    RescheduleRequest,
    ShiftRequest,
    SteerRequest,
    job_id_for,
)
from workflows.outage import OutageSummaryWorkflow
from workflows.outage_models import (
    OUTAGE_REPORT_SIGNAL,
    POST_OUTAGE_SUMMARY,
    OutageEntry,
    OutageInput,
    OutageSummary,
    outage_id_for,
)
from workflows.store import StoreWorkflow

HISTORIES = Path(__file__).parent / "histories"

# A scenario drives one workflow run to its end and returns its id (`id@run` for a given run).
Scenario = Callable[[WorkflowEnvironment], Awaitable[str]]


def _job_worker(env: WorkflowEnvironment, doubles: Doubles | None = None) -> Worker:
    return build_worker(env.client, "jobs", (doubles or Doubles(env)).activities())


async def reminders_then_action(env: WorkflowEnvironment) -> str:
    async with _job_worker(env):
        handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
        await handle.result()
    return handle.id


async def cancelled(env: WorkflowEnvironment) -> str:
    async with _job_worker(env):
        handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
        await env.sleep(timedelta(minutes=40))
        await handle.execute_update(ScheduledJobWorkflow.cancel, CancelRequest(by=HOST, guild_id=GUILD))
        await handle.result()
    return handle.id


async def rescheduled(env: WorkflowEnvironment) -> str:
    async with _job_worker(env):
        now = await env.get_current_time()
        handle = await start(env, job(now, timedelta(hours=1)))
        await env.sleep(timedelta(minutes=40))
        request = RescheduleRequest(deadline=now + timedelta(hours=3), by=HOST, guild_id=GUILD)
        await handle.execute_update(ScheduledJobWorkflow.reschedule, request)
        await handle.result()
    return handle.id


async def steered(env: WorkflowEnvironment) -> str:
    """Moved (steer-reminders-once), moved later by a duration, paused, resumed, then run now."""
    async with _job_worker(env):
        now = await env.get_current_time()
        handle = await start(env, job(now, timedelta(hours=1)))
        await env.sleep(timedelta(minutes=40))
        request = RescheduleRequest(deadline=now + timedelta(hours=2), by=HOST, guild_id=GUILD)
        await handle.execute_update(ScheduledJobWorkflow.reschedule, request)
        shift = ShiftRequest(by_how_much=timedelta(minutes=30), by=HOST, guild_id=GUILD)
        await handle.execute_update(ScheduledJobWorkflow.shift, shift)
        await env.sleep(timedelta(minutes=50))
        await handle.execute_update(ScheduledJobWorkflow.pause, SteerRequest(by=HOST, guild_id=GUILD))
        await env.sleep(timedelta(hours=3))
        await handle.execute_update(ScheduledJobWorkflow.resume, SteerRequest(by=HOST, guild_id=GUILD))
        await env.sleep(timedelta(minutes=45))
        await handle.execute_update(ScheduledJobWorkflow.run_now, SteerRequest(by=HOST, guild_id=GUILD))
        await handle.result()
    return handle.id


async def repeat_occurrence(env: WorkflowEnvironment) -> str:
    """An occurrence of a repeat: due `lead` after it started (the schedule fired that early)."""
    async with _job_worker(env):
        now = await env.get_current_time()
        spec = job(now, timedelta(hours=1)).model_copy(update={"lead": timedelta(minutes=40)})
        handle = await start(env, spec)
        await handle.result()
    return handle.id


async def occurrence_reminded_when_fired(env: WorkflowEnvironment) -> str:
    """An occurrence whose earliest reminder is as early as its lead: due the moment it starts."""
    async with _job_worker(env):
        now = await env.get_current_time()
        reminders = [
            Reminder(offset=timedelta(minutes=40), message="40m"),
            Reminder(offset=timedelta(minutes=5), message="5m"),
        ]
        spec = job(now, timedelta(hours=1), reminders=reminders).model_copy(
            update={"lead": timedelta(minutes=40)}
        )
        handle = await start(env, spec)
        await handle.result()
    return handle.id


async def failed(env: WorkflowEnvironment) -> str:
    def gone(attempt: int) -> None:
        raise ApplicationError("Unknown Channel", type="DiscordRejected", non_retryable=True)

    doubles = Doubles(env)
    doubles.action_behaviour = gone
    async with _job_worker(env, doubles):
        handle = await start(env, job(await env.get_current_time(), timedelta(minutes=10), reminders=[]))
        await handle.result()
    return handle.id


async def custom_action_retried(env: WorkflowEnvironment) -> str:
    """A scheduled Custom Action: a regular, heartbeating activity that fails once (Discord 503)
    and then posts, with its currency applied once."""

    def blip(attempt: int) -> None:
        if attempt == 1:
            raise ApplicationError("Discord is unavailable (503)", type="DiscordUnavailable")

    async with custom_actions_worker(env.client, "custom-actions", await env.get_current_time()) as h:
        h.discord.fail = blip
        await h.give(GUILD, HOST, 10)
        created = await h.actions.create(GUILD, "Replay", by=HOST)
        outcomes = [TextOutcome(text="recorded"), CurrencyOutcome(amount=5)]
        definition = await h.actions.edit(
            GUILD, created.id, lambda d: d.model_copy(update={"outcomes": outcomes})
        )
        task = await h.actions.schedule(
            definition, guild_id=GUILD, channel_id=HOST, by=HOST, delay=timedelta(minutes=10)
        )
        await env.sleep(timedelta(minutes=20))
        await env.client.get_workflow_handle(task.job_id).result()
        assert len(h.discord.posts) == 1 and await h.balance(GUILD, HOST) == 15
    return task.job_id


# Recorded with the code of `workflows.jobs.JOBS_PATCH` (the four above predate it).


async def patched_reminders_then_action(env: WorkflowEnvironment) -> str:
    return await reminders_then_action(env)


async def operator_signal(env: WorkflowEnvironment) -> str:
    async with _job_worker(env):
        handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
        await env.sleep(timedelta(minutes=40))
        await handle.signal(ScheduledJobWorkflow.operator_cancel, OperatorCancel(by="ops", reason="replay"))
        await handle.result()
    return handle.id


async def temporal_cancellation(env: WorkflowEnvironment) -> str:
    async with _job_worker(env):
        handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
        await env.sleep(timedelta(minutes=40))
        await handle.cancel(reason="replay")
        await handle.result()
    return handle.id


async def outage_then_results(env: WorkflowEnvironment) -> str:
    """Discord down from before a reminder until a day after the deadline: the reminder's
    attempts end at the deadline, the action waits as a regular activity."""
    doubles = Doubles(env)
    now = await env.get_current_time()
    spec = job(now, timedelta(minutes=5), reminders=[Reminder(offset=timedelta(seconds=4), message="4 s")])
    doubles.discord_down = lambda at: (
        spec.deadline - timedelta(seconds=5) <= at < spec.deadline + timedelta(days=1)
    )
    async with _job_worker(env, doubles):
        handle = await start(env, spec)
        await handle.result()
    return handle.id


async def _late(env: WorkflowEnvironment, lateness: timedelta) -> str:
    now = await env.get_current_time()
    spec = job(now, timedelta(minutes=10), reminders=[])
    async with _job_worker(env):
        handle = await start(env, spec, start_delay=timedelta(minutes=10) + lateness)
        await handle.result()
    return handle.id


async def told_missed_after_outage(env: WorkflowEnvironment) -> str:
    """No worker until two hours after a post's moment (`workflows.jobs.LATE_PATCH`): missed."""
    return await _late(env, timedelta(hours=2))


async def told_posted_late(env: WorkflowEnvironment) -> str:
    """No worker until ten minutes after a post's moment: posted with the late line."""
    return await _late(env, timedelta(minutes=10))


async def _late_custom_action(env: WorkflowEnvironment, lateness: timedelta) -> str:
    """A scheduled Custom Action whose worker came back `lateness` after its moment."""
    async with custom_actions_worker(env.client, "custom-actions", await env.get_current_time()) as h:
        created = await h.actions.create(GUILD, "Replay", by=HOST)
        definition = await h.actions.edit(
            GUILD, created.id, lambda d: d.model_copy(update={"outcomes": [TextOutcome(text="late")]})
        )
        spec = job(await env.get_current_time(), timedelta(minutes=10), reminders=[]).model_copy(
            update={
                "action": EXECUTE_CUSTOM_ACTION,
                "payload": run_payload(definition, GUILD, HOST, HOST, "host"),
            }
        )
        handle = await env.client.start_workflow(
            ScheduledJobWorkflow.run,
            spec,
            id=job_id_for(GUILD, "late-custom-action"),
            task_queue="custom-actions",
            start_delay=timedelta(minutes=10) + lateness,
        )
        await handle.result()
    return handle.id


async def custom_action_ran_late_before_windows(env: WorkflowEnvironment) -> str:
    """Recorded with the code before `workflows.jobs.IF_LATE_PATCH`: a custom action two hours
    late still ran (no window then), and must replay so."""
    return await _late_custom_action(env, timedelta(hours=2))


async def told_custom_action_missed_past_its_window(env: WorkflowEnvironment) -> str:
    """Since `workflows.jobs.IF_LATE_PATCH`: a custom action two hours late is missed."""
    return await _late_custom_action(env, timedelta(hours=2))


async def told_host_chose_run_anyway(env: WorkflowEnvironment) -> str:
    """Since `workflows.jobs.IF_LATE_PATCH`: a post whose host chose `run anyway`, two hours late
    (past the post's own hour), posted with the late line."""
    now = await env.get_current_time()
    spec = job(now, timedelta(minutes=10), reminders=[]).model_copy(
        update={"if_late": IfLate(skip_after=None)}
    )
    async with _job_worker(env):
        handle = await start(env, spec, start_delay=timedelta(hours=2, minutes=10))
        await handle.result()
    return handle.id


async def told_host_window_missed(env: WorkflowEnvironment) -> str:
    """Since `workflows.jobs.IF_LATE_PATCH`: a post whose host chose `skip after 10m`, 20 minutes
    late (within the post's own hour), missed."""
    now = await env.get_current_time()
    spec = job(now, timedelta(minutes=10), reminders=[]).model_copy(
        update={"if_late": IfLate(skip_after=timedelta(minutes=10))}
    )
    async with _job_worker(env):
        handle = await start(env, spec, start_delay=timedelta(minutes=30))
        await handle.result()
    return handle.id


# Recorded with the code of `workflows.jobs.SUPERSEDE_PATCH`.


async def superseded_reminders(env: WorkflowEnvironment) -> str:
    """Two reminders due together after an outage: the earlier is skipped, the later sent."""
    now = await env.get_current_time()
    reminders = [
        Reminder(offset=timedelta(minutes=10), message="10 minutes"),
        Reminder(offset=timedelta(minutes=9, seconds=30), message="9½ minutes"),
    ]
    handle = await start(
        env, job(now, timedelta(hours=1), reminders=reminders), start_delay=timedelta(minutes=50, seconds=50)
    )
    async with _job_worker(env):
        await handle.result()
    return handle.id


# Recorded with the code of `workflows.jobs.ANNOUNCE_PATCH`.


async def announced_then_cancelled(env: WorkflowEnvironment) -> str:
    """The bot says where it announced the job; the host cancels it: the post is edited."""
    doubles = Doubles(env)
    async with _job_worker(env, doubles):
        handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
        announcement = JobAnnouncement(channel_id=HOST, message_id=555, title="🦁 **Safari round 1 results**")
        await handle.signal(ScheduledJobWorkflow.announced, announcement)
        await env.sleep(timedelta(minutes=40))
        await handle.execute_update(ScheduledJobWorkflow.cancel, CancelRequest(by=HOST, guild_id=GUILD))
        await handle.result()
        assert len(doubles.announcements) == 1
    return handle.id


async def announced_then_fired(env: WorkflowEnvironment) -> str:
    doubles = Doubles(env)
    async with _job_worker(env, doubles):
        handle = await start(env, job(await env.get_current_time(), timedelta(minutes=10)))
        announcement = JobAnnouncement(channel_id=HOST, message_id=555, title="🦁 **Safari round 1 results**")
        await handle.signal(ScheduledJobWorkflow.announced, announcement)
        await handle.result()
        assert len(doubles.announcements) == 1
    return handle.id


async def announced_then_steered(env: WorkflowEnvironment) -> str:
    """Announced, moved later, paused (listed paused: `workflows.jobs.PAUSED_LISTED_PATCH`),
    resumed, run now: the post is corrected after each change, then says it was posted."""
    doubles = Doubles(env)
    async with _job_worker(env, doubles):
        handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
        announcement = JobAnnouncement(channel_id=HOST, message_id=555, title="📣 **Game night**")
        await handle.signal(ScheduledJobWorkflow.announced, announcement)
        shift = ShiftRequest(by_how_much=timedelta(minutes=30), by=HOST, guild_id=GUILD)
        await handle.execute_update(ScheduledJobWorkflow.shift, shift)
        await env.sleep(timedelta(minutes=10))
        await handle.execute_update(ScheduledJobWorkflow.pause, SteerRequest(by=HOST, guild_id=GUILD))
        await env.sleep(timedelta(hours=2))
        await handle.execute_update(ScheduledJobWorkflow.resume, SteerRequest(by=HOST, guild_id=GUILD))
        await env.sleep(timedelta(minutes=10))
        await handle.execute_update(ScheduledJobWorkflow.run_now, SteerRequest(by=HOST, guild_id=GUILD))
        await handle.result()
        assert len(doubles.announcements) == 4
    return handle.id


def _whisper_worker(env: WorkflowEnvironment) -> Worker:
    doubles = whisper_tests.Doubles(env)
    return build_worker(env.client, whisper_tests.QUEUE, doubles.activities())


async def whisper_read_then_window_closes(env: WorkflowEnvironment) -> str:
    whispers = Whispers(env.client, whisper_tests.QUEUE, whisper_seal())
    async with _whisper_worker(env):
        whisper_id = await whisper_tests.send(whispers)
        await env.sleep(timedelta(hours=1))
        await whispers.read(whisper_id, reader_id=whisper_tests.BOB)
        await env.sleep(timedelta(hours=23))
        await whispers.read(whisper_id, reader_id=whisper_tests.BOB)
        await env.sleep(timedelta(hours=2))
        await whisper_tests.result(env.client, whisper_id)
    return whisper_id


async def whisper_expired(env: WorkflowEnvironment) -> str:
    whispers = Whispers(env.client, whisper_tests.QUEUE, whisper_seal())
    async with _whisper_worker(env):
        whisper_id = await whisper_tests.send(whispers)
        await env.sleep(timedelta(days=31))
        await whisper_tests.result(env.client, whisper_id)
    return whisper_id


async def whisper_unsent(env: WorkflowEnvironment) -> str:
    whispers = Whispers(env.client, whisper_tests.QUEUE, whisper_seal())
    async with _whisper_worker(env):
        whisper_id = await whisper_tests.send(whispers)
        await env.sleep(timedelta(hours=1))
        await whispers.cancel(whisper_id, by=whisper_tests.ALICE)
        await whisper_tests.result(env.client, whisper_id)
    return whisper_id


async def whisper_sealed_read_then_window_closes(env: WorkflowEnvironment) -> str:
    """Since WHISPER_KEYS: the input carries `sealed_text`, ids as strings."""
    return await whisper_read_then_window_closes(env)


async def whisper_read_button_kept_then_window_closes(env: WorkflowEnvironment) -> str:
    """Since `workflows.whispers.REREAD_PATCH`: read, the notification keeps its Read Message
    button through the re-read window, then is deleted."""
    return await whisper_read_then_window_closes(env)


async def whisper_operator_cancelled(env: WorkflowEnvironment) -> str:
    whispers = Whispers(env.client, whisper_tests.QUEUE, whisper_seal())
    async with _whisper_worker(env):
        whisper_id = await whisper_tests.send(whispers)
        await env.sleep(timedelta(hours=1))
        await whispers.operator_cancel(whisper_id, by="ops-alice", reason="reported")
        await whisper_tests.result(env.client, whisper_id)
    return whisper_id


async def whisper_operator_closes_reread_window(env: WorkflowEnvironment) -> str:
    whispers = Whispers(env.client, whisper_tests.QUEUE, whisper_seal())
    async with _whisper_worker(env):
        whisper_id = await whisper_tests.send(whispers)
        await whispers.read(whisper_id, reader_id=whisper_tests.BOB)
        await env.sleep(timedelta(hours=1))
        await whispers.operator_cancel(whisper_id, by="ops-alice")
        await whisper_tests.result(env.client, whisper_id)
    return whisper_id


async def whisper_temporal_cancelled(env: WorkflowEnvironment) -> str:
    whispers = Whispers(env.client, whisper_tests.QUEUE, whisper_seal())
    async with _whisper_worker(env):
        whisper_id = await whisper_tests.send(whispers)
        await env.sleep(timedelta(days=2))
        await env.client.get_workflow_handle(whisper_id).cancel()
        await whisper_tests.result(env.client, whisper_id)
    return whisper_id


async def store_writes_then_continues_as_new(env: WorkflowEnvironment) -> str:
    """Sets, a compare-and-set that wins and one refused, a delete, then continue-as-new after 6
    writes: the history of the first run, which ends in ContinueAsNew."""
    async with build_worker(env.client, "stores", [], workflows=[StoreWorkflow]):
        store = await PersistentStore.create(env.client, "replay-store", "stores", continue_after_updates=6)
        first_run = (await env.client.get_workflow_handle(store.workflow_id).describe()).run_id
        version = await store.set("players", {"alice": 100})
        await store.set("round", 1)
        await store.compare_and_set("players", version, {"alice": 200})
        with contextlib.suppress(VersionConflict):
            await store.compare_and_set("players", version, {"alice": 999})
        await store.delete("round")
        for n in range(4):
            await store.set(f"k{n}", n)
        assert await store.get("players") == {"alice": 200}
    return f"{store.workflow_id}@{first_run}"


async def season_completed(env: WorkflowEnvironment) -> str:
    """Two players: one lets an offer lapse, then every turn is claimed and submitted."""
    facade = season_doubles.seasons(env.client)
    doubles = season_doubles.Doubles(env)
    async with season_doubles.season_worker(env.client, doubles):
        players = season_doubles.PLAYERS[:2]
        await season_doubles.open_season(facade, players=players, min_players=2, max_players=2)
        await eventually(lambda: len(doubles.offers) == 2)
        first = doubles.offers_to(players[0])[0]
        await facade.claim(first.turn_id, players[0])
        await facade.submit(first.turn_id, players[0], season_doubles.writing())
        await env.sleep(timedelta(days=1, minutes=1))  # the second player's offer lapses
        for offer, _ in list(doubles.offers)[2:]:
            claim = await facade.claim(offer.turn_id, offer.player_id)
            made = season_doubles.writing() if claim.kind == "writing" else season_doubles.drawing()
            await facade.submit(offer.turn_id, offer.player_id, made)
        await env.sleep(timedelta(minutes=1))
        await season_doubles.season_handle(facade).result()
    return season_doubles.season_handle(facade).id


async def season_cancelled(env: WorkflowEnvironment) -> str:
    facade = season_doubles.seasons(env.client)
    async with season_doubles.season_worker(env.client, season_doubles.Doubles(env)):
        await season_doubles.open_season(facade, players=season_doubles.PLAYERS[:3])
        await env.sleep(timedelta(days=7, minutes=1))
        await season_doubles.season_handle(facade).result()
    return season_doubles.season_handle(facade).id


async def season_close_moved(env: WorkflowEnvironment) -> str:
    """Joining closes a day later, then two hours sooner; too few joined, so it is cancelled then."""
    facade = season_doubles.seasons(env.client)
    async with season_doubles.season_worker(env.client, season_doubles.Doubles(env)):
        await season_doubles.open_season(facade, players=season_doubles.PLAYERS[:3])
        await env.sleep(timedelta(hours=1))
        for delta in (timedelta(days=1), timedelta(hours=-2)):
            await facade.move_close(season_doubles.GUILD, delta, by=season_doubles.HOST)
        await env.sleep(timedelta(days=8))
        await season_doubles.season_handle(facade).result()
    return season_doubles.season_handle(facade).id


async def season_close_moved_announced(env: WorkflowEnvironment) -> str:
    """Announced; joining closes a day later, then two hours sooner, each move correcting the
    opening post (`workflows.seasons.CLOSE_EDIT_PATCH`); too few joined, so it is cancelled."""
    facade = season_doubles.seasons(env.client)
    doubles = season_doubles.Doubles(env)
    async with season_doubles.season_worker(env.client, doubles):
        await season_doubles.open_season(facade, players=season_doubles.PLAYERS[:3])
        await facade.announced(season_doubles.GUILD, season_doubles.CHANNEL, 99)
        await env.sleep(timedelta(hours=1))
        for delta in (timedelta(days=1), timedelta(hours=-2)):
            await facade.move_close(season_doubles.GUILD, delta, by=season_doubles.HOST)
        await env.sleep(timedelta(days=8))
        await season_doubles.season_handle(facade).result()
        assert len(doubles.openings) == 3
    return season_doubles.season_handle(facade).id


async def season_ended(env: WorkflowEnvironment) -> str:
    facade = season_doubles.seasons(env.client)
    doubles = season_doubles.Doubles(env)
    async with season_doubles.season_worker(env.client, doubles):
        await _two_player_season(facade, doubles)
        await facade.claim(doubles.offers[0][0].turn_id, doubles.offers[0][0].player_id)
        await facade.end(season_doubles.GUILD, by=season_doubles.HOST, reason="replay")
        await season_doubles.season_handle(facade).result()
    return season_doubles.season_handle(facade).id


# Recorded with the code of `workflows.seasons.START_POST_PATCH`.


async def season_started_then_ended(env: WorkflowEnvironment) -> str:
    """The bot says where the opening post is; the season fills, posts its start and corrects
    the opening post; the host ends it."""
    facade = season_doubles.seasons(env.client)
    doubles = season_doubles.Doubles(env)
    async with season_doubles.season_worker(env.client, doubles):
        await season_doubles.open_season(facade, min_players=2, max_players=2)
        await facade.announced(season_doubles.GUILD, season_doubles.CHANNEL, 99)
        for player in season_doubles.PLAYERS[:2]:
            await facade.join(season_doubles.GUILD, player)
        await eventually(lambda: len(doubles.offers) == 2 and bool(doubles.openings))
        await facade.end(season_doubles.GUILD, by=season_doubles.HOST, reason="replay")
        await season_doubles.season_handle(facade).result()
    return season_doubles.season_handle(facade).id


async def _two_player_season(facade: Seasons, doubles: season_doubles.Doubles) -> None:
    """A season of two players that starts at once, up to both first offers."""
    players = season_doubles.PLAYERS[:2]
    await season_doubles.open_season(facade, players=players, min_players=2, max_players=2)
    await eventually(lambda: len(doubles.offers) == 2)


async def turn_submitted(env: WorkflowEnvironment) -> str:
    facade = season_doubles.seasons(env.client)
    doubles = season_doubles.Doubles(env)
    async with season_doubles.season_worker(env.client, doubles):
        await _two_player_season(facade, doubles)
        offer = doubles.offers[0][0]
        await env.sleep(timedelta(hours=23, minutes=30))  # after the claim warning
        await facade.claim(offer.turn_id, offer.player_id)
        await env.sleep(timedelta(hours=23, minutes=59, seconds=30))  # after the writing warning
        await facade.submit(offer.turn_id, offer.player_id, season_doubles.writing())
        await env.client.get_workflow_handle(offer.turn_id).result()
    return offer.turn_id


async def turn_extended_then_skipped(env: WorkflowEnvironment) -> str:
    """A host extends the claim, the player claims, the host extends the submission, then skips it."""
    facade = season_doubles.seasons(env.client)
    doubles = season_doubles.Doubles(env)
    host, guild = season_doubles.HOST, season_doubles.GUILD
    async with season_doubles.season_worker(env.client, doubles):
        await _two_player_season(facade, doubles)
        offer = doubles.offers_to(season_doubles.PLAYERS[0])[0]
        await facade.host_turn(guild, offer.player_id, by=host, as_host=True, extend=timedelta(hours=6))
        await env.sleep(timedelta(hours=25))
        await facade.claim(offer.turn_id, offer.player_id)
        await facade.host_turn(guild, offer.player_id, by=host, as_host=True, extend=timedelta(hours=2))
        await env.sleep(timedelta(hours=1))
        await facade.host_turn(guild, offer.player_id, by=host, as_host=True)
        await env.client.get_workflow_handle(offer.turn_id).result()
    return offer.turn_id


async def turn_dismissed(env: WorkflowEnvironment) -> str:
    facade = season_doubles.seasons(env.client)
    doubles = season_doubles.Doubles(env)
    async with season_doubles.season_worker(env.client, doubles):
        await _two_player_season(facade, doubles)
        offer = doubles.offers[0][0]
        await env.sleep(timedelta(days=1, minutes=1))
        await env.client.get_workflow_handle(offer.turn_id).result()
    return offer.turn_id


async def turn_skipped(env: WorkflowEnvironment) -> str:
    facade = season_doubles.seasons(env.client)
    doubles = season_doubles.Doubles(env)
    async with season_doubles.season_worker(env.client, doubles):
        await _two_player_season(facade, doubles)
        offer = doubles.offers[0][0]
        await facade.claim(offer.turn_id, offer.player_id)
        await env.sleep(timedelta(days=1, minutes=1))
        await env.client.get_workflow_handle(offer.turn_id).result()
    return offer.turn_id


async def turn_cancelled(env: WorkflowEnvironment) -> str:
    facade = season_doubles.seasons(env.client)
    doubles = season_doubles.Doubles(env)
    async with season_doubles.season_worker(env.client, doubles):
        await _two_player_season(facade, doubles)
        offer = doubles.offers[0][0]
        await facade.claim(offer.turn_id, offer.player_id)
        await facade.end(season_doubles.GUILD, by=season_doubles.HOST)
        await season_doubles.season_handle(facade).result()
    return offer.turn_id


def _chain_worker(env: WorkflowEnvironment, posts: chains.Posts | None = None) -> Worker:
    activities = (posts or chains.Posts(env)).activities()
    return build_worker(env.client, chains.QUEUE, activities, workflows=[ChallengeChainWorkflow])


CHAIN_REMINDERS = [Reminder(offset=timedelta(minutes=30), message="30 minutes")]


async def chain_skip_pause_resume_cancel(env: WorkflowEnvironment) -> str:
    """Round 1 runs after its reminder, round 2 is skipped, round 3 is paused and resumed, a
    round is added, then the chain is cancelled."""
    host = SkipRequest(by=chains.HOST, guild_id=chains.GUILD)
    rounds = [chains.round_(f"Round {n}", timedelta(hours=1), reminders=CHAIN_REMINDERS) for n in (1, 2, 3)]
    async with _chain_worker(env):
        handle = await chains.start(env, chains.chain(rounds))
        await env.sleep(timedelta(minutes=70))
        await handle.execute_update(ChallengeChainWorkflow.skip, host)
        await env.sleep(timedelta(minutes=20))
        await handle.execute_update(ChallengeChainWorkflow.pause, host)
        await env.sleep(timedelta(hours=3))
        await handle.execute_update(ChallengeChainWorkflow.resume, host)
        extra = chains.round_("Bonus", timedelta(minutes=10))
        await handle.execute_update(
            ChallengeChainWorkflow.add_round,
            AddRoundRequest(by=chains.HOST, guild_id=chains.GUILD, round=extra),
        )
        await env.sleep(timedelta(minutes=50))
        await handle.execute_update(
            ChallengeChainWorkflow.cancel, CancelChainRequest(by=chains.HOST, guild_id=chains.GUILD)
        )
        await handle.result()
    return handle.id


async def chain_shifted(env: WorkflowEnvironment) -> str:
    """Round 1 moved 30 minutes later alone, then the whole chain (a round at a set time too)
    10 minutes earlier; every round runs."""
    rounds = [
        chains.round_("Round 1", timedelta(hours=1), reminders=CHAIN_REMINDERS),
        chains.round_("Round 2", timedelta(hours=1)),
        chains.round_("Finale", at=(await env.get_current_time()) + timedelta(hours=4)),
    ]
    async with _chain_worker(env):
        handle = await chains.start(env, chains.chain(rounds))
        await env.sleep(timedelta(minutes=10))
        for delta, whole in ((timedelta(minutes=30), False), (timedelta(minutes=-10), True)):
            request = ShiftChainRequest(
                by=chains.HOST, guild_id=chains.GUILD, as_host=True, delta=delta, whole=whole
            )
            await handle.execute_update(ChallengeChainWorkflow.shift, request)
        await handle.result()
    return handle.id


async def chain_failed_round_then_continues_as_new(env: WorkflowEnvironment) -> str:
    """A round whose action fails for good, the chain going on, then continue-as-new after 3
    rounds: the first run's history, which ends in ContinueAsNew."""

    def refuse_round_2(action: ActionInput) -> None:
        if "Round 2" in action.description:
            raise ApplicationError("Unknown Channel", type="DiscordRejected", non_retryable=True)

    posts = chains.Posts(env, action_behaviour=refuse_round_2)
    rounds = [
        chains.round_(
            f"Round {n}",
            timedelta(minutes=10),
        )
        for n in range(1, 6)
    ]
    async with _chain_worker(env, posts):
        handle = await chains.start(env, chains.chain(rounds, key="replay-can", rounds_per_run=3))
        first_run = handle.result_run_id
        await handle.result()
    return f"{handle.id}@{first_run}"


async def chain_second_run_after_continue_as_new(env: WorkflowEnvironment) -> str:
    """The run a continue-as-new started, with the progress it carried: it finishes the chain."""
    rounds = [
        chains.round_(f"Round {n}", timedelta(minutes=10), reminders=CHAIN_REMINDERS) for n in range(1, 5)
    ]
    async with _chain_worker(env):
        handle = await chains.start(env, chains.chain(rounds, key="replay-run-2", rounds_per_run=2))
        await handle.result()
    assert handle.result_run_id is not None
    first = await env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id).fetch_history()
    run_2 = first.events[-1].workflow_execution_continued_as_new_event_attributes.new_execution_run_id
    assert run_2, "the first run did not continue as new"
    return f"{handle.id}@{run_2}"


async def health_outage_pause_then_continues_as_new(env: WorkflowEnvironment) -> str:
    """Checks through an outage (two posts), a pause, a run-now while paused, a resume, then
    continue-as-new after 8 checks: the first run's history."""
    probes = health_doubles.Probes(env)
    now = await env.get_current_time()
    probes.outages = [(now + timedelta(minutes=90), now + timedelta(minutes=150))]
    checks = HealthChecks(env.client, health_doubles.QUEUE)
    async with build_worker(
        env.client, health_doubles.QUEUE, probes.activities(), workflows=[HealthCheckWorkflow]
    ):
        workflow_id = await checks.start(
            guild_id=health_doubles.GUILD,
            admin_channel_id=health_doubles.ADMIN_CHANNEL,
            interval=timedelta(hours=1),
            checks_per_run=8,
        )
        first_run = (await env.client.get_workflow_handle(workflow_id).describe()).run_id
        await env.sleep(timedelta(hours=3, minutes=30))
        await checks.pause(health_doubles.GUILD, by=health_doubles.ADMIN)
        await checks.run_now(health_doubles.GUILD, by=health_doubles.ADMIN)
        await env.sleep(timedelta(hours=2))
        await checks.resume(health_doubles.GUILD, by=health_doubles.ADMIN)
        await env.sleep(timedelta(hours=5))
    return f"{workflow_id}@{first_run}"


# Recorded with the code of `workflows.challenges.CANCEL_STOPS_ROUND`, `workflows.health.SETTLE_PATCH`,
# `workflows.seasons.END_PATCH` and `workflows.seasons_turns.CANCEL_PATCH`.


async def chain_named_skip_then_cancel_during_a_round(env: WorkflowEnvironment) -> str:
    """A skip naming round 1 after it ran (refused), one naming round 2, then a cancel while
    round 3's first of two posts is on its way: the second is never posted."""
    host = SkipRequest(by=chains.HOST, guild_id=chains.GUILD)
    two_posts = RoundSpec(
        name="Round 3",
        after=timedelta(minutes=10),
        actions=[
            RoundAction(action=POST_MESSAGE, payload={"content": "first"}),
            RoundAction(action=POST_MESSAGE, payload={"content": "second"}),
        ],
    )
    posts = chains.Posts(env)
    rounds = [chains.round_("Round 1", timedelta(hours=1)), chains.round_("Round 2", timedelta(hours=1))]
    async with _chain_worker(env, posts):
        spec = chains.chain([*rounds, two_posts], key="replay-named")
        handle = await chains.start(env, spec, task_timeout=timedelta(seconds=2))
        await env.sleep(timedelta(minutes=70))
        with contextlib.suppress(WorkflowUpdateFailedError):
            await handle.execute_update(ChallengeChainWorkflow.skip, host.model_copy(update={"round": 0}))
        await handle.execute_update(ChallengeChainWorkflow.skip, host.model_copy(update={"round": 1}))
        posts.gate = asyncio.Event()
        await env.sleep(timedelta(minutes=10))
        await eventually(lambda: posts.started == 2)
        await handle.execute_update(
            ChallengeChainWorkflow.cancel, CancelChainRequest(by=chains.HOST, guild_id=chains.GUILD)
        )
        posts.gate.set()
        await handle.result()
        assert posts.actions() == ["Round 1 starts now!", "first"]
    return handle.id


async def chain_told_to_players_with_round_headers(env: WorkflowEnvironment) -> str:
    """Round posts under a line naming the chain and round (`ROUND_HEADER`), one round in its own
    channel, a pause, a resume, a skip and a cancel told in the chain's channel (`ANNOUNCE_STEERING`)."""
    host = SkipRequest(by=chains.HOST, guild_id=chains.GUILD)
    rounds = [
        chains.round_("Round 1", timedelta(minutes=10)),
        chains.round_("Photos", timedelta(minutes=10), channel_id=chains.CHANNEL + 1),
        chains.round_("Round 3", timedelta(hours=1)),
        chains.round_("Finale", timedelta(hours=1)),
    ]
    posts = chains.Posts(env)
    async with _chain_worker(env, posts):
        handle = await chains.start(env, chains.chain(rounds, key="replay-told"))
        await env.sleep(timedelta(minutes=15))
        await handle.execute_update(ChallengeChainWorkflow.pause, host)
        await eventually(lambda: len(posts.announcements) == 1)
        await env.sleep(timedelta(hours=1))
        await handle.execute_update(ChallengeChainWorkflow.resume, host)
        await eventually(lambda: len(posts.announcements) == 2)
        await env.sleep(timedelta(minutes=10))
        await handle.execute_update(ChallengeChainWorkflow.skip, host)
        await eventually(lambda: len(posts.announcements) == 3)
        await env.sleep(timedelta(minutes=10))
        await handle.execute_update(
            ChallengeChainWorkflow.cancel, CancelChainRequest(by=chains.HOST, guild_id=chains.GUILD)
        )
        await handle.result()
        assert len(posts.announcements) == 4
        assert posts.headers == ["**Quiz** · Round 1 of 4", "**Quiz** · Round 2 of 4"]
        assert posts.channels == [chains.CHANNEL, chains.CHANNEL + 1]
    return handle.id


async def health_flapping_then_settles(env: WorkflowEnvironment) -> str:
    """Hourly checks that flap (posting nothing), then fail twice (posted), then recover."""
    probes = health_doubles.Probes(env)
    now = await env.get_current_time()
    minute = timedelta(minutes=1)
    probes.outages = [
        (now + timedelta(hours=h) - minute, now + timedelta(hours=h) + minute) for h in (1, 3, 5, 6)
    ]
    checks = HealthChecks(env.client, health_doubles.QUEUE)
    async with build_worker(
        env.client, health_doubles.QUEUE, probes.activities(), workflows=[HealthCheckWorkflow]
    ):
        workflow_id = await checks.start(
            guild_id=health_doubles.GUILD,
            admin_channel_id=health_doubles.ADMIN_CHANNEL,
            interval=timedelta(hours=1),
            checks_per_run=10,
        )
        first_run = (await env.client.get_workflow_handle(workflow_id).describe()).run_id
        await env.sleep(timedelta(hours=10, minutes=30))
        assert [r.state for r in probes.reports] == ["healthy", "failing", "healthy"]
    return f"{workflow_id}@{first_run}"


async def health_alerts_then_stopped(env: WorkflowEnvironment) -> str:
    """Hourly checks with an alert role: failing (the role mentioned), recovered (not), then the
    operator's `stop` signal ends the check."""
    probes = health_doubles.Probes(env)
    now = await env.get_current_time()
    probes.outages = [(now + timedelta(hours=1, minutes=30), now + timedelta(hours=3, minutes=30))]
    checks = HealthChecks(env.client, health_doubles.QUEUE)
    async with build_worker(
        env.client, health_doubles.QUEUE, probes.activities(), workflows=[HealthCheckWorkflow]
    ):
        workflow_id = await checks.start(
            guild_id=health_doubles.GUILD,
            admin_channel_id=health_doubles.ADMIN_CHANNEL,
            interval=timedelta(hours=1),
            alert_role_id=health_doubles.ADMIN,
        )
        await env.sleep(timedelta(hours=6, minutes=30))
        await env.client.get_workflow_handle(workflow_id).signal(STOP_SIGNAL, HealthStop(reason="replay"))
        await env.client.get_workflow_handle(workflow_id).result()
        assert [r.mention_role_id for r in probes.reports] == [None, health_doubles.ADMIN, None]
    return workflow_id


async def outage_two_reports_told_once(env: WorkflowEnvironment) -> str:
    """Two late jobs of one server report within a minute: one summary, posted once."""
    told: list[OutageSummary] = []

    @activity.defn(name=POST_OUTAGE_SUMMARY)
    async def post_outage_summary(summary: OutageSummary) -> dict[str, str]:
        told.append(summary)
        return {"message_id": "1"}

    now = await env.get_current_time()
    entries = [
        OutageEntry(
            job_id=f"job-{GUILD}-r{n}",
            run_id=f"run-{n}",
            guild_id=GUILD,
            scheduled_by=HOST,
            kind="late",
            due=now - timedelta(minutes=20),
            at=now,
        )
        for n in range(2)
    ]
    async with build_worker(env.client, "jobs", [post_outage_summary], workflows=[OutageSummaryWorkflow]):
        handle = await env.client.start_workflow(
            OutageSummaryWorkflow.run,
            OutageInput(guild_id=GUILD),
            id=outage_id_for(GUILD),
            task_queue="jobs",
            start_signal=OUTAGE_REPORT_SIGNAL,
            start_signal_args=[entries[0]],
        )
        await handle.signal(OUTAGE_REPORT_SIGNAL, entries[1])
        await handle.signal(OUTAGE_REPORT_SIGNAL, entries[1])
        assert await handle.result() == 2 and len(told) == 1
    return handle.id


async def _ended_while_edits_fail(env: WorkflowEnvironment) -> tuple[str, str]:
    """A season ended while its first turn's claim edit waits on Discord, which refuses every
    edit: the season posts and closes within seconds, each turn is cancelled."""
    facade = season_doubles.seasons(env.client)
    doubles = season_doubles.Doubles(env)
    async with season_doubles.season_worker(env.client, doubles):
        await _two_player_season(facade, doubles)
        offer = doubles.offers[0][0]
        doubles.edits_fail = True
        await facade.claim(offer.turn_id, offer.player_id)
        await facade.end(season_doubles.GUILD, by=season_doubles.HOST, reason="replay")
        await env.sleep(timedelta(minutes=1))
        await season_doubles.season_handle(facade).result()
    return season_doubles.season_handle(facade).id, offer.turn_id


async def season_ended_while_edits_fail(env: WorkflowEnvironment) -> str:
    return (await _ended_while_edits_fail(env))[0]


async def turn_cancelled_while_its_edit_waits(env: WorkflowEnvironment) -> str:
    return (await _ended_while_edits_fail(env))[1]


# Since the workflows' own checks with Discord (`workflows/guild_checks.py`): a member who claims
# to be a host and is not, and one Discord confirms.
PLAYER, OTHER_HOST = 444, 445


async def _refused(call: Awaitable[object], error: type[Exception]) -> None:
    """A request the workflow must refuse (its refusal is in the history too)."""
    try:
        await call
    except error:
        return
    raise AssertionError("the request was not refused")


async def told_reminder_answer_lost(env: WorkflowEnvironment) -> str:
    """Since `workflows.jobs.REMINDER_LOOKUP_PATCH`: Discord takes the reminder but its answer never
    comes back (a 503 each attempt): recorded not sent, then found in its channel, recorded sent."""
    doubles = Doubles(env)

    @activity.defn(name=SEND_REMINDER)
    async def answer_lost(reminder: ReminderInput) -> dict[str, str]:
        doubles.reminder_posts.append((reminder, await env.get_current_time()))
        raise ApplicationError("Discord is unavailable (503)", type="DiscordUnavailable")

    kept = [
        a for a in doubles.activities() if activity._Definition.must_from_callable(a).name != SEND_REMINDER
    ]
    reminders = [Reminder(offset=timedelta(minutes=5), message="5 minutes")]
    async with build_worker(env.client, "jobs", [*kept, answer_lost]):
        handle = await start(env, job(await env.get_current_time(), timedelta(minutes=10), reminders))
        result = await handle.result()
    assert [r.outcome for r in result.reminders] == ["sent"], result.reminders
    assert result.outcome == "done"
    return handle.id


async def told_refused_for_another_servers_channel(env: WorkflowEnvironment) -> str:
    """Since `workflows.jobs.CHANNEL_CHECK_PATCH`: a job whose channel Discord places in another
    server fails at once, posting nothing."""
    doubles = Doubles(env)
    doubles.discord_guild.channels[CHANNEL] = GUILD + 1
    spec = job(await env.get_current_time(), timedelta(hours=1)).model_copy(update={"check_channel": True})
    async with _job_worker(env, doubles):
        handle = await start(env, spec)
        result = await handle.result()
    assert result.outcome == "failed" and doubles.reminders == [] and doubles.actions == []
    return handle.id


async def told_host_checked_refused_then_allowed(env: WorkflowEnvironment) -> str:
    """Since `workflows.jobs.HOST_CHECK_PATCH`: a player claiming to be a host is refused a pause;
    a host Discord confirms moves the job later, then cancels it."""
    doubles = Doubles(env)
    doubles.discord_guild.hosts = {(GUILD, OTHER_HOST)}
    async with _job_worker(env, doubles):
        handle = await start(env, job(await env.get_current_time(), timedelta(hours=1)))
        await env.sleep(timedelta(minutes=10))
        claimed = SteerRequest(by=PLAYER, guild_id=GUILD, as_host=True)
        await _refused(handle.execute_update(ScheduledJobWorkflow.pause, claimed), WorkflowUpdateFailedError)
        shift = ShiftRequest(by_how_much=timedelta(minutes=30), by=OTHER_HOST, guild_id=GUILD, as_host=True)
        await handle.execute_update(ScheduledJobWorkflow.shift, shift)
        await env.sleep(timedelta(minutes=10))
        cancel = CancelRequest(by=OTHER_HOST, guild_id=GUILD, as_host=True)
        await handle.execute_update(ScheduledJobWorkflow.cancel, cancel)
        result = await handle.result()
    assert result.outcome == "cancelled" and doubles.actions == []
    assert [q.user_id for q in doubles.discord_guild.asked] == [PLAYER, OTHER_HOST, OTHER_HOST]
    return handle.id


async def health_refused_for_another_servers_channel(env: WorkflowEnvironment) -> str:
    """Since `workflows.health.CHANNEL_CHECK_PATCH`: a check whose channel Discord places in
    another server fails before its first check."""
    probes = health_doubles.Probes(env)
    elsewhere = health_doubles.ADMIN_CHANNEL + 1
    probes.discord_guild.channels[elsewhere] = health_doubles.GUILD + 1
    checks = HealthChecks(env.client, health_doubles.QUEUE)
    async with build_worker(
        env.client, health_doubles.QUEUE, probes.activities(), workflows=[HealthCheckWorkflow]
    ):
        workflow_id = await checks.start(guild_id=health_doubles.GUILD, admin_channel_id=elsewhere)
        await _refused(env.client.get_workflow_handle(workflow_id).result(), WorkflowFailureError)
    assert probes.checks == [] and probes.reports == []
    return workflow_id


async def season_host_checked_refused_then_ended(env: WorkflowEnvironment) -> str:
    """Since `workflows.seasons.HOST_CHECK_PATCH`: a player claiming to be a host cannot move the
    closing time; a host Discord confirms (not the season's own) ends the season."""
    facade = season_doubles.seasons(env.client)
    doubles = season_doubles.Doubles(env)
    player, other_host = season_doubles.PLAYERS[0], season_doubles.HOST + 1
    doubles.discord_guild.hosts = {(season_doubles.GUILD, other_host)}
    async with season_doubles.season_worker(env.client, doubles):
        await season_doubles.open_season(facade, players=season_doubles.PLAYERS[:3])
        await env.sleep(timedelta(hours=1))
        moved = facade.move_close(season_doubles.GUILD, timedelta(days=1), by=player, as_host=True)
        await _refused(moved, UserError)
        await facade.end(season_doubles.GUILD, by=other_host, as_host=True, reason="replay")
        result = await season_doubles.season_handle(facade).result()
    assert [q.user_id for q in doubles.discord_guild.asked] == [player, other_host], result
    return season_doubles.season_handle(facade).id


async def turn_host_checked_refused_then_skipped(env: WorkflowEnvironment) -> str:
    """Since `workflows.seasons_turns.HOST_CHECK_PATCH`: a player claiming to be a host cannot
    change another's turn; the host Discord confirms extends it, then skips it."""
    facade = season_doubles.seasons(env.client)
    doubles = season_doubles.Doubles(env)
    host, guild = season_doubles.HOST, season_doubles.GUILD
    doubles.discord_guild.hosts = {(guild, host)}
    async with season_doubles.season_worker(env.client, doubles):
        await _two_player_season(facade, doubles)
        offer = doubles.offers_to(season_doubles.PLAYERS[0])[0]
        claimed = facade.host_turn(guild, offer.player_id, by=season_doubles.PLAYERS[1], as_host=True)
        await _refused(claimed, UserError)
        await facade.host_turn(guild, offer.player_id, by=host, as_host=True, extend=timedelta(hours=2))
        await env.sleep(timedelta(hours=1))
        await facade.host_turn(guild, offer.player_id, by=host, as_host=True)
        await env.client.get_workflow_handle(offer.turn_id).result()
    return offer.turn_id


async def chain_host_checked_refused_then_allowed(env: WorkflowEnvironment) -> str:
    """Since `workflows.challenges.HOST_CHECK_PATCH`: a player claiming to be a host is refused a
    skip; a host Discord confirms pauses and resumes the chain; every round runs."""
    posts = chains.Posts(env)
    posts.discord_guild.hosts = {(chains.GUILD, OTHER_HOST)}
    rounds = [chains.round_("Round 1", timedelta(hours=1)), chains.round_("Round 2", timedelta(hours=1))]
    async with _chain_worker(env, posts):
        handle = await chains.start(env, chains.chain(rounds, key="replay-host-check"))
        await env.sleep(timedelta(minutes=10))
        claimed = SkipRequest(by=PLAYER, guild_id=chains.GUILD, as_host=True)
        await _refused(handle.execute_update(ChallengeChainWorkflow.skip, claimed), WorkflowUpdateFailedError)
        host = ChainRequest(by=OTHER_HOST, guild_id=chains.GUILD, as_host=True)
        await handle.execute_update(ChallengeChainWorkflow.pause, host)
        await env.sleep(timedelta(hours=1))
        await handle.execute_update(ChallengeChainWorkflow.resume, host)
        result = await handle.result()
    assert result.outcome == "done" and posts.actions() == ["Round 1 starts now!", "Round 2 starts now!"]
    assert [q.user_id for q in posts.discord_guild.asked] == [PLAYER, OTHER_HOST, OTHER_HOST]
    return handle.id


SCENARIOS: dict[str, Scenario] = {
    "ScheduledJob-reminders_then_action": reminders_then_action,
    "ScheduledJob-cancelled": cancelled,
    "ScheduledJob-rescheduled": rescheduled,
    "ScheduledJob-failed": failed,
    "ScheduledJob-custom_action_retried": custom_action_retried,
    "ScheduledJob-patched_reminders_then_action": patched_reminders_then_action,
    "ScheduledJob-operator_signal": operator_signal,
    "ScheduledJob-temporal_cancellation": temporal_cancellation,
    "ScheduledJob-outage_then_results": outage_then_results,
    "ScheduledJob-superseded_reminders": superseded_reminders,
    "ScheduledJob-steered": steered,
    "ScheduledJob-repeat_occurrence": repeat_occurrence,
    "ScheduledJob-announced_then_cancelled": announced_then_cancelled,
    "ScheduledJob-announced_then_fired": announced_then_fired,
    "Whisper-read_then_window_closes": whisper_read_then_window_closes,
    "Whisper-expired": whisper_expired,
    "Whisper-unsent": whisper_unsent,
    "Whisper-sealed_read_then_window_closes": whisper_sealed_read_then_window_closes,
    "Whisper-operator_cancelled": whisper_operator_cancelled,
    "Whisper-read_button_kept_then_window_closes": whisper_read_button_kept_then_window_closes,
    "Whisper-operator_closes_reread_window": whisper_operator_closes_reread_window,
    "Whisper-temporal_cancelled": whisper_temporal_cancelled,
    "PersistentStore-writes_then_continues_as_new": store_writes_then_continues_as_new,
    "Season-completed_after_a_lapsed_offer": season_completed,
    "Season-cancelled_below_the_minimum": season_cancelled,
    "Season-ended_by_the_host": season_ended,
    "Season-started_post_and_opening_post_corrected": season_started_then_ended,
    "Turn-submitted_after_both_warnings": turn_submitted,
    "Turn-dismissed": turn_dismissed,
    "Turn-skipped": turn_skipped,
    "Turn-cancelled_with_its_season": turn_cancelled,
    "ChallengeChain-skip_pause_resume_cancel": chain_skip_pause_resume_cancel,
    "ChallengeChain-failed_round_then_continues_as_new": chain_failed_round_then_continues_as_new,
    "ChallengeChain-second_run_after_continue_as_new": chain_second_run_after_continue_as_new,
    "HealthCheck-outage_pause_then_continues_as_new": health_outage_pause_then_continues_as_new,
    "ChallengeChain-named_skip_then_cancel_during_a_round": chain_named_skip_then_cancel_during_a_round,
    "HealthCheck-flapping_then_settles": health_flapping_then_settles,
    "ChallengeChain-told_to_players_with_round_headers": chain_told_to_players_with_round_headers,
    "Season-ended_while_edits_fail": season_ended_while_edits_fail,
    "Turn-cancelled_while_its_edit_waits": turn_cancelled_while_its_edit_waits,
    # Closed with the Outcome search attribute (workflows/outcomes.py).
    "ScheduledJob-told_missed_after_outage": told_missed_after_outage,
    "ScheduledJob-told_posted_late": told_posted_late,
    "ScheduledJob-told_done_with_outcome": reminders_then_action,
    "ScheduledJob-told_failed_with_outcome": failed,
    "ScheduledJob-told_operator_cancelled_with_outcome": operator_signal,
    "Whisper-told_read_with_outcome": whisper_read_then_window_closes,
    "Whisper-told_expired_with_outcome": whisper_expired,
    "Season-told_completed_with_outcome": season_completed,
    "Season-told_ended_with_outcome": season_ended,
    "ChallengeChain-told_cancelled_with_outcome": chain_skip_pause_resume_cancel,
    "ChallengeChain-told_failed_round_with_outcome": chain_second_run_after_continue_as_new,
    # The shift update (moving the current round, or the whole chain).
    "ChallengeChain-steer_shifted": chain_shifted,
    # The move_close update (the time joining closes).
    "Season-steer_close_moved": season_close_moved,
    # The host_turn update (a player's deadline extended, then the turn skipped).
    "Turn-steer_extended_then_skipped": turn_extended_then_skipped,
    # Since `workflows.jobs.OUTAGE_PATCH`: a late post reports itself to the outage summary.
    "ScheduledJob-told_late_reported_to_outage_summary": told_posted_late,
    "OutageSummary-two_reports_told_once": outage_two_reports_told_once,
    # Since `workflows.health.STOP_PATCH`: an alert role, and the stop signal.
    "HealthCheck-told_alerts_then_stopped": health_alerts_then_stopped,
    # Since `workflows.jobs.PAUSED_LISTED_PATCH`: a paused job's memo; its post corrected on moves.
    "ScheduledJob-steer_announced_and_paused_listed": announced_then_steered,
    # Since `workflows.seasons_turns.EXTEND_PATCH`: an extension edits the offer DM.
    "Turn-steer_extension_edits_the_dm": turn_extended_then_skipped,
    # Since `workflows.seasons.CLOSE_EDIT_PATCH`: a moved closing time corrects the opening post.
    "Season-steer_close_moved_announced": season_close_moved_announced,
    # Recorded with the code before `workflows.jobs.IF_LATE_PATCH` (no window for custom actions).
    "ScheduledJob-custom_action_ran_late_before_windows": custom_action_ran_late_before_windows,
    # Since `workflows.jobs.IF_LATE_PATCH`: custom actions' window, a host's own late policy.
    "ScheduledJob-told_custom_action_missed_past_its_window": told_custom_action_missed_past_its_window,
    "ScheduledJob-told_host_chose_run_anyway": told_host_chose_run_anyway,
    "ScheduledJob-told_host_window_missed": told_host_window_missed,
    # Since the workflows' own checks with Discord: a reminder's record, the channel's server, a
    # host's claim.
    "ScheduledJob-told_reminder_found_after_its_answer_was_lost": told_reminder_answer_lost,
    "ScheduledJob-told_refused_for_another_servers_channel": told_refused_for_another_servers_channel,
    "ScheduledJob-told_host_checked_refused_then_allowed": told_host_checked_refused_then_allowed,
    "HealthCheck-refused_for_another_servers_channel": health_refused_for_another_servers_channel,
    "Season-host_checked_refused_then_ended": season_host_checked_refused_then_ended,
    "Turn-host_checked_refused_then_skipped": turn_host_checked_refused_then_skipped,
    "ChallengeChain-host_checked_refused_then_allowed": chain_host_checked_refused_then_allowed,
    # Since `workflows.jobs.OCCURRENCE_PATCH`: an occurrence's reminders planned from its firing.
    "ScheduledJob-steer_occurrence_reminded_when_fired": occurrence_reminded_when_fired,
}


async def main() -> None:
    HISTORIES.mkdir(exist_ok=True)
    for name, scenario in SCENARIOS.items():
        target = HISTORIES / f"{name}.json"
        if target.exists():
            print(f"kept     {target.name}")
            continue
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=data_converter([TEST_KEY]),
            test_server_existing_path=binary("temporal-test-server"),
        )
        try:
            await register_search_attributes(env)
            workflow_id, _, run_id = (await scenario(env)).partition("@")
            handle = env.client.get_workflow_handle(workflow_id, run_id=run_id or None)
            history = await handle.fetch_history()
            target.write_text(history.to_json())
            print(f"recorded {target.name} ({len(history.events)} events)")
        finally:
            await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
