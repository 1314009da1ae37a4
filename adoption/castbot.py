"""CastBot's files, brought over: `scheduledJobs.json` (its scheduler's jobs) and
`data_whispers.json` (its whisper store).

`scheduledJobs.json` is a list of jobs: `id`, `action`, `payload`, `guildId`, `channelId`,
`executeAt` (Unix milliseconds), `reminders` (`offsetMs` before `executeAt`, `message`),
`reminderAction`, `description`, `key`, `createdAt`. Its actions become these:

- `process_round_results`: the Safari's round results (the game's next round), its reminders
  kept as offsets before the deadline;
- `execute_custom_action`: the custom action of that id or name here (import the actions first);
- anything else (`archive_relock`, ...): refused, there is no such action here.

`data_whispers.json` maps a whisper id to `senderId`, `targetUserId`, `message`, `timestamp`
(Unix milliseconds), `channelId`, `messageId` and, once read, `readAt`; it names no server, so
the import is told which. Every unread whisper becomes a Whisper workflow whose text is sealed
before it leaves this process; it expires when CastBot would have pruned it (30 days after it
was sent). No line of the report, and nothing this module logs, holds a whisper's text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError
from temporalio.exceptions import WorkflowAlreadyStartedError

from adoption.jobs import JobPlan, bring_job, digest, origin_key
from adoption.report import Report, load_json
from adoption.target import Target
from clients.jobs import SchedulingError, snowflake
from clients.safari import existing_store, schedulable_round
from clients.whispers import WhisperError
from workflows.common import first_error, has_visible
from workflows.custom_actions_models import (
    ACTION_ID_PATTERN,
    EXECUTE_CUSTOM_ACTION,
    ActionDefinition,
    ExecuteCustomActionPayload,
    job_key_prefix,
)
from workflows.jobs_actions import SEND_REMINDER
from workflows.jobs_models import Reminder
from workflows.safari_engine import PROCESS_ROUND_RESULTS, SafariError
from workflows.times import format_human, when
from workflows.whispers_models import ID_PREFIX, MAX_EXPIRY, TEXT_MAX

JOBS_FILE = "scheduledJobs.json"
WHISPERS_FILE = "data_whispers.json"
# CastBot prunes an unread whisper this long after it was sent.
WHISPER_MAX_AGE = timedelta(days=30)
SAFARI_DESCRIPTION = "Safari Round Results"
JOB_KEY_PREFIX = "castbot:"
# A custom action's job key starts with its action's prefix (so the action's editor lists it),
# then this and the original id.
ACTION_JOB_MARK = "i"


class CastBotReminder(BaseModel):
    offsetMs: int = Field(gt=0)
    message: str = ""


class CastBotJob(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    action: str = Field(min_length=1, max_length=100)
    payload: dict[str, JsonValue] | None = None
    guildId: str | int | None = None
    channelId: str | int | None = None
    executeAt: int
    reminders: list[CastBotReminder] | None = None
    reminderAction: str | None = None
    description: str | None = None
    key: str | None = None


def moment(milliseconds: float) -> datetime:
    """A Unix time in milliseconds; SchedulingError for one no calendar holds."""
    try:
        return datetime.fromtimestamp(milliseconds / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise SchedulingError(f"{milliseconds} is not a time in milliseconds") from None


# --- scheduledJobs.json --------------------------------------------------------------------------


async def import_jobs(
    target: Target, data: bytes, *, by: int | None = None, guild_id: int | None = None, name: str = JOBS_FILE
) -> Report:
    """Every job of the file (of `guild_id` only, when given) scheduled here. `by`: the Discord
    user recorded as scheduling the jobs whose original names nobody (Safari rounds)."""
    report = Report(dry_run=target.dry_run)
    document = load_json(data, name, report)
    if document is None:
        return report
    if not isinstance(document, list):
        report.refused(name, "the file", "a scheduledJobs.json file is a list of jobs")
        return report
    for position, raw in enumerate(document, start=1):
        where = f"{name} entry {position}"
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            where += f" ({raw['id'][:60]})"
        try:
            job = CastBotJob.model_validate(raw)
        except ValidationError as err:
            report.refused(where, "a job", f"not a CastBot job: {first_error(err)}")
            continue
        try:
            await _import_job(target, report, where, job, by=by, only_guild=guild_id)
        except SchedulingError as err:
            report.refused(where, f"{job.action} job", str(err))
    return report


async def _import_job(
    target: Target, report: Report, where: str, job: CastBotJob, *, by: int | None, only_guild: int | None
) -> None:
    payload = job.payload or {}
    guild_id = snowflake(job.guildId or payload.get("guildId"), "guildId")
    channel_id = snowflake(job.channelId or payload.get("channelId"), "channelId")
    deadline = moment(job.executeAt)
    what = f"{job.action} job due {when(deadline)}"
    if only_guild is not None and guild_id != only_guild:
        report.skipped(where, what, f"it belongs to server {guild_id}, not {only_guild}")
        return
    if job.action == PROCESS_ROUND_RESULTS:
        reminders = _reminders(report, where, job)
        note = ""
        try:
            await schedulable_round(existing_store(target.client, guild_id, target.task_queue))
        except SafariError as err:
            note = f"note: {err}; players can still join before the deadline"
        plan = JobPlan(
            key=origin_key(JOB_KEY_PREFIX, job.id),
            action=PROCESS_ROUND_RESULTS,
            payload={},  # the game's next round, as CastBot resolved it
            guild_id=guild_id,
            channel_id=channel_id,
            scheduled_by=by,
            deadline=deadline,
            reminders=reminders,
            reminder_action=SEND_REMINDER,
            description=(job.description or SAFARI_DESCRIPTION)[:200],
        )
        await bring_job(target, report, where, plan, note)
    elif job.action == EXECUTE_CUSTOM_ACTION:
        await _import_custom_action_job(target, report, where, job, guild_id, channel_id, deadline)
    else:
        report.refused(where, what, f"there is no {job.action!r} action here: this job stays behind")


def _reminders(report: Report, where: str, job: CastBotJob) -> list[Reminder]:
    if not job.reminders:
        return []
    if job.reminderAction is None:
        report.skipped(where, "its reminders", "no reminder action: the previous bot never sent them")
        return []
    if job.reminderAction != SEND_REMINDER:
        report.skipped(where, "its reminders", f"there is no {job.reminderAction!r} reminder action here")
        return []
    found = []
    for reminder in job.reminders:
        offset = timedelta(milliseconds=reminder.offsetMs)
        message = " ".join(reminder.message.split())[:200]
        message = message if has_visible(message) else format_human(offset)
        found.append(Reminder(offset=offset, message=message))
    return found


async def _import_custom_action_job(
    target: Target,
    report: Report,
    where: str,
    job: CastBotJob,
    guild_id: int,
    channel_id: int,
    deadline: datetime,
) -> None:
    payload = job.payload or {}
    name = payload.get("actionName")
    original = payload.get("actionId")
    what = f"custom action {name or original!r} due {when(deadline)}"
    definition = _find_action(await target.actions_here(guild_id), original, name)
    if definition is None:
        report.refused(
            where, what, "no custom action of that id or name in this server here: create or import it first"
        )
        return
    user_id = snowflake(payload.get("userId"), "userId")
    action_payload = ExecuteCustomActionPayload(
        guild_id=guild_id,
        channel_id=channel_id,
        action_id=definition.id,
        user_id=user_id,
        action_name=definition.name,
        # CastBot gives a player's armed run a key; a host's scheduled run has none.
        origin="player" if job.key else "host",
    )
    plan = JobPlan(
        key=origin_key(job_key_prefix(definition.id) + ACTION_JOB_MARK, job.id),
        action=EXECUTE_CUSTOM_ACTION,
        payload=action_payload.model_dump(mode="json"),
        guild_id=guild_id,
        channel_id=channel_id,
        scheduled_by=user_id,
        deadline=deadline,
        description=f"Custom Action: {definition.name}",
    )
    await bring_job(target, report, where, plan)


def _find_action(actions: list[ActionDefinition], action_id: object, name: object) -> ActionDefinition | None:
    if isinstance(action_id, str) and re.fullmatch(ACTION_ID_PATTERN, action_id):
        for definition in actions:
            if definition.id == action_id:
                return definition
    if isinstance(name, str) and name.strip():
        wanted = " ".join(name.split()).lower()
        for definition in actions:
            if definition.name.lower() == wanted:
                return definition
    return None


# --- data_whispers.json --------------------------------------------------------------------------


def whisper_id_from(guild_id: int, sender_id: int, original_id: str) -> str:
    """The whisper's id here, derived from CastBot's: the same whisper always gets the same id."""
    return f"{ID_PREFIX}{guild_id}-{sender_id}-{digest('castbot:' + original_id, 16)}"


async def import_whispers(target: Target, data: bytes, *, guild_id: int, name: str = WHISPERS_FILE) -> Report:
    """Every unread, unexpired whisper of the file, as a Whisper workflow of `guild_id`."""
    report = Report(dry_run=target.dry_run)
    document = load_json(data, name, report)
    if document is None:
        return report
    if not isinstance(document, dict):
        report.refused(name, "the file", "a data_whispers.json file maps whisper ids to whispers")
        return report
    for position, (original_id, record) in enumerate(document.items(), start=1):
        where = f"{name} whisper {position} ({str(original_id)[:60]})"
        try:
            await _import_whisper(target, report, where, str(original_id), record, guild_id)
        except SchedulingError as err:  # an id that is not a Discord id
            report.refused(where, "a whisper", str(err))
    return report


async def _import_whisper(
    target: Target, report: Report, where: str, original_id: str, record: object, guild_id: int
) -> None:
    if not isinstance(record, dict):
        report.refused(where, "a whisper", "not a CastBot whisper: it is not an object")
        return
    sender = snowflake(record.get("senderId"), "senderId")
    recipient = snowflake(record.get("targetUserId"), "targetUserId")
    what = f"whisper from {sender} to {recipient}"
    sent = record.get("timestamp")
    if not isinstance(sent, int | float) or isinstance(sent, bool):
        report.refused(where, what, "not a CastBot whisper: it has no timestamp")
        return
    if record.get("readAt"):
        report.skipped(where, what, "already read there")
        return
    # The text is checked here without ever being shown: only its length is named.
    text = record.get("message")
    if not isinstance(text, str) or not text.strip():
        report.refused(where, what, "it has no text")
        return
    if len(text) > TEXT_MAX:
        report.refused(where, what, f"its text has {len(text)} characters; a whisper here holds {TEXT_MAX}")
        return
    raw_channel = record.get("channelId")
    if raw_channel is None:
        report.refused(where, what, "no channel recorded: the previous bot never posted its notification")
        return
    channel = snowflake(raw_channel, "channelId")
    what += f" in channel {channel}"
    if sender == recipient:
        report.refused(where, what, "its sender and recipient are the same person")
        return
    expires = moment(sent) + WHISPER_MAX_AGE
    left = expires - target.now()
    if left <= timedelta(0):
        report.skipped(where, what, f"it expired at {when(expires)} (30 days after it was sent)")
        return
    whisper_id = whisper_id_from(guild_id, sender, original_id)
    what += f" (whisper {whisper_id})"
    if await target.exists(whisper_id):
        report.skipped(where, what, "already imported: a whisper with this id exists here")
        return
    if not target.whispers.can_send:
        report.refused(where, what, "this bot has no whisper key (WHISPER_KEYS), so nothing can be sealed")
        return
    old_post = record.get("messageId")
    note = f"expires {when(expires)}"
    if old_post:
        note += (
            f"; the previous bot's notification (message {old_post}) still shows its own button: delete it"
        )
    if not target.dry_run:
        try:
            await target.whispers.send(
                guild_id=guild_id,
                channel_id=channel,
                sender_id=sender,
                recipient_id=recipient,
                text=text,
                expires_after=min(left, MAX_EXPIRY),
                whisper_id=whisper_id,
            )
        except WorkflowAlreadyStartedError:  # started meanwhile, by another import
            report.skipped(where, what, "already imported: a whisper with this id exists here")
            return
        except WhisperError as err:
            report.refused(where, what, str(err))
            return
    report.created(where, what, note)
