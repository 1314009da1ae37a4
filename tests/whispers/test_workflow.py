"""The whisper workflow on the time-skipping server, with its Discord activities replaced by
doubles registered under the same names."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import discord
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.whispers import WhisperActivities
from clients.whispers import NotForYou, WhisperError, WhisperOver, Whispers, whisper_id_for
from components.custom_ids import CUSTOM_ID_MAX
from components.whispers import READ_BUTTON
from stack.sealing import WhisperSeal
from tests.support.whispers import OTHER_WHISPER_KEY, recording, whisper_seal
from worker import build_worker
from workflows import search_attributes as sa
from workflows.common import NotYours
from workflows.whispers import WhisperWorkflow
from workflows.whispers_models import (
    BAD_WHISPER_ID,
    DELETE_NOTIFICATION,
    DM_SENDER,
    EDIT_NOTIFICATION,
    POST_NOTIFICATION,
    Cancellation,
    NotificationEdit,
    NotificationInput,
    PostedNotification,
    SenderNotice,
    WhisperResult,
    WhisperSpec,
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
    described = await time_env.client.get_workflow_handle(whisper_id).describe()
    assert described.typed_search_attributes[sa.OUTCOME] == "done"
    assert doubles.deleted == [PostedNotification(channel_id=CHANNEL, message_id=9001)]
    assert [n.content for n, _ in doubles.dms] == [f"📬 <@{BOB}> opened your whisper."]
    assert all(n.sender_id == ALICE for n, _ in doubles.dms)
    # Through the re-read window the notification said so and kept its Read Message button.
    [kept] = doubles.edits
    assert kept.keep_read_button == whisper_id and "can open it again until <t:" in kept.content
    assert read.readable_until == read.first_read_at + timedelta(hours=24)


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
    with pytest.raises(WhisperError, match="must not be empty"):
        await send(whispers, text="")
    with pytest.raises(WhisperError, match="yourself"):
        await send(whispers, recipient_id=ALICE)


def test_the_read_button_names_the_whisper_within_discords_limit() -> None:
    longest = f"whisper-{2**64 - 1}-{2**64 - 1}-{'f' * 16}"
    custom_id = READ_BUTTON.build(whisper_id=longest)
    assert len(custom_id) <= CUSTOM_ID_MAX
    assert custom_id == f"whisper:read:{longest}"
    assert READ_BUTTON.match(custom_id) == {"whisper_id": longest}
    with pytest.raises(ValueError):
        READ_BUTTON.build(whisper_id="job-1-abc")


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


# --- the whisper key: what a client without it gets -------------------------------------------------


async def test_a_read_sent_by_a_plain_temporal_client_gets_only_ciphertext(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    """Any client of the namespace (it even holds the codec key) may name the recipient in a
    `read` update: it learns the sealed text, never the text."""
    whisper_id = await send(whispers)
    raw = await time_env.client.get_workflow_handle(whisper_id).execute_update(
        "read", {"reader_id": str(BOB)}, result_type=dict
    )
    assert SECRET not in json.dumps(raw)
    assert str(raw["sealed_text"]).startswith("w1.") and raw.get("text") is None
    # The workflow input it can fetch carries the same ciphertext and no text.
    history = await time_env.client.get_workflow_handle(whisper_id).fetch_history()
    [started] = [e for e in history.events if e.HasField("workflow_execution_started_event_attributes")]
    [spec] = await time_env.client.data_converter.decode(
        started.workflow_execution_started_event_attributes.input.payloads, [dict]
    )
    assert SECRET not in json.dumps(spec) and spec["sealed_text"] == raw["sealed_text"]
    # Ids travel as strings (JavaScript readers lose digits past 2^53).
    assert spec["recipient_id"] == str(BOB) and raw["sender_id"] == str(ALICE)
    # The bot, holding the whisper key, opens it for the recipient.
    assert (await whispers.read(whisper_id, reader_id=BOB)).text == SECRET


async def test_a_sealed_text_does_not_open_in_another_whisper(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    original = await send(whispers)
    raw = await time_env.client.get_workflow_handle(original).execute_update(
        "read", {"reader_id": BOB}, result_type=dict
    )
    sealed = str(raw["sealed_text"])
    for recipient in (BOB, EVE):  # the same recipient in another whisper, or another recipient
        copy = WhisperSpec(
            guild_id=GUILD, channel_id=CHANNEL, sender_id=ALICE, recipient_id=recipient, sealed_text=sealed
        )
        copy_id = whisper_id_for(GUILD, ALICE)
        await time_env.client.start_workflow(WhisperWorkflow.run, copy, id=copy_id, task_queue=QUEUE)
        with pytest.raises(WhisperError, match="cannot be opened") as refused:
            await whispers.read(copy_id, reader_id=recipient)
        assert SECRET not in str(refused.value)
    # Another key does not open it either.
    with pytest.raises(WhisperError, match="cannot be opened"):
        await Whispers(time_env.client, QUEUE, WhisperSeal([OTHER_WHISPER_KEY])).read(original, reader_id=BOB)


async def test_a_whisper_from_before_sealing_is_still_read(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    """Started with the text itself, as the bot did before WHISPER_KEYS (int ids too)."""
    old_id = whisper_id_for(GUILD, ALICE)
    old_input = {"guild_id": GUILD, "channel_id": CHANNEL, "sender_id": ALICE, "recipient_id": BOB}
    await time_env.client.start_workflow(
        "Whisper", {**old_input, "text": SECRET}, id=old_id, task_queue=QUEUE
    )
    read = await whispers.read(old_id, reader_id=BOB)
    assert read.text == SECRET and read.sealed_text is None
    status = await whispers.status(old_id)
    assert status.state == "read" and status.recipient_id == BOB


async def test_without_the_whisper_key_nothing_is_sent_and_nothing_is_marked_read(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    client, recorder = recording(time_env.client)
    keyless = Whispers(client, QUEUE)
    with pytest.raises(WhisperError, match="WHISPER_KEYS"):
        await send(keyless)
    assert recorder.started == []
    # A bot that cannot open the text does not record a read it cannot show.
    whisper_id = await send(whispers)
    with pytest.raises(WhisperError, match="WHISPER_KEYS"):
        await keyless.read(whisper_id, reader_id=BOB)
    status = await whispers.status(whisper_id)
    assert status.state in ("posting", "unread") and status.read_at is None and doubles.dms == []


@pytest.mark.parametrize(
    "field, value",
    [
        ("guild_id", -5),
        ("guild_id", 0),
        ("sender_id", 2**64),
        ("sender_id", True),
        ("recipient_id", "12a"),
        ("recipient_id", "0123"),
        ("channel_id", -1),
    ],
)
async def test_ids_a_whisper_id_cannot_carry_are_refused_and_nothing_starts(
    time_env: WorkflowEnvironment, field: str, value: object
) -> None:
    """Before: `whisper--5-...` started, its notification retried `not a whisper id` for an hour
    while its status said "expired"."""
    client, recorder = recording(time_env.client)
    with pytest.raises(WhisperError, match=field.replace("_", " ")):
        await send(Whispers(client, QUEUE, whisper_seal()), **{field: value})
    assert recorder.started == []


async def test_the_notification_refuses_an_id_that_is_no_whisper_id_for_good() -> None:
    """The real activity: no retry can turn a bad workflow id into a Read button."""
    client = discord.Client(intents=discord.Intents.none())
    notice = NotificationInput(
        whisper_id="whisper--5-3333-0123456789abcdef",
        guild_id=GUILD,
        channel_id=CHANNEL,
        sender_id=ALICE,
        recipient_id=BOB,
    )
    with pytest.raises(ApplicationError, match="not a whisper id") as refused:
        await ActivityEnvironment().run(WhisperActivities(client).post_notification, notice)
    assert refused.value.non_retryable and refused.value.type == BAD_WHISPER_ID


async def test_a_whisper_started_under_a_bad_id_fails_and_tells_the_sender(
    time_env: WorkflowEnvironment, doubles: Doubles
) -> None:
    """With the real notification activity (no Discord is reached): failed at once, not retried."""
    real = WhisperActivities(discord.Client(intents=discord.Intents.none()))
    activities = [real.post_notification, *doubles.activities()[1:]]
    spec = WhisperSpec(
        guild_id=GUILD, channel_id=CHANNEL, sender_id=ALICE, recipient_id=BOB, sealed_text="w1.x.y"
    )
    async with build_worker(time_env.client, QUEUE, activities):
        outcome = await time_env.client.execute_workflow(
            WhisperWorkflow.run, spec, id="whisper-oops", task_queue=QUEUE
        )
    assert outcome.outcome == "failed" and outcome.reason is not None and "not a whisper id" in outcome.reason
    [(dm, _)] = doubles.dms
    assert "could not be delivered" in dm.content


# --- operators --------------------------------------------------------------------------------------


async def operator_signal(client: Client, whisper_id: str, by: str, reason: str) -> None:
    """What `temporal workflow signal --name operator_cancel --input '{...}'` sends: plain JSON."""
    await client.get_workflow_handle(whisper_id).signal("operator_cancel", {"by": by, "reason": reason})


async def test_an_operator_cancels_an_unread_whisper_with_a_signal(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    whisper_id = await send(whispers)
    await time_env.sleep(timedelta(hours=1))
    # A signal without a name for who sent it is dropped (the worker logs it): nothing changes.
    await time_env.client.get_workflow_handle(whisper_id).signal("operator_cancel", {"reason": "?"})
    assert (await whispers.status(whisper_id)).state == "unread"
    await operator_signal(time_env.client, whisper_id, "ops-alice", "reported as spam")

    outcome = await result(time_env.client, whisper_id)

    assert outcome.outcome == "cancelled"
    assert outcome.cancellation == Cancellation(via="operator", by="ops-alice", reason="reported as spam")
    [edit] = doubles.edits
    assert edit.message_id == 9001
    assert edit.content == f"💬 <@{ALICE}>'s whisper to <@{BOB}> was removed by an operator."
    [(dm, _)] = doubles.dms
    assert dm.sender_id == ALICE and "removed by an operator" in dm.content
    assert "spam" not in dm.content  # the operator's note is for operators
    with pytest.raises(WhisperOver):
        await whispers.read(whisper_id, reader_id=BOB)
    # A script's signal through the facade, once the whisper is over, is refused as such.
    with pytest.raises(WhisperOver):
        await whispers.operator_cancel(whisper_id, by="ops-bob")


async def test_an_operator_closes_the_re_read_window(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    whisper_id = await send(whispers)
    await whispers.read(whisper_id, reader_id=BOB)
    await whispers.operator_cancel(whisper_id, by="ops-alice", reason="asked by the recipient")
    status = await whispers.status(whisper_id)
    assert status.state == "cancelled" and status.cancellation is not None
    assert status.cancellation.by == "ops-alice"
    with pytest.raises(WhisperOver):  # "removed by an operator", or over already
        await whispers.read(whisper_id, reader_id=BOB)

    outcome = await result(time_env.client, whisper_id)
    assert outcome.outcome == "cancelled" and outcome.read_at == status.read_at
    # Read, the notification kept its button for re-reading; the operator's close deleted it.
    assert len(doubles.deleted) == 1 and [e.keep_read_button for e in doubles.edits] == [whisper_id]


async def test_temporal_cancellation_ends_a_whisper_as_cancelled_with_its_notification_edited(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    whisper_id = await send(whispers)
    await time_env.sleep(timedelta(days=3))
    handle = time_env.client.get_workflow_handle(whisper_id)
    await handle.cancel()  # `temporal workflow cancel -w <id>`

    outcome = await result(time_env.client, whisper_id)

    assert outcome.outcome == "cancelled"
    assert outcome.cancellation == Cancellation(via="temporal", reason="cancelled through Temporal")
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED  # not a bare CANCELED
    [edit] = doubles.edits
    assert edit.content == f"💬 <@{ALICE}>'s whisper to <@{BOB}> was removed by an operator."
    [(dm, _)] = doubles.dms
    assert "removed by an operator" in dm.content


async def test_temporal_cancellation_in_the_re_read_window(
    time_env: WorkflowEnvironment, doubles: Doubles, worker: Worker, whispers: Whispers
) -> None:
    whisper_id = await send(whispers)
    await whispers.read(whisper_id, reader_id=BOB)
    await time_env.sleep(timedelta(hours=2))
    await time_env.client.get_workflow_handle(whisper_id).cancel()

    outcome = await result(time_env.client, whisper_id)

    assert outcome.outcome == "cancelled" and outcome.read_at is not None
    assert outcome.cancellation is not None and outcome.cancellation.via == "temporal"
    # Kept for re-reading at the read, deleted at the cancel (a second delete would be harmless).
    assert [e.keep_read_button for e in doubles.edits] == [whisper_id]
    assert doubles.deleted and all(d.message_id == 9001 for d in doubles.deleted)
