"""Challenge chains: hosts create a chain of rounds, everyone can see its plan, hosts steer it.

    /challenge create      -> a modal: key, title, rounds (one a line: `2h Round 1 | message`,
                              `in #channel` before the `|` for a round's own channel),
                              reminders before every round (`30m, 5m`)
    /challenge import      -> the same from a JSON attachment (rounds with any catalogue actions)
    /challenge list        -> the chains running in this server (visibility)
    /challenge show <key>  -> the plan, done, current and ahead, as Discord timestamps
    /challenge add <key> <round>               (hosts) one more round at the end
    /challenge skip <key> [round]              (hosts) the current round, or the round named
    /challenge pause|resume|cancel <key>       (hosts)

Bad input is refused with one line and starts nothing. The modal is answered by the bot's modal
router, keyed on its custom id, so a modal opened before a restart is still handled after it.
Updates and queries wait for a worker: they come after a defer, inside `in_time`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import require_guild, require_host
from bot.jobs_steer import parse_shift
from bot.modals import modal_values
from bot.names import names_of
from bot.replies import in_time, reply
from clients.challenges import (
    ChallengeError,
    Challenges,
    channel_mention,
    needs_zone,
    parse_reminders,
    parse_rounds,
    rounds_from_json,
)
from components.challenges import CREATE_MODAL, KEY_FIELD, REMINDERS_FIELD, ROUNDS_FIELD, TITLE_FIELD
from workflows.challenges_models import MAX_ROUNDS, ChallengeStatus, RoundSpec, RoundView
from workflows.jobs_models import DEFAULT_TIME_ZONE
from workflows.times import TimeError, format_human

if TYPE_CHECKING:
    from bot.app import GameBot

MAX_FILE_BYTES = 256 * 1024
# Rounds listed by /challenge show: the last few done, then the ones ahead.
SHOW_DONE, SHOW_AHEAD = 5, 15
ICONS = {"done": "✅", "skipped": "⏭️", "failed": "⚠️", "running": "▶️", "current": "⏳", "ahead": "▫️"}

Update = Callable[..., Awaitable[ChallengeStatus]]


def create_modal() -> discord.ui.Modal:
    modal = discord.ui.Modal(title="New challenge chain", custom_id=CREATE_MODAL.build(), timeout=900)
    fields = (
        ("Key", "Letters, digits, -, _, . or :, to name it later", KEY_FIELD, discord.TextStyle.short, 60),
        ("Title", "Shown in every reminder", TITLE_FIELD, discord.TextStyle.short, 100),
        ("Rounds, one a line", "`2h Round 1 in #photos | message` or `at Friday 20:00 Finale`",
         ROUNDS_FIELD, discord.TextStyle.paragraph, 4000),
        ("Reminders before each round", "e.g. `30m, 5m` (optional)", REMINDERS_FIELD,
         discord.TextStyle.short, 100),
    )  # fmt: skip
    for label, description, custom_id, style, length in fields:
        modal.add_item(
            discord.ui.Label(
                text=label,
                description=description,
                component=discord.ui.TextInput(
                    custom_id=custom_id,
                    style=style,
                    max_length=length,
                    required=custom_id != REMINDERS_FIELD,
                ),
            )
        )
    return modal


def stamp(moment: datetime | None) -> str:
    if moment is None:
        return "time not known yet"
    return f"{discord.utils.format_dt(moment, 'F')} ({discord.utils.format_dt(moment, 'R')})"


def round_line(view: RoundView) -> str:
    icon = ICONS[view.state]
    name = f"{view.index + 1}. **{view.name}**"
    if view.channel_id is not None:
        name += f" in <#{view.channel_id}>"
    if view.state in ("done", "skipped", "failed"):
        reason = f": {view.reason}" if view.state == "failed" and view.reason else ""
        at = discord.utils.format_dt(view.at, "f") if view.at else ""
        return f"{icon} {name}: {view.state} {at}{reason}"
    # A paused chain's clock stands still: its rounds are counted from the resume, not dated.
    if view.after_resume is not None and view.state == "ahead":
        return f"{icon} {name}: about {format_human(view.after_resume)} after the chain is resumed"
    if view.after_resume is not None:
        return f"⏸️ {name}: paused, {format_human(view.after_resume)} left"
    if view.state == "ahead":
        return f"{icon} {name}: about {stamp(view.due)}"
    return f"{icon} {name}: {'running now' if view.state == 'running' else stamp(view.due)}"


def channel_resolver(guild: discord.Guild | None) -> Callable[[str], int]:
    """A round's `#name` (typed in a form, where Discord offers no channel menu) or `<#id>`."""

    def resolve(text: str) -> int:
        if text.startswith("<#") or guild is None:
            return channel_mention(text)
        name = text.removeprefix("#").lower()
        found = [
            c for c in guild.channels if c.name.lower() == name and isinstance(c, discord.abc.Messageable)
        ]
        if not found:
            raise ChallengeError(f"there is no channel #{name[:40]} in this server")
        if len(found) > 1:
            raise ChallengeError(
                f"{len(found)} channels are named #{name[:40]}: rename one, or pick it from "
                "the # menu of /challenge add"
            )
        return found[0].id

    return resolve


