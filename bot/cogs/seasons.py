"""Seasons (EPYC's telephone pictionary): hosts open a season, players join, and every turn is
offered in a DM with a Claim button.

    /season create  -> a host opens the season (rules: the guild's defaults + these options;
                       a closing time as a duration, or a wall-clock time in a named zone)
    /season join (or the Join button) -> an ephemeral "you joined (k of max)"
    DM "Claim"      -> the previous step (a sentence to draw, or a drawing to describe) and a
                       Submit button; "Submit" opens a modal: text, or an image upload
    /season claim, /season submit text|drawing -> the same from a server, for the player's
                       pending turn there, or from the bot's DMs (where the buttons are), for the
                       one pending turn in any server
    /season start, /season end, /season status, /season defaults

Every button is a `DynamicItem` and the modal is answered by the bot's modal router, both keyed
on custom ids (components/seasons.py), so all of it works after the bot restarts. A modal opens
before anything that needs a worker (the turn id and kind are in the button's custom id);
updates come after a defer, in `in_time`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import format_dt

from bot.checks import require_guild, require_host
from bot.jobs_steer import parse_shift
from bot.modals import modal_values
from bot.names import names_of
from bot.persistent import PersistentItem
from bot.replies import guarded, in_time, reply
from clients.seasons import SeasonError, Seasons
from components.seasons import (
    CLAIM_BUTTON,
    IMAGE_FIELD,
    JOIN_BUTTON,
    SUBMIT_BUTTON,
    SUBMIT_MODAL,
    TEXT_FIELD,
    claim_button,
    submit_button,
)
from workflows.seasons_models import (
    TEXT_MAX,
    ClaimResult,
    GameRecord,
    PlayerTurn,
    SeasonRules,
    SeasonStatus,
    Submission,
    TurnKind,
)
from workflows.times import TimeError, discord_time, format_duration, parse_when

if TYPE_CHECKING:
    from bot.app import GameBot

log = logging.getLogger("bot.seasons")

FILE_UPLOAD = 19  # Discord's component type of a file upload in a modal


def seasons_of(interaction: discord.Interaction[Any]) -> Seasons:
    cog = interaction.client.get_cog(SeasonsCog.__cog_name__)
    if not isinstance(cog, SeasonsCog):
        raise RuntimeError("the seasons cog is not loaded")
    return cog.seasons


def rules_text(rules: SeasonRules) -> str:
    def deadline(timeout: timedelta, warning: timedelta) -> str:
        return f"{format_duration(timeout)} (warned {format_duration(warning)} before)"

    return (
        f"turns {' → '.join(rules.turn_pattern)} · {rules.min_players} to {rules.max_players} players · "
        f"claim within {deadline(rules.claim_timeout, rules.claim_warning)} · writing "
        f"{deadline(rules.writing_timeout, rules.writing_warning)} · drawing "
        f"{deadline(rules.drawing_timeout, rules.drawing_warning)}"
    )


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def claim_card(claim: ClaimResult) -> discord.ui.LayoutView:
    """What the player needs for their turn: the previous step, the deadline, a Submit button."""
    view = discord.ui.LayoutView(timeout=None)
    box: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.green())
    due = f"Submit before {format_dt(claim.submit_by, 'F')} ({format_dt(claim.submit_by, 'R')})."
    previous = claim.previous
    if previous is None:
        box.add_item(
            discord.ui.TextDisplay(
                f"### ✍️ Game {claim.game + 1} starts with you\n"
                f"Write a sentence for the next player to draw. {due}"
            )
        )
    elif previous.submission.kind == "writing":
        quoted = "\n".join(f"> {line}" for line in (previous.submission.text or "").splitlines())
        box.add_item(discord.ui.TextDisplay(f"### 🎨 Draw this (game {claim.game + 1})\n{quoted}\n{due}"))
    else:
        box.add_item(
            discord.ui.TextDisplay(f"### ✍️ Describe this drawing in words (game {claim.game + 1})\n{due}")
        )
        if previous.submission.image_url:
            box.add_item(discord.ui.MediaGallery(discord.MediaGalleryItem(previous.submission.image_url)))
    view.add_item(box)
    view.add_item(discord.ui.ActionRow(SubmitButton(claim.turn_id, claim.kind)))
    return view


def submit_modal(turn_id: str, kind: TurnKind) -> discord.ui.Modal:
    modal = discord.ui.Modal(
        title="Your writing" if kind == "writing" else "Your drawing",
        custom_id=SUBMIT_MODAL.build(turn_id=turn_id, kind=kind),
        timeout=900,
    )
    if kind == "writing":
        field: discord.ui.Item[Any] = discord.ui.TextInput(
            custom_id=TEXT_FIELD, style=discord.TextStyle.paragraph, min_length=1, max_length=TEXT_MAX
        )
        label = discord.ui.Label(text="Your sentence", description="1 to 1000 characters", component=field)
    else:
        field = discord.ui.FileUpload(custom_id=IMAGE_FIELD, min_values=1, max_values=1, required=True)
        label = discord.ui.Label(
            text="Your drawing", description="A PNG, JPEG, GIF or WebP image", component=field
        )
    modal.add_item(label)
    return modal


def uploaded(data: Mapping[str, Any], custom_id: str) -> tuple[str | None, str | None]:
    """The (url, content type) of the first file uploaded into a modal's file field."""

    def ids(components: Any) -> list[str]:
        found: list[str] = []
        for component in components or []:
            if component.get("type") == FILE_UPLOAD and component.get("custom_id") == custom_id:
                found.extend(str(value) for value in component.get("values") or [])
            found.extend(ids(component.get("components")))
            if component.get("component"):
                found.extend(ids([component["component"]]))
        return found

    attachments: Mapping[str, Any] = (data.get("resolved") or {}).get("attachments") or {}
    for attachment_id in ids(data.get("components")):
        attachment = attachments.get(attachment_id)
        if attachment:
            return attachment.get("url"), attachment.get("content_type")
    return None, None


