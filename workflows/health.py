"""The health check: probes every interval, a post only when the overall state changes.

CastBot's health monitor re-scheduled itself forever; here one workflow per guild (or for the
deployment) loops on a durable timer and continues as new every `checks_per_run` checks, so its
history stays bounded however long it runs. The state is announced to the admin channel when it
differs from the last state announced (a post that fails is tried again at the next check, and
a state that could never be posted, such as an outage of Discord itself, is told by the next post
that gets through) and once a day as a heartbeat, never on every run.

A change is posted only once it persists (since SETTLE_PATCH): the first check announces its
state; after that the announced state moves only when the last CONFIRM_CHECKS (2) checks in a
row all moved away from it the same way: all worse (it becomes the least bad of them) or all
better (the worst of them). A single odd result, or results that flap from check to check, post
nothing; a recovery is posted once, when two checks in a row are better.

A change to degraded or failing mentions the spec's alert role; a recovery does not. The `stop`
signal (`/health stop`, or an operator's CLI) ends the check after the check under way.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from workflows.common import failure_reason
    from workflows.guild_checks import GuildQuery, ask_discord, other_guild_channel
    from workflows.health_models import (
        CONFIRM_CHECKS,
        HEALTH_WORKFLOW,
        POST_HEALTH_REPORT,
        PROBES,
        RECENT_RUNS,
        STOP_SIGNAL,
        Health,
        HealthCarry,
        HealthInput,
        HealthReport,
        HealthRequest,
        HealthStatus,
        HealthStop,
        Posted,
        ProbeInput,
        ProbeResult,
        Seen,
        overall,
        probe_label,
        settled,
        worse,
    )
    from workflows.times import when

PROBE_ATTEMPT = timedelta(seconds=10)
PROBE_BUDGET = timedelta(seconds=30)
# A report that cannot be posted now is posted at a later check: its budget stays short.
REPORT_BUDGET = timedelta(minutes=2)
REPORT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=2)
# Since this patch a change of state is posted only once it persists (the module docstring).
SETTLE_PATCH = "health-settled-state"
# Since this patch a `stop` signal ends the check (runs from before never received one).
STOP_PATCH = "health-stop-signal"
# Since this patch a new check first asks Discord which server its admin channel is in, and one
# of another server fails the check at once with that reason, before any probe or post.
CHANNEL_CHECK_PATCH = "health-channel-of-the-guild"
# The type of that failure (the Web UI and the workflow's result show its message).
OTHER_SERVER = "ChannelOfAnotherServer"


@workflow.defn(name=HEALTH_WORKFLOW)
class HealthCheckWorkflow:
    @workflow.init
    def __init__(self, inp: HealthInput) -> None:
        self._spec = inp.spec
        self._c = inp.carry or HealthCarry()
        self._run_now = 0
        self._changes = 0
        self._checks_this_run = 0
        self._checking = False
        self._settle = False
        self._stop: HealthStop | None = None

    @workflow.run
    async def run(self, inp: HealthInput) -> None:
        self._settle = workflow.patched(SETTLE_PATCH)
        await self._check_channel()
        last = self._c.last_checked
        next_check = workflow.now() if last is None else max(last + self._spec.interval, workflow.now())
        while True:
            if self._stop is not None and workflow.patched(STOP_PATCH):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.logger.info("health check stopped by %s", self._stop.by or "an operator")
                return
            due = not self._c.paused and workflow.now() >= next_check
            if due or self._run_now:
                self._run_now = 0
                await self._check()
                next_check = workflow.now() + self._spec.interval
                continue
            if self._should_continue():
                # A run-now waits for a check: run it here rather than wait for it forever.
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() or self._run_now > 0)
                if not self._run_now and self._stop is None:
                    workflow.continue_as_new(HealthInput(spec=self._spec, carry=self._next_carry()))
                continue
            self._show(next_check)
            await self._wait(None if self._c.paused else (next_check - workflow.now()).total_seconds())

    async def _check_channel(self) -> None:
        """A channel given by the caller is not taken as given: Discord says which server it is
        in (only for a new check; Discord unreachable: the first post finds out)."""
        guild, channel = self._spec.guild_id, self._spec.admin_channel_id
        if self._c.generation > 0 or self._c.checks > 0:
            return  # checked when it began
        if guild is None or channel is None or not workflow.patched(CHANNEL_CHECK_PATCH):
            return
        facts = await ask_discord(GuildQuery(guild_id=guild, channel_id=channel))
        if facts is not None and facts.channel_guild not in (None, guild):
            raise ApplicationError(other_guild_channel(channel), type=OTHER_SERVER, non_retryable=True)

    async def _wait(self, seconds: float | None) -> None:
        """Until the timer or a message (pause, resume, run now), whichever comes first."""
        seen = self._changes
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._changes != seen, timeout=seconds, timeout_summary="next health check"
            )

    def _should_continue(self) -> bool:
        return (
            self._checks_this_run >= self._spec.checks_per_run
            or workflow.info().is_continue_as_new_suggested()
        )

    def _next_carry(self) -> HealthCarry:
        return self._c.model_copy(update={"generation": self._c.generation + 1})

    # --- one check ---------------------------------------------------------------------------

    async def _check(self) -> None:
        self._checking = True
        now = workflow.now()
        probe = ProbeInput(
            guild_id=self._spec.guild_id,
            task_queue=self._spec.task_queue,
            since=self._c.last_checked or workflow.info().workflow_start_time,
        )
        results = list(await asyncio.gather(*(self._probe(name, probe) for name in PROBES)))
        seen = overall(results)
        state, began = seen, None
        if self._settle:
            self._c.recent = [*self._c.recent, Seen(state=seen, at=now)][-CONFIRM_CHECKS:]
            # What is posted is the state that persisted, from the first check that showed it.
            state = settled(self._c.announced, [r.state for r in self._c.recent]) or seen
            began = self._c.recent[0].at
        self._c.last_results = results
        self._c.runs = [*self._c.runs, Seen(state=seen, at=now)][-RECENT_RUNS:]
        self._c.last_checked = now
        self._c.checks += 1
        self._checks_this_run += 1
        kind: Posted | None = None
        if state != self._c.announced or self._c.unposted is not None:
            kind = "change"
        elif self._c.last_posted is None or now - self._c.last_posted >= self._spec.heartbeat_every:
            kind = "heartbeat"
        previous = self._c.announced
        self._c.last_state = seen
        if kind is not None and self._spec.admin_channel_id is not None:
            await self._post(state, previous, kind, results, began)
        self._checking = False

    async def _probe(self, name: str, probe: ProbeInput) -> ProbeResult:
        try:
            result: ProbeResult = await workflow.execute_local_activity(
                name,
                probe,
                result_type=ProbeResult,
                start_to_close_timeout=PROBE_ATTEMPT,
                schedule_to_close_timeout=PROBE_BUDGET,
                retry_policy=RetryPolicy(maximum_attempts=2),
                summary=name,
            )
            return result
        except FailureError as err:
            # A probe that cannot run says as much about the deployment as one that fails.
            return ProbeResult(
                name=name, state="failing", detail=f"probe failed: {failure_reason(err)}"[:300]
            )

    async def _post(
        self,
        state: Health,
        previous: Health | None,
        kind: Posted,
        results: list[ProbeResult],
        began: datetime | None,
    ) -> None:
        assert self._spec.admin_channel_id is not None
        report = HealthReport(
            guild_id=self._spec.guild_id,
            channel_id=self._spec.admin_channel_id,
            state=state,
            previous=previous,
            kind=kind,
            results=results,
            at=workflow.now(),
            unposted=self._c.unposted,
            unposted_since=self._c.unposted_since,
            # Someone should look: it turned degraded or failing (a recovery mentions nobody).
            mention_role_id=self._spec.alert_role_id
            if kind == "change" and state != "healthy" and state != previous
            else None,
        )
        try:
            await workflow.execute_local_activity(
                POST_HEALTH_REPORT,
                report,
                start_to_close_timeout=PROBE_ATTEMPT,
                schedule_to_close_timeout=REPORT_BUDGET,
                retry_policy=REPORT_RETRY,
                summary=f"{kind}: {state}",
            )
        except FailureError as err:
            workflow.logger.warning(
                "health report not posted (%s); next check tries again", failure_reason(err)
            )
            if state != self._c.announced:
                self._c.unposted = worse(state, self._c.unposted)
                self._c.unposted_since = self._c.unposted_since or began or report.at
            return
        self._c.unposted, self._c.unposted_since = None, None
        self._c.announced = state
        self._c.last_posted = workflow.now()
        self._c.posts += 1

    # --- messages ------------------------------------------------------------------------------

    @workflow.signal(name=STOP_SIGNAL)
    def stop(self, request: HealthStop) -> None:
        self._stop = self._stop or request
        self._changes += 1

    @workflow.update
    def pause(self, request: HealthRequest) -> HealthStatus:
        self._c.paused = True
        self._changes += 1
        return self.status()

    @pause.validator
    def _validate_pause(self, request: HealthRequest) -> None:
        self._check_guild(request)
        if self._c.paused:
            raise ApplicationError("the health check is already paused")

    @workflow.update
    def resume(self, request: HealthRequest) -> HealthStatus:
        self._c.paused = False
        self._changes += 1
        return self.status()

    @resume.validator
    def _validate_resume(self, request: HealthRequest) -> None:
        self._check_guild(request)
        if not self._c.paused:
            raise ApplicationError("the health check is not paused")

    @workflow.update
    async def run_now(self, request: HealthRequest) -> HealthStatus:
        """Check now (paused or not) and answer with the fresh results."""
        before = self._c.checks
        self._run_now += 1
        self._changes += 1
        await workflow.wait_condition(lambda: self._c.checks > before and not self._checking)
        return self.status()

    @run_now.validator
    def _validate_run_now(self, request: HealthRequest) -> None:
        self._check_guild(request)

    def _check_guild(self, request: HealthRequest) -> None:
        if request.guild_id != self._spec.guild_id:
            raise ApplicationError("this health check belongs to another server (or to the deployment)")

    @workflow.query
    def status(self) -> HealthStatus:
        return HealthStatus(
            guild_id=self._spec.guild_id,
            admin_channel_id=self._spec.admin_channel_id,
            state=self._c.last_state,
            paused=self._c.paused,
            interval=self._spec.interval,
            last_checked=self._c.last_checked,
            next_check=None
            if self._c.paused or self._c.last_checked is None
            else self._c.last_checked + self._spec.interval,
            last_posted=self._c.last_posted,
            results=list(self._c.last_results),
            checks=self._c.checks,
            posts=self._c.posts,
            generation=self._c.generation,
            alert_role_id=self._spec.alert_role_id,
            runs=list(self._c.runs),
        )

    def _show(self, next_check: datetime) -> None:
        state = self._c.last_state or "not checked yet"
        lines = [f"**{state}**" + (" · paused" if self._c.paused else f" · next check {when(next_check)}")]
        if self._c.last_checked is not None:
            lines.append(f"last check {when(self._c.last_checked)} ({self._c.checks} in all)")
        lines.extend(f"- {probe_label(r.name)}: {r.state} ({r.detail})" for r in self._c.last_results)
        workflow.set_current_details("\n".join(lines))
