"""One message per outage and server: the jobs that ran late, were missed or failed.

Each such job signals this workflow (starting it if need be); it waits until QUIET passes with
no new report, posts one summary, and ends. Reports that arrive while it posts start the next
summary through continue-as-new, so none is lost and none is told twice.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.outage_models import (
        OUTAGE_REPORT_SIGNAL,
        OUTAGE_WORKFLOW,
        POST_OUTAGE_SUMMARY,
        QUIET,
        OutageEntry,
        OutageInput,
        OutageSummary,
    )

# Discord may still be coming back: the post keeps trying for a while, then gives up.
POST_BUDGET = timedelta(hours=1)


@workflow.defn(name=OUTAGE_WORKFLOW)
class OutageSummaryWorkflow:
    @workflow.init
    def __init__(self, inp: OutageInput) -> None:
        self._entries: list[OutageEntry] = []
        for entry in inp.entries:
            self.report(entry)

    @workflow.run
    async def run(self, inp: OutageInput) -> int:
        while await self._more_within(QUIET):
            pass
        told = list(self._entries)
        if told:
            await workflow.execute_activity(
                POST_OUTAGE_SUMMARY,
                OutageSummary(guild_id=inp.guild_id, entries=told),
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=POST_BUDGET,
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
                summary=f"{len(told)} job(s)",
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        later = self._entries[len(told) :]
        if later:
            workflow.continue_as_new(OutageInput(guild_id=inp.guild_id, entries=later))
        return len(told)

    async def _more_within(self, quiet: timedelta) -> bool:
        """Whether a new report came within `quiet`."""
        seen = len(self._entries)
        try:
            await workflow.wait_condition(
                lambda: len(self._entries) != seen, timeout=quiet, timeout_summary="quiet for 2 minutes"
            )
        except TimeoutError:
            return False
        return True

    @workflow.signal(name=OUTAGE_REPORT_SIGNAL)
    def report(self, entry: OutageEntry) -> None:
        # A job's report is sent again if its activity retries: told once.
        if not any(e.job_id == entry.job_id and e.run_id == entry.run_id for e in self._entries):
            self._entries.append(entry)
