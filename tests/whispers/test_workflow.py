"""The whisper workflow on the time-skipping server, with its Discord activities replaced by
doubles registered under the same names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from clients.whispers import NotForYou, NotYours, WhisperError, WhisperOver, Whispers
from tests.support.whispers import whisper_seal
from worker import build_worker
from workflows.whispers import WhisperWorkflow
from workflows.whispers_models import (
    CUSTOM_ID_MAX,
    DELETE_NOTIFICATION,
    DM_SENDER,
    EDIT_NOTIFICATION,
    POST_NOTIFICATION,
    READ_TEMPLATE,
    NotificationEdit,
    NotificationInput,
    PostedNotification,
    SenderNotice,
    WhisperResult,
    read_custom_id,
)

GUILD, CHANNEL, ALICE, BOB, EVE = 1111, 2222, 3333, 4444, 5555
QUEUE = "whispers"
SECRET = "the treasure is under the old oak"


@dataclass
class Doubles:
    env: WorkflowEnvironment
    posted: list[NotificationInput] = field(default_factory=list)
    deleted: list[PostedNotification] = field(default_factory=list)
    edits: list[NotificationEdit] = field(default_factory=list)
    dms: list[tuple[SenderNotice, datetime]] = field(default_factory=list)
    post_fails: bool = False

    def activities(self) -> list[object]:
        @activity.defn(name=POST_NOTIFICATION)
        async def post(notice: NotificationInput) -> PostedNotification:
            if self.post_fails:
                raise ApplicationError(
                    "Discord refused (404, code 10003): Unknown Channel",
                    type="DiscordRejected",
                    non_retryable=True,
                )
            self.posted.append(notice)
            return PostedNotification(channel_id=notice.channel_id, message_id=9000 + len(self.posted))

        @activity.defn(name=DELETE_NOTIFICATION)
        async def delete(posted: PostedNotification) -> bool:
            self.deleted.append(posted)
            return True

        @activity.defn(name=EDIT_NOTIFICATION)
        async def edit(change: NotificationEdit) -> bool:
            self.edits.append(change)
            return True

        @activity.defn(name=DM_SENDER)
        async def dm(notice: SenderNotice) -> None:
            self.dms.append((notice, await self.env.get_current_time()))

        return [post, delete, edit, dm]


@pytest.fixture
async def doubles(time_env: WorkflowEnvironment) -> Doubles:
    return Doubles(time_env)


@pytest.fixture
async def worker(time_env: WorkflowEnvironment, doubles: Doubles) -> AsyncIterator[Worker]:
    async with build_worker(time_env.client, QUEUE, doubles.activities()) as running:
        yield running


@pytest.fixture
def whispers(time_env: WorkflowEnvironment) -> Whispers:
    return Whispers(time_env.client, QUEUE, whisper_seal())


async def send(whispers: Whispers, **overrides: object) -> str:
    fields: dict[str, object] = {
        "guild_id": GUILD,
        "channel_id": CHANNEL,
        "sender_id": ALICE,
        "recipient_id": BOB,
        "text": SECRET,
    }
    fields.update(overrides)
    return await whispers.send(**fields)  # type: ignore[arg-type]


async def result(client: Client, whisper_id: str) -> WhisperResult:
    # A handle from get_workflow_handle does not skip time on its own (only the one
    # start_workflow returns does): the tests move the clock with time_env.sleep first.
    outcome: WhisperResult = await client.get_workflow_handle(whisper_id, result_type=WhisperResult).result()
    return outcome


async def update_events(client: Client, whisper_id: str) -> list[EventType.ValueType]:
    history = await client.get_workflow_handle(whisper_id).fetch_history()
    kinds = {
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED,
    }
    return [e.event_type for e in history.events if e.event_type in kinds]


async def test_the_recipient_reads_the_text_and_the_sender_hears_it_was_opened(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    whisper_id = await send(whispers)
    assert whisper_id.startswith(f"whisper-{GUILD}-{ALICE}-")
    assert SECRET not in whisper_id

    read = await whispers.read(whisper_id, reader_id=BOB)

    assert read.text == SECRET
    assert read.sender_id == ALICE and read.recipient_id == BOB
    assert read.already_read is False
    # The notification named the whisper in its button and carried no text.
    [posted] = doubles.posted
    assert posted.whisper_id == whisper_id and posted.sender_id == ALICE and posted.recipient_id == BOB
    status = await whispers.status(whisper_id)
    assert status.state == "read" and status.read_at == read.first_read_at

    await time_env.sleep(timedelta(hours=24, minutes=1))  # the re-read window passes
    outcome = await result(time_env.client, whisper_id)
    assert outcome.outcome == "read"
    assert doubles.deleted == [PostedNotification(channel_id=CHANNEL, message_id=9001)]
    assert [n.content for n, _ in doubles.dms] == [f"📬 <@{BOB}> opened your whisper."]
    assert all(n.sender_id == ALICE for n, _ in doubles.dms)
    assert doubles.edits == []


async def test_anyone_else_is_refused_and_history_shows_no_read(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    whisper_id = await send(whispers)
    for intruder in (EVE, ALICE):  # a bystander, and the sender too
        with pytest.raises(NotForYou, match=r"^This whisper is not for you\.$"):
            await whispers.read(whisper_id, reader_id=intruder)

    assert await update_events(time_env.client, whisper_id) == []
    assert (await whispers.status(whisper_id)).state == "unread"
    assert doubles.deleted == [] and doubles.dms == []

    # The recipient's read is the one and only update in history.
    await whispers.read(whisper_id, reader_id=BOB)
    assert await update_events(time_env.client, whisper_id) == [
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    ]


async def test_reading_again_within_24_hours_and_after(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    whisper_id = await send(whispers)
    await time_env.sleep(timedelta(days=2))
    first = await whispers.read(whisper_id, reader_id=BOB)
    await time_env.sleep(timedelta(hours=23))

    again = await whispers.read(whisper_id, reader_id=BOB)

    assert again.text == SECRET
    assert again.already_read is True
    assert again.first_read_at == first.first_read_at
    # Still refused to anyone else while it is open for re-reading.
    with pytest.raises(NotForYou):
        await whispers.read(whisper_id, reader_id=EVE)

    await time_env.sleep(timedelta(hours=2))  # the re-read window closes
    outcome = await result(time_env.client, whisper_id)
    assert outcome.outcome == "read" and outcome.read_at == first.first_read_at
    with pytest.raises(WhisperOver, match=r"^This whisper has expired\.$"):
        await whispers.read(whisper_id, reader_id=BOB)
    # Deleted once, the sender told once, however often it was read.
    assert len(doubles.deleted) == 1 and len(doubles.dms) == 1


async def test_unread_after_30_days_it_expires_and_the_sender_is_told(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    start = await time_env.get_current_time()
    whisper_id = await send(whispers)
    await time_env.sleep(timedelta(days=29, hours=23))
    assert (await whispers.status(whisper_id)).state == "unread"
    await time_env.sleep(timedelta(hours=2))

    outcome = await result(time_env.client, whisper_id)

    assert outcome.outcome == "expired"
    assert timedelta(days=30) <= outcome.at - start < timedelta(days=30, minutes=1)
    [edit] = doubles.edits
    assert edit.message_id == 9001 and "expired unread" in edit.content
    [(dm, at)] = doubles.dms
    assert (
        dm.sender_id == ALICE and dm.content == f"⌛ Your whisper to <@{BOB}> expired unread after 30 days."
    )
    assert at - start >= timedelta(days=30)
    assert doubles.deleted == []
    with pytest.raises(WhisperOver, match="expired"):
        await whispers.read(whisper_id, reader_id=BOB)


async def test_expiry_is_configurable(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    start = await time_env.get_current_time()
    whisper_id = await send(whispers, expires_after=timedelta(hours=6))
    await time_env.sleep(timedelta(hours=6, minutes=1))
    outcome = await result(time_env.client, whisper_id)
    assert outcome.outcome == "expired"
    assert timedelta(hours=6) <= outcome.at - start < timedelta(hours=6, minutes=1)


async def test_the_sender_can_unsend_before_it_is_read(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    whisper_id = await send(whispers)
    with pytest.raises(NotYours, match="Only the sender"):
        await whispers.cancel(whisper_id, by=BOB)

    status = await whispers.cancel(whisper_id, by=ALICE)

    assert status.state == "cancelled"
    outcome = await result(time_env.client, whisper_id)
    assert outcome.outcome == "cancelled"
    [edit] = doubles.edits
    assert edit.content == f"💬 <@{ALICE}>'s whisper to <@{BOB}> was unsent."
    assert doubles.dms == []
    with pytest.raises(WhisperOver, match="expired"):
        await whispers.read(whisper_id, reader_id=BOB)


async def test_a_read_whisper_cannot_be_unsent_and_an_unsent_one_cannot_be_read(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    read_one = await send(whispers)
    await whispers.read(read_one, reader_id=BOB)
    with pytest.raises(WhisperOver, match="already been read"):
        await whispers.cancel(read_one, by=ALICE)

    # An unsent whisper whose workflow is still finishing refuses a read with its own reason.
    unsent = await send(whispers)
    handle = time_env.client.get_workflow_handle_for(WhisperWorkflow.run, unsent)
    await whispers.cancel(unsent, by=ALICE)
    with pytest.raises(WhisperOver):
        await whispers.read(unsent, reader_id=BOB)
    assert (await handle.result()).outcome == "cancelled"


async def test_an_undeliverable_notification_fails_the_whisper_and_tells_the_sender(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    doubles.post_fails = True
    whisper_id = await send(whispers)
    outcome = await result(time_env.client, whisper_id)
    assert outcome.outcome == "failed" and outcome.reason is not None and "Unknown Channel" in outcome.reason
    [(dm, _)] = doubles.dms
    assert "could not be delivered" in dm.content and SECRET not in dm.content


async def test_bad_input_is_refused_before_anything_starts(whispers: Whispers) -> None:
    with pytest.raises(WhisperError, match="at most 1000"):
        await send(whispers, text="x" * 1001)
    with pytest.raises(WhisperError, match="at least 1"):
        await send(whispers, text="")
    with pytest.raises(WhisperError, match="yourself"):
        await send(whispers, recipient_id=ALICE)


def test_the_read_button_names_the_whisper_within_discords_limit() -> None:
    longest = f"whisper-{2**64 - 1}-{2**64 - 1}-{'f' * 16}"
    custom_id = read_custom_id(longest)
    assert len(custom_id) <= CUSTOM_ID_MAX
    assert custom_id == f"whisper:read:{longest}"
    import re

    found = re.fullmatch(READ_TEMPLATE, custom_id)
    assert found is not None and found["id"] == longest
    with pytest.raises(ValueError):
        read_custom_id("job-1-abc")


async def test_finished_histories_replay_deterministically(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    read_one = await send(whispers)
    unsent = await send(whispers)
    expiring = await send(whispers, expires_after=timedelta(hours=1))
    await whispers.read(read_one, reader_id=BOB)
    await whispers.read(read_one, reader_id=BOB)
    await whispers.cancel(unsent, by=ALICE)
    await time_env.sleep(timedelta(hours=25))

    replayer = Replayer(workflows=[WhisperWorkflow], data_converter=time_env.client.data_converter)
    for whisper_id, outcome in ((read_one, "read"), (unsent, "cancelled"), (expiring, "expired")):
        assert (await result(time_env.client, whisper_id)).outcome == outcome
        history = await time_env.client.get_workflow_handle(whisper_id).fetch_history()
        replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, f"{outcome}: {replayed.replay_failure}"
