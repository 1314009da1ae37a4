"""The season: players join, then one game per player passes from player to player as turns.

    open ("open for joining" timer, or the maximum joins, or the host starts it early)
      fewer than the minimum: cancelled, the host told in a DM and the channel in a post
      otherwise: one game per player; each player is offered the first turn of their own game
    running: every turn is a Turn child workflow; when one ends (submitted, skipped or
      dismissed) its player is free again and the game's next step goes to the next eligible
      player: one who has not had this game yet and holds no other pending turn
    completed: every game has been through every player; each finished game is posted as a
      card in the season's channel

Ending a season (the host's `terminate` update) cancels every running turn explicitly: each
cancelled turn takes the buttons off its DM and its timers end with it. The season posts that it
ended at once and waits for its turns at most END_GRACE (since END_PATCH): a DM edit that Discord
refuses does not hold the season, which then closes, and its close ends whatever turn is left.
The children are started with ParentClosePolicy.TERMINATE, so that close, like an operator's hard
terminate of the season (which runs no workflow code at all), ends every turn's timers at once;
a Claim button left on a DM then answers that the turn is over.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from workflows.common import (
        ATTEMPT_TIMEOUT,
        BEST_EFFORT_BUDGET,
        DISCORD_RETRY,
        EDIT_ANNOUNCEMENT,
        Announcement,
        AnnouncementEdit,
    )
    from workflows.guild_checks import GuildQuery, ask_discord, not_a_host
    from workflows.outcomes import record_outcome
    from workflows.seasons_models import (
        ALREADY,
        ANNOUNCED,
        DM_PLAYER,
        NOT_YOURS,
        POST_CHANNEL,
        POST_GAME,
        REFUSED,
        SEASONS_WORKFLOW,
        TOO_LATE,
        ChannelPost,
        GameCard,
        GameRecord,
        JoinRequest,
        JoinResult,
        MoveCloseRequest,
        PlayerMessage,
        PlayerTurn,
        PlayerTurnRequest,
        SeasonResult,
        SeasonSpec,
        SeasonState,
        SeasonStatus,
        StartRequest,
        TerminateRequest,
        TurnResult,
        TurnSpec,
        turn_id_for,
    )
    from workflows.seasons_turns import TurnWorkflow
    from workflows.times import discord_time, when

# A finished game's card is the season's final word: it keeps trying through long outages.
RESULTS_BUDGET = timedelta(days=7)
# From this patch on, the start is posted in the season's channel, and the opening post (once the
# bot has said where it is, `announced`) is edited when the season starts, is cancelled or ends
# before it started, so it never invites players to a season that no longer takes them.
START_POST_PATCH = "season-start-post-and-opening-edits"
# From this patch on, a host's move of the closing time corrects the opening post (its Join
# button kept), so players read the time joining really closes.
CLOSE_EDIT_PATCH = "season-close-move-edits-the-opening-post"
# Since this patch an ended season posts so at once and waits this long at most for its turns
# to take the buttons off their DMs (each tries for seasons_turns.ENDED_EDIT_BUDGET), rather
# than for as long as Discord refuses the edits.
END_PATCH = "season-end-without-waiting-for-edits"
END_GRACE = timedelta(seconds=15)
# Since this patch a host's start, end or move claimed by someone other than the season's host
# is checked with Discord (the owner, Manage Roles, the host role) before it is acted on.
HOST_CHECK_PATCH = "season-host-checked-with-discord"


def refuse(message: str, kind: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def season_over(games: int, players: int) -> str:
    """The closing post; a season whose every turn lapsed has nothing to show and says why."""
    if not games:
        return (
            f"🏁 The season is over: none of its {players} players handed in a turn in time, "
            "so no game has anything to show."
        )
    return (
        f"🏁 The season is over: {games} finished game{'s' if games != 1 else ''} by {players} "
        "players. Here they are, every step in order:"
    )


@workflow.defn(name=SEASONS_WORKFLOW)
class SeasonWorkflow:
    @workflow.init
    def __init__(self, spec: SeasonSpec) -> None:
        self._spec = spec
        self._rules = spec.rules
        self._started_at = workflow.info().workflow_start_time
        self._open_until = spec.open_until or self._started_at + spec.rules.open_duration
        self._state: SeasonState = "open"
        self._players: list[int] = []
        self._names: dict[int, str] = {}  # player -> display name when they joined, if known
        self._games: list[GameRecord] = []
        self._start_requested = False
        self._terminate: TerminateRequest | None = None
        # Turn id -> its child handle, for turns still running.
        self._turns: dict[str, workflow.ChildWorkflowHandle[Any, TurnResult]] = {}
        # (game, result) of turns that ended, not yet applied (filled by one task per turn).
        self._finished: list[tuple[int, TurnResult | None]] = []
        self._followers: set[asyncio.Task[None]] = set()
        # The opening post with its Join button, once the bot has told where it is.
        self._opening: Announcement | None = None
        self._close_moves = 0
        # Who last moved the closing time, and the edit of the opening post saying so.
        self._close_moved_by: int | None = None
        self._close_edit: asyncio.Task[None] | None = None

    @workflow.run
    async def run(self, spec: SeasonSpec) -> SeasonResult:
        self._show()
        # Waits again only when a host moved the closing time (move_close): a history without
        # that update makes the same single timer as before.
        while (wait := (self._open_until - workflow.now()).total_seconds()) > 0:
            moves = self._close_moves
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: (
                        self._full()
                        or self._start_requested
                        or self._terminate is not None
                        or self._close_moves != moves  # noqa: B023 - used within this iteration
                    ),
                    timeout=wait,
                    timeout_summary="open for joining",
                )
            if self._close_moves == moves:
                break
            if workflow.patched(CLOSE_EDIT_PATCH):
                # Beside the wait, not before it: an outage must not hold joining open.
                self._close_edit = asyncio.create_task(self._edit_close(self._close_edit))
        if self._terminate is not None:
            return await self._ended()
        if len(self._players) < self._rules.min_players:
            return await self._cancelled()

        self._state = "running"
        self._games = [GameRecord(game=n, starter_id=player) for n, player in enumerate(self._players)]
        if workflow.patched(START_POST_PATCH):
            # Beside the first offers, not before them: an outage delays only the posts.
            self._in_background(self._announce_start())
        while True:
            await self._dispatch()
            self._show()
            if all(game.complete for game in self._games):
                return await self._completed()
            await workflow.wait_condition(lambda: bool(self._finished) or self._terminate is not None)
            if self._terminate is not None:
                return await self._ended()
            self._apply_finished()

    # --- running the games ----------------------------------------------------------------------

    def _who(self, player_id: int) -> str:
        """`Pax (1234…)` for the Web UI, as the bot names members (`clients.names`); the id's
        mention as before when the name is not known (histories from before names)."""
        name = self._names.get(player_id)
        return f"{name} ({player_id})" if name else f"<@{player_id}>"

    def _full(self) -> bool:
        return len(self._players) >= self._rules.max_players

    def _pending_players(self) -> set[int]:
        return {game.active_player for game in self._games if game.active_player is not None}

    async def _dispatch(self) -> None:
        """Offer every idle game's next step to its next eligible player, in game order.

        Eligible: has not had this game (played, skipped or let an offer lapse) and holds no
        other pending turn. A game with nobody left who has not had it is complete; a game
        whose remaining players are all busy waits for one of them to be free."""
        count = len(self._players)
        starts: list[tuple[GameRecord, TurnSpec, str]] = []
        busy = self._pending_players()
        for game in self._games:
            if game.complete or game.active_turn is not None:
                continue
            # The starter first, then the players after them in join order.
            order = [self._players[(game.game + k) % count] for k in range(count)]
            left = [player for player in order if player not in game.visited]
            if not left:
                game.complete = True
                continue
            free = [player for player in left if player not in busy]
            if not free:
                continue
            player = free[0]
            busy.add(player)
            position = len(game.steps)
            kind = self._rules.kind_of(position)
            turn_id = turn_id_for(self._spec.guild_id, self._started_at, game.game, position, game.attempt)
            game.attempt += 1
            game.active_turn, game.active_player = turn_id, player
            turn = TurnSpec(
                season_id=workflow.info().workflow_id,
                guild_id=self._spec.guild_id,
                channel_id=self._spec.channel_id,
                game=game.game,
                position=position,
                offer=game.attempt - 1,
                kind=kind,
                player_id=player,
                claim_timeout=self._rules.claim_timeout,
                claim_warning=self._rules.claim_warning,
                submit_timeout=self._rules.submit_timeout(kind),
                submit_warning=self._rules.submit_warning(kind),
                previous=game.steps[-1] if game.steps else None,
            )
            starts.append((game, turn, turn_id))
        await asyncio.gather(*(self._start_turn(game, turn, turn_id) for game, turn, turn_id in starts))

    async def _start_turn(self, game: GameRecord, turn: TurnSpec, turn_id: str) -> None:
        handle = await workflow.start_child_workflow(
            TurnWorkflow.run,
            turn,
            id=turn_id,
            # TERMINATE: see the module docstring.
            parent_close_policy=workflow.ParentClosePolicy.TERMINATE,
            search_attributes=workflow.info().typed_search_attributes,
            static_summary=f"game {game.game + 1}, step {turn.position + 1}: {turn.kind} turn for "
            f"{self._who(turn.player_id)}",
        )
        self._turns[turn_id] = handle
        follower = asyncio.create_task(self._follow(game.game, turn_id, handle))
        self._followers.add(follower)
        follower.add_done_callback(self._followers.discard)

    async def _follow(
        self, game: int, turn_id: str, handle: workflow.ChildWorkflowHandle[Any, TurnResult]
    ) -> None:
        try:
            result: TurnResult | None = await handle
        except (FailureError, asyncio.CancelledError) as err:
            # Expected when the season is being ended (the turn was cancelled); a fault otherwise.
            log = workflow.logger.info if self._terminate is not None else workflow.logger.warning
            log("season %s: turn %s ended without a result: %s", self._spec.guild_id, turn_id, err)
            result = None
        self._turns.pop(turn_id, None)
        self._finished.append((game, result))

    def _apply_finished(self) -> None:
        finished, self._finished = self._finished, []
        for number, result in finished:
            game = self._games[number]
            player = game.active_player
            if player is not None:
                game.visited.append(player)
            if result is not None and result.outcome == "submitted" and result.step is not None:
                game.steps.append(result.step)
                game.attempt = 0
            game.active_turn = game.active_player = None

    def _in_background(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._followers.add(task)
        task.add_done_callback(self._followers.discard)

    async def _announce_start(self) -> None:
        count, host = len(self._players), self._spec.host_id
        await asyncio.gather(
            self._activity(
                POST_CHANNEL,
                ChannelPost(
                    channel_id=self._spec.channel_id,
                    content=f"🎬 The season has started: {count} players, {count} games, one per player. "
                    "Turns go out by DM (claim them there, or with `/season claim`); `/season status` "
                    "shows how the games go.",
                ),
                BEST_EFFORT_BUDGET,
                "post season started",
            ),
            self._edit_opening(
                f"🎨 <@{host}>'s season of telephone pictionary started {discord_time(workflow.now())} "
                f"with {count} players: joining is closed. Turns go out by DM."
            ),
        )

    async def _edit_close(self, previous: asyncio.Task[None] | None) -> None:
        """The opening post with the moved closing time, after the edit of any earlier move."""
        if previous is not None:
            await previous
        until = self._open_until
        await self._edit_opening(
            f"🎨 <@{self._spec.host_id}> opened a season of telephone pictionary! Join with the button "
            f"or `/season join` before {discord_time(until)} ({discord_time(until, 'R')}).\n"
            f"-# 🕒 <@{self._close_moved_by}> moved the closing time; `/season status` shows the rules.",
            keep_join=True,
        )

    async def _edit_opening(self, content: str, *, keep_join: bool = False) -> None:
        """Correct the opening post (and take its Join button off, unless `keep_join`), if the bot
        said where it is; after the edit of a moved closing time, so this one is the last word."""
        if not keep_join and self._close_edit is not None:
            await self._close_edit
        if self._opening is not None:
            edit = AnnouncementEdit(
                channel_id=self._opening.channel_id,
                message_id=self._opening.message_id,
                content=content,
                keep_buttons=keep_join,
            )
            await self._activity(EDIT_ANNOUNCEMENT, edit, BEST_EFFORT_BUDGET, "edit opening post")

    # --- endings --------------------------------------------------------------------------------

    async def _cancelled(self) -> SeasonResult:
        self._state = "cancelled"
        self._show()
        joined, needed = len(self._players), self._rules.min_players
        edits = []
        if workflow.patched(START_POST_PATCH):
            edits.append(
                self._edit_opening(
                    f"😕 <@{self._spec.host_id}>'s season of telephone pictionary was cancelled: "
                    f"{joined} of the {needed} players it needs joined."
                )
            )
        await asyncio.gather(
            *edits,
            self._activity(
                DM_PLAYER,
                PlayerMessage(
                    player_id=self._spec.host_id,
                    content=f"😕 Your season in <#{self._spec.channel_id}> was cancelled: only {joined} "
                    f"player{'s' if joined != 1 else ''} joined by {discord_time(self._open_until)}, "
                    f"and it needs at least {needed}.",
                ),
                BEST_EFFORT_BUDGET,
                "DM host",
            ),
            self._activity(
                POST_CHANNEL,
                ChannelPost(
                    channel_id=self._spec.channel_id,
                    content=f"😕 The season was cancelled: {joined} of the {needed} players it needs joined.",
                ),
                BEST_EFFORT_BUDGET,
                "post cancellation",
            ),
        )
        record_outcome("cancelled")
        return SeasonResult(outcome="cancelled", players=self._players, games=[], reason="too few players")

    async def _ended(self) -> SeasonResult:
        assert self._terminate is not None
        edits = []
        if self._state == "open" and workflow.patched(START_POST_PATCH):
            edits.append(
                self._edit_opening(
                    f"🛑 <@{self._spec.host_id}>'s season of telephone pictionary was ended before it "
                    "started: joining is closed."
                )
            )
        self._state = "ended"
        self._show()
        handles = list(self._turns.values())
        for handle in handles:
            handle.cancel()
        reason = self._terminate.reason or None
        post = ChannelPost(
            channel_id=self._spec.channel_id,
            content=f"🛑 <@{self._terminate.by}> ended the season."
            + (f" Reason: {reason}" if reason else ""),
        )
        # Posted at once (as before the opening post was corrected): the order of the commands
        # is what recorded histories replay.
        ended = self._activity(POST_CHANNEL, post, BEST_EFFORT_BUDGET, "post season ended")
        if workflow.patched(END_PATCH):
            await (asyncio.gather(*edits, ended) if edits else ended)
            # A turn left after the grace is ended by this season's close (see the module docstring).
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: not self._turns,
                    timeout=END_GRACE.total_seconds(),
                    timeout_summary="turns closing their DMs",
                )
            self._apply_finished()
        else:
            # Each turn's follower records it once the child has closed: no timer outlives this.
            await workflow.wait_condition(lambda: not self._turns)
            self._apply_finished()
            await (asyncio.gather(*edits, ended) if edits else ended)
        record_outcome("cancelled")
        return SeasonResult(outcome="ended", players=self._players, games=self._games, reason=reason)

    async def _completed(self) -> SeasonResult:
        self._state = "completed"
        self._show()
        played = [game for game in self._games if game.steps]
        await self._activity(
            POST_CHANNEL,
            ChannelPost(
                channel_id=self._spec.channel_id,
                content=season_over(len(played), len(self._players)),
            ),
            RESULTS_BUDGET,
            "announce results",
        )
        for count, game in enumerate(played, start=1):
            # The final word keeps trying through outages: say what it waits for.
            workflow.set_current_details(
                f"**completed** · posting the finished games in <#{self._spec.channel_id}>: "
                f"game {game.game + 1} ({count} of {len(played)}), retrying until Discord takes it"
            )
            card = GameCard(
                season_id=workflow.info().workflow_id,
                channel_id=self._spec.channel_id,
                game=game.game,
                starter_id=game.starter_id,
                steps=game.steps,
            )
            await self._activity(POST_GAME, card, RESULTS_BUDGET, f"post game {game.game + 1}")
        self._show()
        record_outcome("done")
        return SeasonResult(outcome="completed", players=self._players, games=self._games)

    # --- messages -------------------------------------------------------------------------------

    @workflow.update
    def join(self, request: JoinRequest) -> JoinResult:
        self._check_join(request)
        self._players.append(request.player_id)
        if request.name:
            self._names[request.player_id] = request.name
        self._show()
        return JoinResult(
            players=len(self._players),
            min_players=self._rules.min_players,
            max_players=self._rules.max_players,
            open_until=self._open_until,
            started=self._full(),
        )

    @join.validator
    def _check_join(self, request: JoinRequest) -> None:
        if self._state != "open" or self._start_requested or workflow.now() >= self._open_until:
            raise refuse("This season is no longer open for joining.", TOO_LATE)
        if request.player_id in self._players:
            raise refuse("You already joined this season.", ALREADY)
        if self._full():
            raise refuse(f"This season is full ({self._rules.max_players} players).", REFUSED)

    @workflow.update
    async def start(self, request: StartRequest) -> SeasonStatus:
        await self._verify_host(request.by, request.as_host, request.operator, "start")
        self._check_start(request)
        self._start_requested = True
        return self.status()

    @start.validator
    def _validate_start(self, request: StartRequest) -> None:
        # The guild only here: validators do not run on replay, handlers do.
        self._check_guild(request.guild_id, request.operator)
        self._check_start(request)

    def _check_start(self, request: StartRequest) -> None:
        self._check_host(request.by, request.as_host or request.operator, "start")
        if self._state != "open" or self._start_requested:
            raise refuse("This season has already started.", ALREADY)
        if len(self._players) < self._rules.min_players:
            raise refuse(
                f"Only {len(self._players)} players joined; "
                f"the season needs at least {self._rules.min_players}.",
                REFUSED,
            )

    @workflow.update
    async def terminate(self, request: TerminateRequest) -> SeasonStatus:
        await self._verify_host(request.by, request.as_host, request.operator, "end")
        self._check_terminate(request)
        self._terminate = request
        return self.status()

    @terminate.validator
    def _validate_terminate(self, request: TerminateRequest) -> None:
        # The guild only here: validators do not run on replay, handlers do.
        self._check_guild(request.guild_id, request.operator)
        self._check_terminate(request)

    def _check_terminate(self, request: TerminateRequest) -> None:
        self._check_host(request.by, request.as_host or request.operator, "end")
        if self._terminate is not None or self._state not in ("open", "running"):
            raise refuse("This season is already over.", ALREADY)

    @workflow.update
    async def move_close(self, request: MoveCloseRequest) -> SeasonStatus:
        # A new update: no history before it holds one, and the wait above is unchanged without it.
        await self._verify_host(request.by, request.as_host, request.operator, "move the closing time of")
        self._check_move_close(request)
        self._open_until += request.delta
        self._close_moves += 1
        self._close_moved_by = request.by
        self._show()
        return self.status()

    @move_close.validator
    def _validate_move_close(self, request: MoveCloseRequest) -> None:
        # The guild only here: validators do not run on replay, handlers do.
        self._check_guild(request.guild_id, request.operator)
        self._check_move_close(request)

    def _check_move_close(self, request: MoveCloseRequest) -> None:
        self._check_host(request.by, request.as_host or request.operator, "move the closing time of")
        if self._state != "open" or self._start_requested or self._terminate is not None:
            raise refuse("This season is no longer open for joining.", TOO_LATE)
        if self._open_until + request.delta <= workflow.now():
            raise refuse(
                f"That would close joining at {discord_time(self._open_until + request.delta)}, "
                "which has passed; to close it now, start the season.",
                REFUSED,
            )

    def _check_host(self, by: int, as_host: bool, what: str) -> None:
        if not as_host and by != self._spec.host_id:
            raise refuse(f"Only the season's host can {what} it.", NOT_YOURS)

    def _check_guild(self, guild_id: int | None, operator: bool) -> None:
        """A request names the server it is for."""
        if operator:
            return
        if guild_id is None:
            raise refuse("That request does not say which server it is for.", REFUSED)
        if guild_id != self._spec.guild_id:
            raise refuse("That season is in another server.", NOT_YOURS)

    async def _verify_host(self, by: int, as_host: bool, operator: bool, what: str) -> None:
        """A caller's claim to be a host, checked with Discord rather than taken as given; the
        season's own host and an operator's explicit request need no check."""
        if operator or not as_host or by == self._spec.host_id:
            return
        if not workflow.patched(HOST_CHECK_PATCH):
            return
        facts = await ask_discord(GuildQuery(guild_id=self._spec.guild_id, user_id=by))
        if facts is None:
            raise refuse(
                "Discord could not confirm that you are a host here; try again in a moment.", REFUSED
            )
        if not facts.host:
            raise refuse(not_a_host(f"{what} this season"), NOT_YOURS)

    @workflow.signal(name=ANNOUNCED)
    def announced(self, opening: Announcement) -> None:
        """The bot posted the opening post here (a signal: the bot answers without a worker)."""
        if self._opening is None:
            self._opening = opening

    @workflow.query
    def status(self) -> SeasonStatus:
        return SeasonStatus(
            state=self._state,
            guild_id=self._spec.guild_id,
            channel_id=self._spec.channel_id,
            host_id=self._spec.host_id,
            players=self._players,
            open_until=self._open_until,
            rules=self._rules,
            games=self._games,
        )

    @workflow.query
    def player_turn(self, request: PlayerTurnRequest) -> PlayerTurn | None:
        """The player's one pending turn (offered or claimed), for `/season claim` and `submit`."""
        for game in self._games:
            if game.active_player == request.player_id and game.active_turn is not None:
                return PlayerTurn(
                    turn_id=game.active_turn, game=game.game, kind=self._rules.kind_of(len(game.steps))
                )
        return None

    # --- side effects and bookkeeping -------------------------------------------------------

    async def _activity(self, name: str, arg: Any, budget: timedelta, summary: str) -> None:
        try:
            await workflow.execute_activity(
                name,
                arg,
                start_to_close_timeout=ATTEMPT_TIMEOUT,
                schedule_to_close_timeout=budget,
                retry_policy=DISCORD_RETRY,
                summary=summary,
            )
        except FailureError as err:
            workflow.logger.warning("season %s: %s failed: %s", workflow.info().workflow_id, summary, err)

    def _show(self) -> None:
        rules = self._rules
        lines = [
            f"**{self._state}** · season in <#{self._spec.channel_id}> hosted by <@{self._spec.host_id}>"
        ]
        lines.append(f"{len(self._players)} players (min {rules.min_players}, max {rules.max_players})")
        if self._state == "open":
            lines.append(f"open for joining until {when(self._open_until)}")
        if self._games:
            done = sum(game.complete for game in self._games)
            pending = sum(game.active_turn is not None for game in self._games)
            lines.append(f"games complete {done}/{len(self._games)} · turns pending {pending}")
        workflow.set_current_details("\n".join(lines))
