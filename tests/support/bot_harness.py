"""Driving `bot.app.GameBot` in process with simcord, against a real Temporal client.

async with bot_env(client, task_queue) as world:
    shown = await world.host.slash(world.channel, "safari schedule")
"""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord
import simcord
from discord.http import handle_message_parameters
from pydantic import JsonValue, SecretStr
from temporalio.client import Client

from bot.app import GameBot
from bot.checks import HostPolicy
from bot.replies import user_message
from clients.jobs import Jobs
from stack.settings import Settings
from tests.support.interaction_check import RequestChecker, checked_requests
from tests.support.temporal import TEST_KEY
from tests.support.wording import offences


def bot_settings(task_queue: str) -> Settings:
    return Settings(
        _env_file=None,
        temporal_task_queue=task_queue,
        encryption_keys=[SecretStr(base64.b64encode(TEST_KEY).decode())],
        discord_token=None,
        discord_dev_guild=None,
    )


class RecordingJobs(Jobs):
    """The real facade, noting the ids of the jobs it started (the time-skipping server has no
    visibility store, so tests cannot list them)."""

    def __init__(self, client: Client, task_queue: str) -> None:
        super().__init__(client, task_queue)
        self.started: list[str] = []

    async def schedule(self, action: str, payload: dict[str, JsonValue] | None = None, **kwargs: Any) -> str:
        job_id = await super().schedule(action, payload, **kwargs)
        self.started.append(job_id)
        return job_id


def new_bot(client: Client, task_queue: str, *, hosts: HostPolicy, jobs: Jobs | None = None) -> GameBot:
    return GameBot(
        bot_settings(task_queue),
        client,
        jobs=jobs or RecordingJobs(client, task_queue),
        hosts=hosts,
        shard_count=1,
    )


@dataclass
class World:
    env: simcord.Env
    bot: GameBot
    guild: simcord.GuildHandle
    channel: simcord.ChannelHandle
    host: simcord.MemberActor
    player: simcord.MemberActor
    other_player: simcord.MemberActor
    hosts: HostPolicy
    client: Client
    task_queue: str
    requests: RequestChecker  # what the bot asked of Discord, and what Discord would refuse
    bots: list[GameBot] = field(default_factory=list)

    @property
    def jobs(self) -> RecordingJobs:
        jobs = self.bot.jobs
        assert isinstance(jobs, RecordingJobs)
        return jobs

    async def restart(self) -> GameBot:
        """A new bot process: a fresh GameBot on the same Temporal server and the same guild."""
        self.bot = new_bot(self.client, self.task_queue, hosts=self.hosts)
        self.bots.append(self.bot)
        await self.env.restart_bot(self.bot)
        return self.bot


@asynccontextmanager
async def bot_env(client: Client, task_queue: str) -> AsyncIterator[World]:
    hosts = HostPolicy()
    bot = new_bot(client, task_queue, hosts=hosts)
    env = simcord.Env(bot)
    # Every request the bot makes (command sync included) is checked against Discord's OpenAPI
    # document and the fake Discord's rules; one Discord would refuse is answered 400 and fails the test.
    with checked_requests(env.backend) as checker:
        await env.start()
        try:
            guild = env.create_guild("Safari Club")
            channel = guild.create_text_channel("safari")
            hosts_role = guild.create_role("Game Masters", permissions=discord.Permissions(manage_roles=True))
            host = guild.add_member(env.create_user("host"), roles=[hosts_role])
            player = guild.add_member(env.create_user("player"))
            other = guild.add_member(env.create_user("other"))
            world = World(
                env, bot, guild, channel, host, player, other, hosts, client, task_queue, checker, [bot]
            )
            yield world
        except BaseException as failure:
            if checker.violations:  # often the cause of the test's own failure
                failure.add_note(checker.report())
            raise
        finally:
            await env.shutdown()
    checker.assert_none()
    # Every message, label and form the bot showed is written for people (tests/support/wording.py).
    unfit = offences((entry.method, entry.path, entry.json) for entry in env.backend.http_requests)
    assert not unfit, "the bot showed users text not written for them:\n" + "\n".join(map(str, unfit))
    # As simcord's own fixture does: errors the bot raised that no test looked at fail the test;
    # refusals the bot answered on purpose (a user_message exists for them) are not errors.
    bugs = [error for error in env.errors_since(0) if user_message(error) is None]
    if bugs:
        raise BaseExceptionGroup(f"the bot raised {len(bugs)} unexpected error(s)", bugs)


