"""The challenge chain: rounds run in order, each with its reminders, then its actions.

CastBot planned `advance_challenge_round` re-scheduling itself; here one workflow holds the
whole chain, so a skip, a pause or a cancel reaches the round that is waiting, and the plan is
visible in the Web UI. A round's actions are the jobs' catalogue actions, run with `run_action`.
The chain continues as new every `rounds_per_run` rounds (or when the server suggests it),
carrying its progress, so a chain of hundreds of rounds keeps a short history per run.

What a reply says is what happens: a skip names the round it is for, and one for a round that is
no longer current is refused with what became of that round; a cancel during a round stops the
round's remaining actions (only a post already on its way may still appear, and the reply says
so); the plan is bounded in bytes (MAX_PLAN_BYTES), so no run's input outgrows the server's limits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from pydantic import JsonValue

    from workflows.challenges_models import (
        CHALLENGES_WORKFLOW,
        JUST_ENDED,
        MAX_REASON_CHARS,
        MAX_ROUNDS,
        AddRoundRequest,
        CancelChainRequest,
        ChainOutcome,
        ChainProgress,
        ChainRequest,
        ChainState,
        ChallengeInput,
        ChallengeResult,
        ChallengeStatus,
        OperatorCancel,
        RoundOutcome,
        RoundRecord,
        RoundSpec,
        RoundView,
        ShiftChainRequest,
        SkipRequest,
        message_problem,
        plan_size_problem,
        reminder_problem,
        round_bytes,
        round_header,
        round_size_problem,
    )
    from workflows.common import failure_reason
    from workflows.guild_checks import GuildQuery, ask_discord, not_a_host
    from workflows.jobs import late_line, run_action
    from workflows.jobs_actions import NOTIFY_JOB_FAILED, POST_MESSAGE, UnknownActionError, action_spec
    from workflows.jobs_models import (
        ActionInput,
        FailureNotice,
        ReminderInput,
        ReminderOutcome,
        ReminderRecord,
    )
    from workflows.outcomes import record_outcome
    from workflows.times import discord_time, format_human, when

# Rounds ahead listed one by one in the details; the rest are counted.
DETAILS_AHEAD = 15
# Since this patch a cancel that arrives while a round runs its actions stops the ones not started.
CANCEL_STOPS_ROUND = "chain-cancel-stops-round"
# Since this patch a round's post starts with a line naming the chain and the round.
ROUND_HEADER = "chain-round-header"
# Since this patch a pause, a resume, a skip and a cancel are told in the chain's channel, for the players.
ANNOUNCE_STEERING = "chain-announce-steering"
# Since this patch a host's claim from someone other than the chain's creator is checked with
# Discord (the owner, Manage Roles, the host role) before the change is made.
HOST_CHECK_PATCH = "chain-host-checked-with-discord"
# A Discord message's length: a post that cannot take the header line is posted without it.
MESSAGE_LIMIT = 2000


@workflow.defn(name=CHALLENGES_WORKFLOW)
class ChallengeChainWorkflow:
    @workflow.init
    def __init__(self, inp: ChallengeInput) -> None:
        self._spec = inp.spec
        self._rounds: list[RoundSpec] = list(inp.spec.rounds)
        self._p = inp.progress or ChainProgress(previous_end=workflow.info().workflow_start_time)
        self._running = False
        # The action the running round is on, for the details (it may retry through an outage).
        self._action: str | None = None
        self._cancelled = False
        self._cancel_by: int | None = None
        self._cancel_reason = ""
        # Bumped by every message that changes the plan: wakes the current wait.
        self._changes = 0
        self._finished_this_run = 0
        # The plan's size as JSON, checked against MAX_PLAN_BYTES when a round is added.
        self._plan_bytes = sum(round_bytes(r) for r in self._rounds)
        # What is on its way to Discord now, told in the answer to a cancel.
        self._in_flight: str | None = None
        # Lines for the chain's channel (a pause, a resume, a skip, a cancel), posted by the main loop.
        self._announcements: list[str] = []

    @workflow.run
    async def run(self, inp: ChallengeInput) -> ChallengeResult:
        while True:
            # First, so that whatever arrives while it posts is looked at below.
            await self._announce()
            if self._p.index >= len(self._rounds):
                return self._finish("done")
            if self._cancelled:
                await self._announce()  # the cancel, if it came while the line before was posting
                return self._finish("cancelled", by=self._cancel_by, reason=self._cancel_reason or None)
            if self._should_continue():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._next_input())
            stop = await self._advance()
            if stop is not None:
                return self._finish("failed", reason=stop)

    def _should_continue(self) -> bool:
        return (
            self._finished_this_run >= self._spec.rounds_per_run
            or workflow.info().is_continue_as_new_suggested()
        )

    def _next_input(self) -> ChallengeInput:
        spec = self._spec.model_copy(update={"rounds": self._rounds})
        progress = self._p.model_copy(update={"generation": self._p.generation + 1})
        return ChallengeInput(spec=spec, progress=progress)

    # --- one step of the current round -------------------------------------------------------

    async def _advance(self) -> str | None:
        """Wait for the current round's next moment and act on it. Returns a reason to stop."""
        round_ = self._rounds[self._p.index]
        if self._p.deadline is None:
            self._plan_round(round_)
        self._show()
        if self._p.paused:
            seen = self._changes
            await workflow.wait_condition(lambda: self._changes != seen)
            return None
        assert self._p.deadline is not None
        pending = self._pending_reminders(round_)
        due, summary = (
            (pending[0][1], f"{round_.name}: {pending[0][0]} reminder") if pending else (self._p.deadline, "")
        )
        summary = summary or f"{round_.name}: start"
        wait = (due - workflow.now()).total_seconds()
        seen = self._changes
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._changes != seen,
                    timeout=wait,
                    timeout_summary=summary,
                )
        if self._changes != seen:
            # A skip, pause, cancel or new round, possibly in the same task as the timer: the
            # round and its plan may not be the ones this wait was for, so look again.
            return None
        if pending:
            await self._fire_reminder(round_, pending[0][0], pending[0][1])
            return None
        return await self._run_round(round_)

    def _round_start(self, round_: RoundSpec) -> datetime:
        """When the current round starts, counted from the end of the one before."""
        start = self._p.previous_end + round_.after if round_.after is not None else round_.at
        assert start is not None  # RoundSpec requires one of them
        # A round due before the previous one ended (an absolute time passed) runs right away.
        return max(start, self._p.previous_end)

    def _plan_round(self, round_: RoundSpec) -> None:
        now = workflow.now()
        self._p.deadline = self._round_start(round_)
        self._p.since = now
        self._p.reminders = []
        if self._p.paused:
            # Planned while paused (the round before was skipped): its wait starts at resume.
            self._p.remaining = max(self._p.deadline - now, timedelta(0))

    def _pending_reminders(self, round_: RoundSpec) -> list[tuple[str, datetime]]:
        """(message, due) of the current round's reminders not yet handled, soonest first."""
        assert self._p.deadline is not None and self._p.since is not None
        handled = {record.message for record in self._p.reminders}
        planned = [
            (r.message, self._p.deadline - r.offset)
            for r in round_.reminders
            if r.message not in handled and self._p.deadline - r.offset >= self._p.since
        ]
        return sorted(planned, key=lambda item: item[1])

    async def _fire_reminder(self, round_: RoundSpec, message: str, due: datetime) -> None:
        assert self._p.deadline is not None
        now, index = workflow.now(), self._p.index
        if now - due > self._spec.reminder_grace:
            self._record_reminder(message, due, "skipped", f"due {when(due)}, no worker was running")
            return
        reminder = ReminderInput(
            job_id=workflow.info().workflow_id,
            guild_id=self._spec.guild_id,
            channel_id=round_.channel_id or self._spec.channel_id,
            message=message,
            deadline=self._p.deadline,
            description=f"{self._spec.title}: {round_.name}",
        )
        self._in_flight = f"the {message} reminder before {round_.name}"
        try:
            # A reminder retried past its round's start is worthless: its budget ends there.
            await run_action(
                action_spec(self._spec.reminder_action), reminder, deadline=self._p.deadline - now
            )
        except (FailureError, UnknownActionError) as err:
            reason = failure_reason(err) if isinstance(err, FailureError) else str(err)
            self._record_reminder(message, due, "failed", reason, index)
            return
        finally:
            self._in_flight = None
        self._record_reminder(message, due, "sent", index=index)

    async def _run_round(self, round_: RoundSpec) -> str | None:
        assert self._p.deadline is not None
        self._running = True
        self._show()
        failure: str | None = None
        stopped = None
        # A round that starts over a minute after its moment (no worker ran) says so in its posts.
        late_note = late_line(self._p.deadline, workflow.now())
        for number, step in enumerate(round_.actions, start=1):
            if self._cancelled and workflow.patched(CANCEL_STOPS_ROUND):
                # The reply to the cancel promised nothing more: the actions not started stay so.
                stopped = f"the chain was cancelled during this round, after {number - 1} of its actions"
                break
            payload = step.payload
            if step.action == POST_MESSAGE and workflow.patched(ROUND_HEADER):
                payload = self._with_header(payload)
            action_input = ActionInput(
                job_id=workflow.info().workflow_id,
                action=step.action,
                guild_id=self._spec.guild_id,
                channel_id=round_.channel_id or self._spec.channel_id,
                payload=payload,
                deadline=self._p.deadline,
                scheduled_by=self._spec.host_id,
                description=f"{self._spec.title}: {round_.name}",
                late_note=late_note,
            )
            self._action = step.action
            self._in_flight = f"{round_.name} (action {number} of {len(round_.actions)})"
            self._show()
            try:
                await run_action(action_spec(step.action), action_input)
            except (FailureError, UnknownActionError) as err:
                reason = failure_reason(err) if isinstance(err, FailureError) else str(err)
                failure = f"{step.action}: {reason}"
                break
            finally:
                self._in_flight = None
        self._running, self._action = False, None
        if stopped is not None:
            self._end_round("skipped", reason=stopped)
            return None
        if failure is None:
            self._end_round("done")
            return None
        self._end_round("failed", reason=failure)
        stop = self._spec.on_failure == "stop"
        await self._notify_failure(round_, failure, stop)
        return f"round {round_.name!r} failed: {failure}" if stop else None

    def _with_header(self, payload: dict[str, JsonValue]) -> dict[str, JsonValue]:
        """The post with the line naming the chain and the round above it."""
        content = payload.get("content")
        header = round_header(self._spec.title, self._p.index + 1, len(self._rounds))
        if not isinstance(content, str) or len(header) + 1 + len(content) > MESSAGE_LIMIT:
            return payload  # planned before round messages kept room for it: the host's text whole
        return {**payload, "content": f"{header}\n{content}"}

    async def _announce(self) -> None:
        """Tell the chain's channel what a host changed. Best effort: a line that cannot be posted
        soon is not worth posting late, and the chain goes on."""
        lines, self._announcements = self._announcements, []
        if not lines or not workflow.patched(ANNOUNCE_STEERING):
            return
        notice = ActionInput(
            job_id=workflow.info().workflow_id,
            action=POST_MESSAGE,
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            payload={"content": "\n".join(lines)[:MESSAGE_LIMIT]},
            deadline=workflow.now(),
            scheduled_by=self._spec.host_id,
            description=f"{self._spec.title}: announcement",
            nonce_key=f"announce-{self._changes}",
        )
        try:
            await workflow.execute_local_activity(
                POST_MESSAGE,
                notice,
                start_to_close_timeout=timedelta(seconds=15),
                schedule_to_close_timeout=timedelta(minutes=1),
                retry_policy=RetryPolicy(maximum_attempts=3),
                summary="announcement",
            )
        except FailureError:
            workflow.logger.warning("could not post the announcement for %s", notice.job_id)

    def _round_named(self, index: int) -> str:
        return f"round {index + 1} ({self._rounds[index].name})"

    def _next_round_line(self) -> str:
        """When the current round comes, as players read it (its clock stands still while paused)."""
        if self._p.index >= len(self._rounds):
            return "That was the last round."
        upcoming = f"Round {self._p.index + 1} ({self._rounds[self._p.index].name})"
        if self._p.paused and self._p.remaining is not None:
            return f"{upcoming} will come {format_human(self._p.remaining)} after the chain is resumed."
        if self._p.deadline is None:
            return ""
        return f"{upcoming} comes {discord_time(self._p.deadline, 'R')}."

    async def _notify_failure(self, round_: RoundSpec, reason: str, stopped: bool) -> None:
        then = "the chain stopped" if stopped else "the chain goes on"
        notice = FailureNotice(
            job_id=workflow.info().workflow_id,
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            scheduled_by=self._spec.host_id,
            description=f"{self._spec.title}: {round_.name} ({then})",
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

    # --- messages ------------------------------------------------------------------------------

    @workflow.update
    async def skip(self, request: SkipRequest) -> ChallengeStatus:
        await self._confirm_host(request, "skip a round of", lambda: self._validate_skip(request))
        skipped = self._round_named(self._p.index)
        self._end_round("skipped", reason="skipped by a host")
        if self._p.index < len(self._rounds):
            # Planned now, so the answer shows when the next round comes (or, paused, how long after resume).
            self._plan_round(self._rounds[self._p.index])
        self._changes += 1
        self._announcements.append(
            f"⏭️ **{self._spec.title}**: {skipped} was skipped. {self._next_round_line()}"
        )
        return self.status()

    @skip.validator
    def _validate_skip(self, request: SkipRequest) -> None:
        # Validators do not run on replay (an accepted update is in the history): no patch needed.
        self._check_may_change(request, "skip a round of")
        self._check_round_named(request.round, "nothing was skipped")
        if self._running:
            raise ApplicationError(
                f"round {self._p.index + 1} ({self._rounds[self._p.index].name}) is running now; "
                "nothing was skipped"
            )

    def _check_round_named(self, index: int | None, nothing: str) -> None:
        """Refuse a request for a round that is not the current one, saying what became of it.
        A request that names no round is for the current one, unless the round before it ended
        only just now (JUST_ENDED): it may have been sent for that one, so it is not guessed."""
        current = self._p.index
        if index is None:
            last = self._p.records[-1] if self._p.records else None
            if last is None or workflow.now() - last.at >= JUST_ENDED:
                return
            upcoming = f"round {current + 1} ({self._rounds[current].name})"
            raise ApplicationError(
                f"{self._what_became_of(last)}, just before your request; {nothing}. "
                f"If you meant {upcoming}, name it: round {current + 1}"
            )
        if index < current:
            record = next((r for r in self._p.records if r.index == index), None)
            if record is None:
                raise ApplicationError(f"round {index + 1} is over; {nothing}")
            raise ApplicationError(f"{self._what_became_of(record)}; {nothing}")
        if index >= len(self._rounds):
            raise ApplicationError(f"this chain has no round {index + 1}; {nothing}")
        if index > current:
            raise ApplicationError(
                f"round {index + 1} ({self._rounds[index].name}) has not come yet: round "
                f"{current + 1} ({self._rounds[current].name}) is the current one; {nothing}"
            )

    @staticmethod
    def _what_became_of(record: RoundRecord) -> str:
        moment = f"<t:{int(record.at.timestamp())}:f>"
        past = {"done": "already ran", "skipped": "was already skipped", "failed": "already ran and failed"}
        return f"round {record.index + 1} ({record.name}) {past[record.outcome]} at {moment}"

    @workflow.update
    async def pause(self, request: ChainRequest) -> ChallengeStatus:
        await self._confirm_host(request, "pause", lambda: self._validate_pause(request))
        if self._p.deadline is None:
            self._plan_round(self._rounds[self._p.index])
        if self._p.deadline is not None:
            self._p.remaining = max(self._p.deadline - workflow.now(), timedelta(0))
        self._p.paused = True
        self._changes += 1
        self._announcements.append(f"⏸️ **{self._spec.title}** is paused. {self._next_round_line()}")
        return self.status()

    @pause.validator
    def _validate_pause(self, request: ChainRequest) -> None:
        self._check_may_change(request, "pause")
        if self._p.paused:
            raise ApplicationError("this chain is already paused")
        if self._running:
            raise ApplicationError("the current round is running; pause once it is over")

    @workflow.update
    async def resume(self, request: ChainRequest) -> ChallengeStatus:
        await self._confirm_host(request, "resume", lambda: self._validate_resume(request))
        now = workflow.now()
        if self._p.deadline is not None and self._p.remaining is not None:
            # The clock stood still: the round is as far away as it was when paused, and its
            # reminders that had not fired yet fall as far before it as they did.
            shift = now + self._p.remaining - self._p.deadline
            self._p.deadline = now + self._p.remaining
            if self._p.since is not None:
                self._p.since = self._p.since + shift
        self._p.paused = False
        self._p.remaining = None
        self._changes += 1
        self._announcements.append(f"▶️ **{self._spec.title}** is resumed. {self._next_round_line()}")
        return self.status()

    @resume.validator
    def _validate_resume(self, request: ChainRequest) -> None:
        self._check_may_change(request, "resume")
        if not self._p.paused:
            raise ApplicationError("this chain is not paused")

    @workflow.update
    async def shift(self, request: ShiftChainRequest) -> ChallengeStatus:
        # A new update: no history before it holds one, so the run's code is unchanged on replay.
        await self._confirm_host(request, "move a round of", lambda: self._validate_shift(request))
        delta = request.delta
        if self._p.deadline is None:
            self._plan_round(self._rounds[self._p.index])
        assert self._p.deadline is not None
        self._p.deadline += delta
        if self._p.since is not None:
            # Its reminders not yet sent move with it.
            self._p.since += delta
        if self._p.paused and self._p.remaining is not None:
            self._p.remaining += delta
        ahead = range(self._p.index + 1, len(self._rounds))
        if request.whole:
            # Rounds after a wait follow the end of this one; rounds at a set time move too.
            for index in ahead:
                at = self._rounds[index].at
                if at is not None:
                    self._rounds[index] = self._rounds[index].model_copy(update={"at": at + delta})
        elif ahead:
            # The next round keeps its time: its wait after this round shrinks or grows as much.
            after = self._rounds[ahead[0]].after
            if after is not None:
                kept = max(after - delta, timedelta(0))
                self._rounds[ahead[0]] = self._rounds[ahead[0]].model_copy(update={"after": kept})
        self._changes += 1
        return self.status()

    @shift.validator
    def _validate_shift(self, request: ShiftChainRequest) -> None:
        self._check_may_change(request, "move a round of")
        if not request.as_host:
            raise ApplicationError("only a host can move a chain's rounds")
        self._check_round_named(request.round, "nothing was moved")
        if self._running:
            raise ApplicationError("the current round is running; nothing was moved")
        if not request.delta:
            raise ApplicationError("moving by nothing changes nothing")
        if self._p.paused:
            left = self._p.remaining
            if left is not None and left + request.delta <= timedelta(0):
                raise ApplicationError("that is earlier than the round could start; nothing was moved")
            return
        deadline = self._p.deadline
        if deadline is None:
            round_ = self._rounds[self._p.index]
            start = self._p.previous_end + round_.after if round_.after is not None else round_.at
            deadline = max(start, self._p.previous_end) if start is not None else None
        if deadline is not None and deadline + request.delta <= workflow.now():
            raise ApplicationError("that would be in the past; nothing was moved")

    @workflow.update
    async def add_round(self, request: AddRoundRequest) -> ChallengeStatus:
        await self._confirm_host(request, "add a round to", lambda: self._validate_add_round(request))
        self._rounds.append(request.round)
        self._plan_bytes += round_bytes(request.round)
        self._changes += 1
        return self.status()

    @add_round.validator
    def _validate_add_round(self, request: AddRoundRequest) -> None:
        self._check_may_change(request, "add a round to")
        if len(self._rounds) >= MAX_ROUNDS:
            raise ApplicationError(f"a chain has at most {MAX_ROUNDS} rounds")
        if request.round.at is not None and request.round.at <= workflow.now():
            raise ApplicationError("the new round's time is in the past")
        problem = (
            round_size_problem(request.round)
            or plan_size_problem(self._plan_bytes, round_bytes(request.round))
            or reminder_problem(request.round, workflow.now())
            or message_problem(request.round)
        )
        if problem is not None:
            raise ApplicationError(f"the round was not added: {problem}")

    @workflow.update
    async def cancel(self, request: CancelChainRequest) -> ChallengeStatus:
        await self._confirm_host(request, "cancel", lambda: self._validate_cancel(request))
        self._mark_cancelled(request.by, request.reason)
        return self.status()

    @cancel.validator
    def _validate_cancel(self, request: CancelChainRequest) -> None:
        self._check_may_change(request, "cancel")

    @workflow.signal
    def operator_cancel(self, request: OperatorCancel) -> None:
        if not self._cancelled:
            self._mark_cancelled(None, request.reason or "cancelled by an operator")

    def _mark_cancelled(self, by: int | None, reason: str) -> None:
        self._cancelled = True
        self._cancel_by = by
        self._cancel_reason = reason
        self._changes += 1
        # What was announced before it no longer holds: players only need to know no round will come.
        self._announcements = [f"🛑 **{self._spec.title}** is cancelled: no more rounds will come."]

    async def _confirm_host(self, request: ChainRequest, verb: str, validate: Callable[[], None]) -> None:
        """A host's claim from someone other than the chain's creator, checked with Discord rather
        than taken as given; then the validator's checks again, for the chain may have moved on
        while Discord answered (HOST_CHECK_PATCH). Operators use the operator_cancel signal."""
        if not request.as_host or request.by == self._spec.host_id:
            return
        if not workflow.patched(HOST_CHECK_PATCH):
            return
        facts = await ask_discord(GuildQuery(guild_id=self._spec.guild_id, user_id=request.by))
        if facts is None:
            raise ApplicationError(
                "Discord could not confirm that you are a host here; try again in a moment."
            )
        if not facts.host:
            raise ApplicationError(not_a_host(f"{verb} this chain"))
        validate()

    def _check_may_change(self, request: ChainRequest, verb: str) -> None:
        # The bot checks roles; these are the checks the workflow itself can make.
        if request.guild_id != self._spec.guild_id:
            raise ApplicationError(f"this chain belongs to another server; you cannot {verb} it")
        if not request.as_host and request.by != self._spec.host_id:
            raise ApplicationError(f"only a host or the user who created this chain can {verb} it")
        if self._cancelled or self._p.index >= len(self._rounds):
            raise ApplicationError("this chain is already over")

    # --- views ---------------------------------------------------------------------------------

    def _state(self) -> ChainState:
        if self._cancelled:
            return "cancelled"
        if self._p.index >= len(self._rounds):
            return "done"
        if self._running:
            return "running"
        return "paused" if self._p.paused else "waiting"

    @workflow.query
    def status(self) -> ChallengeStatus:
        return ChallengeStatus(
            key=self._spec.key,
            title=self._spec.title,
            state=self._state(),
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            host_id=self._spec.host_id,
            current=self._p.index,
            rounds=self._views(),
            remaining=self._p.remaining,
            generation=self._p.generation,
            in_flight=self._in_flight,
        )

    def _views(self) -> list[RoundView]:
        views = [
            RoundView(index=r.index, name=r.name, state=r.outcome, due=r.due, at=r.at, reason=r.reason)
            for r in self._p.records
        ]
        if self._p.index >= len(self._rounds) or self._cancelled:
            return views
        # Not planned yet (a message in the chain's first task, before its loop ran): as planned.
        current: datetime | None = self._p.deadline or self._round_start(self._rounds[self._p.index])
        # Paused: the rounds' clock stands still, so they are counted from the resume, not dated;
        # a round at a set time keeps it (at the earliest), and those after it are dated from it.
        after_resume = self._p.remaining if self._p.paused else None
        if after_resume is not None:
            current = None
        views.append(
            RoundView(
                index=self._p.index,
                name=self._rounds[self._p.index].name,
                state="running" if self._running else "current",
                due=current,
                after_resume=after_resume,
                channel_id=self._rounds[self._p.index].channel_id,
            )
        )
        # Estimates: each round ahead starts its wait when the one before it ends, at the earliest.
        estimate = current
        for index in range(self._p.index + 1, len(self._rounds)):
            round_ = self._rounds[index]
            if after_resume is not None and round_.after is not None:
                after_resume += round_.after
            elif after_resume is not None:
                estimate, after_resume = round_.at, None
            elif estimate is not None:
                start = estimate + round_.after if round_.after is not None else round_.at
                estimate = max(start, estimate) if start is not None else None
            views.append(
                RoundView(
                    index=index,
                    name=round_.name,
                    state="ahead",
                    due=estimate,
                    after_resume=after_resume,
                    channel_id=round_.channel_id,
                )
            )
        return views

    def _show(self) -> None:
        """Current details for the Web UI: the whole plan, done, running and ahead, with times."""
        total = len(self._rounds)
        lines = [
            f"**{self._state()}** · {self._spec.title} · round {min(self._p.index + 1, total)} of {total}"
        ]
        if self._p.paused and self._p.remaining is not None:
            lines.append(f"paused with {format_human(self._p.remaining)} left before the current round")
        if self._action is not None:
            lines.append(f"running `{self._action}` (retried until Discord takes it, or it fails for good)")
        views = self._views()
        done = [v for v in views if v.state in ("done", "skipped", "failed")]
        for view in done[-DETAILS_AHEAD:]:
            reason = f" ({view.reason})" if view.reason else ""
            at = when(view.at) if view.at else "?"
            lines.append(f"- {view.index + 1}. {view.name}: {view.state} at {at}{reason}")
        if len(done) > DETAILS_AHEAD:
            lines.insert(1, f"({len(done) - DETAILS_AHEAD} earlier rounds not listed)")
        ahead = [v for v in views if v.state not in ("done", "skipped", "failed")]
        for view in ahead[:DETAILS_AHEAD]:
            at = when(view.due) if view.due else "?"
            if view.after_resume is not None:
                at = f"{format_human(view.after_resume)} after resume"
            lines.append(f"- {view.index + 1}. {view.name}: {view.state}, {at}")
        if len(ahead) > DETAILS_AHEAD:
            lines.append(f"… and {len(ahead) - DETAILS_AHEAD} more rounds")
        workflow.set_current_details("\n".join(lines))

    # --- bookkeeping -----------------------------------------------------------------------------

    def _record_reminder(
        self,
        message: str,
        due: datetime,
        outcome: ReminderOutcome,
        reason: str | None = None,
        index: int | None = None,
    ) -> None:
        if index is not None and index != self._p.index:
            return  # the round was skipped while its reminder was posting: it belongs to no round now
        if reason is not None:
            reason = reason[:MAX_REASON_CHARS]
        self._p.reminders.append(
            ReminderRecord(message=message, due=due, at=workflow.now(), outcome=outcome, reason=reason)
        )

    def _end_round(self, outcome: RoundOutcome, reason: str | None = None) -> None:
        now = workflow.now()
        self._p.records.append(
            RoundRecord(
                index=self._p.index,
                name=self._rounds[self._p.index].name,
                outcome=outcome,
                due=self._p.deadline or now,
                at=now,
                reason=None if reason is None else reason[:MAX_REASON_CHARS],
                reminders=list(self._p.reminders),
            )
        )
        self._p.index += 1
        self._p.previous_end = now
        self._p.deadline = None
        self._p.since = None
        self._p.reminders = []
        self._p.remaining = None
        self._finished_this_run += 1

    def _finish(
        self, outcome: ChainOutcome, *, by: int | None = None, reason: str | None = None
    ) -> ChallengeResult:
        self._show()
        record_outcome(outcome)
        return ChallengeResult(
            outcome=outcome, at=workflow.now(), by=by, reason=reason, rounds=list(self._p.records)
        )