def check_can_post(interaction: discord.Interaction[GameBot], channel: object) -> None:
    """Refused now rather than discovered when the season ends: the channel the games go to."""
    me = interaction.guild.me if interaction.guild else None
    if me is None or not isinstance(channel, discord.abc.GuildChannel):
        return
    allowed = channel.permissions_for(me)
    if not (allowed.view_channel and allowed.send_messages):
        raise SeasonError(
            f"I cannot post in <#{channel.id}>: give me View Channel and Send Messages there, "
            "or pick another channel."
        )


async def show_claim(interaction: discord.Interaction[GameBot], turn_id: str) -> None:
    claim = await in_time(seasons_of(interaction).claim(turn_id, interaction.user.id))
    await interaction.followup.send(view=claim_card(claim), ephemeral=True)


async def hand_in(interaction: discord.Interaction[GameBot], turn_id: str, submission: Submission) -> str:
    """Hand the turn in; what to tell the player."""
    result = await in_time(seasons_of(interaction).submit(turn_id, interaction.user.id, submission))
    # Not "the next player will see it": the last step of a game has no next player.
    return (
        f"📨 Your {result.kind} for game {result.game + 1} is in. It goes on to the next player who "
        "has not had this game; every game is shown in full when the season is over."
    )


def handed_in_card(text: str) -> discord.ui.LayoutView:
    """The claim card once its turn is in: no Submit button left to press."""
    view = discord.ui.LayoutView(timeout=None)
    box: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.dark_grey())
    box.add_item(discord.ui.TextDisplay(text))
    view.add_item(box)
    return view


class JoinButton(PersistentItem[discord.ui.Button[Any]], custom=JOIN_BUTTON):
    """Under the season's announcement."""

    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Join", emoji="🙋", style=discord.ButtonStyle.primary, custom_id=self.custom.build()
            )
        )

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        await join(interaction)


