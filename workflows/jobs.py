"""The scheduled job: reminders before a deadline, then one named action.

Replaces CastBot's `scheduler.js` job: the deadline and reminders are durable timers, so a
restart neither loses nor repeats them, and the Web UI names every pending timer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pydantic import JsonValue
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, FailureError, RetryState

with workflow.unsafe.imports_passed_through():
    from workflows import search_attributes as sa
    from workflows.common import DISCORD_RETRY, EDIT_ANNOUNCEMENT, AnnouncementEdit, failure_reason
    from workflows.guild_checks import GuildQuery, ask_discord, not_a_host, other_guild_channel
    from workflows.jobs_actions import (
        FIND_REMINDER_POST,
        NOTIFY_JOB_CANCELLED,
        NOTIFY_JOB_FAILED,
        SEND_REMINDER,
        ActionSpec,
        UnknownActionError,
        action_spec,
    )
    from workflows.jobs_models import (
        ANNOUNCED,
        JOBS_WORKFLOW,
        MAX_DELAY,
        PAUSED_MEMO,
        SCHEDULED_START,
        ActionInput,
        CancelNotice,
        CancelRequest,
        FailureNotice,
        JobAnnouncement,
        JobChange,
        JobOutcome,
        JobResult,
        JobSpec,
        JobState,
        JobStatus,
        OperatorCancel,
        ReminderInput,
        ReminderLookup,
        ReminderOutcome,
        ReminderPlan,
        ReminderRecord,
        RescheduleRequest,
        ShiftRequest,
        SteerRequest,
    )
    from workflows.outage_models import REPORT_OUTAGE, OutageEntry, OutageKind
    from workflows.outcomes import record_outcome
    from workflows.times import discord_time, format_human, when

# Executions started before this patch keep their old paths (tests/replay/histories): reminders
# as one local activity with the catalogue's budget, the action given up after an hour.
JOBS_PATCH = "reminders-end-at-deadline-actions-keep-trying"
# From this patch on, a reminder whose successor is due too is skipped (a backlog after an
# outage or under overload posts only the latest, never "30 minutes left" with 5 left), and a
# reminder's retries end when its successor falls due.
SUPERSEDE_PATCH = "reminders-superseded-by-the-next"
# From this patch on, a job the bot announced publicly (`announced`) edits that post when it ends,
# so players never read "results in 3 minutes" about results that were cancelled.
ANNOUNCE_PATCH = "announcements-edited-when-the-job-ends"
# From this patch on, an action that falls due too late for its ActionSpec.late window is recorded
# missed (the host told), and one that runs over LATE_NOTE late says so in its post.
LATE_PATCH = "told-late-run-policy"
LATE_NOTE = timedelta(minutes=1)
# From this patch on, a host's late policy (JobSpec.if_late) and the windows of actions given one
# since (ActionSpec.late_new: custom actions) decide whether a late action runs or is missed.
IF_LATE_PATCH = "told-late-windows-chosen"
# From this patch on, a reschedule does not plan again a reminder already sent for the same
# deadline (moved away and back, it is not posted twice).
REMINDERS_ONCE_PATCH = "steer-reminders-once"
# From this patch on, an action that ran over LATE_NOTE late, was missed or failed reports itself
# to its server's outage summary (workflows/outage.py): one message per outage, not one per job.
OUTAGE_PATCH = "told-outage-summary"
# From this patch on, a paused job keeps its time left in its memo (PAUSED_MEMO), so listings,
# which read visibility alone, show "paused, 50m left" rather than its old deadline.
PAUSED_LISTED_PATCH = "steer-paused-listed"
# From this patch on, a reminder whose attempts ended without Discord's answer (the answer lost,
# the worker killed, the last moment passed while Discord held it) is looked for in its channel
# before it is recorded not sent: a post Discord took is recorded sent.
REMINDER_LOOKUP_PATCH = "told-reminder-record-matches-discord"
# The look-up reads the channel; it posts nothing, so it may run past the reminder's last moment.
LOOKUP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
LOOKUP_BUDGET = timedelta(seconds=20)
# From this patch on, a job whose spec asks (`check_channel`) first asks Discord which server
# its channel is in, and a channel of another server ends it refused before anything is planned.
CHANNEL_CHECK_PATCH = "told-channel-of-the-guild"
# From this patch on, a change claimed as a host's by someone other than the job's scheduler is
# checked with Discord (the owner, Manage Roles, the host role) before it is made.
HOST_CHECK_PATCH = "told-host-checked-with-discord"
# From this patch on, a repeat's occurrence plans its reminders from the moment its schedule
# fired for, not from its own start a moment later: the earliest reminder, due at that very
# moment, was never planned, so a weekly quiz never posted its "1h" reminder.
OCCURRENCE_PATCH = "steer-occurrence-plans-its-first-reminder"
OPERATOR_CANCEL = "operator_cancel"
TEMPORAL_CANCELLATION = "Temporal cancellation"

# A reminder retries quickly and a few times, driven by the workflow (_fire_reminder_in_time);
# its last moment ends it whatever this would still allow.
REMINDER_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=8,
)
ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)
# A final action first tries as a local activity, briefly: a blip costs no extra round trip...
QUICK_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_attempts=3)
QUICK_BUDGET = timedelta(seconds=30)
# ...then as a regular activity for days: the server keeps the retries, so the history gains
# three events however long Discord is away.
FINAL_ACTION_BUDGET = timedelta(days=30)
FINAL_MAX_INTERVAL = timedelta(minutes=5)
FINAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5), backoff_coefficient=2.0, maximum_interval=FINAL_MAX_INTERVAL
)
# What the reminder activity raises when its last moment has passed (non-retryable).
REMINDER_TOO_LATE = "ReminderTooLate"


def _innermost(err: BaseException) -> BaseException:
    # A local activity's failure may arrive wrapped in an ActivityError or not.
    while isinstance(err, ActivityError) and err.cause is not None:
        err = err.cause
    return err


def late_line(due: datetime, at: datetime) -> str | None:
    """The line a post run over LATE_NOTE after its moment ends with; None when on time."""
    if at - due <= LATE_NOTE:
        return None
    return f"due {discord_time(due, 't')}, posted {discord_time(at, 't')}: the bot was offline"


def _too_late(late: timedelta, window: timedelta | None) -> bool:
    return window is not None and late > window


def permanent(err: FailureError) -> bool:
    """Whether retrying cannot help: Discord refused (non-retryable), not merely did not answer."""
    if isinstance(err, ActivityError) and err.retry_state == RetryState.NON_RETRYABLE_FAILURE:
        return True
    cause = _innermost(err)
    return isinstance(cause, ApplicationError) and cause.non_retryable


def error_type(err: FailureError) -> str | None:
    cause = _innermost(err)
    return cause.type if isinstance(cause, ApplicationError) else None


async def run_final_action(
    spec: ActionSpec,
    arg: object,
    *,
    waiting: Callable[[str], None] = lambda reason: None,
    stop: Callable[[], bool] = lambda: False,
) -> JsonValue:
    """Call an action whose result must not be lost: a short local try, then a regular activity
    that retries for FINAL_ACTION_BUDGET. `waiting(reason)` is told when Discord did not answer
    the short try; `stop()` true ends the wait (the activity is cancelled, ActionStopped)."""
    if spec.local:
        try:
            result: JsonValue = await workflow.execute_local_activity(
                spec.name,
                arg,
                start_to_close_timeout=spec.start_to_close,
                schedule_to_close_timeout=max(QUICK_BUDGET, spec.start_to_close),
                retry_policy=QUICK_RETRY,
                summary=spec.name,
            )
            return result
        except FailureError as err:
            if permanent(err):
                raise
            waiting(failure_reason(err))
    handle = workflow.start_activity(
        spec.name,
        arg,
        start_to_close_timeout=spec.start_to_close,
        heartbeat_timeout=spec.heartbeat,
        schedule_to_close_timeout=FINAL_ACTION_BUDGET,
        retry_policy=FINAL_RETRY,
        summary=spec.name,
    )
    try:
        await workflow.wait_condition(lambda: handle.done() or stop())
    finally:
        if not handle.done():
            handle.cancel()
    if not handle.done():
        raise ActionStopped()
    return await handle  # type: ignore[no-any-return]


class ActionStopped(Exception):
    """An operator cancelled the job while its action was waiting for Discord."""


async def run_action(spec: ActionSpec, arg: object, *, deadline: timedelta | None = None) -> JsonValue:
    """Call an action activity the way the catalogue says: local or regular, with its budget."""
    budget = spec.schedule_to_close if deadline is None else min(spec.schedule_to_close, deadline)
    budget = max(budget, spec.start_to_close)
    result: JsonValue
    if spec.local:
        result = await workflow.execute_local_activity(
            spec.name,
            arg,
            start_to_close_timeout=spec.start_to_close,
            schedule_to_close_timeout=budget,
            retry_policy=DISCORD_RETRY,
            summary=spec.name,
        )
    else:
        result = await workflow.execute_activity(
            spec.name,
            arg,
            start_to_close_timeout=spec.start_to_close,
            heartbeat_timeout=spec.heartbeat,
            schedule_to_close_timeout=budget,
            retry_policy=DISCORD_RETRY,
            summary=spec.name,
        )
    return result


@workflow.defn(name=JOBS_WORKFLOW)
class ScheduledJobWorkflow:
    @workflow.init
    def __init__(self, spec: JobSpec) -> None:
        self._spec = spec
        self._deadline = spec.deadline
        if spec.lead is not None:
            # A repeat's occurrence: due `lead` after the time its schedule fired for.
            info = workflow.info()
            scheduled = info.typed_search_attributes.get(SearchAttributeKey.for_datetime(SCHEDULED_START))
            self._deadline = (scheduled or info.workflow_start_time) + spec.lead
        self._state: JobState = "waiting"
        self._records: list[ReminderRecord] = []
        self._pending: list[ReminderPlan] = []
        self._cancel: CancelRequest | None = None
        # Set by reschedule: wakes the current timer so the plan is recomputed.
        self._replanned = False
        # Set by the operator_cancel signal (Web UI, CLI).
        self._operator: OperatorCancel | None = None
        # What the final action waits for, while Discord does not answer.
        self._waiting: str | None = None
        self._v2 = False
        self._v3 = False
        # The public post that announced this job, once the bot has said where it is, and who
        # last steered the job since the post was last corrected.
        self._announcement: JobAnnouncement | None = None
        self._steered_by: int | None = None
        self._ran_at: datetime | None = None
        # Steering (pause, resume, run now, shift): time left while paused, who asked to run
        # now, and every change members made, with who made it.
        self._paused_left: timedelta | None = None
        self._run_now: int | None = None
        self._changes: list[JobChange] = []
        # Looks for reminders recorded unsent (_record_unsent): the result waits for them.
        self._lookups: list[asyncio.Task[None]] = []

    @workflow.run
    async def run(self, spec: JobSpec) -> JobResult:
        self._v2 = workflow.patched(JOBS_PATCH)
        self._v3 = self._v2 and workflow.patched(SUPERSEDE_PATCH)
        try:
            result = await self._run()
            if self._lookups:
                await asyncio.gather(*self._lookups)
                result.reminders = list(self._records)
            return result
        except asyncio.CancelledError:
            # Temporal's own cancellation (`temporal workflow cancel`, the Web UI's Request
            # Cancellation): end as a cancelled job the host hears about, not a bare CANCELED.
            if self._state in ("done", "cancelled", "failed"):
                raise
            return await self._operator_cancelled(
                TEMPORAL_CANCELLATION, workflow.cancellation_reason() or None
            )

    def _cancelled(self) -> bool:
        return self._cancel is not None or self._operator is not None

    async def _run(self) -> JobResult:
        if self._spec.check_channel and workflow.patched(CHANNEL_CHECK_PATCH):
            facts = await ask_discord(
                GuildQuery(guild_id=self._spec.guild_id, channel_id=self._spec.channel_id)
            )
            # Discord unreachable: the action's own post finds out at the deadline.
            if facts is not None and facts.channel_guild not in (None, self._spec.guild_id):
                return self._finish("failed", reason=other_guild_channel(self._spec.channel_id))
        # Reminders that would have fallen before the job existed are never planned; ones that
        # fall due while no worker runs are planned, then skipped (see _fire_reminder).
        since = workflow.info().workflow_start_time
        if self._spec.lead is not None and workflow.patched(OCCURRENCE_PATCH):
            # An occurrence exists from the moment its schedule fired for, `lead` before its deadline.
            since = min(since, self._deadline - self._spec.lead)
        self._plan(since=since)
        if self._spec.lead is not None:
            workflow.upsert_search_attributes([sa.JOB_DEADLINE.value_set(self._deadline)])
        while True:
            self._show()
            if self._cancel is not None:
                return await self._finished(
                    "cancelled", by=self._cancel.by, reason=self._cancel.reason or None
                )
            if self._operator is not None:
                return await self._operator_cancelled(self._operator.who(), self._operator.why())
            if self._run_now is not None:
                return await self._fire_now()
            if self._steered_by is not None:
                await self._announce_steering()
            if self._paused_left is not None:
                # Nothing fires while paused: no timer is running, only this wait.
                await workflow.wait_condition(
                    lambda: self._cancelled() or self._paused_left is None or self._run_now is not None
                )
                continue
            nxt = self._pending[0] if self._pending else None
            target = nxt.due if nxt else self._deadline
            summary = f"{nxt.message} reminder" if nxt else "deadline"
            if self._spec.channel_name:
                summary += f" in #{self._spec.channel_name}"
            wait = (target - workflow.now()).total_seconds()
            if wait > 0:
                self._replanned = False
                try:
                    await workflow.wait_condition(
                        lambda: self._cancelled() or self._replanned or self._run_now is not None,
                        timeout=wait,
                        timeout_summary=summary,
                    )
                    continue  # woken by cancel or reschedule: look again
                except TimeoutError:
                    # A cancel or reschedule handled in the same task as the timer wins, however
                    # the SDK orders them.
                    if self._v2 and (self._cancelled() or self._replanned or self._run_now is not None):
                        continue
            if nxt is not None:
                self._pending.pop(0)
                later = self._successor()
                # (At or past the deadline every reminder is skipped as such, below.)
                if later is not None and later.due <= workflow.now() < self._deadline:
                    # A worker killed mid-attempt leaves no trace in the history: look.
                    self._record_unsent(
                        nxt,
                        "skipped",
                        f"{self._lateness(nxt, workflow.now())}: the {later.message} reminder"
                        " is due too, and only the latest is sent",
                        later.due,
                    )
                    continue
                if self._v2:
                    await self._fire_reminder_in_time(nxt)
                else:
                    await self._fire_reminder(nxt)
                continue
            return await self._fire_action()

    def _successor(self) -> ReminderPlan | None:
        """The reminder after the one being sent (none before SUPERSEDE_PATCH)."""
        return self._pending[0] if self._v3 and self._pending else None

    def _lateness(self, plan: ReminderPlan, now: datetime) -> str:
        late = int((now - plan.due).total_seconds())
        return f"due {plan.due:%H:%M:%S}, fired {late} s late"

    async def _fire_reminder_in_time(self, plan: ReminderPlan) -> None:
        """Post a reminder before its last moment, retries included, or record why not.

        Its last moment: the deadline, the next reminder's moment (SUPERSEDE_PATCH), or
        `reminder_grace` after it was due, whichever comes first (later, what it says is
        untrue). A local activity's own retries are not bounded by its schedule_to_close, so
        each attempt is one local activity that cannot outlive the last moment, and the
        workflow waits between attempts on a timer that never passes it (a timer's wake-up
        brings the server's clock, so the next check is exact). The activity
        also refuses to post once the moment has passed."""
        last = min(self._deadline, plan.due + self._spec.reminder_grace)
        later = self._successor()
        if later is not None:
            last = min(last, later.due)
        try:
            spec = action_spec(self._spec.reminder_action)
        except UnknownActionError as err:
            self._record(plan, "failed", reason=str(err))
            return
        backoff = REMINDER_RETRY.initial_interval
        error: str | None = None
        for _ in range(REMINDER_RETRY.maximum_attempts):
            now = workflow.now()
            if self._cancelled():
                self._record_unsent(plan, "skipped", "the job was cancelled while it was being sent", last)
                return
            if now >= last:
                break
            budget = min(spec.start_to_close, last - now)
            try:
                await workflow.execute_local_activity(
                    spec.name,
                    self._reminder_input(plan, last),
                    start_to_close_timeout=budget,
                    schedule_to_close_timeout=budget,
                    retry_policy=ONE_ATTEMPT,
                    summary=spec.name,
                )
            except FailureError as err:
                if error_type(err) == REMINDER_TOO_LATE:
                    self._record_unsent(plan, "skipped", failure_reason(err), last)
                    return
                if permanent(err):
                    self._record_unsent(plan, "failed", failure_reason(err), last)
                    return
                error = failure_reason(err)
            else:
                self._record(plan, "sent")
                return
            wait = min(backoff, last - workflow.now())
            if wait <= timedelta(0):
                break
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    self._cancelled, timeout=wait, timeout_summary=f"{plan.message} reminder retry"
                )
            backoff = min(
                backoff * REMINDER_RETRY.backoff_coefficient, REMINDER_RETRY.maximum_interval or backoff
            )
        now = workflow.now()
        if error is None:
            if now >= self._deadline:
                why = "at the deadline"
            elif later is not None and now >= later.due:
                why = f"the {later.message} reminder was due"
            else:
                why = f"more than {self._grace()} late"
            reason = f"{self._lateness(plan, now)}: {why}, not sent"
            self._record_unsent(plan, "skipped", reason, last)
        else:
            reason = f"Discord did not take it by {last:%H:%M:%S} UTC: {error}"
            self._record_unsent(plan, "failed", reason, last)

    def _record_unsent(
        self,
        plan: ReminderPlan,
        outcome: ReminderOutcome,
        reason: str,
        post_by: datetime,
    ) -> None:
        """Record a due reminder as not sent, then look for it in its channel: Discord may have
        taken an attempt whose answer never came back (lost, the last moment passed while Discord
        held it, or the worker killed before its task was recorded, which leaves no trace in the
        history). A post found makes the record "sent": it says what the channel shows
        (REMINDER_LOOKUP_PATCH). The look runs beside the job, so it never delays the next
        reminder or the action; the result waits for it."""
        self._record(plan, outcome, reason=reason)
        if self._spec.reminder_action != SEND_REMINDER or not workflow.patched(REMINDER_LOOKUP_PATCH):
            return
        lookup = ReminderLookup(reminder=self._reminder_input(plan, post_by), since=plan.due)
        self._lookups.append(asyncio.create_task(self._look_for(len(self._records) - 1, lookup)))

    async def _look_for(self, index: int, lookup: ReminderLookup) -> None:
        record = self._records[index]
        try:
            found = await workflow.execute_local_activity(
                FIND_REMINDER_POST,
                lookup,
                result_type=dict[str, str],
                start_to_close_timeout=LOOKUP_BUDGET,
                schedule_to_close_timeout=LOOKUP_BUDGET,
                retry_policy=LOOKUP_RETRY,
                summary=FIND_REMINDER_POST,
            )
        except FailureError as err:
            why = f"{record.reason}; whether Discord took it is unknown: {failure_reason(err)}"
            self._records[index] = record.model_copy(update={"reason": why})
            return
        if found.get("message_id"):
            self._records[index] = record.model_copy(
                update={
                    "outcome": "sent",
                    "reason": "found in the channel: Discord took it, its answer was lost",
                }
            )

    def _grace(self) -> str:
        return f"{int(self._spec.reminder_grace.total_seconds())} s"

    def _reminder_input(self, plan: ReminderPlan, post_by: datetime | None = None) -> ReminderInput:
        return ReminderInput(
            job_id=workflow.info().workflow_id,
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            message=plan.message,
            deadline=self._deadline,
            description=self._spec.description,
            post_by=post_by,
            nonce_key=f"reminder:{plan.message}:{plan.due.isoformat()}",
        )

    async def _fire_reminder(self, plan: ReminderPlan) -> None:
        """The path of executions started before JOBS_PATCH."""
        now = workflow.now()
        if now - plan.due > self._spec.reminder_grace:
            self._record(
                plan, "skipped", reason=f"{self._lateness(plan, now)}: more than {self._grace()} late"
            )
            return
        reminder_input = self._reminder_input(plan)
        try:
            spec = action_spec(self._spec.reminder_action)
            # A reminder retried past the deadline is worthless: its budget ends there.
            await run_action(spec, reminder_input, deadline=self._deadline - now)
        except (FailureError, UnknownActionError) as err:
            reason = failure_reason(err) if isinstance(err, FailureError) else str(err)
            self._record(plan, "failed", reason=reason)
            return
        self._record(plan, "sent")

    async def _fire_now(self) -> JobResult:
        """Run now (a member asked): the reminders still planned are recorded as not needed."""
        for plan in self._pending:
            self._record(plan, "skipped", reason="the job was run early, before this reminder")
        self._pending = []
        self._deadline = workflow.now()
        return await self._fire_action()

    async def _fire_action(self) -> JobResult:
        late_note: str | None = None
        if workflow.patched(LATE_PATCH):
            late = workflow.now() - self._deadline
            window = self._late_window(late)
            if window is not None and late > window:
                return await self._missed(late, window)
            late_note = late_line(self._deadline, workflow.now())
        self._state = "running"
        self._ran_at = workflow.now()
        self._show()
        action_input = ActionInput(
            job_id=workflow.info().workflow_id,
            action=self._spec.action,
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            payload=self._spec.payload,
            deadline=self._deadline,
            scheduled_by=self._spec.scheduled_by,
            description=self._spec.description,
            nonce_key="action",
            retry_of=self._spec.retry_of,
            late_note=late_note,
        )
        try:
            if self._v2:
                result = await run_final_action(
                    action_spec(self._spec.action),
                    action_input,
                    waiting=self._wait_for_discord,
                    stop=lambda: self._operator is not None,
                )
            else:
                result = await run_action(action_spec(self._spec.action), action_input)
        except ActionStopped:
            assert self._operator is not None
            return await self._operator_cancelled(self._operator.who(), self._operator.why())
        except (FailureError, UnknownActionError) as err:
            reason = failure_reason(err) if isinstance(err, FailureError) else str(err)
            await self._notify_failure(reason)
            await self._report_outage("failed", reason)
            return await self._finished("failed", reason=reason)
        if late_note is not None:
            await self._report_outage("late", None)
        return await self._finished("done", action_result=result)

    def _late_window(self, late: timedelta) -> timedelta | None:
        """How late the action may run: the host's choice (JobSpec.if_late), else its action's.
        Executions started before IF_LATE_PATCH had neither a choice nor the newer actions'
        windows; the patch is asked only when the two would decide differently (no marker
        in the history of a job that runs in time)."""
        try:
            spec = action_spec(self._spec.action)
        except UnknownActionError:
            return None
        before = None if spec.late_new else spec.late
        chosen = spec.late if self._spec.if_late is None else self._spec.if_late.skip_after
        if _too_late(late, chosen) != _too_late(late, before) and workflow.patched(IF_LATE_PATCH):
            return chosen
        return before

    async def _missed(self, late: timedelta, window: timedelta) -> JobResult:
        """Due while it could not run, and later than its action allows: not run, the host told."""
        reason = (
            f"due {discord_time(self._deadline)}, the bot could not run it until "
            f"{discord_time(workflow.now())}; "
            f"{self._late_rule()} {format_human(window)} late, so it was not run"
        )
        await self._notify_failure(reason)
        await self._report_outage("missed", reason)
        return await self._finished("missed", reason=reason)

    def _late_rule(self) -> str:
        if self._spec.if_late is not None:
            return f"<@{self._spec.scheduled_by}> chose to skip it if it could only run more than"
        return "this kind of job runs at most"

    def _wait_for_discord(self, reason: str) -> None:
        since, until = workflow.now(), workflow.now() + FINAL_ACTION_BUDGET
        self._waiting = (
            f"waiting for Discord since {when(since)} ({reason}); retrying at most "
            f"{FINAL_MAX_INTERVAL.seconds // 60} min apart until {when(until)}"
        )
        self._show()

    async def _operator_cancelled(self, by: str, reason: str | None) -> JobResult:
        """Cancelled outside the bot: record who and why, and tell the channel, since the host
        did not see it happen."""
        self._state = "cancelled"
        self._pending = []
        self._waiting = None
        self._show()
        notice = CancelNotice(
            job_id=workflow.info().workflow_id,
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            scheduled_by=self._spec.scheduled_by,
            description=self._spec.description,
            by=by,
            reason=reason,
        )
        await self._best_effort(NOTIFY_JOB_CANCELLED, notice, "cancel notice")
        return await self._finished("cancelled", operator=by, reason=reason)

    async def _notify_failure(self, reason: str) -> None:
        notice = FailureNotice(
            job_id=workflow.info().workflow_id,
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            scheduled_by=self._spec.scheduled_by,
            description=self._spec.description,
            reason=reason,
        )
        await self._best_effort(NOTIFY_JOB_FAILED, notice, "failure notice")

    async def _report_outage(self, kind: OutageKind, reason: str | None) -> None:
        if not workflow.patched(OUTAGE_PATCH):
            return
        info = workflow.info()
        entry = OutageEntry(
            job_id=info.workflow_id,
            run_id=info.run_id,
            guild_id=self._spec.guild_id,
            scheduled_by=self._spec.scheduled_by,
            description=self._spec.description,
            kind=kind,
            due=self._deadline,
            at=workflow.now(),
            reason=None if reason is None else reason[:500],
        )
        # An activity task, not a local activity: a worker built without it (a test's, an older
        # replica's) fails the attempt instead of the job's workflow task.
        try:
            await workflow.execute_activity(
                REPORT_OUTAGE,
                entry,
                start_to_close_timeout=timedelta(seconds=15),
                schedule_to_close_timeout=timedelta(minutes=1),
                retry_policy=RetryPolicy(maximum_attempts=3),
                summary=f"outage summary: {kind}",
            )
        except FailureError:
            workflow.logger.warning("could not report %s to the outage summary", info.workflow_id)

    async def _best_effort(self, activity: str, notice: Any, summary: str) -> None:
        try:
            await workflow.execute_local_activity(
                activity,
                notice,
                start_to_close_timeout=timedelta(seconds=15),
                retry_policy=RetryPolicy(maximum_attempts=3),
                summary=summary,
            )
        except FailureError:
            workflow.logger.warning("could not deliver the %s for %s", summary, workflow.info().workflow_id)

    # --- messages -------------------------------------------------------------------------

    @workflow.update
    async def cancel(self, request: CancelRequest) -> JobStatus:
        await self._confirm_host(
            request.by, request.as_host, "cancel", lambda: self._validate_cancel(request)
        )
        self._cancel = request
        self._state = "cancelled"
        return self.status()

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        # Validators do not run on replay (an accepted update is in the history), so this
        # check needs no patch.
        if request.run and not workflow.info().run_id.endswith(request.run):
            raise ApplicationError("that Cancel button was for an earlier run of this job, which is over")
        self._check_may_change(request.by, request.guild_id, request.as_host, "cancel")

    @workflow.signal(name=ANNOUNCED)
    def announced(self, announcement: JobAnnouncement) -> None:
        """The bot posted this job's public announcement here (a signal: no worker needed)."""
        if self._announcement is None:
            self._announcement = announcement

    @workflow.signal(name=OPERATOR_CANCEL)
    def operator_cancel(self, request: OperatorCancel) -> None:
        """For operators, from the Web UI or the CLI: no validator can answer them, so a job
        already over ignores it, and the result records who sent it."""
        if self._operator is None and self._state in ("waiting", "running"):
            self._operator = request

    @workflow.update
    async def reschedule(self, request: RescheduleRequest) -> JobStatus:
        await self._confirm_host(
            request.by, request.as_host, "reschedule", lambda: self._validate_reschedule(request)
        )
        self._move_to(request.deadline, once=workflow.patched(REMINDERS_ONCE_PATCH))
        self._note(request.by, f"moved to {when(self._deadline)}")
        return self.status()

    @reschedule.validator
    def _validate_reschedule(self, request: RescheduleRequest) -> None:
        self._check_may_change(request.by, request.guild_id, request.as_host, "reschedule")
        self._check_not_paused("move")
        self._check_deadline(request.deadline)

    def _check_deadline(self, deadline: datetime) -> None:
        now = workflow.now()
        if deadline <= now:
            raise ValueError("the new deadline is in the past")
        if deadline - now > MAX_DELAY:
            raise ValueError(f"the new deadline is more than {MAX_DELAY.days} days away")

    def _check_not_paused(self, verb: str) -> None:
        if self._paused_left is not None:
            raise ApplicationError(f"this job is paused; resume it before you {verb} it")

    def _move_to(self, deadline: datetime, *, once: bool = True) -> None:
        self._deadline = deadline
        self._plan(since=workflow.now(), once=once)
        self._replanned = True
        workflow.upsert_search_attributes([sa.JOB_DEADLINE.value_set(self._deadline)])

    def _note(self, by: int, what: str) -> None:
        self._changes.append(JobChange(at=workflow.now(), by=by, what=what))
        self._steered_by = by
        self._show()

    def _list_paused(self) -> None:
        if workflow.patched(PAUSED_LISTED_PATCH):
            left = self._paused_left
            workflow.upsert_memo({PAUSED_MEMO: None if left is None else left.total_seconds()})

    # Steering: new updates beside the old ones (their names are a contract too).

    @workflow.update
    async def shift(self, request: ShiftRequest) -> JobStatus:
        """Extend (positive) or bring forward (negative) by a duration."""
        await self._confirm_host(request.by, request.as_host, "move", lambda: self._validate_shift(request))
        self._move_to(self._deadline + request.by_how_much)
        sign = "later" if request.by_how_much > timedelta(0) else "earlier"
        self._note(
            request.by, f"moved {format_human(abs(request.by_how_much))} {sign}, to {when(self._deadline)}"
        )
        return self.status()

    @shift.validator
    def _validate_shift(self, request: ShiftRequest) -> None:
        self._check_may_change(request.by, request.guild_id, request.as_host, "move")
        self._check_not_paused("move")
        if request.by_how_much == timedelta(0):
            raise ValueError("moving it by nothing changes nothing")
        if abs(request.by_how_much) > MAX_DELAY:
            raise ValueError(f"a job can be moved by at most {MAX_DELAY.days} days")
        self._check_deadline(self._deadline + request.by_how_much)

    @workflow.update
    async def pause(self, request: SteerRequest) -> JobStatus:
        """Stop the clock: nothing fires until resume, which keeps the time that was left."""
        await self._confirm_host(request.by, request.as_host, "pause", lambda: self._validate_pause(request))
        self._paused_left = self._deadline - workflow.now()
        self._pending = []
        self._replanned = True
        self._note(request.by, f"paused with {format_human(self._paused_left)} left")
        self._list_paused()
        return self.status()

    @pause.validator
    def _validate_pause(self, request: SteerRequest) -> None:
        self._check_may_change(request.by, request.guild_id, request.as_host, "pause")
        if self._paused_left is not None:
            raise ApplicationError("this job is already paused")

    @workflow.update
    async def resume(self, request: SteerRequest) -> JobStatus:
        await self._confirm_host(
            request.by, request.as_host, "resume", lambda: self._validate_resume(request)
        )
        assert self._paused_left is not None  # the validator checked
        left, self._paused_left = self._paused_left, None
        self._move_to(workflow.now() + left)
        self._note(request.by, f"resumed, due {when(self._deadline)}")
        self._list_paused()
        return self.status()

    @resume.validator
    def _validate_resume(self, request: SteerRequest) -> None:
        self._check_may_change(request.by, request.guild_id, request.as_host, "resume")
        if self._paused_left is None:
            raise ApplicationError("this job is not paused")

    @workflow.update
    async def run_now(self, request: SteerRequest) -> JobStatus:
        """Run the action now, once; a cancel after this is refused (the job is running)."""
        await self._confirm_host(request.by, request.as_host, "run", lambda: self._validate_run_now(request))
        self._run_now = request.by
        self._paused_left = None
        self._state = "running"
        self._note(request.by, "run now")
        self._list_paused()
        return self.status()

    @run_now.validator
    def _validate_run_now(self, request: SteerRequest) -> None:
        self._check_may_change(request.by, request.guild_id, request.as_host, "run")

    @workflow.query
    def status(self) -> JobStatus:
        return JobStatus(
            state=self._state,
            action=self._spec.action,
            description=self._spec.description,
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            deadline=self._deadline,
            scheduled_by=self._spec.scheduled_by,
            next_reminder=self._pending[0] if self._pending else None,
            reminders=list(self._records),
            paused_left=self._paused_left,
            changes=list(self._changes),
        )

    async def _confirm_host(self, by: int, as_host: bool, verb: str, validate: Callable[[], None]) -> None:
        """A host's claim from someone other than the scheduler, checked with Discord rather
        than taken as given; then the validator's checks again, for the job may have moved on
        while Discord answered (HOST_CHECK_PATCH). Operators use the operator_cancel signal."""
        if not as_host or by == self._spec.scheduled_by or not workflow.patched(HOST_CHECK_PATCH):
            return
        facts = await ask_discord(GuildQuery(guild_id=self._spec.guild_id, user_id=by))
        if facts is None:
            raise ApplicationError(
                "Discord could not confirm that you are a host here; try again in a moment."
            )
        if not facts.host:
            raise ApplicationError(not_a_host(f"{verb} another member's job"))
        validate()

    def _check_may_change(self, by: int, guild_id: int, as_host: bool, verb: str) -> None:
        # The bot checks roles; this is the check the workflow itself can make.
        if guild_id != self._spec.guild_id:
            raise ApplicationError(f"this job belongs to another server; you cannot {verb} it")
        if not as_host and by != self._spec.scheduled_by:
            raise ApplicationError(f"only a host or the user who scheduled this job can {verb} it")
        if self._state != "waiting":
            raise ApplicationError(f"this job is already {self._state}")

    # --- bookkeeping ----------------------------------------------------------------------

    def _plan(self, since: datetime, *, once: bool = False) -> None:
        # once: a reminder already sent for this same deadline is not planned again.
        sent = {(r.message, r.due) for r in self._records if r.outcome == "sent"} if once else set()
        planned = [
            ReminderPlan(message=r.message, due=self._deadline - r.offset)
            for r in self._spec.reminders
            if self._deadline - r.offset >= since and (r.message, self._deadline - r.offset) not in sent
        ]
        self._pending = sorted(planned, key=lambda plan: plan.due)

    def _record(self, plan: ReminderPlan, outcome: ReminderOutcome, reason: str | None = None) -> None:
        self._records.append(
            ReminderRecord(
                message=plan.message,
                due=plan.due,
                at=workflow.now(),
                outcome=outcome,
                reason=reason,
            )
        )

    async def _finished(
        self,
        outcome: JobOutcome,
        *,
        by: int | None = None,
        operator: str | None = None,
        reason: str | None = None,
        action_result: JsonValue = None,
    ) -> JobResult:
        """`_finish`, then the public announcement (if any) corrected to say how the job ended."""
        result = self._finish(outcome, by=by, operator=operator, reason=reason, action_result=action_result)
        if outcome == "done":
            ending = f"✅ posted {discord_time(result.at, 'R')}."
        elif outcome == "failed":
            ending = "⚠️ could not be posted (the scheduler has said why in this channel)."
        elif outcome == "missed":
            ending = "⚠️ not posted: it fell due while the bot was offline, too late to be run."
        else:
            who = f"<@{by}>" if by is not None else (operator or "an operator")
            ending = f"❌ cancelled by {who} {discord_time(result.at, 'R')}: nothing will be posted."
        await self._edit_announcement(ending)
        return result

    async def _announce_steering(self) -> None:
        """A member moved, paused or resumed the job: its public post says so and when it is due."""
        by, self._steered_by = self._steered_by, None
        if self._paused_left is not None:
            what = f"⏸️ paused by <@{by}> with {format_human(self._paused_left)} left."
        else:
            due = f"{discord_time(self._deadline, 'F')} ({discord_time(self._deadline, 'R')})"
            what = f"🕒 changed by <@{by}>: now due {due}."
        await self._edit_announcement(what)

    async def _edit_announcement(self, what: str) -> None:
        post = self._announcement
        if post is not None and workflow.patched(ANNOUNCE_PATCH):
            edit = AnnouncementEdit(
                channel_id=post.channel_id, message_id=post.message_id, content=f"{post.title}: {what}"
            )
            await self._best_effort(EDIT_ANNOUNCEMENT, edit, "edit announcement")

    def _finish(
        self,
        outcome: JobOutcome,
        *,
        by: int | None = None,
        operator: str | None = None,
        reason: str | None = None,
        action_result: JsonValue = None,
    ) -> JobResult:
        self._state = outcome
        self._waiting = None
        self._show()
        record_outcome(outcome)
        return JobResult(
            outcome=outcome,
            at=workflow.now(),
            by=by,
            operator=operator,
            reason=reason,
            reminders=list(self._records),
            action_result=action_result,
            ran_at=self._ran_at,
            deadline=self._deadline,
        )

    def _where(self) -> str:
        name = self._spec.channel_name
        return f"#{name} ({self._spec.channel_id})" if name else f"channel {self._spec.channel_id}"

    def _show(self) -> None:
        """Current details for the Web UI: state, deadline, what comes next, what happened."""
        lines = [
            f"**{self._state}** · `{self._spec.action}` in {self._where()}",
            f"deadline {when(self._deadline)}",
        ]
        if self._paused_left is not None:
            lines.append(f"paused, {format_human(self._paused_left)} left")
        if self._waiting:
            lines.append(self._waiting)
        if self._operator is not None and self._state == "cancelled":
            why = self._operator.why()
            lines.append(f"cancelled by {self._operator.who()}" + (f": {why}" if why else ""))
        if self._pending:
            lines.append(f"next: {self._pending[0].message} reminder at {when(self._pending[0].due)}")
        for record in self._records:
            line = f"- {record.message} reminder {record.outcome} at {when(record.at)}"
            lines.append(line + (f" ({record.reason})" if record.reason and record.outcome != "sent" else ""))
        lines.extend(f"- {when(c.at)}: {c.what} by {c.by}" for c in self._changes)
        workflow.set_current_details("\n".join(lines))
