"""Repeats: a scheduled post (or any job action) that comes back, on Temporal Schedules.

A repeat is one Temporal Schedule, `repeat-<guild>-<name>`, with a calendar or interval spec in
the server's (or the member's) time zone, so "every Friday 20:00 Europe/Paris" follows the
clocks' changes, and operators see it in the Web UI's Schedules page. The schedule fires `lead`
before each occurrence (the longest reminder) and starts one ScheduledJob, due at the
occurrence, with its reminders before it: an occurrence is listed, moved, paused and cancelled
like any job. Ends at a time (`end_at`) or after a count (`remaining_actions`). Pause, skip the
next occurrence (a `skip` calendar for that one moment), change the pattern, run one now, end.

Who may change a repeat is checked here too, not only in the bot: a host (`as_host`, which only
the bot can tell) or the member who made it (the schedule's ScheduledBy), in the repeat's own
server (its id). A schedule has no workflow code to check, so the check reads the schedule's
description; a change of pattern or a skip checks it again inside the update, against the
description the update applies to. Each occurrence is a job whose own workflow checks who
steers it (its JobSpec.scheduled_by is the repeat's maker).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from clients.arguments import DiscordId, JsonObject, refuses
from clients.jobs import SchedulingError, check_payload, snowflake
from clients.names import NO_NAMES, Names
from clients.time_zones import check_zone
from workflows import search_attributes as sa
from workflows import times
from workflows.common import NotYours, first_error, visible
from workflows.jobs import ScheduledJobWorkflow
from workflows.jobs_actions import ACTIONS
from workflows.jobs_models import (
    JOB_ID_PREFIX,
    REPEAT_ID_PREFIX,
    REPEAT_JOB_KEY,
    IfLate,
    JobSpec,
    Reminder,
)

NAME_PATTERN = r"[a-z0-9][a-z0-9_-]{0,39}"
# An occurrence missed while the server was down is still started within this window, late.
CATCHUP = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_COUNT = 1000
# The schedule's memo keeps how long before each occurrence it fires (for a change of pattern).
LEAD_MEMO = "lead_seconds"


class RepeatNotFound(SchedulingError):
    pass


class NotYourRepeat(SchedulingError, NotYours):
    """A member who is neither a host nor the repeat's maker asked to change it."""


def made_by(schedule: Schedule) -> int | None:
    """Who made the repeat: the ScheduledBy its occurrences carry."""
    action = schedule.action
    if not isinstance(action, ScheduleActionStartWorkflow):
        return None
    text = action.typed_search_attributes.get(sa.SCHEDULED_BY)
    return int(text) if text and text.isdigit() else None


def check_may_change(schedule: Schedule, by: int, as_host: bool, verb: str) -> None:
    if not as_host and made_by(schedule) != by:
        raise NotYourRepeat(f"only a host or the member who made this repeat can {verb} it")


def _zone(name: str) -> str:
    return check_zone(name)  # a TimeError is a ValueError: the refusal carries its words


# A time zone's IANA name, as a member may type it (`europe/paris`).
Zone = Annotated[str, AfterValidator(_zone)]


@refuses(SchedulingError)
def repeat_id(guild_id: DiscordId, name: str) -> str:
    return f"{REPEAT_ID_PREFIX}{guild_id}-{name}"


@refuses(SchedulingError)
def check_name(name: str) -> str:
    cleaned = name.strip().lower()
    if not re.fullmatch(NAME_PATTERN, cleaned):
        raise SchedulingError("a repeat's name is 1 to 40 of a-z, 0-9, _ and -, like `daily-news`")
    return cleaned


def free_name(text: str, taken: Collection[str]) -> str:
    """A name for a repeat its maker did not name: the first words of `text`, made unique."""
    base = "-".join(re.findall(r"[a-z0-9]+", text.lower()))[:30].strip("-") or "repeat"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def _range(value: int) -> list[ScheduleRange]:
    return [ScheduleRange(value)]


