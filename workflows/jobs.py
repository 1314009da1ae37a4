"""The scheduled job: reminders before a deadline, then one named action.

Replaces the seed's `scheduler.js` job: the deadline and reminders are durable timers, so a
restart neither loses nor repeats them, and the Web UI names every pending timer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import JsonValue
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from workflows import search_attributes as sa
    from workflows.common import DISCORD_RETRY, failure_reason, when
    from workflows.jobs_actions import NOTIFY_JOB_FAILED, ActionSpec, UnknownActionError, action_spec
    from workflows.jobs_models import (
        MAX_DELAY,
        ActionInput,
        CancelRequest,
        FailureNotice,
        JobOutcome,
        JobResult,
        JobSpec,
        JobState,
        JobStatus,
        ReminderInput,
        ReminderOutcome,
        ReminderPlan,
        ReminderRecord,
        RescheduleRequest,
    )

WORKFLOW_NAME = "ScheduledJob"


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


@workflow.defn(name=WORKFLOW_NAME)
class ScheduledJobWorkflow:
    @workflow.init
    def __init__(self, spec: JobSpec) -> None:
        self._spec = spec
        self._deadline = spec.deadline
        self._state: JobState = "waiting"
        self._records: list[ReminderRecord] = []
        self._pending: list[ReminderPlan] = []
        self._cancel: CancelRequest | None = None
        # Set by reschedule: wakes the current timer so the plan is recomputed.
        self._replanned = False

    @workflow.run
    async def run(self, spec: JobSpec) -> JobResult:
        # Reminders that would have fallen before the job existed are never planned; ones that
        # fall due while no worker runs are planned, then skipped (see _fire_reminder).
        self._plan(since=workflow.info().workflow_start_time)
        while True:
            self._show()
            if self._cancel is not None:
                return self._finish("cancelled", by=self._cancel.by, reason=self._cancel.reason or None)
            nxt = self._pending[0] if self._pending else None
            target = nxt.due if nxt else self._deadline
            summary = f"{nxt.message} reminder" if nxt else "deadline"
            wait = (target - workflow.now()).total_seconds()
            if wait > 0:
                self._replanned = False
                try:
                    await workflow.wait_condition(
                        lambda: self._cancel is not None or self._replanned,
                        timeout=wait,
                        timeout_summary=summary,
                    )
                    continue  # woken by cancel or reschedule: look again
                except TimeoutError:
                    pass
            if nxt is not None:
                self._pending.pop(0)
                await self._fire_reminder(nxt)
                continue
            return await self._fire_action()

    async def _fire_reminder(self, plan: ReminderPlan) -> None:
        now = workflow.now()
        if now - plan.due > self._spec.reminder_grace:
            self._record(plan, "skipped", reason=f"due {when(plan.due)}, no worker was running")
            return
        reminder_input = ReminderInput(
            job_id=workflow.info().workflow_id,
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            message=plan.message,
            deadline=self._deadline,
            description=self._spec.description,
        )
        try:
            spec = action_spec(self._spec.reminder_action)
            # A reminder retried past the deadline is worthless: its budget ends there.
            await run_action(spec, reminder_input, deadline=self._deadline - now)
        except (FailureError, UnknownActionError) as err:
            reason = failure_reason(err) if isinstance(err, FailureError) else str(err)
            self._record(plan, "failed", reason=reason)
            return
        self._record(plan, "sent")

    async def _fire_action(self) -> JobResult:
        self._state = "running"
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
        )
        try:
            result = await run_action(action_spec(self._spec.action), action_input)
        except (FailureError, UnknownActionError) as err:
            reason = failure_reason(err) if isinstance(err, FailureError) else str(err)
            await self._notify_failure(reason)
            return self._finish("failed", reason=reason)
        return self._finish("done", action_result=result)

    async def _notify_failure(self, reason: str) -> None:
        notice = FailureNotice(
            job_id=workflow.info().workflow_id,
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            scheduled_by=self._spec.scheduled_by,
            description=self._spec.description,
            reason=reason,
        )
        try:
            await workflow.execute_local_activity(
                NOTIFY_JOB_FAILED,
                notice,
                start_to_close_timeout=timedelta(seconds=15),
                retry_policy=RetryPolicy(maximum_attempts=3),
                summary="failure notice",
            )
        except FailureError:
            workflow.logger.warning("could not deliver the failure notice for %s", notice.job_id)

    # --- messages -------------------------------------------------------------------------

    @workflow.update
    def cancel(self, request: CancelRequest) -> JobStatus:
        self._cancel = request
        self._state = "cancelled"
        return self.status()

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        self._check_may_change(request.by, request.guild_id, request.as_host, "cancel")

    @workflow.update
    def reschedule(self, request: RescheduleRequest) -> JobStatus:
        self._deadline = request.deadline
        self._plan(since=workflow.now())
        self._replanned = True
        workflow.upsert_search_attributes([sa.JOB_DEADLINE.value_set(self._deadline)])
        return self.status()

    @reschedule.validator
    def _validate_reschedule(self, request: RescheduleRequest) -> None:
        self._check_may_change(request.by, request.guild_id, request.as_host, "reschedule")
        now = workflow.now()
        if request.deadline <= now:
            raise ValueError("the new deadline is in the past")
        if request.deadline - now > MAX_DELAY:
            raise ValueError(f"the new deadline is more than {MAX_DELAY.days} days away")

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
        )

    def _check_may_change(self, by: int, guild_id: int, as_host: bool, verb: str) -> None:
        # The bot checks roles; this is the check the workflow itself can make.
        if guild_id != self._spec.guild_id:
            raise ApplicationError(f"this job belongs to another server; you cannot {verb} it")
        if not as_host and by != self._spec.scheduled_by:
            raise ApplicationError(f"only a host or the user who scheduled this job can {verb} it")
        if self._state != "waiting":
            raise ApplicationError(f"this job is already {self._state}")

    # --- bookkeeping ----------------------------------------------------------------------

    def _plan(self, since: datetime) -> None:
        planned = [
            ReminderPlan(message=r.message, due=self._deadline - r.offset)
            for r in self._spec.reminders
            if self._deadline - r.offset >= since
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

    def _finish(
        self,
        outcome: JobOutcome,
        *,
        by: int | None = None,
        reason: str | None = None,
        action_result: JsonValue = None,
    ) -> JobResult:
        self._state = outcome
        self._show()
        return JobResult(
            outcome=outcome,
            at=workflow.now(),
            by=by,
            reason=reason,
            reminders=list(self._records),
            action_result=action_result,
        )

    def _show(self) -> None:
        """Current details for the Web UI: state, deadline, what comes next, what happened."""
        lines = [
            f"**{self._state}** · `{self._spec.action}` in channel {self._spec.channel_id}",
            f"deadline {when(self._deadline)}",
        ]
        if self._pending:
            lines.append(f"next: {self._pending[0].message} reminder at {when(self._pending[0].due)}")
        for record in self._records:
            lines.append(f"- {record.message} reminder {record.outcome} at {when(record.at)}")
        workflow.set_current_details("\n".join(lines))