def check_channels(
    interaction: discord.Interaction[GameBot], rounds: Sequence[RoundSpec], numbered: bool = True
) -> None:
    """Refused now rather than discovered when a round comes: every channel the chain posts in
    is one of this server's and the bot can post there. `numbered`: the rounds are a new chain's
    whole plan, posted in this channel unless a round names its own."""
    places = [("this chain", interaction.channel_id)] if numbered else []
    for number, round_ in enumerate(rounds, start=1):
        label = f"round {number} ({round_.name})" if numbered else f"round {round_.name}"
        places.append((label, round_.channel_id))
    guild = interaction.guild
    me = guild.me if guild else None
    if guild is None or me is None:
        return  # the cache cannot tell: the round's post will
    for label, channel_id in places:
        if channel_id is None:
            continue
        channel = guild.get_channel_or_thread(channel_id)
        if channel is None or not isinstance(channel, discord.abc.Messageable):
            raise ChallengeError(f"{label}: <#{channel_id}> is not a channel of this server I can post in")
        allowed = channel.permissions_for(me)
        if not (allowed.view_channel and allowed.send_messages):
            raise ChallengeError(
                f"{label}: I cannot post in <#{channel_id}>: give me View Channel and Send Messages "
                "there, or pick another channel"
            )


def plan_text(status: ChallengeStatus) -> str:
    """The chain as a message: a head line, the last rounds done, the current one and those ahead."""
    total = len(status.rounds)
    head = f"### 🏆 {status.title} (`{status.key}`) · {status.state}"
    if status.state in ("waiting", "paused", "running"):
        head += f" · round {status.current + 1} of {total}"
    lines = [head]
    if status.state == "paused" and status.remaining is not None:
        left = format_human(status.remaining)
        lines.append(f"⏸️ Paused: the current round comes {left} after the chain is resumed.")
    done = [v for v in status.rounds if v.state in ("done", "skipped", "failed")]
    ahead = [v for v in status.rounds if v not in done]
    if len(done) > SHOW_DONE:
        lines.append(f"-# {len(done) - SHOW_DONE} earlier rounds done")
    lines += [round_line(v) for v in done[-SHOW_DONE:]]
    lines += [round_line(v) for v in ahead[:SHOW_AHEAD]]
    if len(ahead) > SHOW_AHEAD:
        lines.append(f"-# … and {len(ahead) - SHOW_AHEAD} more rounds")
    lines.append(f"-# in <#{status.channel_id}> · by <@{status.host_id}>")
    return "\n".join(lines)[:2000]


def skipped_text(status: ChallengeStatus) -> str:
    """The round a skip took (the one before the current), by number and name."""
    skipped = [v for v in status.rounds if v.index == status.current - 1 and v.state == "skipped"]
    return f"⏭️ Skipped round {skipped[0].index + 1}: **{skipped[0].name}**." if skipped else "⏭️ Skipped."


def cancelled_text(status: ChallengeStatus) -> str:
    if status.in_flight is None:
        return "🛑 Cancelled."
    return (
        f"🛑 Cancelled. {status.in_flight} was already on its way to Discord and may still appear; "
        "nothing after it will."
    )


