"""A season's side effects: the turn offer DM with its Claim button and its edits, DMs to a
player or the host, channel posts, and each finished game's card (every step in order)."""

from __future__ import annotations

from typing import Any

import discord
from discord.http import handle_message_parameters
from discord.utils import format_dt
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.discord_rest import activity_nonce, already_gone, discord_errors, require_login
from components.seasons import claim_button, submit_button, turn_view
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
    Step,
)

# Discord's limits for one Components V2 message are 40 components and 4000 characters of
# text; a card stays below both and a long game continues in the next message.
CARD_COMPONENTS = 30
CARD_TEXT = 3500


def offer_text(offer: OfferInput) -> str:
    what = "a **writing** turn" if offer.kind == "writing" else "a **drawing** turn"
    return (
        f"🎲 It is your turn! Game {offer.game + 1} has {what} for you. Claim it before "
        f"{format_dt(offer.claim_by, 'F')} ({format_dt(offer.claim_by, 'R')}), "
        "or it goes to the next player."
    )


def step_line(step: Step) -> str:
    if step.submission.kind == "writing":
        quoted = "\n".join(f"> {line}" for line in (step.submission.text or "").splitlines())
        return f"**{step.position + 1}.** <@{step.player_id}> wrote:\n{quoted}"
    return f"**{step.position + 1}.** <@{step.player_id}> drew:"


def game_cards(card: GameCard) -> list[discord.ui.LayoutView]:
    """One or more V2 cards with the game's steps in order, each within Discord's limits."""
    views: list[discord.ui.LayoutView] = []
    container: discord.ui.Container[Any] | None = None
    used_components = used_text = 0

    def fresh(title: str) -> discord.ui.Container[Any]:
        nonlocal used_components, used_text
        box: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.gold())
        box.add_item(discord.ui.TextDisplay(title))
        view = discord.ui.LayoutView(timeout=None)
        view.add_item(box)
        views.append(view)
        used_components, used_text = 2, len(title)
        return box

    container = fresh(f"### 📜 Game {card.game + 1}, started by <@{card.starter_id}>")
    for step in card.steps:
        line = step_line(step)
        cost = 2 if step.submission.kind == "drawing" else 1
        if used_components + cost > CARD_COMPONENTS or used_text + len(line) > CARD_TEXT:
            container = fresh(f"### 📜 Game {card.game + 1} (continued)")
        container.add_item(discord.ui.TextDisplay(line))
        if step.submission.kind == "drawing" and step.submission.image_url:
            container.add_item(discord.ui.MediaGallery(discord.MediaGalleryItem(step.submission.image_url)))
        used_components += cost
        used_text += len(line)
    return views


class SeasonActivities:
    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def _dm_channel(self, user_id: int) -> int:
        dm = await self._client.http.start_private_message(user_id)
        return int(dm["id"])

    @activity.defn(name=DM_OFFER)
    async def dm_offer(self, offer: OfferInput) -> OfferMessage:
        require_login(self._client)
        # The raw call: `send(view=...)` would keep every view in this worker's memory, and
        # only the bot answers these buttons.
        params = handle_message_parameters(
            content=offer_text(offer),
            view=turn_view(claim_button(offer.turn_id)),
            nonce=activity_nonce(),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        with params, discord_errors():
            channel_id = await self._dm_channel(offer.player_id)
            message = await self._client.http.send_message(channel_id, params=params)
        return OfferMessage(channel_id=channel_id, message_id=int(message["id"]))

    @activity.defn(name=EDIT_OFFER)
    async def edit_offer(self, edit: OfferEdit) -> bool:
        """New text on the offer DM; a Submit button once claimed, the Claim button while it
        may still be claimed, no button otherwise. False when the DM is already gone (404)."""
        require_login(self._client)
        view = turn_view(submit_button(edit.turn_id, edit.submit_kind)) if edit.submit_kind else None
        if edit.claim:
            view = turn_view(claim_button(edit.turn_id))
        params = handle_message_parameters(
            content=edit.content, view=view, allowed_mentions=discord.AllowedMentions.none()
        )
        try:
            with params, discord_errors():
                await self._client.http.edit_message(
                    edit.offer.channel_id, edit.offer.message_id, params=params
                )
        except ApplicationError as err:
            if already_gone(err):
                return False
            raise
        return True

    @activity.defn(name=DM_PLAYER)
    async def dm_player(self, notice: PlayerMessage) -> None:
        require_login(self._client)
        with discord_errors():
            channel = self._client.get_partial_messageable(await self._dm_channel(notice.player_id))
            await channel.send(
                notice.content, nonce=activity_nonce(), allowed_mentions=discord.AllowedMentions.none()
            )

    @activity.defn(name=POST_CHANNEL)
    async def post_channel(self, post: ChannelPost) -> None:
        require_login(self._client)
        with discord_errors():
            channel = self._client.get_partial_messageable(post.channel_id)
            await channel.send(
                post.content, nonce=activity_nonce(), allowed_mentions=discord.AllowedMentions.none()
            )

    @activity.defn(name=POST_GAME)
    async def post_game(self, card: GameCard) -> int:
        """The game's cards in order; a retry resumes after the cards already posted."""
        require_login(self._client)
        details = activity.info().heartbeat_details
        posted = int(details[0]) if details else 0
        views = game_cards(card)
        for index, view in enumerate(views[posted:], start=posted):
            params = handle_message_parameters(
                view=view,
                nonce=activity_nonce(card.season_id, str(card.game), str(index)),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            with params, discord_errors():
                await self._client.http.send_message(card.channel_id, params=params)
            activity.heartbeat(index + 1)
        return len(views)

    def all(self) -> list[object]:
        return [self.dm_offer, self.edit_offer, self.dm_player, self.post_channel, self.post_game]