class ClaimButton(PersistentItem[discord.ui.Button[Any]], custom=CLAIM_BUTTON):
    """On the turn's offer DM (posted by the worker)."""

    def __init__(self, turn_id: str) -> None:
        super().__init__(claim_button(turn_id))
        self.turn_id = turn_id

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await show_claim(interaction, self.turn_id)


class SubmitButton(PersistentItem[discord.ui.Button[Any]], custom=SUBMIT_BUTTON):
    """On the claim card and on the offer DM once claimed: opens the modal at once (no worker)."""

    def __init__(self, turn_id: str, kind: TurnKind) -> None:
        super().__init__(submit_button(turn_id, kind))
        self.turn_id, self.kind = turn_id, kind

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        await interaction.response.send_modal(submit_modal(self.turn_id, self.kind))


async def join(interaction: discord.Interaction[GameBot]) -> None:
    guild_id = require_guild(interaction)
    await interaction.response.defer(ephemeral=True, thinking=True)
    joined = await in_time(
        seasons_of(interaction).join(guild_id, interaction.user.id, names=names_of(interaction))
    )
    if joined.started:
        text = (
            f"🙋 You joined as player {joined.players} of {joined.max_players}: "
            "the season is full and starts now."
        )
    else:
        text = (
            f"🙋 You joined: {joined.players} of {joined.max_players} players (at least {joined.min_players} "
            f"needed). Joining closes {format_dt(joined.open_until, 'F')} "
            f"({format_dt(joined.open_until, 'R')})."
        )
    await reply(interaction, text + " Your turns arrive in your DMs.")


def status_text(status: SeasonStatus) -> str:
    lines = [f"**Season: {status.state}** · hosted by <@{status.host_id}> in <#{status.channel_id}>"]
    lines.append(rules_text(status.rules))
    lines.append(plural(len(status.players), "player"))
    if status.state == "open":
        lines.append(
            f"Joining closes {format_dt(status.open_until, 'F')} ({format_dt(status.open_until, 'R')})."
        )
    lines += [game_line(game) for game in status.games]
    return "\n".join(lines)[:2000]


def game_line(game: GameRecord) -> str:
    steps = plural(len(game.steps), "step")
    if game.complete:
        if not game.steps:
            return f"Game {game.game + 1}: over with no steps (every turn of it lapsed)"
        return f"Game {game.game + 1}: complete, {steps}"
    waiting = f"<@{game.active_player}>'s turn" if game.active_player else "waiting for a free player"
    return f"Game {game.game + 1}: {steps} so far, {waiting}"