class ChallengesCog(commands.Cog, name="Challenges"):
    challenge = app_commands.Group(name="challenge", description="Chains of timed rounds", guild_only=True)

    def __init__(self, bot: GameBot) -> None:
        self.bot = bot
        self.challenges = Challenges(bot.temporal, bot.settings.temporal_task_queue)

    @challenge.command(name="create", description="Start a chain of rounds (hosts)")
    async def create(self, interaction: discord.Interaction[GameBot]) -> None:
        # The host check reads the host role through describe: no worker needed before the modal.
        await require_host(interaction, "create a challenge")
        await interaction.response.send_modal(create_modal())

    @challenge.command(name="import", description="Start a chain from a JSON plan (hosts)")
    @app_commands.describe(
        file='A JSON file: {"rounds": [...]}', key="How you name it later", title="Its title"
    )
    async def import_(
        self, interaction: discord.Interaction[GameBot], file: discord.Attachment, key: str, title: str
    ) -> None:
        guild_id = await require_host(interaction, "create a challenge")
        if file.size > MAX_FILE_BYTES:
            await reply(interaction, f"Nothing was started: the file is over {MAX_FILE_BYTES // 1024} KB.")
            return
        # Reading the attachment is a download: acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            rounds, extra = rounds_from_json(await file.read())
            check_channels(interaction, rounds)
            on_failure = extra.get("on_failure", "continue")
            if on_failure not in ("continue", "stop"):
                raise ChallengeError('"on_failure" is "continue" or "stop"')
            await self.challenges.create(
                key=key,
                title=title,
                guild_id=guild_id,
                channel_id=self._channel(interaction),
                host_id=interaction.user.id,
                rounds=rounds,
                names=names_of(interaction),
                on_failure=on_failure,
            )
        except ChallengeError as err:
            await reply(interaction, f"Nothing was started: {err}")
            return
        # The deferred answer is ephemeral; the announcement for the channel is a second message.
        await reply(interaction, f"Started `{key}` from {file.filename}.")
        await reply(interaction, self._started(title, key, len(rounds)), ephemeral=False)

    @challenge.command(name="list", description="The chains running in this server")
    async def list_(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_guild(interaction)
        # A visibility query: answered by the server alone, but a network call, so acknowledge first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        running = await self.challenges.running(guild_id)
        if not running:
            await reply(interaction, "No challenge chain is running in this server.")
            return
        lines = [f"- `{c.key}` **{c.title}** in <#{c.channel_id}>" for c in running[:40]]
        await reply(
            interaction, "### 🏆 Running chains\n" + "\n".join(lines) + "\n-# `/challenge show key:…`"
        )

    @challenge.command(name="show", description="A chain's rounds with their times")
    @app_commands.describe(key="The chain's key")
    async def show(self, interaction: discord.Interaction[GameBot], key: str) -> None:
        guild_id = require_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        status = await in_time(self.challenges.status(guild_id, key))
        await reply(interaction, plan_text(status))

    @challenge.command(name="add", description="Add a round at the end of a chain (hosts)")
    @app_commands.rename(line="round")
    @app_commands.describe(
        key="The chain's key",
        line="One line, like `30m Bonus round | message` (`30m Bonus in #photos | message` posts there)",
        reminders="Reminders before it, like `10m, 1m`",
    )
    async def add(
        self, interaction: discord.Interaction[GameBot], key: str, line: str, reminders: str = ""
    ) -> None:
        guild_id = await require_host(interaction, "add a round")
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            zone = await self._zone(interaction, line)
            [new] = parse_rounds(
                line.replace("\n", " "),
                parse_reminders(reminders),
                channel_resolver(interaction.guild),
                zone=zone,
                now=self.bot.jobs.now(),
            )
            check_channels(interaction, [new], numbered=False)
        except ChallengeError as err:
            await reply(interaction, f"Nothing changed: {err}")
            return
        try:
            status = await in_time(
                self.challenges.add_round(guild_id, key, new, by=interaction.user.id, as_host=True)
            )
        except ChallengeError as err:
            await reply(interaction, f"Nothing changed: {err}.")
            return
        await reply(interaction, f"🆕 Added **{new.name}**.\n{plan_text(status)}")

    @challenge.command(name="skip", description="Skip the current round (hosts)")
    @app_commands.describe(
        key="The chain's key",
        round="The round's number, as /challenge show lists it: nothing is skipped if it is over",
    )
    async def skip(
        self,
        interaction: discord.Interaction[GameBot],
        key: str,
        round: app_commands.Range[int, 1, MAX_ROUNDS] | None = None,
    ) -> None:
        # The round travels with the request, so a skip sent as a round ends never takes the next.
        update = functools.partial(self.challenges.skip, round=None if round is None else round - 1)
        await self._steer(interaction, key, "skip a round", update, skipped_text)

    @challenge.command(name="shift", description="Move the current round later or earlier (hosts)")
    @app_commands.rename(amount="by")
    @app_commands.describe(
        key="The chain's key",
        amount="How much: `+30m` later, `-10m` earlier",
        whole="Move every round after it as much too (otherwise they keep their times)",
        round="The round's number, as /challenge show lists it: nothing moves if it is over",
    )
    async def shift(
        self,
        interaction: discord.Interaction[GameBot],
        key: str,
        amount: str,
        whole: bool = False,
        round: app_commands.Range[int, 1, MAX_ROUNDS] | None = None,
    ) -> None:
        try:
            delta = parse_shift(amount)
        except TimeError as err:
            await reply(interaction, f"Nothing changed: {err}")
            return
        update = functools.partial(
            self.challenges.shift, delta=delta, whole=whole, round=None if round is None else round - 1
        )
        way = "later" if delta > timedelta(0) else "earlier"
        what = "the round and every round after it" if whole else "the round"
        headline = f"↔️ Moved {what} {format_human(abs(delta))} {way}."
        await self._steer(interaction, key, "move a round", update, headline)

    @challenge.command(name="pause", description="Pause a chain, keeping the time left (hosts)")
    @app_commands.describe(key="The chain's key")
    async def pause(self, interaction: discord.Interaction[GameBot], key: str) -> None:
        await self._steer(interaction, key, "pause a challenge", self.challenges.pause, "⏸️ Paused.")

    @challenge.command(name="resume", description="Resume a paused chain (hosts)")
    @app_commands.describe(key="The chain's key")
    async def resume(self, interaction: discord.Interaction[GameBot], key: str) -> None:
        await self._steer(interaction, key, "resume a challenge", self.challenges.resume, "▶️ Resumed.")

    @challenge.command(name="cancel", description="Cancel a chain (hosts)")
    @app_commands.describe(key="The chain's key")
    async def cancel(self, interaction: discord.Interaction[GameBot], key: str) -> None:
        await self._steer(interaction, key, "cancel a challenge", self.challenges.cancel, cancelled_text)

    async def _steer(
        self,
        interaction: discord.Interaction[GameBot],
        key: str,
        what: str,
        update: Update,
        done: str | Callable[[ChallengeStatus], str],
    ) -> None:
        guild_id = await require_host(interaction, what)
        # The update waits for a worker: acknowledge first (within 3 s).
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            status = await in_time(update(guild_id, key, by=interaction.user.id, as_host=True))
        except ChallengeError as err:
            await reply(interaction, f"Nothing changed: {err}.")
            return
        headline = done if isinstance(done, str) else done(status)
        await reply(interaction, f"{headline}\n{plan_text(status)}")

    async def submit(self, interaction: discord.Interaction[GameBot]) -> None:
        """The modal's submission, from the raw data so it works across restarts."""
        guild_id = await require_host(interaction, "create a challenge")
        data: Mapping[str, Any] = interaction.data or {}
        values = modal_values(data.get("components") or [])
        key, title = values.get(KEY_FIELD, "").strip(), values.get(TITLE_FIELD, "").strip()
        text, zone = values.get(ROUNDS_FIELD, ""), DEFAULT_TIME_ZONE
        if needs_zone(text):
            # A local time is read in the member's zone, kept in a store: acknowledge first.
            await interaction.response.defer(ephemeral=True, thinking=True)
            zone = await self._zone(interaction, text)
        try:
            rounds = parse_rounds(
                text,
                parse_reminders(values.get(REMINDERS_FIELD, "")),
                channel_resolver(interaction.guild),
                zone=zone,
                now=self.bot.jobs.now(),
            )
            check_channels(interaction, rounds)
            # Starting a workflow does not wait for a worker: milliseconds, so no defer is needed.
            await self.challenges.create(
                key=key,
                title=title,
                guild_id=guild_id,
                channel_id=self._channel(interaction),
                host_id=interaction.user.id,
                rounds=rounds,
                names=names_of(interaction),
            )
        except ChallengeError as err:
            await reply(interaction, f"Nothing was started: {err}")
            return
        if interaction.response.is_done():
            # The deferred answer is private, the news is not: tell the host what they can do next.
            await reply(
                interaction,
                f"✅ Started. `/challenge show key:{key}` lists its rounds; `/challenge pause`, `shift` "
                "and `skip` steer it.",
            )
        await reply(interaction, self._started(title, key, len(rounds)), ephemeral=False)

    async def _zone(self, interaction: discord.Interaction[GameBot], text: str) -> str:
        """The zone the member's local times in `text` are read in (none there: no store read)."""
        if not needs_zone(text):
            return DEFAULT_TIME_ZONE
        assert interaction.guild_id is not None
        return await in_time(self.bot.time_zones.for_user(interaction.guild_id, interaction.user.id))

    @staticmethod
    def _channel(interaction: discord.Interaction[GameBot]) -> int:
        assert interaction.channel_id is not None  # every guild interaction has a channel
        return interaction.channel_id

    @staticmethod
    def _started(title: str, key: str, count: int) -> str:
        return (
            f"🏆 Challenge **{title}** started: {count} round{'s' if count != 1 else ''}. "
            f"See its plan with `/challenge show key:{key}`."
        )


async def setup(bot: GameBot) -> None:
    cog = ChallengesCog(bot)
    bot.modals.add(CREATE_MODAL, cog.submit)
    await bot.add_cog(cog)
