"""The turn: one offer of one step of one game to one player, a child of its season.

    offer DM (Claim button) -> wait for a claim ("claim warning", "claim timeout" timers)
      not claimed in time: the offer DM says so, outcome "dismissed" (the season re-offers the
                           step to the next eligible player, as a new turn with a fresh timeout)
      claimed (button or command): the claim timeout ends, the submission timeout for the
                           turn's kind starts ("writing warning", "writing timeout", ...)
        submitted: outcome "submitted", with the step
        not submitted in time: the player is told in a DM, outcome "skipped"
    cancelled (the season was ended): the offer DM says so, and the turn ends as cancelled.

Fixes EPYC's faults: every offer has its own fresh timeout, a claim always ends the claim
timeout, warnings fall at deadline - warning, and a deadline that passed while no worker ran
acts as soon as one returns. Late and second claims are refused by the update validator.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError, is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from workflows.common import ATTEMPT_TIMEOUT, BEST_EFFORT_BUDGET, DISCORD_RETRY, failure_reason
    from workflows.guild_checks import GuildQuery, ask_discord, not_a_host
    from workflows.seasons_models import (
        ALREADY,
        DM_OFFER,
        DM_PLAYER,
        EDIT_OFFER,
        NOT_YOURS,
        REFUSED,
        TOO_LATE,
        TURN_WORKFLOW,
        ClaimRequest,
        ClaimResult,
        OfferEdit,
        OfferInput,
        OfferMessage,
        PlayerMessage,
        Step,
        SubmitRequest,
        SubmitResult,
        TurnHostRequest,
        TurnResult,
        TurnSpec,
        TurnState,
        TurnStatus,
    )
    from workflows.times import discord_time, when

NOUN = {"writing": "writing", "drawing": "drawing"}
# Since this patch a season ended while the turn waits on Discord (a DM, an edit) ends the turn:
# the cancelled call used to be logged like any failed post, and the turn went on with its timers.
# And a cancelled turn tries to take the buttons off its DM for ENDED_EDIT_BUDGET, not an hour:
# its season waits for it (workflows.seasons.END_GRACE), and a Claim button left answers anyway.
CANCEL_PATCH = "turn-cancel-ends-the-turn"
ENDED_EDIT_BUDGET = timedelta(seconds=10)
# Since this patch a host's extension edits the offer DM to the new deadline, so the player
# reads the time they now have where they read the old one.
EXTEND_PATCH = "turn-extension-edits-the-dm"
# Since this patch a host's change to a turn is checked with Discord (the owner, Manage Roles,
# the host role) before it is made, rather than taken from the caller's `as_host`.
HOST_CHECK_PATCH = "turn-host-checked-with-discord"


def refuse(message: str, kind: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


@workflow.defn(name=TURN_WORKFLOW)
class TurnWorkflow:
    @workflow.init
    def __init__(self, spec: TurnSpec) -> None:
        self._spec = spec
        self._state: TurnState = "offering"
        self._claim_by = workflow.info().workflow_start_time + spec.claim_timeout
        self._submit_by: datetime | None = None
        self._step: Step | None = None
        self._offer: OfferMessage | None = None
        # A host's extensions (each wakes the wait to re-plan it) and skip (host_turn).
        self._extensions = 0
        self._skipped_by: int | None = None

    @workflow.run
    async def run(self, spec: TurnSpec) -> TurnResult:
        self._show()
        try:
            return await self._play()
        except asyncio.CancelledError:
            # The season was ended: take the buttons off the DM, then end as cancelled.
            self._state = "cancelled"
            self._show()
            budget = ENDED_EDIT_BUDGET if workflow.patched(CANCEL_PATCH) else BEST_EFFORT_BUDGET
            await self._edit_offer("🛑 This season was ended; this turn is over.", budget=budget)
            raise

    async def _play(self) -> TurnResult:
        spec = self._spec
        game = spec.game + 1
        offered_with = self._extensions  # an extension while the DM is sent is told after it
        offer = OfferInput(
            turn_id=workflow.info().workflow_id,
            player_id=spec.player_id,
            guild_id=spec.guild_id,
            game=spec.game,
            kind=spec.kind,
            claim_by=self._claim_by,
        )
        try:
            # The offer is worthless after its claim deadline: its budget ends there.
            self._offer = await workflow.execute_activity(
                DM_OFFER,
                offer,
                result_type=OfferMessage,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=max(self._claim_by - workflow.now(), ATTEMPT_TIMEOUT),
                retry_policy=DISCORD_RETRY,
                summary="offer DM",
            )
        except FailureError as err:
            if self._state == "offering":
                self._state = "dismissed"
                self._show()
                return TurnResult(outcome="dismissed", player_id=spec.player_id, reason=failure_reason(err))
        if self._state == "offering":
            self._state = "offered"
        self._show()

        await self._wait_with_warning(
            lambda: self._claim_by,
            spec.claim_warning,
            lambda: self._state != "offered",
            "claim",
            lambda: (
                f"⏰ Your {NOUN[spec.kind]} turn in game {game} is still waiting: claim it before "
                f"{discord_time(self._claim_by)} ({discord_time(self._claim_by, 'R')}), "
                "or it goes to another player."
            ),
            lambda: self._edit_offer(
                f"🎲 It is your turn! Game {game} has a **{NOUN[spec.kind]}** turn for you. A host gave "
                f"you more time: claim it before {discord_time(self._claim_by)} "
                f"({discord_time(self._claim_by, 'R')}), or it goes to the next player.",
                claim=True,
            ),
            told=offered_with,
        )
        if self._state == "offered":
            self._state = "dismissed"
            self._show()
            await self._edit_offer(
                f"⌛ This {NOUN[spec.kind]} turn in game {game} was not claimed by "
                f"{discord_time(self._claim_by)}, so it went to another player."
            )
            return TurnResult(outcome="dismissed", player_id=spec.player_id, reason="not claimed in time")
        if self._skipped_by is not None:
            return await self._host_skipped(game)

        submit_by = self._submit_by
        assert submit_by is not None
        claimed_with = self._extensions
        await self._edit_offer(
            f"✅ You claimed the {NOUN[spec.kind]} turn in game {game}. Submit before "
            f"{discord_time(submit_by)} ({discord_time(submit_by, 'R')}).",
            submit=self._state == "claimed",
        )
        await self._wait_with_warning(
            self._submit_deadline,
            spec.submit_warning,
            lambda: self._state != "claimed",
            spec.kind,
            lambda: (
                f"⏰ Your {NOUN[spec.kind]} for game {game} is due "
                f"{discord_time(self._submit_deadline(), 'R')} ({discord_time(self._submit_deadline())})."
            ),
            lambda: self._edit_offer(
                f"✅ You claimed the {NOUN[spec.kind]} turn in game {game}. A host gave you more time: "
                f"submit before {discord_time(self._submit_deadline())} "
                f"({discord_time(self._submit_deadline(), 'R')}).",
                submit=True,
            ),
            told=claimed_with,
        )
        if self._skipped_by is not None:
            return await self._host_skipped(game)
        submit_by = self._submit_deadline()
        if self._state == "submitted":
            await self._edit_offer(f"📨 Your {NOUN[spec.kind]} for game {game} is in. Thank you!")
            return TurnResult(outcome="submitted", player_id=spec.player_id, step=self._step)

        self._state = "skipped"
        self._show()
        await asyncio.gather(
            self._edit_offer(f"⌛ The time for this {NOUN[spec.kind]} turn in game {game} is over."),
            self._dm(
                f"⌛ You did not submit your {NOUN[spec.kind]} for game {game} by "
                f"{discord_time(submit_by)}, so your turn was skipped and the game moved on.",
                BEST_EFFORT_BUDGET,
            ),
        )
        return TurnResult(outcome="skipped", player_id=spec.player_id, reason="not submitted in time")

    def _submit_deadline(self) -> datetime:
        assert self._submit_by is not None  # set by the claim
        return self._submit_by

    async def _wait_with_warning(
        self,
        deadline: Callable[[], datetime],
        warning: timedelta,
        done: Callable[[], bool],
        what: str,
        text: Callable[[], str],
        extended: Callable[[], Awaitable[None]],
        told: int | None = None,
    ) -> None:
        """Wait until `done()` or the deadline; warn at deadline - warning if not done by then.
        A warning is never sent at or after its deadline (its budget ends there).

        A host's extension wakes the wait, which is planned again for the new deadline (the
        warning too, if not sent yet), and the player's DM says the new deadline (`extended`);
        without one, the same two timers as always."""
        warned = False
        told = self._extensions if told is None else told
        while True:
            extensions = self._extensions
            if extensions != told and not done() and workflow.patched(EXTEND_PATCH):
                told = extensions
                await extended()
                continue  # another change may have come while the DM was edited
            end = deadline()

            def settled() -> bool:
                return done() or self._extensions != extensions  # noqa: B023 - this iteration's

            if not warned:
                if await self._wait(settled, end - warning, f"{what} warning"):
                    if done():
                        return
                    continue
                warned = True
                if workflow.now() < end:
                    await self._dm(text(), end - workflow.now())
            if not await self._wait(settled, end, f"{what} timeout") or done():
                return

    @staticmethod
    async def _wait(done: Callable[[], bool], until: datetime, summary: str) -> bool:
        """Whether `done()` holds, waiting for it until `until` (a named timer)."""
        remaining = (until - workflow.now()).total_seconds()
        if not done() and remaining > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(done, timeout=remaining, timeout_summary=summary)
        return done()

    # --- messages -------------------------------------------------------------------------

    @workflow.update
    def claim(self, request: ClaimRequest) -> ClaimResult:
        self._check_claim(request)  # again: a second claim in the same task must not pass
        self._state = "claimed"
        self._submit_by = workflow.now() + self._spec.submit_timeout
        self._show()
        return ClaimResult(
            turn_id=workflow.info().workflow_id,
            game=self._spec.game,
            kind=self._spec.kind,
            submit_by=self._submit_by,
            previous=self._spec.previous,
        )

    @claim.validator
    def _check_claim(self, request: ClaimRequest) -> None:
        if request.player_id != self._spec.player_id:
            raise refuse("This turn was not offered to you.", NOT_YOURS)
        if self._state in ("claimed", "submitted"):
            raise refuse("You already claimed this turn.", ALREADY)
        if self._state == "cancelled":
            raise refuse("This season was ended; this turn is over.", TOO_LATE)
        if self._state in ("dismissed", "skipped") or workflow.now() >= self._claim_by:
            raise refuse(
                f"Too late: this offer expired {discord_time(self._claim_by)}, and the turn went "
                "to another player.",
                TOO_LATE,
            )

    @workflow.update
    def submit(self, request: SubmitRequest) -> SubmitResult:
        self._check_submit(request)
        now = workflow.now()
        self._step = Step(
            position=self._spec.position,
            player_id=request.player_id,
            submission=request.submission.normalised(),
            submitted_at=now,
        )
        self._state = "submitted"
        self._show()
        return SubmitResult(
            turn_id=workflow.info().workflow_id, game=self._spec.game, kind=self._spec.kind, submitted_at=now
        )

    @submit.validator
    def _check_submit(self, request: SubmitRequest) -> None:
        if request.player_id != self._spec.player_id:
            raise refuse("This turn is not yours.", NOT_YOURS)
        if self._state in ("offering", "offered"):
            if workflow.now() >= self._claim_by:
                raise refuse("Too late: this offer expired before you claimed it.", TOO_LATE)
            raise refuse("Claim this turn first.", REFUSED)
        if self._state == "submitted":
            raise refuse("You already submitted this turn.", ALREADY)
        if self._state == "cancelled":
            raise refuse("This season was ended; this turn is over.", TOO_LATE)
        if self._state != "claimed" or (self._submit_by is not None and workflow.now() >= self._submit_by):
            shown = discord_time(self._submit_by) if self._submit_by else "its deadline"
            raise refuse(f"Too late: the time to submit ended {shown}; the turn was skipped.", TOO_LATE)
        if request.submission.kind != self._spec.kind:
            raise refuse(f"This is a {self._spec.kind} turn, not a {request.submission.kind} one.", REFUSED)
        problem = request.submission.problem()
        if problem is not None:
            raise refuse(problem, REFUSED)

    @workflow.update
    async def host_turn(self, request: TurnHostRequest) -> TurnStatus:
        # A host's claim is checked with Discord, not taken as given (HOST_CHECK_PATCH).
        if request.as_host and workflow.patched(HOST_CHECK_PATCH):
            facts = await ask_discord(GuildQuery(guild_id=self._spec.guild_id, user_id=request.by))
            if facts is None:
                raise refuse(
                    "Discord could not confirm that you are a host here; try again in a moment.", REFUSED
                )
            if not facts.host:
                raise refuse(not_a_host("change a player's turn"), NOT_YOURS)
        # A new update: no history before it holds one, and the waits are unchanged without it.
        self._check_host_turn(request)
        if request.delta is None:
            self._skipped_by = request.by
            self._state = "skipped"
        elif self._state == "claimed" and self._submit_by is not None:
            self._submit_by += request.delta
        else:
            self._claim_by += request.delta
        self._extensions += 1
        self._show()
        return self.status()

    @host_turn.validator
    def _check_host_turn(self, request: TurnHostRequest) -> None:
        if not request.as_host:
            raise refuse("Only a host can change a player's turn.", NOT_YOURS)
        deadline = self._submit_by if self._state == "claimed" else self._claim_by
        over = self._state not in ("offering", "offered", "claimed") or self._skipped_by is not None
        if over or (deadline is not None and workflow.now() >= deadline):
            raise refuse("This turn is already over.", TOO_LATE)
        if request.delta is not None and request.delta <= timedelta(0):
            raise refuse("A deadline can only be extended (give a positive duration).", REFUSED)

    async def _host_skipped(self, game: int) -> TurnResult:
        self._show()
        await self._edit_offer(f"⏭️ A host skipped this {NOUN[self._spec.kind]} turn in game {game}.")
        return TurnResult(outcome="skipped", player_id=self._spec.player_id, reason="skipped by a host")

    @workflow.query
    def status(self) -> TurnStatus:
        return TurnStatus(
            turn_id=workflow.info().workflow_id,
            state=self._state,
            game=self._spec.game,
            position=self._spec.position,
            kind=self._spec.kind,
            player_id=self._spec.player_id,
            claim_by=self._claim_by,
            submit_by=self._submit_by,
        )

    # --- side effects (best effort: a turn never waits on Discord to move on) ---------------

    async def _activity(self, name: str, arg: Any, budget: timedelta, summary: str) -> None:
        try:
            await workflow.execute_activity(
                name,
                arg,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=max(budget, ATTEMPT_TIMEOUT),
                retry_policy=DISCORD_RETRY,
                summary=summary,
            )
        except FailureError as err:
            if is_cancelled_exception(err) and workflow.patched(CANCEL_PATCH):
                raise asyncio.CancelledError() from err
            workflow.logger.warning("turn %s: %s failed: %s", workflow.info().workflow_id, summary, err)

    async def _dm(self, content: str, budget: timedelta) -> None:
        await self._activity(
            DM_PLAYER, PlayerMessage(player_id=self._spec.player_id, content=content), budget, "DM player"
        )

    async def _edit_offer(
        self,
        content: str,
        *,
        submit: bool = False,
        claim: bool = False,
        budget: timedelta = BEST_EFFORT_BUDGET,
    ) -> None:
        if self._offer is None:
            return
        edit = OfferEdit(
            offer=self._offer,
            turn_id=workflow.info().workflow_id,
            content=content,
            submit_kind=self._spec.kind if submit else None,
            claim=claim,
        )
        await self._activity(EDIT_OFFER, edit, budget, "edit offer DM")

    def _show(self) -> None:
        """Current details for the Web UI: ids, state and deadlines, never the submission."""
        spec = self._spec
        lines = [
            f"**{self._state}** · game {spec.game + 1}, step {spec.position + 1} ({spec.kind}) "
            f"for <@{spec.player_id}>"
        ]
        if self._state in ("offering", "offered"):
            lines.append(f"claim by {when(self._claim_by)}")
        if self._submit_by is not None and self._state == "claimed":
            lines.append(f"submit by {when(self._submit_by)}")
        workflow.set_current_details("\n".join(lines))
