"""Doubles of the season activities (registered under the real names) and helpers that drive a
season on the time-skipping server as its players would."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from clients.guild_settings import MemorySettings
from clients.seasons import Seasons
from tests.support.guild_checks_doubles import GuildDoubles
from worker import build_worker
from workflows.common import EDIT_ANNOUNCEMENT, AnnouncementEdit
from workflows.seasons import SeasonWorkflow
from workflows.seasons_models import (
    DM_OFFER,
    DM_PLAYER,
    EDIT_OFFER,
    POST_CHANNEL,
    POST_GAME,
    ChannelPost,
    GameCard,
    OfferEdit,
    OfferInput,
    OfferMessage,
    PlayerMessage,
    SeasonResult,
    Submission,
    season_id_for,
)
from workflows.seasons_turns import TurnWorkflow

GUILD, CHANNEL, HOST = 7001, 7002, 7003
PLAYERS = [8001, 8002, 8003, 8004, 8005, 8006, 8007, 8008]
QUEUE = "seasons"
IMAGE = "https://cdn.discordapp.com/attachments/1/2/drawing.png"


def writing(text: str = "a cat plays the violin") -> Submission:
    return Submission(kind="writing", text=text)


def drawing(url: str = IMAGE) -> Submission:
    return Submission(kind="drawing", image_url=url, content_type="image/png")


@dataclass
class Doubles:
    # The time-skipping server's clock; None on the dev server, whose clock is the machine's.
    env: WorkflowEnvironment | None
    offers: list[tuple[OfferInput, datetime]] = field(default_factory=list)
    edits: list[tuple[OfferEdit, datetime]] = field(default_factory=list)
    dms: list[tuple[PlayerMessage, datetime]] = field(default_factory=list)
    posts: list[ChannelPost] = field(default_factory=list)
    cards: list[GameCard] = field(default_factory=list)
    unreachable: set[int] = field(default_factory=set)
    # Edits of the opening post (once the bot has said where it is).
    openings: list[AnnouncementEdit] = field(default_factory=list)
    # When set, Discord refuses every DM edit with a 503 (retried, never taken).
    edits_fail: bool = False
    # What Discord says about hosts and channels (the workflows' own checks).
    discord_guild: GuildDoubles = field(default_factory=GuildDoubles)

    async def now(self) -> datetime:
        return await self.env.get_current_time() if self.env else datetime.now(UTC)

    def activities(self, *, announcements: bool = True) -> list[Callable[..., Any]]:
        """`announcements` False: a worker that hosts the jobs' doubles too, which answer the one
        activity that edits announcements."""

        @activity.defn(name=DM_OFFER)
        async def dm_offer(offer: OfferInput) -> OfferMessage:
            if offer.player_id in self.unreachable:
                raise ApplicationError(
                    "Discord refused (403, code 50007): Cannot send messages to this user",
                    type="DiscordRejected",
                    non_retryable=True,
                )
            self.offers.append((offer, await self.now()))
            return OfferMessage(channel_id=offer.player_id + 1, message_id=len(self.offers))

        @activity.defn(name=EDIT_OFFER)
        async def edit_offer(edit: OfferEdit) -> bool:
            if self.edits_fail:
                raise ApplicationError("Discord is unavailable (503)", type="DiscordUnavailable")
            self.edits.append((edit, await self.now()))
            return True

        @activity.defn(name=DM_PLAYER)
        async def dm_player(message: PlayerMessage) -> None:
            self.dms.append((message, await self.now()))

        @activity.defn(name=POST_CHANNEL)
        async def post_channel(post: ChannelPost) -> None:
            self.posts.append(post)

        @activity.defn(name=POST_GAME)
        async def post_game(card: GameCard) -> int:
            self.cards.append(card)
            return 1

        @activity.defn(name=EDIT_ANNOUNCEMENT)
        async def edit_announcement(edit: AnnouncementEdit) -> bool:
            self.openings.append(edit)
            return True

        found: list[Callable[..., Any]] = [dm_offer, edit_offer, dm_player, post_channel, post_game]
        # With the jobs' doubles (announcements False) theirs answers the guild checks too.
        return [*found, edit_announcement, self.discord_guild.activity()] if announcements else found

    def offers_to(self, player: int) -> list[OfferInput]:
        return [offer for offer, _ in self.offers if offer.player_id == player]

    def dms_to(self, player: int) -> list[tuple[str, datetime]]:
        return [(message.content, at) for message, at in self.dms if message.player_id == player]

    def edits_of(self, turn_id: str) -> list[str]:
        return [edit.content for edit, _ in self.edits if edit.turn_id == turn_id]


def season_worker(client: Client, doubles: Doubles, identity: str | None = None) -> Worker:
    return build_worker(
        client, QUEUE, doubles.activities(), workflows=[SeasonWorkflow, TurnWorkflow], identity=identity
    )


def non_sticky_worker(client: Client, doubles: Doubles) -> Worker:
    """A worker that caches no workflow, so it leaves no task on a sticky queue when it stops."""
    return Worker(
        client,
        task_queue=QUEUE,
        workflows=[SeasonWorkflow, TurnWorkflow],
        activities=doubles.activities(),
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules("pydantic", "pydantic_core")
        ),
        max_cached_workflows=0,
        identity="non-sticky",
    )


def seasons(client: Client) -> Seasons:
    return Seasons(client, QUEUE, MemorySettings())


async def open_season(
    facade: Seasons, *, players: list[int] | None = None, **overrides: Any
) -> WorkflowHandle[Any, SeasonResult]:
    """A season hosted by HOST with these rule overrides, and these players joined in order."""
    await facade.create(guild_id=GUILD, channel_id=CHANNEL, host_id=HOST, overrides=overrides or None)
    for player in players or []:
        await facade.join(GUILD, player)
    return season_handle(facade)


def season_handle(facade: Seasons) -> WorkflowHandle[Any, SeasonResult]:
    return facade.client.get_workflow_handle(season_id_for(GUILD), result_type=SeasonResult)
