"""The gateway bot: one Temporal client, the scheduler facade, one cog per feature.

It is a Temporal *client* only: it starts workflows, sends updates, queries and lists. It keeps
no timer, so any number of bot processes (shards) can run next to any number of workers.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import signal
import socket
from collections.abc import Sequence

import discord
from discord import app_commands
from discord.ext import commands
from temporalio.client import Client

from bot.checks import HostPolicy
from bot.jobs_ui import JobListings
from bot.live_listings import LiveListings
from bot.metrics import BUCKETS, BotMetrics
from bot.modals import ModalRouter
from bot.options import check_options
from bot.persistent import answer_unmatched
from bot.replies import answer_unanswered, report_error
from clients.guild_settings import HostRole, SettingsBackend, StoreSettings
from clients.jobs import Jobs
from clients.repeats import Repeats
from clients.time_zones import StoreMemberZones, TimeZones
from stack.discord_api import point_at
from stack.process import exit_now
from stack.settings import Settings, load_settings
from stack.telemetry import metrics_runtime, setup_logging
from stack.temporal import connect

log = logging.getLogger("bot")

# One extension per feature. A module that does not exist (yet) is skipped with a log line.
FEATURES: tuple[str, ...] = (
    "bot.cogs.safari",
    "bot.cogs.jobs",
    "bot.cogs.whispers",
    "bot.cogs.custom_actions",
    "bot.cogs.seasons",
    "bot.cogs.challenges",
    "bot.cogs.health",
    "bot.cogs.admin",
)


class GameTree(app_commands.CommandTree["GameBot"]):
    """The command tree: every app command error is answered here (ephemeral) and logged."""

    async def interaction_check(self, interaction: discord.Interaction[GameBot], /) -> bool:
        check_options(interaction)  # options Discord would never send are refused, not read
        return True

    async def _call(self, interaction: discord.Interaction[GameBot]) -> None:
        # discord.py reads a command's options outside the command, and an exception there (not
        # an AppCommandError) would reach no error handler: every interaction is answered.
        try:
            await super()._call(interaction)
        except app_commands.AppCommandError:
            raise
        except Exception as error:
            raise app_commands.AppCommandError(f"the command could not be read: {error!r}") from error
        if interaction.type is discord.InteractionType.application_command:
            await answer_unanswered(interaction)

    async def on_error(
        self, interaction: discord.Interaction[GameBot], error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)


def intents() -> discord.Intents:
    """Guilds only: slash commands and components need no message content, members or presences."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    return wanted


class GameBot(commands.AutoShardedBot):
    """`GameBot(settings, temporal_client)`; tests hand in the test server's client."""

    def __init__(
        self,
        settings: Settings,
        temporal: Client,
        *,
        jobs: Jobs | None = None,
        hosts: HostPolicy | None = None,
        features: Sequence[str] = FEATURES,
        shard_count: int | None = None,
        metrics: BotMetrics | None = None,
    ) -> None:
        metrics = metrics or BotMetrics()
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            tree_cls=GameTree,
            shard_count=shard_count,
            # Listings mention users as <@id> for display; nobody is pinged by the bot's replies.
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            # Times each first answer to an interaction (bot/metrics.py).
            http_trace=metrics.http_trace(),
        )
        self.metrics = metrics
        self.settings = settings
        self.temporal = temporal
        self.jobs = jobs or Jobs(temporal, settings.temporal_task_queue)
        # Per-guild settings, read through describe: answered with no worker running.
        self.guild_settings: SettingsBackend = StoreSettings(temporal, settings.temporal_task_queue)
        self.hosts = hosts or HostPolicy(HostRole(self.guild_settings))
        # What a member's typed times mean: their zone, else the server's (clients/time_zones.py).
        self.repeats = Repeats(temporal, settings.temporal_task_queue)
        self.time_zones = TimeZones(
            self.guild_settings, StoreMemberZones(temporal, settings.temporal_task_queue)
        )
        self.features = tuple(features)
        # Every modal submission, to the feature that added its custom id (bot/modals.py).
        self.modals = ModalRouter()
        self.add_listener(self.modals.on_interaction, "on_interaction")
        # A button or select no item answers (its feature gone, its view expired) is answered too.
        self.add_listener(answer_unmatched, "on_interaction")
        # The listings whose Cancel buttons redraw them; each cog adds its own when loaded.
        self.job_listings = JobListings()
        # Posted listings kept true as their jobs fire or are cancelled (bot/live_listings.py).
        self.live_listings = LiveListings()

    async def on_interaction(self, interaction: discord.Interaction[GameBot]) -> None:
        self.metrics.received(interaction)

    async def on_app_command_completion(
        self, interaction: discord.Interaction[GameBot], command: object
    ) -> None:
        del command
        self.metrics.finished(interaction, "ok")

    async def setup_hook(self) -> None:
        for name in self.features:
            if name in self.extensions:
                continue
            if importlib.util.find_spec(name) is None:
                log.info("feature %s is not installed; skipping it", name)
                continue
            await self.load_extension(name)
            log.info("loaded feature %s", name)
        await self.sync_commands()

    async def close(self) -> None:
        self.live_listings.stop()
        await super().close()

    async def sync_commands(self) -> None:
        guild_id = self.settings.discord_dev_guild
        if guild_id:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            # A guild's commands exist in that guild only: one usable in DMs too stays global
            # alone (a copy beside it would show twice), every other one is the guild's alone.
            for command in self.tree.get_commands():
                in_dms = command.allowed_contexts is not None and command.allowed_contexts.dm_channel
                self.tree.remove_command(command.name, guild=guild if in_dms else None)
            synced = await self.tree.sync(guild=guild)
            synced += await self.tree.sync()
            log.info(
                "synced %d commands to dev guild %s (those usable in DMs globally)", len(synced), guild_id
            )
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))


async def run(settings: Settings) -> None:
    if settings.discord_token is None:
        raise SystemExit(
            "configuration error: DISCORD_TOKEN: not set (the bot token from the Developer Portal)"
        )
    token = settings.discord_token.get_secret_value()
    point_at(settings.discord_api_base)
    # One endpoint serves the Temporal client's metrics and the bot's own (bot/metrics.py).
    runtime = metrics_runtime(settings.metrics_host, settings.bot_metrics_port, BUCKETS)
    temporal = await connect(settings, identity=f"bot@{socket.gethostname()}", runtime=runtime)
    metrics = BotMetrics(runtime.metric_meter if runtime else None)
    async with GameBot(settings, temporal, metrics=metrics) as bot:
        stop_on_signals(bot)
        bot.live_listings.start()
        gateway = asyncio.create_task(metrics.watch_gateway(bot))
        try:
            await bot.start(token)
        except discord.LoginFailure:
            raise SystemExit("configuration error: DISCORD_TOKEN: Discord refused the token") from None
        finally:
            gateway.cancel()
    # The gateway and HTTP sessions are closed; the Temporal client (the SDK has no close) goes
    # with the process. Updates the bot sent are already on the server.
    log.info("bot stopped")


def stop_on_signals(bot: GameBot) -> None:
    """SIGTERM (docker compose, `make run`) or Ctrl-C: close the gateway, so `bot.start` returns."""
    loop = asyncio.get_running_loop()
    closing: list[asyncio.Task[None]] = []

    def stop() -> None:
        if not closing:
            log.info("bot stopping: closing the Discord gateway")
            closing.append(loop.create_task(bot.close()))

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)


def main(argv: Sequence[str] | None = None) -> None:
    del argv
    settings = load_settings()
    setup_logging(settings.log_format)
    asyncio.run(run(settings))
    exit_now(0)
