"""What every closed job, chain, season and whisper records as its outcome, for visibility.

A run that ends well but whose action failed still *completes*, so `ExecutionStatus` cannot tell
it from one that worked: the `Outcome` search attribute can (`Outcome = 'failed'`). Its reason
stays in the result, since search attributes are plain text and never carry message text.
"""

from __future__ import annotations

from typing import Literal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import search_attributes as sa

# Executions started before it close without the attribute (tests/replay/histories).
OUTCOME_PATCH = "told-outcome-search-attribute"

Outcome = Literal["done", "failed", "cancelled", "missed"]
OUTCOMES: tuple[Outcome, ...] = ("done", "failed", "cancelled", "missed")


def record_outcome(outcome: Outcome) -> None:
    """Upsert `Outcome` as the run closes (from inside the workflow)."""
    if workflow.patched(OUTCOME_PATCH):
        workflow.upsert_search_attributes([sa.OUTCOME.value_set(outcome)])