class SeasonsCog(commands.Cog, name="Seasons"):
    # In servers, and in the bot's DMs, where the turns' Claim and Submit buttons are: `claim` and
    # `submit` find the player's turn there; every other command says it works in a server only.
    season = app_commands.Group(
        name="season",
        description="Telephone pictionary seasons",
        allowed_contexts=app_commands.AppCommandContext(guild=True, dm_channel=True),
        allowed_installs=app_commands.AppInstallationType(guild=True),
    )

    def __init__(self, bot: GameBot) -> None:
        self.bot = bot
        self.seasons = Seasons(bot.temporal, bot.settings.temporal_task_queue, bot.guild_settings)

    @season.command(name="create", description="Open a season for joining (hosts)")
    @app_commands.describe(
        channel="Where the season and its finished games are announced (default: here)",
        open_for="How long joining stays open, like 7d or 2d12h (default: the rules)",
        closes_at="Or a local closing time, like 'Friday 18:00' or '2026-03-29 18:00'",
        timezone="The time zone of closes_at, like Europe/Paris (default: the server's, /schedule timezone)",
        min_players="At least this many players, or the season is cancelled",
        max_players="The season starts as soon as this many have joined",
        claim_timeout="Time to claim an offered turn, like 1d",
        claim_warning="How long before the claim timeout the player is warned (default fits it)",
        writing_timeout="Time to hand in a writing once claimed",
        writing_warning="How long before the writing timeout the player is warned",
        drawing_timeout="Time to hand in a drawing once claimed",
        drawing_warning="How long before the drawing timeout the player is warned",
    )
    async def create(
        self,
        interaction: discord.Interaction[GameBot],
        channel: discord.TextChannel | None = None,
        open_for: str | None = None,
        closes_at: str | None = None,
        timezone: str | None = None,
        min_players: app_commands.Range[int, 2, 30] | None = None,
        max_players: app_commands.Range[int, 2, 30] | None = None,
        claim_timeout: str | None = None,
        claim_warning: str | None = None,
        writing_timeout: str | None = None,
        writing_warning: str | None = None,
        drawing_timeout: str | None = None,
        drawing_warning: str | None = None,
    ) -> None:
        guild_id = await require_host(interaction, "start a season")
        target = channel.id if channel else interaction.channel_id
        assert target is not None
        check_can_post(interaction, channel or interaction.channel)
        now = datetime.now(UTC)
        if open_for and closes_at:
            raise SeasonError("Give either open_for or closes_at, not both.")
        # The zone is applied here, never in the workflow: it receives an absolute UTC instant.
        # The server's zone is read through describe (no worker needed before the reply).
        zone = timezone or await self.bot.time_zones.server(guild_id)
        open_until = parse_when(closes_at, zone, now) if closes_at else None
        overrides = {
            "open_duration": open_for,
            "min_players": min_players,
            "max_players": max_players,
            "claim_timeout": claim_timeout,
            "claim_warning": claim_warning,
            "writing_timeout": writing_timeout,
            "writing_warning": writing_warning,
            "drawing_timeout": drawing_timeout,
            "drawing_warning": drawing_warning,
        }
        # Starting needs no worker (the guild's defaults are read through describe).
        status = await self.seasons.create(
            guild_id=guild_id,
            channel_id=target,
            host_id=interaction.user.id,
            overrides={key: value for key, value in overrides.items() if value is not None},
            open_until=open_until,
            now=now,
            names=names_of(interaction, channel),
        )
        view = discord.ui.View(timeout=None)
        view.add_item(JoinButton())
        sent = await interaction.response.send_message(
            f"🎨 <@{interaction.user.id}> opened a season of telephone pictionary! Join with the button or "
            f"`/season join` before {format_dt(status.open_until, 'F')} "
            f"({format_dt(status.open_until, 'R')}).\n"
            f"-# {rules_text(status.rules)}",
            view=view,
        )
        # The season corrects this post (its Join button off) when joining closes.
        posted = sent.resource
        if isinstance(posted, discord.InteractionMessage):
            await self.seasons.announced(guild_id, posted.channel.id, posted.id)

    @season.command(name="join", description="Join this server's open season")
    async def join_command(self, interaction: discord.Interaction[GameBot]) -> None:
        await join(interaction)

    @season.command(name="start", description="Start the season now, before joining closes (hosts)")
    async def start(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = await require_host(interaction, "start the season")
        await interaction.response.defer(ephemeral=True, thinking=True)
        status = await in_time(self.seasons.start(guild_id, by=interaction.user.id, as_host=True))
        await reply(
            interaction, f"▶️ The season starts with {len(status.players)} players: turns go out by DM."
        )

    @season.command(name="move-close", description="Close joining later or sooner (hosts)")
    @app_commands.rename(amount="by")
    @app_commands.describe(amount="How much: `+1d` later, `-2h` sooner")
    async def move_close(self, interaction: discord.Interaction[GameBot], amount: str) -> None:
        guild_id = await require_host(interaction, "move the season's closing time")
        try:
            delta = parse_shift(amount)
        except TimeError as err:
            await reply(interaction, f"Nothing changed: {err}")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        by = interaction.user.id
        status = await in_time(self.seasons.move_close(guild_id, delta, by=by, as_host=True))
        closes = f"{discord_time(status.open_until)} ({discord_time(status.open_until, 'R')})"
        await reply(interaction, f"🕒 Joining now closes {closes}.")

    @season.command(name="extend", description="Give a player more time for their turn (hosts)")
    @app_commands.rename(amount="by")
    @app_commands.describe(player="Whose turn", amount="How much more time, like `2h` or `1d`")
    async def extend(
        self, interaction: discord.Interaction[GameBot], player: discord.Member, amount: str
    ) -> None:
        guild_id = await require_host(interaction, "extend a turn")
        try:
            delta = parse_shift(amount)
        except TimeError as err:
            await reply(interaction, f"Nothing changed: {err}")
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        turn = await in_time(
            self.seasons.host_turn(guild_id, player.id, by=interaction.user.id, as_host=True, extend=delta)
        )
        due = turn.submit_by if turn.state == "claimed" else turn.claim_by
        what = "submit" if turn.state == "claimed" else "claim"
        shown = f"{discord_time(due)} ({discord_time(due, 'R')})" if due else "later"
        await reply(interaction, f"🕒 {player.mention} now has until {shown} to {what} their turn.")

    @season.command(name="skip-player", description="Skip a player's waiting turn: the game moves on (hosts)")
    @app_commands.describe(player="Whose turn")
    async def skip_player(self, interaction: discord.Interaction[GameBot], player: discord.Member) -> None:
        guild_id = await require_host(interaction, "skip a player")
        await interaction.response.defer(ephemeral=True, thinking=True)
        await in_time(self.seasons.host_turn(guild_id, player.id, by=interaction.user.id, as_host=True))
        await reply(interaction, f"⏭️ Skipped {player.mention}'s turn: the game moves on.")

    @season.command(name="end", description="End the season: every pending turn is cancelled (hosts)")
    @app_commands.describe(reason="Shown in the announcement")
    async def end(self, interaction: discord.Interaction[GameBot], reason: str = "") -> None:
        guild_id = await require_host(interaction, "end the season")
        await interaction.response.defer(ephemeral=True, thinking=True)
        await in_time(self.seasons.end(guild_id, by=interaction.user.id, as_host=True, reason=reason))
        await reply(interaction, "🛑 The season is ending: pending turns are cancelled.")

    @season.command(name="status", description="The season's players, games and rules")
    async def status(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await reply(interaction, status_text(await in_time(self.seasons.status(guild_id))))

    async def pending_turn(self, interaction: discord.Interaction[GameBot]) -> PlayerTurn:
        """The player's turn: in this server's season, or, in a DM, in any server's (the one)."""
        if interaction.guild_id is not None:
            return await in_time(self.seasons.player_turn(interaction.guild_id, interaction.user.id))
        guilds = [guild.id for guild in self.bot.guilds]
        turns = await in_time(self.seasons.turns_anywhere(guilds, interaction.user.id))
        if not turns:
            raise SeasonError("You have no turn waiting for you right now.")
        if len(turns) > 1:
            raise SeasonError(
                f"You have turns waiting in {len(turns)} servers: use the Claim and Submit buttons on "
                "their messages here, or run the command in the server."
            )
        return turns[0]

    @season.command(name="claim", description="Claim the turn that is waiting for you (here or in DMs)")
    async def claim(self, interaction: discord.Interaction[GameBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        turn = await self.pending_turn(interaction)
        await show_claim(interaction, turn.turn_id)

    @season.command(name="submit", description="Hand in your claimed turn: text or an image (here or in DMs)")
    @app_commands.describe(text="Your sentence (writing turns)", drawing="Your image (drawing turns)")
    async def submit(
        self,
        interaction: discord.Interaction[GameBot],
        text: app_commands.Range[str, 1, TEXT_MAX] | None = None,
        drawing: discord.Attachment | None = None,
    ) -> None:
        if (text is None) == (drawing is None):
            raise SeasonError("Give either text (a writing turn) or drawing (a drawing turn).")
        await interaction.response.defer(ephemeral=True, thinking=True)
        turn = await self.pending_turn(interaction)
        if drawing is not None:
            submission = Submission(kind="drawing", image_url=drawing.url, content_type=drawing.content_type)
        else:
            submission = Submission(kind="writing", text=text)
        await reply(interaction, await hand_in(interaction, turn.turn_id, submission))

    @season.command(name="defaults", description="This server's default season rules (hosts change them)")
    @app_commands.describe(
        claim_timeout="like 1d",
        claim_warning="like 1h",
        writing_timeout="like 1d",
        writing_warning="like 10m",
        drawing_timeout="like 1d",
        drawing_warning="like 10m",
        open_for="like 7d",
        min_players="at least",
        max_players="at most",
    )
    async def defaults(
        self,
        interaction: discord.Interaction[GameBot],
        claim_timeout: str | None = None,
        claim_warning: str | None = None,
        writing_timeout: str | None = None,
        writing_warning: str | None = None,
        drawing_timeout: str | None = None,
        drawing_warning: str | None = None,
        open_for: str | None = None,
        min_players: app_commands.Range[int, 2, 30] | None = None,
        max_players: app_commands.Range[int, 2, 30] | None = None,
    ) -> None:
        changes = {
            "claim_timeout": claim_timeout,
            "claim_warning": claim_warning,
            "writing_timeout": writing_timeout,
            "writing_warning": writing_warning,
            "drawing_timeout": drawing_timeout,
            "drawing_warning": drawing_warning,
            "open_duration": open_for,
            "min_players": min_players,
            "max_players": max_players,
        }
        changes = {key: value for key, value in changes.items() if value is not None}
        if not changes:
            guild_id = require_guild(interaction)
            await reply(
                interaction,
                f"📏 This server's season rules: {rules_text(await self.seasons.guild_rules(guild_id))}",
            )
            return
        guild_id = await require_host(interaction, "change the season rules")
        await interaction.response.defer(ephemeral=True, thinking=True)  # a store write needs a worker
        rules = await in_time(self.seasons.set_guild_rules(guild_id, changes))
        await reply(interaction, f"📏 New seasons here now use: {rules_text(rules)}")

    async def submitted(self, interaction: discord.Interaction[GameBot], turn_id: str, kind: str) -> None:
        """The modal's submission, handled from the raw data so it works across restarts."""
        data: Mapping[str, Any] = interaction.data or {}
        if kind == "writing":
            text = modal_values(data.get("components") or []).get(TEXT_FIELD, "")
            submission = Submission(kind="writing", text=text)
        else:
            url, content_type = uploaded(data, IMAGE_FIELD)
            submission = Submission(kind="drawing", image_url=url, content_type=content_type)
        card = interaction.message
        if card is None or not card.flags.ephemeral:
            # The command, or the offer DM (which the turn's workflow edits itself).
            await interaction.response.defer(ephemeral=True, thinking=True)
            await reply(interaction, await hand_in(interaction, turn_id, submission))
            return
        # From the private claim card: the card becomes the answer, without its button (a
        # refusal comes as a follow-up and leaves the button, to try again).
        await interaction.response.defer()
        text = await hand_in(interaction, turn_id, submission)
        await interaction.edit_original_response(view=handed_in_card(text))


async def setup(bot: GameBot) -> None:
    bot.add_dynamic_items(JoinButton, ClaimButton, SubmitButton)
    cog = SeasonsCog(bot)
    bot.modals.add(SUBMIT_MODAL, cog.submitted)
    await bot.add_cog(cog)
