"""CastBot's `scheduledJobs.json` and `data_whispers.json` imported on the time-skipping server:
what each entry becomes, that a second import starts nothing, that a dry run starts nothing,
and that an imported whisper's text is nowhere but in the recipient's read."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.testing import WorkflowEnvironment

from adoption.castbot import import_jobs, import_whispers, whisper_id_from
from adoption.report import Report
from adoption.target import Target
from clients.whispers import WhisperError
from stack.codec_server import create_app, serve
from stack.devserver import free_port
from tests.support.adoption import Recorders, at_now, import_worker
from tests.support.temporal import TEST_KEY
from tests.support.whispers import recording, whisper_seal
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_models import JobResult, JobSpec, job_id_for

GUILD, CHANNEL, OTHER_CHANNEL = 900000000000000001, 900000000000000002, 900000000000000003
HANA, PAX, HOST = 900000000000000011, 900000000000000012, 900000000000000020
QUEUE = "adoption"
SECRET = "ZQX meet me at the old oak, the vault code is 7741"


@dataclass
class World:
    env: WorkflowEnvironment
    target: Target
    recorders: Recorders
    now: datetime

    def jobs_file(self) -> bytes:
        return at_now("scheduledJobs.json", self.now)

    def whispers_file(self) -> bytes:
        return at_now("data_whispers.json", self.now)


@pytest.fixture
async def world(time_env: WorkflowEnvironment) -> AsyncIterator[World]:
    now = await time_env.get_current_time()
    async with import_worker(time_env.client, QUEUE, time_env) as recorders:
        target = Target(time_env.client, QUEUE, seal=whisper_seal(), clock=lambda: now)
        yield World(time_env, target, recorders, now)


def job_id(original: str) -> str:
    return job_id_for(GUILD, f"castbot:{original}")


async def spec_of(target: Target, job: str) -> JobSpec:
    return await target.started_input(job, JobSpec)


def at(world: World, offset: timedelta) -> datetime:
    return world.now + offset


def whats(report: Report, outcome: str) -> list[str]:
    return [f"{e.where} | {e.what} | {e.why}" for e in report.entries if e.outcome == outcome]


async def test_each_castbot_job_becomes_the_matching_job_here(world: World) -> None:
    treasure = await world.target.custom_actions.create(GUILD, "Treasure Hunt", by=HOST)
    report = await import_jobs(world.target, world.jobs_file(), by=HOST, guild_id=GUILD)

    created = whats(report, "created")
    assert len(created) == 4, report.text()
    # The Safari round two hours away, with its three reminders as offsets before it.
    results = await spec_of(world.target, job_id("job_1709234567890_a1b2c3d4e"))
    assert results.action == "process_round_results" and results.payload == {}
    assert results.channel_id == CHANNEL and results.scheduled_by == HOST
    assert abs(results.deadline - at(world, timedelta(hours=2))) < timedelta(milliseconds=2)
    assert [(r.offset, r.message) for r in results.reminders] == [
        (timedelta(minutes=30), "30 minutes"),
        (timedelta(minutes=5), "5 minutes"),
        (timedelta(minutes=1), "1 minute"),
    ]
    assert results.description == "Safari Round Results"
    # Due in ten minutes: the 30-minute reminder's moment has passed, so only it is skipped.
    soon = await spec_of(world.target, job_id("job_1709234000000_soon0001"))
    assert [r.message for r in soon.reminders] == ["5 minutes", "1 minute"]
    assert soon.channel_id == OTHER_CHANNEL
    assert any(
        "'30 minutes' of " + soon_id(world) in line and "has passed" in line
        for line in whats(report, "skipped")
    )
    # The custom action's job runs the action of that name here, for the player who armed it.
    [ca_job] = [line for line in created if "Custom Action: Treasure Hunt" in line]
    ca_id = job_id_for(GUILD, f"ca:{treasure.id}:ijob_1709234500000_ca000001")
    assert ca_id in ca_job
    ca = await spec_of(world.target, ca_id)
    assert ca.action == "execute_custom_action" and ca.scheduled_by == HANA
    assert ca.payload["action_id"] == treasure.id and ca.payload["origin"] == "player"

    # Refused, each with its position and why; the rest went on.
    refused = whats(report, "refused")
    assert len(refused) == 5, report.text()
    assert "entry 5 (job_1709234500001_ca000002)" in refused[0] and "create or import it first" in refused[0]
    assert "entry 6" in refused[1] and "no 'archive_relock' action here" in refused[1]
    assert "entry 7" in refused[2] and "executeAt" in refused[2]
    assert "entry 8 |" in refused[3] and "not a CastBot job" in refused[3]
    assert "entry 9" in refused[4] and "guildId" in refused[4]
    # The other server's job is left for its own import.
    assert any("entry 10" in line and "belongs to server" in line for line in whats(report, "skipped"))

    # Overdue at import: it runs at once, and its reminders were skipped with the reason.
    overdue = job_id("job_1709230000000_overdue01")
    assert any(overdue in line and "overdue by 10m: runs at once" in line for line in created)
    skipped = [line for line in whats(report, "skipped") if overdue in line]
    assert len(skipped) == 2 and all("has passed" in line for line in skipped)
    handle = world.env.client.get_workflow_handle_for(ScheduledJobWorkflow.run, overdue)
    outcome = await handle.result()
    assert isinstance(outcome, JobResult) and outcome.outcome == "done" and outcome.reminders == []
    [(ran, _)] = world.recorders.jobs.actions
    assert ran.job_id == overdue and ran.action == "process_round_results"


def soon_id(world: World) -> str:
    return job_id("job_1709234000000_soon0001")


async def test_a_second_import_starts_nothing(world: World) -> None:
    await world.target.custom_actions.create(GUILD, "Treasure Hunt", by=HOST)
    first = await import_jobs(world.target, world.jobs_file(), by=HOST, guild_id=GUILD)
    client, starts = recording(world.env.client)
    again = Target(client, QUEUE, seal=whisper_seal(), clock=lambda: world.now)
    second = await import_jobs(again, world.jobs_file(), by=HOST, guild_id=GUILD)
    assert first.count("created") == 4
    assert second.count("created") == 0 and starts.started == []
    assert sum("already imported" in e.why for e in second.entries) == 4


async def test_a_dry_run_reports_the_same_and_starts_nothing(world: World) -> None:
    client, starts = recording(world.env.client)
    dry = Target(client, QUEUE, dry_run=True, seal=whisper_seal(), clock=lambda: world.now)
    report = await import_jobs(dry, world.jobs_file(), by=HOST, guild_id=GUILD)
    lines = report.lines()
    assert starts.started == []
    assert report.count("created") == 3  # no Treasure Hunt here: its job would be refused
    assert lines[0].startswith("would create: scheduledJobs.json entry 1")
    assert lines[-1] == "Dry run, nothing changed. Would create 3, skip 4, refuse 6."
    assert not await world.target.exists(job_id("job_1709234567890_a1b2c3d4e"))
    # Safari rounds name nobody who scheduled them: without --by they are refused.
    nobody = await import_jobs(dry, world.jobs_file(), guild_id=GUILD)
    assert sum("names nobody as scheduling it: give --by" in e.why for e in nobody.of("refused")) == 3
    assert starts.started == []


async def test_without_the_server_filter_every_servers_jobs_come(
    world: World,
) -> None:
    anyone = await import_jobs(world.target, world.jobs_file(), by=HOST)
    assert any("entry 10" in line for line in whats(anyone, "created"))
    nobody = await import_jobs(world.target, world.jobs_file())
    assert all("already imported" in e.why for e in nobody.of("skipped") if "reminder" not in e.what)
    assert not any("--by" in line for line in whats(nobody, "refused"))  # all were imported already


async def test_a_file_that_is_not_json_is_reported_where_it_breaks(world: World) -> None:
    report = await import_jobs(world.target, b'[\n  {"id": "job_1",\n  oops\n]')
    [entry] = report.entries
    assert entry.outcome == "refused" and entry.where == "scheduledJobs.json line 3 column 3"


async def test_unread_whispers_come_sealed_and_read_for_their_recipient(world: World) -> None:
    report = await import_whispers(world.target, world.whispers_file(), guild_id=GUILD)
    text = report.text()
    assert "ZQX" not in text  # the report never shows a whisper's text
    [created] = report.of("created")
    whisper_id = whisper_id_from(GUILD, HANA, "1709230967890_k3j5h2l9q")
    assert whisper_id in created.what and "message 900000000000000060" in created.why
    read_before, expired = report.of("skipped")
    assert read_before.why == "already read there"
    assert expired.why.startswith("it expired at ") and expired.why.endswith("(30 days after it was sent)")
    refused = [f"{e.where}: {e.why}" for e in report.of("refused")]
    assert refused == [
        "data_whispers.json whisper 4 (1709233967890_nochannel): "
        "no channel recorded: the previous bot never posted its notification",
        "data_whispers.json whisper 5 (1709233967891_garbled): not a CastBot whisper: it is not an object",
    ]
    read = await world.target.whispers.read(whisper_id, reader_id=PAX)
    assert read.text == SECRET and read.sender_id == HANA
    [notice] = world.recorders.whispers  # its notification with the Read button, in its channel
    assert notice.whisper_id == whisper_id and notice.channel_id == CHANNEL
    # Expires when CastBot would have pruned it: 30 days after it was sent.
    status = await world.target.whispers.status(whisper_id)
    sent = world.now - timedelta(hours=1)
    assert abs(status.expires_at - (sent + timedelta(days=30))) < timedelta(seconds=5)

    again = await import_whispers(world.target, world.whispers_file(), guild_id=GUILD)
    assert again.count("created") == 0 and "already imported" in again.of("skipped")[0].why


async def test_an_imported_whisper_text_is_nowhere_in_the_history(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await import_whispers(world.target, world.whispers_file(), guild_id=GUILD)
    whisper_id = whisper_id_from(GUILD, HANA, "1709230967890_k3j5h2l9q")
    await world.target.whispers.read(whisper_id, reader_id=PAX)
    history = await world.env.client.get_workflow_handle(whisper_id).fetch_history()
    raw = b"".join(event.SerializeToString() for event in history.events)
    # Plain text is findable in the stored bytes (the search attribute holds the guild id)...
    assert str(GUILD).encode() in raw and b"Whisper" in raw
    # ...and the codec server, given the operators' key and token, opens every payload to the
    # sealed text only: the whisper key is the bot's alone.
    opened = await codec_server_answers([p for event in history.events for p in payloads_of(event)])
    assert b'"sealed_text":"w1.' in opened
    for blob in (raw, opened):
        assert b"vault code" not in blob and b"ZQX" not in blob
    assert not any("vault code" in record.getMessage() for record in caplog.records)


def payloads_of(message: Message) -> list[Payload]:
    """Every payload anywhere in a history event (fields, lists and maps)."""
    found: list[Payload] = []
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue  # a scalar
        if descriptor.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif descriptor.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Payload):
                found.append(item)
            elif isinstance(item, Message):
                found += payloads_of(item)
    return found


async def codec_server_answers(payloads: list[Payload]) -> bytes:
    """What the codec server answers to `/decode` for these payloads, their data joined."""
    port, token = free_port(), "adoption-codec-token"
    runner = await serve(create_app([TEST_KEY], token, []), port=port)
    try:
        body = json_format.MessageToDict(Payloads(payloads=payloads))
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://127.0.0.1:{port}/decode", json=body, headers={"Authorization": f"Bearer {token}"}
            ) as answer,
        ):
            assert answer.status == 200
            opened = (await answer.json())["payloads"]
    finally:
        await runner.cleanup()
    assert len(opened) == len(payloads) >= 3
    return b"".join(base64.b64decode(p.get("data", "")) for p in opened)


async def test_whispers_without_a_whisper_key_are_refused_and_a_dry_run_starts_none(world: World) -> None:
    client, starts = recording(world.env.client)
    keyless = Target(client, QUEUE, clock=lambda: world.now)
    report = await import_whispers(keyless, world.whispers_file(), guild_id=GUILD)
    assert any("no whisper key" in e.why for e in report.of("refused"))
    dry = Target(client, QUEUE, dry_run=True, seal=whisper_seal(), clock=lambda: world.now)
    dry_report = await import_whispers(dry, world.whispers_file(), guild_id=GUILD)
    assert dry_report.count("created") == 1 and "ZQX" not in dry_report.text()
    assert starts.started == []


async def test_a_time_no_calendar_holds_is_refused_and_the_rest_goes_on(world: World) -> None:
    later = int((world.now + timedelta(hours=1)).timestamp() * 1000)
    jobs = [
        {"id": "j_far", "action": "process_round_results", "guildId": str(GUILD), "channelId": str(CHANNEL)},
        {"id": "j_ok", "action": "process_round_results", "guildId": str(GUILD), "channelId": str(CHANNEL)},
    ]
    jobs[0]["executeAt"] = 10**30  # type: ignore[assignment]
    jobs[1]["executeAt"] = later  # type: ignore[assignment]
    report = await import_jobs(world.target, json.dumps(jobs).encode(), by=HOST)
    assert [(e.outcome, e.where) for e in report.entries] == [
        ("refused", "scheduledJobs.json entry 1 (j_far)"),
        ("created", "scheduledJobs.json entry 2 (j_ok)"),
    ]
    assert "is not a time in milliseconds" in report.entries[0].why


async def test_a_derived_whisper_id_must_be_of_its_server_and_sender(world: World) -> None:
    client, starts = recording(world.env.client)
    whispers = Target(client, QUEUE, seal=whisper_seal()).whispers
    with pytest.raises(WhisperError, match="not one of this server and sender"):
        await whispers.send(
            guild_id=GUILD,
            channel_id=CHANNEL,
            sender_id=HANA,
            recipient_id=PAX,
            text="hello",
            whisper_id=whisper_id_from(GUILD, PAX, "someone else's"),
        )
    assert starts.started == []
