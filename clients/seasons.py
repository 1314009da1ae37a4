"""The seasons facade the bot uses: create, join, start, end, status; claim and submit turns;
and each guild's default rules (a host's wall-clock time is read by `workflows/times.py`).

One Season workflow per guild at a time (`season-<guild>`); its turns are child workflows
whose ids the bot reads from the Claim button or from the season's `player_turn` query.
Every refusal comes back as a `SeasonError` (or the shared `NotYours`) whose message is fit to
show the user.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import JsonValue, ValidationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from clients.arguments import DiscordId, refuses
from clients.calls import Calls, Refusals, said
from clients.guild_settings import GuildSetting, SettingsBackend
from clients.names import NO_NAMES, Names
from workflows import search_attributes as sa
from workflows.common import Announcement, NotYours, UserError, first_error
from workflows.seasons import SeasonWorkflow
from workflows.seasons_models import (
    ALREADY,
    NOT_YOURS,
    SEASON_RULES,
    TOO_LATE,
    ClaimRequest,
    ClaimResult,
    JoinRequest,
    JoinResult,
    MoveCloseRequest,
    PlayerTurn,
    PlayerTurnRequest,
    RulesOverride,
    SeasonRules,
    SeasonSpec,
    SeasonStatus,
    StartRequest,
    Submission,
    SubmitRequest,
    SubmitResult,
    TerminateRequest,
    TurnHostRequest,
    TurnStatus,
    is_turn_id,
    season_id_for,
)
from workflows.seasons_turns import TurnWorkflow

MAX_OPEN = timedelta(days=60)
# Updates this process keeps in flight (all seasons and turns together); the server refuses
# an 11th on one workflow at once, and this facade resends such a refusal.
MAX_IN_FLIGHT = 8
NO_SEASON = "There is no season running in this server."
TURN_OVER = "Too late: this turn is over (its time ran out, or the season ended)."


class SeasonError(UserError):
    """A refusal; the message is fit to show the user."""


class TooLate(SeasonError):
    pass


class Already(SeasonError):
    pass


REFUSALS = Refusals(
    refused=SeasonError,
    over=lambda: SeasonError(NO_SEASON),
    kinds={NOT_YOURS: said(NotYours), TOO_LATE: said(TooLate), ALREADY: said(Already)},
    # A closed (or never started) workflow takes no updates.
    over_statuses=frozenset({RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION}),
    too_large=SeasonError,
)


# --- the facade -------------------------------------------------------------------------------


class Seasons:
    def __init__(self, client: Client, task_queue: str, settings: SettingsBackend | None = None) -> None:
        self._client = client
        self._task_queue = task_queue
        self._defaults = GuildSetting(settings, SEASON_RULES) if settings is not None else None
        self._calls = Calls(client, REFUSALS, max_in_flight=MAX_IN_FLIGHT)

    @property
    def client(self) -> Client:
        return self._client

    # --- rules ---

    @refuses(SeasonError)
    async def guild_rules(self, guild_id: DiscordId) -> SeasonRules:
        """The guild's defaults (read through describe: no worker needed), over the built-in ones."""
        stored: JsonValue = await self._defaults.get(guild_id) if self._defaults else None
        if not isinstance(stored, dict):
            return SeasonRules()
        try:
            return SeasonRules().with_overrides(RulesOverride.stored(stored))
        except ValidationError:
            return SeasonRules()  # written by an older version with other limits: fall back

    @refuses(SeasonError)
    async def set_guild_rules(self, guild_id: DiscordId, changes: dict[str, Any]) -> SeasonRules:
        """Change the guild's defaults (`None` for a field restores the built-in value)."""
        if self._defaults is None:
            raise RuntimeError("this facade has no settings backend")
        current = await self._defaults.get(guild_id)
        try:
            RulesOverride.model_validate(dict.fromkeys(changes))  # names a rule it does not know
            merged = RulesOverride.stored(current).model_dump() if isinstance(current, dict) else {}
            merged.update(changes)
            override = RulesOverride.model_validate({k: v for k, v in merged.items() if v is not None})
            rules = SeasonRules().with_overrides(override)
        except ValidationError as err:
            raise SeasonError(first_error(err)) from None
        await self._defaults.set(guild_id, override.model_dump(mode="json", exclude_none=True) or None)
        return rules

    # --- the season ---

    @refuses(SeasonError)
    async def create(
        self,
        *,
        guild_id: DiscordId,
        channel_id: DiscordId,
        host_id: DiscordId,
        overrides: dict[str, Any] | None = None,
        open_until: datetime | None = None,
        now: datetime | None = None,
        names: Names = NO_NAMES,
    ) -> SeasonStatus:
        """Start the guild's season; refuses bad rules or a second running season. `names`: the
        channel's and host's names, for the Web UI only."""
        base = await self.guild_rules(guild_id)
        try:
            rules = base.with_overrides(RulesOverride.model_validate(overrides or {}))
            spec = SeasonSpec(
                guild_id=guild_id, channel_id=channel_id, host_id=host_id, rules=rules, open_until=open_until
            )
        except ValidationError as err:
            raise SeasonError(first_error(err)) from None
        moment = now or datetime.now(UTC)
        if spec.open_until is not None and not moment < spec.open_until <= moment + MAX_OPEN:
            raise SeasonError("The season must close for joining in the future, within 60 days.")
        try:
            await self._client.start_workflow(
                SeasonWorkflow.run,
                spec,
                id=season_id_for(guild_id),
                task_queue=self._task_queue,
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.GUILD_ID, str(guild_id)),
                        SearchAttributePair(sa.CHANNEL_ID, str(channel_id)),
                        names.title("Season"),
                    ]
                ),
                static_summary=f"season in {names.where(channel_id)} hosted by {names.who(host_id)}",
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
        except WorkflowAlreadyStartedError:
            raise Already(
                "A season is already running in this server; end it before starting another."
            ) from None
        # Open-until as the workflow computes it (its own start time + the open duration).
        until = spec.open_until or (moment + rules.open_duration)
        return SeasonStatus(
            state="open",
            guild_id=guild_id,
            channel_id=channel_id,
            host_id=host_id,
            players=[],
            open_until=until,
            rules=rules,
            games=[],
        )

    @refuses(SeasonError)
    async def join(self, guild_id: DiscordId, player_id: DiscordId, *, names: Names = NO_NAMES) -> JoinResult:
        """`names.member`: the player's name, shown beside their id in their turns' summaries."""
        result: JoinResult = await self._season_update(
            guild_id, SeasonWorkflow.join, JoinRequest(player_id=player_id, name=names.member)
        )
        return result

    @refuses(SeasonError)
    async def start(self, guild_id: DiscordId, *, by: DiscordId, as_host: bool = False) -> SeasonStatus:
        status: SeasonStatus = await self._season_update(
            guild_id, SeasonWorkflow.start, StartRequest(by=by, as_host=as_host, guild_id=guild_id)
        )
        return status

    @refuses(SeasonError)
    async def move_close(
        self, guild_id: DiscordId, delta: timedelta, *, by: DiscordId, as_host: bool = False
    ) -> SeasonStatus:
        """Move the time joining closes by `delta` (negative: sooner)."""
        status: SeasonStatus = await self._season_update(
            guild_id,
            SeasonWorkflow.move_close,
            MoveCloseRequest(by=by, as_host=as_host, delta=delta, guild_id=guild_id),
        )
        return status

    @refuses(SeasonError)
    async def end(
        self, guild_id: DiscordId, *, by: DiscordId, as_host: bool = False, reason: str = ""
    ) -> SeasonStatus:
        status: SeasonStatus = await self._season_update(
            guild_id,
            SeasonWorkflow.terminate,
            TerminateRequest(by=by, as_host=as_host, reason=reason[:200], guild_id=guild_id),
        )
        return status

    @refuses(SeasonError)
    async def status(self, guild_id: DiscordId) -> SeasonStatus:
        handle = self._client.get_workflow_handle_for(SeasonWorkflow.run, season_id_for(guild_id))
        return await self._calls.query(handle, SeasonWorkflow.status)

    @refuses(SeasonError)
    async def player_turn(self, guild_id: DiscordId, player_id: DiscordId) -> PlayerTurn:
        handle = self._client.get_workflow_handle_for(SeasonWorkflow.run, season_id_for(guild_id))
        turn = await self._calls.query(
            handle, SeasonWorkflow.player_turn, PlayerTurnRequest(player_id=player_id)
        )
        if turn is None:
            raise SeasonError("You have no turn waiting for you right now.")
        return turn

    @refuses(SeasonError)
    async def announced(self, guild_id: DiscordId, channel_id: DiscordId, message_id: DiscordId) -> None:
        """Tell the season where its opening post is, so it corrects it when joining closes (a
        signal: no worker needed). A season already over has nothing left to correct."""
        handle = self._client.get_workflow_handle_for(SeasonWorkflow.run, season_id_for(guild_id))
        with contextlib.suppress(TooLate):
            await self._calls.signal(
                handle,
                SeasonWorkflow.announced,
                Announcement(channel_id=channel_id, message_id=message_id),
                over=lambda: TooLate(NO_SEASON),
            )

    @refuses(SeasonError)
    async def turns_anywhere(self, guild_ids: list[DiscordId], player_id: DiscordId) -> list[PlayerTurn]:
        """The player's pending turns in every running season of these guilds (in a DM, where no
        guild is given): each season's state is read by describe, which needs no worker, and only
        running seasons are asked."""
        gate = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def turn_in(guild_id: int) -> PlayerTurn | None:
            async with gate:
                handle = self._client.get_workflow_handle_for(SeasonWorkflow.run, season_id_for(guild_id))
                try:
                    if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                        return None
                    return await self.player_turn(guild_id, player_id)
                except RPCError as err:
                    if err.status == RPCStatusCode.NOT_FOUND:
                        return None  # no season in that server
                    raise
                except SeasonError:
                    return None  # over since, or no turn waiting there

        found = await asyncio.gather(*(turn_in(guild_id) for guild_id in guild_ids))
        return [turn for turn in found if turn is not None]

    # --- turns ---

    @refuses(SeasonError)
    async def claim(self, turn_id: str, player_id: DiscordId) -> ClaimResult:
        result: ClaimResult = await self._turn_update(
            turn_id, TurnWorkflow.claim, ClaimRequest(player_id=player_id)
        )
        return result

    @refuses(SeasonError)
    async def submit(self, turn_id: str, player_id: DiscordId, submission: Submission) -> SubmitResult:
        """Checked here first, so bad input never reaches the workflow (which checks again)."""
        problem = submission.problem()
        if problem is not None:
            raise SeasonError(problem)
        result: SubmitResult = await self._turn_update(
            turn_id, TurnWorkflow.submit, SubmitRequest(player_id=player_id, submission=submission)
        )
        return result

    # --- plumbing ---

    async def _season_update(self, guild_id: int, update: Any, request: Any) -> Any:
        handle = self._client.get_workflow_handle_for(SeasonWorkflow.run, season_id_for(guild_id))
        return await self._update(handle, update, request, NO_SEASON)

    @refuses(SeasonError)
    async def host_turn(
        self,
        guild_id: DiscordId,
        player_id: DiscordId,
        *,
        by: DiscordId,
        as_host: bool,
        extend: timedelta | None = None,
    ) -> TurnStatus:
        """A host extends the player's current deadline by `extend`, or (None) skips their turn."""
        try:
            turn = await self.player_turn(guild_id, player_id)
        except SeasonError:
            raise SeasonError(f"<@{player_id}> has no turn waiting right now.") from None
        request = TurnHostRequest(by=by, as_host=as_host, delta=extend)
        status: TurnStatus = await self._turn_update(turn.turn_id, TurnWorkflow.host_turn, request)
        return status

    async def _turn_update(self, turn_id: str, update: Any, request: Any) -> Any:
        if not is_turn_id(turn_id):
            raise TooLate(TURN_OVER)
        handle = self._client.get_workflow_handle_for(TurnWorkflow.run, turn_id)
        return await self._update(handle, update, request, TURN_OVER)

    async def _update(self, handle: Any, update: Any, request: Any, gone: str) -> Any:
        """One update, kept below the server's 10 in flight per workflow; one the server turned
        away unseen (too many in flight, e.g. from several bot shards) is resent under its id."""
        return await self._calls.update(handle, update, request, over=lambda: TooLate(gone))