def schedule_spec(
    every: times.Every,
    zone: str,
    *,
    lead: timedelta = timedelta(0),
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> ScheduleSpec:
    """The Temporal spec that fires `lead` before each occurrence of `every` in `zone`, from
    `start_at` (a firing time: the first occurrence less `lead`) if given."""
    if every.interval is not None:
        if lead >= every.interval:
            raise SchedulingError(
                "the reminders must fall within one repeat: shorten them or repeat less often"
            )
        # Intervals count from the epoch: the offset puts a firing at the start, if there is one
        # ("from 20:00, every 6h" is 20:00, 02:00, ...), else `lead` before each whole interval.
        offset = (start_at - _EPOCH if start_at else -lead) % every.interval
        return ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=every.interval, offset=offset)],
            start_at=start_at,
            end_at=end_at,
            time_zone_name=zone,
        )
    minutes = every.hour * 60 + every.minute - int(lead.total_seconds() // 60)
    seconds = int(-lead.total_seconds() % 60)
    if seconds:
        minutes -= 1
    back_a_day = minutes < 0
    minutes %= 24 * 60
    if back_a_day and every.day_of_month == 1:
        raise SchedulingError("reminders that early would fall in the month before; pick a later day")
    calendar = ScheduleCalendarSpec(
        second=_range(seconds),
        minute=_range(minutes % 60),
        hour=_range(minutes // 60),
        comment=every.describe(),
    )
    if every.day_of_month is not None:
        calendar = _with(calendar, day_of_month=_range(every.day_of_month - back_a_day))
    else:
        # Temporal counts days from Sunday (0); ours from Monday (0).
        days = sorted({((d - back_a_day) % 7 + 1) % 7 for d in every.weekdays})
        calendar = _with(calendar, day_of_week=[ScheduleRange(d) for d in days])
    return ScheduleSpec(calendars=[calendar], start_at=start_at, end_at=end_at, time_zone_name=zone)


async def _lead(described: ScheduleDescription) -> timedelta:
    """How long before each occurrence its schedule fires (its reminders' lead)."""
    seconds = await described.memo_value(LEAD_MEMO, 0.0)
    return timedelta(seconds=seconds if isinstance(seconds, int | float) else 0)


def _with(calendar: ScheduleCalendarSpec, **changes: Any) -> ScheduleCalendarSpec:
    fields = {name: getattr(calendar, name) for name in calendar.__dataclass_fields__}
    fields.update(changes)
    return ScheduleCalendarSpec(**fields)


@dataclass(frozen=True)
class RepeatInfo:
    name: str
    every: str
    zone: str
    paused: bool
    next_times: list[datetime]  # the next occurrences (each firing is `lead` before one)
    remaining: int | None  # occurrences left when it ends after a count
    channel_id: int | None
    description: str = ""  # what each occurrence is, as its jobs are listed ("Post: Game night!")


class Repeats:
    def __init__(
        self, client: Client, task_queue: str, *, shortest: timedelta = times.SHORTEST_REPEAT
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._shortest = shortest  # tests repeat every few seconds

    @refuses(SchedulingError)
    def handle(self, guild_id: DiscordId, name: str) -> ScheduleHandle:
        return self._client.get_schedule_handle(repeat_id(snowflake(guild_id, "guild_id"), check_name(name)))

    @refuses(SchedulingError)
    async def create(
        self,
        name: str,
        every: str,
        *,
        zone: Zone,
        guild_id: DiscordId,
        channel_id: DiscordId,
        scheduled_by: DiscordId,
        action: str,
        payload: JsonObject,
        reminders: Sequence[Reminder] = (),
        description: str = "",
        until: datetime | None = None,
        count: int | None = None,
        start_at: datetime | None = None,
        first: datetime | None = None,
        if_late: IfLate | None = None,
        names: Names = NO_NAMES,
    ) -> RepeatInfo:
        """Start repeating; refuses bad input before anything is created. `first`: the first
        occurrence (a repeat every N counts from it; a calendar one starts there), else
        `start_at`: when it may first fire. `names`: the channel's and scheduler's names, for the
        Web UI only."""
        name = check_name(name)
        pattern = times.parse_every(every, shortest=self._shortest)
        guild_id = snowflake(guild_id, "guild_id")
        lead = max((r.offset for r in reminders), default=timedelta(0))
        if lead > timedelta(days=1):
            raise SchedulingError("a repeat's reminders come at most a day before each occurrence")
        if first is not None:
            start_at = first - lead
            if start_at < datetime.now(UTC):
                raise SchedulingError(
                    f"the first one is too soon for its reminders ({times.format_human(lead)} before): "
                    "start it later or shorten them"
                )
        if count is not None and not 1 <= count <= MAX_COUNT:
            raise SchedulingError(f"a repeat runs 1 to {MAX_COUNT} times")
        # The action's own payload rules (a post's message that shows something), before anything exists.
        check_payload(ACTIONS[action].payload if action in ACTIONS else None, action, payload)
        for reminder in reminders:
            visible(reminder.message, "the reminder's message", SchedulingError)
        try:
            spec = JobSpec(
                action=action,
                payload=payload,
                guild_id=guild_id,
                channel_id=channel_id,
                deadline=datetime.now(UTC),  # each occurrence computes its own (lead)
                reminders=list(reminders),
                description=description,
                scheduled_by=scheduled_by,
                lead=lead,
                if_late=if_late,
                channel_name=names.channel[:100] if names.channel else None,
            )
        except ValidationError as err:
            raise SchedulingError(first_error(err)) from None
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(sa.GUILD_ID, str(guild_id)),
                SearchAttributePair(sa.CHANNEL_ID, str(spec.channel_id)),
                SearchAttributePair(sa.JOB_ACTION, action),
                SearchAttributePair(sa.SCHEDULED_BY, str(spec.scheduled_by)),
                SearchAttributePair(sa.JOB_KEY, f"{REPEAT_JOB_KEY}{name}"),
                names.title(description or action),
            ]
        )
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                ScheduledJobWorkflow.run,
                spec,
                # The server appends the occurrence's time: job-<guild>-rp.<name>-<time>.
                id=f"{JOB_ID_PREFIX}{guild_id}-{REPEAT_JOB_KEY}{name}",
                task_queue=self._task_queue,
                typed_search_attributes=attributes,
                memo={"description": description},
                static_summary=f"{description or action} in {names.where(spec.channel_id)} "
                f"by {names.who(spec.scheduled_by)} ({pattern.describe()}, {zone})",
            ),
            spec=schedule_spec(pattern, zone, lead=lead, start_at=start_at, end_at=until),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL, catchup_window=CATCHUP),
            state=ScheduleState(
                note=f"{pattern.describe()} in {zone}, by {scheduled_by}",
                limited_actions=count is not None,
                remaining_actions=count or 0,
            ),
        )
        try:
            await self._client.create_schedule(
                repeat_id(guild_id, name), schedule, memo={LEAD_MEMO: lead.total_seconds()}
            )
        except ScheduleAlreadyRunningError:
            raise SchedulingError(f"a repeat named {name!r} already exists in this server") from None
        return await self.info(guild_id, name)

    @refuses(SchedulingError)
    async def info(self, guild_id: DiscordId, name: str) -> RepeatInfo:
        described = await self._describe(guild_id, name)
        spec, state = described.schedule.spec, described.schedule.state
        lead = await _lead(described)
        every = spec.calendars[0].comment if spec.calendars else None
        if every is None and spec.intervals:
            every = f"every {times.format_human(spec.intervals[0].every)}"
        action = described.schedule.action
        channel, description = None, ""
        if isinstance(action, ScheduleActionStartWorkflow):
            channel_text = action.typed_search_attributes.get(sa.CHANNEL_ID)
            channel = int(channel_text) if channel_text and channel_text.isdigit() else None
            raw = (action.memo or {}).get("description")
            if isinstance(raw, Payload):  # a described schedule's action memo comes encoded
                [value] = await self._client.data_converter.decode([raw])
                description = value if isinstance(value, str) else ""
        return RepeatInfo(
            name=check_name(name),
            every=every or "",
            zone=spec.time_zone_name or "UTC",
            paused=state.paused,
            next_times=[fires + lead for fires in described.info.next_action_times],
            remaining=state.remaining_actions if state.limited_actions else None,
            channel_id=channel,
            description=description,
        )

    @refuses(SchedulingError)
    async def listing(self, guild_id: DiscordId, *, limit: int = 10) -> tuple[list[RepeatInfo], int]:
        """The server's first `limit` repeats by name, and how many it has."""
        names = await self.names(guild_id)

        async def still_there(name: str) -> RepeatInfo | None:
            try:
                return await self.info(guild_id, name)
            except RepeatNotFound:  # ended since it was listed
                return None

        shown = await asyncio.gather(*(still_there(name) for name in names[:limit]))
        return [info for info in shown if info is not None], len(names)

    async def _describe(self, guild_id: int, name: str) -> ScheduleDescription:
        try:
            return await self.handle(guild_id, name).describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                raise RepeatNotFound(f"there is no repeat named {name!r} in this server") from None
            raise

    @refuses(SchedulingError)
    async def names(self, guild_id: DiscordId) -> list[str]:
        prefix = repeat_id(snowflake(guild_id, "guild_id"), "")
        found = [entry.id async for entry in await self._client.list_schedules()]
        return sorted(i.removeprefix(prefix) for i in found if i.startswith(prefix))

    async def _may_change(
        self, guild_id: int, name: str, by: int, as_host: bool, verb: str
    ) -> ScheduleDescription:
        described = await self._describe(guild_id, name)
        check_may_change(described.schedule, by, as_host, verb)
        return described

    @refuses(SchedulingError)
    async def pause(
        self, guild_id: DiscordId, name: str, *, by: DiscordId, as_host: bool = False
    ) -> RepeatInfo:
        await self._may_change(guild_id, name, by, as_host, "pause")
        await self.handle(guild_id, name).pause(note=f"paused by {by}")
        return await self.info(guild_id, name)

    @refuses(SchedulingError)
    async def resume(
        self, guild_id: DiscordId, name: str, *, by: DiscordId, as_host: bool = False
    ) -> RepeatInfo:
        await self._may_change(guild_id, name, by, as_host, "resume")
        await self.handle(guild_id, name).unpause(note=f"resumed by {by}")
        return await self.info(guild_id, name)

    @refuses(SchedulingError)
    async def run_now(self, guild_id: DiscordId, name: str, *, by: DiscordId, as_host: bool = False) -> None:
        """Start one occurrence now, beside the planned ones."""
        await self._may_change(guild_id, name, by, as_host, "run")
        await self.handle(guild_id, name).trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)

    @refuses(SchedulingError)
    async def skip_next(
        self, guild_id: DiscordId, name: str, *, by: DiscordId, as_host: bool = False
    ) -> datetime:
        """Skip the next occurrence only (a `skip` entry for its firing); returns the occurrence."""
        described = await self._may_change(guild_id, name, by, as_host, "skip")
        upcoming = described.info.next_action_times
        if not upcoming:
            raise SchedulingError("this repeat has no next occurrence to skip")
        moment: datetime = upcoming[0]
        zone = ZoneInfo(described.schedule.spec.time_zone_name or "UTC")
        local = moment.astimezone(zone)
        skip = ScheduleCalendarSpec(
            second=_range(local.second),
            minute=_range(local.minute),
            hour=_range(local.hour),
            day_of_month=_range(local.day),
            month=_range(local.month),
            year=_range(local.year),
            comment=f"skipped {moment:%Y-%m-%d %H:%M} UTC",
        )

        def updated(inp: ScheduleUpdateInput) -> ScheduleUpdate:
            check_may_change(inp.description.schedule, by, as_host, "skip")
            spec = inp.description.schedule.spec
            spec.skip = [*spec.skip, skip]
            return ScheduleUpdate(schedule=inp.description.schedule)

        await self.handle(guild_id, name).update(updated)
        return moment + await _lead(described)

    @refuses(SchedulingError)
    async def change(
        self, guild_id: DiscordId, name: str, every: str, *, zone: Zone, by: DiscordId, as_host: bool = False
    ) -> RepeatInfo:
        """A new pattern (and zone), keeping the reminders, the end and the skips."""
        pattern = times.parse_every(every, shortest=self._shortest)
        described = await self._may_change(guild_id, name, by, as_host, "change")
        old = described.schedule.spec
        new = schedule_spec(
            pattern, zone, lead=await _lead(described), start_at=old.start_at, end_at=old.end_at
        )
        new.skip = old.skip

        def updated(inp: ScheduleUpdateInput) -> ScheduleUpdate:
            check_may_change(inp.description.schedule, by, as_host, "change")
            inp.description.schedule.spec = new
            return ScheduleUpdate(schedule=inp.description.schedule)

        await self.handle(guild_id, name).update(updated)
        return await self.info(guild_id, name)

    @refuses(SchedulingError)
    async def end(self, guild_id: DiscordId, name: str, *, by: DiscordId, as_host: bool = False) -> None:
        """No more occurrences; the ones already started (their jobs) stay, each cancellable."""
        await self._may_change(guild_id, name, by, as_host, "end")
        await self.handle(guild_id, name).delete()
