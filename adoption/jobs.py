"""Bringing one scheduled job over: its deadline kept, its reminders kept as offsets before it,
under an id derived from the original's, so a second import finds it and starts nothing.

Times keep their meaning. A job whose deadline passed while it waited to be imported runs at
once: actions have no late-run policy yet (run late and say so, or be recorded missed), and
running at once is what the original bots did on restart. A reminder whose moment has passed is
skipped, with the reason, never posted late.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import JsonValue, ValidationError

from adoption.report import Report
from adoption.target import Target
from clients.jobs import SchedulingError, check_payload
from workflows import custom_actions_models, safari_engine
from workflows.common import first_error
from workflows.jobs_actions import UnknownActionError, action_spec
from workflows.jobs_models import KEY_PATTERN, MAX_DELAY, MAX_REMINDERS, JobSpec, Reminder, job_id_for
from workflows.times import format_human, when

# A deadline this close is as good as due: by the time the job starts it would be past.
SLACK = timedelta(seconds=1)
KEY_MAX = 80
# The part of an original id kept readable in a key; a longer or odder id is hashed.
ORIGIN_MAX = 48
_ORIGIN = re.compile(r"[A-Za-z0-9_.:-]{1,48}")

# Each feature registers its actions when its models module is imported: the catalogue
# `check()` reads holds them all, as the worker's does.
ACTION_FEATURES = (safari_engine, custom_actions_models)

LATE_RUN_NOTE = "overdue by {late}: runs at once (actions have no late-run policy yet)"


def origin_key(prefix: str, original_id: str) -> str:
    """A job key derived from the original's id: the same id gives the same key, so the same job
    id, every time. Readable when the id is short and plain; a hash of it otherwise."""
    part = original_id if _ORIGIN.fullmatch(original_id) else digest(original_id, 24)
    key = prefix + part
    if len(key) > KEY_MAX:
        key = prefix + digest(original_id, max(8, KEY_MAX - len(prefix)))
    if not re.fullmatch(KEY_PATTERN, key) or len(key) > KEY_MAX:
        raise ValueError(f"no job key can be made from prefix {prefix!r}")
    return key


def digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


@dataclass(frozen=True)
class JobPlan:
    """A job as it will be scheduled here."""

    key: str
    action: str
    payload: dict[str, JsonValue]
    guild_id: int
    channel_id: int
    scheduled_by: int | None  # None: the original names nobody, and the operator gave no one
    deadline: datetime
    reminders: Sequence[Reminder] = ()
    reminder_action: str = "send_reminder"
    description: str = ""

    @property
    def job_id(self) -> str:
        return job_id_for(self.guild_id, self.key)

    def summary(self) -> str:
        what = self.description or self.action
        return f"{what} in channel {self.channel_id} at {when(self.deadline)} (job {self.job_id})"


def check(plan: JobPlan) -> str | None:
    """What the scheduler would refuse about this job (its action, payload, fields), or None."""
    try:
        spec = action_spec(plan.action)
        reminder_spec = action_spec(plan.reminder_action) if plan.reminders else None
    except UnknownActionError as err:
        return str(err)
    if spec.reminder or (reminder_spec is not None and not reminder_spec.reminder):
        return f"{plan.action} cannot be a job's action"
    try:
        check_payload(spec.payload, plan.action, plan.payload)
        JobSpec(
            action=plan.action,
            payload=plan.payload,
            guild_id=plan.guild_id,
            channel_id=plan.channel_id,
            deadline=plan.deadline,
            reminders=list(plan.reminders),
            reminder_action=plan.reminder_action,
            description=plan.description,
            key=plan.key,
            scheduled_by=plan.scheduled_by,
        )
    except SchedulingError as err:
        return str(err)
    except ValidationError as err:
        return first_error(err)
    return None


async def bring_job(target: Target, report: Report, where: str, plan: JobPlan, note: str = "") -> str | None:
    """Schedule `plan` here unless its id was used before; report every step. Returns the job id
    when it was (or, in a dry run, would be) created."""
    if await target.exists(plan.job_id):
        report.skipped(where, plan.summary(), "already imported: a job with this id exists here")
        return None
    if plan.scheduled_by is None:
        report.refused(where, plan.summary(), "the original names nobody as scheduling it: give --by")
        return None
    now = target.now()
    if plan.deadline - now > MAX_DELAY:
        report.refused(where, plan.summary(), f"the deadline is more than {MAX_DELAY.days} days away")
        return None
    overdue = plan.deadline <= now + SLACK
    kept: list[Reminder] = []
    dropped: list[tuple[str, str]] = []  # reported after the job itself
    for reminder in sorted(plan.reminders, key=lambda r: r.offset, reverse=True):
        due = plan.deadline - reminder.offset
        label = f"reminder {reminder.message!r} of {plan.job_id}"
        if due <= now + SLACK:
            dropped.append((label, f"its moment ({when(due)}) has passed"))
        elif reminder.offset in {r.offset for r in kept}:
            dropped.append((label, "another reminder falls at the same moment"))
        elif len(kept) >= MAX_REMINDERS:
            dropped.append((label, f"a job here takes at most {MAX_REMINDERS} reminders"))
        else:
            kept.append(reminder)
    problem = check(dataclasses.replace(plan, reminders=kept))
    if problem is not None:
        report.refused(where, plan.summary(), problem)
        return None
    notes = [note] if note else []
    if overdue:
        notes.insert(0, LATE_RUN_NOTE.format(late=format_human(now - plan.deadline)))
    if not target.dry_run:
        try:
            await target.jobs.schedule(
                plan.action,
                plan.payload,
                guild_id=plan.guild_id,
                channel_id=plan.channel_id,
                scheduled_by=plan.scheduled_by,
                **({"delay": timedelta(0)} if overdue else {"at": plan.deadline}),
                reminders=kept,
                reminder_action=plan.reminder_action,
                description=plan.description,
                key=plan.key,
            )
        except SchedulingError as err:
            if await target.exists(plan.job_id):  # started meanwhile, by another import
                report.skipped(where, plan.summary(), "already imported: a job with this id exists here")
            else:
                report.refused(where, plan.summary(), str(err))
            return None
    report.created(where, plan.summary(), "; ".join(notes))
    for label, why in dropped:
        report.skipped(where, label, why)
    return plan.job_id