def answered(result: simcord.InteractionResult) -> simcord.InteractionResult:
    """Every interaction must be answered: a message, a defer, an update or a modal."""
    assert result.acknowledged, f"interaction was not answered: {result!r}"
    return result


def unix_times(text: str) -> list[int]:
    return [int(value) for value in re.findall(r"<t:(\d+):[FR]>", text)]


def as_datetime(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def last_reply(result: simcord.InteractionResult) -> simcord.ResponseMessage:
    """The message the user finally saw: the last follow-up, else the response."""
    if result.followups:
        return result.followups[-1]
    assert result.response is not None, f"no message in {result!r}"
    return result.response


async def raw_slash(
    actor: simcord.MemberActor,
    channel: simcord.ChannelHandle,
    name: str,
    options: list[dict[str, Any]],
    resolved: dict[str, Any] | None = None,
) -> simcord.InteractionResult:
    """`/name` with `options` exactly as given (wire form), past simcord's checks of types and
    ranges: what a client Discord does not control could send. simcord has no public way to
    send such a command, so this drives its internals."""
    from simcord import actors, interactions

    env = actor._env
    env._begin_operation("slash")
    try:
        parts = name.split()
        root = actor._resolve_root(parts[0], 1, channel.id)
        _leaf, nesting = interactions.walk_to_subcommand(root, parts[1:])
        data: dict[str, Any] = {
            "id": root["id"],
            "name": root["name"],
            "type": 1,
            "options": interactions.nest_options(root, nesting, options),
        }
        if resolved:
            data["resolved"] = resolved
        if root.get("guild_id"):
            data["guild_id"] = root["guild_id"]
        result: simcord.InteractionResult = await actors._dispatch_actor_interaction(actor, 2, channel, data)
        return result
    finally:
        env._end_operation()


async def post_buttons(world: World, *custom_ids: str, layout: bool = False) -> discord.Message:
    """A message in the world's channel with a button per custom id, posted as the worker posts
    them (the bot keeps no view for it): old buttons, or buttons of a feature that is gone.
    `layout`: a Components V2 message, as the panels are."""
    buttons = [discord.ui.Button[Any](label=custom_id[:80], custom_id=custom_id) for custom_id in custom_ids]
    return await post_items(world, *buttons, layout=layout)


async def post_items(world: World, *items: discord.ui.Item[Any], layout: bool = False) -> discord.Message:
    """A message with these components, posted past the bot's view store (see post_buttons)."""
    view: discord.ui.View | discord.ui.LayoutView
    if layout:
        view = discord.ui.LayoutView(timeout=None)
        view.add_item(discord.ui.TextDisplay("## 🦁 Safari"))
        view.add_item(discord.ui.ActionRow(*items))
    else:
        view = discord.ui.View(timeout=None)
        for item in items:
            view.add_item(item)
    with handle_message_parameters(content=None if layout else "components", view=view) as params:
        data = await world.bot.http.send_message(world.channel.id, params=params)
    channel = world.bot.get_partial_messageable(world.channel.id)
    return discord.Message(state=world.bot._connection, channel=channel, data=data)


def as_old_form(shown: simcord.InteractionResult, *fields: str) -> simcord.InteractionResult:
    """Make a shown modal the form it was before a release: the same custom id with these text
    fields, as a member who opened it before a restart would submit it."""
    assert shown.modal is not None
    old = discord.ui.Modal(title=str(shown.modal["title"]), custom_id=str(shown.modal["custom_id"]))
    for name in fields:
        old.add_item(
            discord.ui.Label(text=name, component=discord.ui.TextInput(custom_id=name, required=False))
        )
    shown._interaction.modal = old.to_dict()
    return shown
