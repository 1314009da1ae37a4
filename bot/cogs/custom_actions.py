"""Custom Actions: hosts define actions (`/action ...`) and edit them in an editor card; players
run them from a posted button or `/action run`.

    /action create|edit  -> the editor (ephemeral): the action's summary, a trigger select
        (Button or Scheduled); Scheduled shows its tasks (channel, time left, Cancel each), a
        channel select (remembered as the action's last channel) and Schedule -> a modal with
        days, hours and minutes (up to 30 days) -> a scheduled job `execute_custom_action`, which
        runs for the host who schedules it (checked for them then); Back -> the server's actions,
        a select opening another's editor (`/action list` shows a host the same)
    /action run, the Run button -> the result (ephemeral), or, for a delayed action, armed
        under its re-trigger policy (block: the time left and a Cancel button)

Every button and select is a `DynamicItem`, the modal is answered by the bot's modal router,
both keyed on custom ids (components/custom_actions.py), and nothing is read before a modal
opens, so all of it works across restarts and without a worker until after the interaction is
acknowledged.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.checks import require_guild, require_host
from bot.jobs_steer import steer_row
from bot.jobs_ui import countdown, job_title, remaining_text
from bot.modals import modal_values
from bot.names import names_of
from bot.persistent import PersistentItem
from bot.replies import guarded, in_time, reply
from bot.typed_when import typed_wait, when_field
from clients.custom_actions import (
    CustomActionError,
    CustomActions,
    checked,
    description_for,
    run_once,
    run_payload,
)
from clients.jobs import SchedulingError, utcnow
from clients.jobs_listing import JobSummary
from components.custom_actions import (
    BACK_BUTTON,
    CANCEL_TASK,
    CHANNEL_SELECT,
    EARLIER_CANCEL_TASK,
    OPEN_SELECT,
    RUN_BUTTON,
    SCHEDULE_BUTTON,
    SCHEDULE_MODAL,
    TRIGGER_SELECT,
    result_message,
    run_button,
)
from workflows.custom_actions_models import (
    EXECUTE_CUSTOM_ACTION,
    MAX_OUTCOMES,
    MAX_SCHEDULE,
    MAX_STACK,
    ActionDefinition,
    CardOutcome,
    Condition,
    CurrencyOutcome,
    Delayed,
    TextOutcome,
)
from workflows.jobs_models import MAX_DELAY, job_id_for, job_suffix, run_tag
from workflows.times import TimeError, discord_time, format_human, parse_when

if TYPE_CHECKING:
    from bot.app import GameBot

TASKS_SHOWN = 6
NO_WEBHOOKS = "I cannot post results in {where}: I need the **Manage Webhooks** permission there."


def cog_of(interaction: discord.Interaction[Any]) -> CustomActionsCog:
    return cog_of_bot(interaction.client)


def cog_of_bot(bot: commands.bot.BotBase) -> CustomActionsCog:
    cog = bot.get_cog(CustomActionsCog.__cog_name__)
    if not isinstance(cog, CustomActionsCog):
        raise RuntimeError("the custom actions cog is not loaded")
    return cog


# --- the editor -------------------------------------------------------------------------------


def summary(definition: ActionDefinition) -> str:
    lines = [f"## ⚙️ {definition.name}", f"-# id `{definition.id}`"]
    condition = definition.condition
    if condition is not None:
        parts = []
        if condition.role_id is not None:
            parts.append(f"holds <@&{condition.role_id}>")
        if condition.min_balance is not None:
            parts.append(f"has at least 🪙 {condition.min_balance:,}")
        lines.append("**Condition:** " + (" and ".join(parts) or "none"))
        if condition.not_met_text:
            lines.append(f"**Not met:** {condition.not_met_text[:100]}")
    if not definition.outcomes:
        lines.append("**Outcomes:** none yet (`/action add-text`, `add-card`, `add-currency`)")
    for number, outcome in enumerate(definition.outcomes, start=1):
        if isinstance(outcome, TextOutcome):
            lines.append(f"{number}. 💬 {outcome.text[:80]}")
        elif isinstance(outcome, CardOutcome):
            lines.append(f"{number}. 🃏 card **{outcome.title[:60]}**")
        else:
            verb = "give" if outcome.amount > 0 else "take"
            lines.append(f"{number}. 🪙 {verb} {abs(outcome.amount):,}")
    if definition.delayed is not None:
        lines.append(
            f"**Delayed:** {format_human(definition.delayed.delay)} after a player runs it · "
            f"re-run: {definition.delayed.policy}"
        )
    lines.append(f"**Trigger:** {trigger_text(definition)}")
    return "\n".join(lines)


def trigger_text(definition: ActionDefinition) -> str:
    """The current trigger in words (the select shows it too, as its chosen option)."""
    if definition.trigger.type == "button":
        return "🖱️ Button click (`/action post` posts its button)"
    channel = definition.trigger.channel_id
    where = f"post in <#{channel}>" if channel else "need a channel: pick one below"
    return f"⏰ Scheduled Action · scheduled runs {where} · each runs as the host who schedules it"


def task_line(number: int, job: JobSummary) -> str:
    left = countdown(job.deadline)
    if job.paused_left is not None:
        left = f"⏸️ paused, {format_human(job.paused_left)} left"
    return f"{number}. <#{job.channel_id}> — {left} · for <@{job.scheduled_by}>"


async def render_editor(
    bot: GameBot,
    definition: ActionDefinition,
    guild_id: int,
    *,
    exclude: Collection[str] = (),
    include: Collection[JobSummary] = (),
) -> discord.ui.LayoutView:
    """The editor card. `include`/`exclude` patch the listing with what this interaction just
    did, which the visibility store may show a moment later."""
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.dark_teal())
    container.add_item(discord.ui.TextDisplay(summary(definition)))
    container.add_item(discord.ui.Separator())
    container.add_item(discord.ui.ActionRow(TriggerSelect(definition.id, definition.trigger.type)))
    if definition.trigger.type == "schedule":
        tasks = await in_time(cog_of_bot(bot).actions.tasks(guild_id, definition.id))
        known = {job.job_id for job in tasks}
        tasks = [
            job
            for job in [*tasks, *(j for j in include if j.job_id not in known)]
            if job.job_id not in exclude
        ]
        tasks.sort(key=lambda job: job.deadline)
        container.add_item(discord.ui.TextDisplay("### Scheduled Tasks"))
        if not tasks:
            container.add_item(discord.ui.TextDisplay("No tasks are scheduled."))
        for number, job in enumerate(tasks[:TASKS_SHOWN], start=1):
            suffix = job_suffix(job.job_id, guild_id)
            container.add_item(
                discord.ui.Section(
                    task_line(number, job), accessory=CancelTaskButton("e", suffix, run_tag(job.run_id))
                )
            )
        if len(tasks) > TASKS_SHOWN:
            container.add_item(
                discord.ui.TextDisplay(f"…and {len(tasks) - TASKS_SHOWN} more: see `/schedule list`.")
            )
        if (steer := steer_row(tasks[:TASKS_SHOWN])) is not None:
            container.add_item(steer)  # the same steering as /schedule list
        container.add_item(discord.ui.TextDisplay("### Create a New Scheduled Run"))
        container.add_item(discord.ui.ActionRow(ChannelPick(definition.id, definition.trigger.channel_id)))
        container.add_item(discord.ui.ActionRow(ScheduleTaskButton(definition.id)))
    container.add_item(discord.ui.Separator())
    container.add_item(discord.ui.ActionRow(BackButton()))
    view.add_item(container)
    return view


MENU_SHOWN = 25  # a select holds 25 options


async def render_menu(bot: GameBot, guild_id: int) -> discord.ui.LayoutView:
    """What Back leads to (and `/action list` shows a host): the server's actions, and a
    select that opens one's editor."""
    found = await in_time(cog_of_bot(bot).actions.all(guild_id))
    view = discord.ui.LayoutView(timeout=None)
    container: discord.ui.Container[Any] = discord.ui.Container(accent_colour=discord.Colour.dark_teal())
    container.add_item(discord.ui.TextDisplay("## ⚙️ Custom Actions"))
    if not found:
        container.add_item(discord.ui.TextDisplay("This server has no custom actions yet: `/action create`."))
    else:
        container.add_item(discord.ui.TextDisplay("\n".join(action_line(d) for d in found)[:3000]))
        container.add_item(discord.ui.ActionRow(OpenActionSelect(found[:MENU_SHOWN])))
        if len(found) > MENU_SHOWN:
            more = len(found) - MENU_SHOWN
            container.add_item(discord.ui.TextDisplay(f"-# {more} more: open them with `/action edit`."))
    view.add_item(container)
    return view


def action_line(definition: ActionDefinition) -> str:
    kind = "⏰ scheduled" if definition.trigger.type == "schedule" else "🖱️ button"
    delayed = " · delayed" if definition.delayed else ""
    count = len(definition.outcomes)
    return f"• **{definition.name}** — {count} outcome{'' if count == 1 else 's'} · {kind}{delayed}"


class BackButton(PersistentItem[discord.ui.Button[Any]], custom=BACK_BUTTON):
    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label="Back", emoji="⬅️", style=discord.ButtonStyle.secondary, custom_id=self.custom.build()
            )
        )

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = await require_host(interaction, "edit custom actions")
        await interaction.response.defer()
        await interaction.edit_original_response(view=await render_menu(interaction.client, guild_id))


class OpenActionSelect(PersistentItem[discord.ui.Select[Any]], custom=OPEN_SELECT):
    def __init__(self, actions: list[ActionDefinition] | None = None) -> None:
        options = [
            discord.SelectOption(label=d.name[:100], value=d.id, emoji="⚙️") for d in actions or []
        ] or [discord.SelectOption(label="none", value="none")]
        super().__init__(
            discord.ui.Select(
                custom_id=self.custom.build(), options=options, placeholder="Open an action's editor"
            )
        )

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = await require_host(interaction, "edit custom actions")
        await interaction.response.defer()
        [action_id] = self.item.values
        definition = await in_time(cog_of(interaction).actions.require(guild_id, action_id))
        await interaction.edit_original_response(
            view=await render_editor(interaction.client, definition, guild_id)
        )


def schedule_modal(action_id: str, name: str) -> discord.ui.Modal:
    modal = discord.ui.Modal(
        title=f"Schedule {name}"[:45], custom_id=SCHEDULE_MODAL.build(action_id=action_id), timeout=900
    )
    modal.add_item(when_field("When it runs"))
    return modal


def webhook_refusal(channel: Any, where: str) -> str | None:
    """Why the bot cannot post results in this channel, where it can tell; None if it can."""
    if channel is None:
        return f"{where} is gone (or I cannot see it)."
    guild = getattr(channel, "guild", None)
    if guild is None or guild.me is None:
        return None  # the cache cannot tell: the deadline will
    if not channel.permissions_for(guild.me).manage_webhooks:
        return NO_WEBHOOKS.format(where=where)
    return None


class TriggerSelect(PersistentItem[discord.ui.Select[Any]], custom=TRIGGER_SELECT):
    def __init__(self, action_id: str, current: str = "button") -> None:
        options = [
            discord.SelectOption(
                label="Button click", value="button", emoji="🖱️", default=current == "button"
            ),
            discord.SelectOption(
                label="Scheduled Action", value="schedule", emoji="⏰", default=current == "schedule"
            ),
        ]
        super().__init__(
            discord.ui.Select(
                custom_id=self.custom.build(action_id=action_id), options=options, placeholder="Trigger"
            )
        )
        self.action_id = action_id

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = await require_host(interaction, "edit custom actions")
        chosen: Literal["button", "schedule"] = "schedule" if self.item.values == ["schedule"] else "button"
        await interaction.response.defer()
        definition = await in_time(
            cog_of(interaction).actions.edit(
                guild_id,
                self.action_id,
                lambda d: d.model_copy(update={"trigger": d.trigger.model_copy(update={"type": chosen})}),
            )
        )
        await interaction.edit_original_response(
            view=await render_editor(interaction.client, definition, guild_id)
        )


class ChannelPick(PersistentItem[discord.ui.ChannelSelect[Any]], custom=CHANNEL_SELECT):
    def __init__(self, action_id: str, current: int | None = None) -> None:
        super().__init__(
            discord.ui.ChannelSelect(
                custom_id=self.custom.build(action_id=action_id),
                channel_types=[discord.ChannelType.text],
                placeholder="Channel for the scheduled run",
                default_values=[discord.Object(current, type=discord.abc.GuildChannel)] if current else [],
            )
        )
        self.action_id = action_id

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = await require_host(interaction, "edit custom actions")
        if not self.item.values:
            await reply(interaction, "Pick a channel.")
            return
        channel_id = self.item.values[0].id
        await interaction.response.defer()
        definition = await in_time(
            cog_of(interaction).actions.edit(
                guild_id,
                self.action_id,
                lambda d: d.model_copy(
                    update={"trigger": d.trigger.model_copy(update={"channel_id": channel_id})}
                ),
            )
        )
        await interaction.edit_original_response(
            view=await render_editor(interaction.client, definition, guild_id)
        )
        await interaction.followup.send(
            f"📍 Scheduled runs of **{definition.name}** will post in <#{channel_id}>.", ephemeral=True
        )


class ScheduleTaskButton(PersistentItem[discord.ui.Button[Any]], custom=SCHEDULE_BUTTON):
    def __init__(self, action_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Schedule Task",
                emoji="⏰",
                style=discord.ButtonStyle.success,
                custom_id=self.custom.build(action_id=action_id),
            )
        )
        self.action_id = action_id

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        # The modal must be the first response: nothing is read before it (the channel and the
        # action are read when it is submitted).
        await require_host(interaction, "schedule custom actions")
        await interaction.response.send_modal(schedule_modal(self.action_id, "custom action"))


class CancelTaskButton(PersistentItem[discord.ui.Button[Any]], custom=CANCEL_TASK):
    """Cancel one task: on the editor ("e": redraw it) or on a player's answer ("p"); with `run`
    (its `run_tag`, when the button was drawn from a listing) that run only, so an old
    button cannot cancel a later run that reuses the task's key."""

    def __init__(self, mode: str, suffix: str, run: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label="Cancel",
                emoji="🗑️",
                style=discord.ButtonStyle.danger,
                custom_id=self.custom.build(mode=mode, suffix=suffix, run=run),
            )
        )
        self.mode = mode
        self.suffix = suffix
        self.run = run

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_guild(interaction)
        bot = interaction.client
        as_host = await bot.hosts.is_host(interaction)
        job_id = job_id_for(guild_id, self.suffix)
        await interaction.response.defer()
        actions = cog_of(interaction).actions
        try:
            status = await in_time(
                actions.jobs.cancel(
                    job_id,
                    by=interaction.user.id,
                    guild_id=guild_id,
                    as_host=as_host,
                    reason="cancelled in Discord",
                    run=self.run,
                )
            )
        except SchedulingError as err:
            await interaction.followup.send(f"Nothing was cancelled: {err}.", ephemeral=True)
            return
        title = job_title(status.description, status.action)
        due = discord.utils.format_dt(status.deadline, "R")
        done = f"Cancelled **{title}** in <#{status.channel_id}> (it was due {due})."
        action_id = self.suffix.split(":")[1]
        definition = await in_time(actions.get(guild_id, action_id)) if self.mode == "e" else None
        if definition is not None:
            view = await render_editor(bot, definition, guild_id, exclude={job_id})
            await interaction.edit_original_response(view=view)
            await interaction.followup.send(done, ephemeral=True)
        else:
            await interaction.edit_original_response(content=done, view=None)


class EarlierCancelTaskButton(CancelTaskButton, custom=EARLIER_CANCEL_TASK):
    """A Cancel button posted before buttons carried their run: it still works, on the current run."""


class RunButton(PersistentItem[discord.ui.Button[Any]], custom=RUN_BUTTON):
    def __init__(self, action_id: str, name: str = "Run") -> None:
        super().__init__(run_button(action_id, name))
        self.action_id = action_id

    @guarded
    async def callback(self, interaction: discord.Interaction[GameBot]) -> None:
        await run_action(interaction, self.action_id)


# --- running ----------------------------------------------------------------------------------


async def run_action(
    interaction: discord.Interaction[GameBot], action_id: str | None, name: str = ""
) -> None:
    """A player runs an action (button or command): the result, or armed for later."""
    guild_id = require_guild(interaction)
    member = interaction.user
    roles = [role.id for role in getattr(member, "roles", [])]
    # Store reads and writes wait for a worker: acknowledge first.
    await interaction.response.defer(ephemeral=True, thinking=True)
    actions = cog_of(interaction).actions
    definition = await in_time(
        actions.require(guild_id, action_id) if action_id else actions.find(guild_id, name)
    )
    if definition.delayed is not None:
        await arm_action(interaction, definition, guild_id, roles)
        return
    safari = await actions.safari(guild_id)
    evaluation = await in_time(run_once(safari, definition, member.id, roles, f"run-{interaction.id}"))
    if not evaluation.blocks:
        await reply(interaction, f"You cannot run **{definition.name}** right now.")
        return
    message = result_message(f"**{definition.name}**" if evaluation.met else "", evaluation.blocks)
    if message.view is not None:
        await interaction.followup.send(view=message.view, ephemeral=True)
    else:
        await interaction.followup.send(message.content or "", ephemeral=True)


async def arm_action(
    interaction: discord.Interaction[GameBot], definition: ActionDefinition, guild_id: int, roles: list[int]
) -> None:
    delayed = definition.delayed
    assert delayed is not None and interaction.channel_id is not None
    if not interaction.app_permissions.manage_webhooks:
        await reply(interaction, f"Nothing was started. {NO_WEBHOOKS.format(where='this channel')}")
        return
    actions = cog_of(interaction).actions
    # Checked now as well as at the deadline: a player who may not run it arms nothing.
    checked = await in_time(
        actions.check(definition, guild_id=guild_id, user_id=interaction.user.id, role_ids=roles)
    )
    if not checked.met:
        text = (
            checked.blocks[0].text if checked.blocks else f"You cannot run **{definition.name}** right now."
        )
        await reply(interaction, text)
        return
    armed = await in_time(
        actions.arm(
            definition, guild_id=guild_id, channel_id=interaction.channel_id, user_id=interaction.user.id
        )
    )
    when = f"{discord.utils.format_dt(armed.deadline, 'R')} ({remaining_text(armed.deadline, utcnow())})"
    if armed.outcome == "armed":
        text = delayed.armed_text or f"⏳ **{definition.name}** is on its way."
        extra = " Your earlier run was cancelled." if armed.replaced else ""
        await reply(interaction, f"{text}\nResults in this channel {when}.{extra}")
        return
    if armed.outcome == "full":
        lead = f"You already have {MAX_STACK} runs of **{definition.name}** waiting, the most there can be"
    else:
        lead = f"You already have **{definition.name}** running"
    view = discord.ui.View(timeout=None)
    view.add_item(CancelTaskButton("p", job_suffix(armed.job_id, guild_id)))
    await interaction.followup.send(f"{lead}: the next one ends {when}.", view=view, ephemeral=True)


# --- the cog ----------------------------------------------------------------------------------


class CustomActionsCog(commands.Cog, name="CustomActions"):
    action = app_commands.Group(name="action", description="Custom Actions", guild_only=True)

    def __init__(self, bot: GameBot) -> None:
        self.bot = bot
        self.actions = CustomActions(bot.temporal, bot.settings.temporal_task_queue, bot.jobs)
        # Minutes typed in the schedule modal are multiplied by this; only end-to-end tests shrink it.
        self.time_unit = timedelta(minutes=1)

    async def not_for_host(
        self, interaction: discord.Interaction[GameBot], definition: ActionDefinition, guild_id: int
    ) -> str | None:
        """Why a scheduled or repeated run would not run now for the host scheduling it (it runs
        for them, as the original's did), or None: checked now, so they hear it now rather than
        read it in a public post at the deadline."""
        roles = [role.id for role in getattr(interaction.user, "roles", [])]
        checked = await in_time(
            self.actions.check(definition, guild_id=guild_id, user_id=interaction.user.id, role_ids=roles)
        )
        if checked.met:
            return None
        why = checked.blocks[0].text if checked.blocks else "its condition is not met for you."
        return (
            f"a scheduled run of **{definition.name}** runs for you, the host who schedules it, "
            f"and right now it would not run for you. {why}"
        )

    async def _edit(
        self, interaction: discord.Interaction[GameBot], name: str, change: Any, done: str
    ) -> None:
        guild_id = await require_host(interaction, "edit custom actions")
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await in_time(self.actions.find(guild_id, name))
        definition = await in_time(self.actions.edit(guild_id, found.id, change))
        await interaction.followup.send(done, ephemeral=True)
        await interaction.followup.send(
            view=await render_editor(self.bot, definition, guild_id), ephemeral=True
        )

    @action.command(name="create", description="Create a custom action (hosts)")
    @app_commands.describe(name="What players see it called, like Treasure hunt")
    async def create(self, interaction: discord.Interaction[GameBot], name: str) -> None:
        guild_id = await require_host(interaction, "create custom actions")
        await interaction.response.defer(ephemeral=True, thinking=True)
        definition = await in_time(self.actions.create(guild_id, name, by=interaction.user.id))
        await interaction.followup.send(
            view=await render_editor(self.bot, definition, guild_id), ephemeral=True
        )

    @action.command(name="edit", description="Open a custom action's editor (hosts)")
    @app_commands.describe(action="The custom action: its name or id (`/action list`)")
    async def edit(self, interaction: discord.Interaction[GameBot], action: str) -> None:
        guild_id = await require_host(interaction, "edit custom actions")
        await interaction.response.defer(ephemeral=True, thinking=True)
        definition = await in_time(self.actions.find(guild_id, action))
        await interaction.followup.send(
            view=await render_editor(self.bot, definition, guild_id), ephemeral=True
        )

    @action.command(name="list", description="This server's custom actions")
    async def list_actions(self, interaction: discord.Interaction[GameBot]) -> None:
        guild_id = require_guild(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        if await self.bot.hosts.is_host(interaction):  # with the select that opens an editor
            await interaction.followup.send(view=await render_menu(self.bot, guild_id), ephemeral=True)
            return
        found = await in_time(self.actions.all(guild_id))
        lines = [action_line(d) for d in found]
        await reply(
            interaction, "\n".join(lines)[:1900] if lines else "This server has no custom actions yet."
        )

    @action.command(name="delete", description="Delete a custom action (hosts)")
    @app_commands.describe(action="The custom action: its name or id (`/action list`)")
    async def delete(self, interaction: discord.Interaction[GameBot], action: str) -> None:
        guild_id = await require_host(interaction, "delete custom actions")
        await interaction.response.defer(ephemeral=True, thinking=True)
        found = await in_time(self.actions.find(guild_id, action))
        await in_time(self.actions.delete(guild_id, found.id))
        await reply(interaction, f"🗑️ Deleted **{found.name}**. Its scheduled tasks will end without posting.")

    @action.command(name="add-text", description="Add a text outcome (hosts)")
    @app_commands.describe(
        action="The custom action: its name or id (`/action list`)", text="What it posts when it runs"
    )
    async def add_text(self, interaction: discord.Interaction[GameBot], action: str, text: str) -> None:
        await self._edit(interaction, action, lambda d: _append(d, TextOutcome(text=text)), "Added the text.")

    @action.command(name="add-card", description="Add a Components V2 card outcome (hosts)")
    @app_commands.describe(
        action="The custom action: its name or id (`/action list`)",
        title="The card's heading",
        body="The card's text (optional)",
    )
    async def add_card(
        self, interaction: discord.Interaction[GameBot], action: str, title: str, body: str = ""
    ) -> None:
        await self._edit(
            interaction, action, lambda d: _append(d, CardOutcome(title=title, body=body)), "Added the card."
        )

    @action.command(
        name="add-currency", description="Give (positive) or take (negative) Safari currency (hosts)"
    )
    @app_commands.describe(
        action="The custom action: its name or id (`/action list`)",
        amount="Currency each run gives (positive) or takes (negative)",
    )
    async def add_currency(self, interaction: discord.Interaction[GameBot], action: str, amount: int) -> None:
        await self._edit(
            interaction,
            action,
            lambda d: _append(d, CurrencyOutcome(amount=amount)),
            "Added the currency change.",
        )

    @action.command(name="clear-outcomes", description="Remove every outcome (hosts)")
    @app_commands.describe(action="The custom action: its name or id (`/action list`)")
    async def clear_outcomes(self, interaction: discord.Interaction[GameBot], action: str) -> None:
        await self._edit(
            interaction, action, lambda d: d.model_copy(update={"outcomes": []}), "Outcomes cleared."
        )

    @action.command(name="condition", description="Who may run it: a role and/or a minimum balance (hosts)")
    @app_commands.describe(
        action="The custom action: its name or id (`/action list`)",
        role="Only members with this role may run it",
        min_balance="Only players with at least this much Safari currency may run it",
        not_met_text="What a member who may not run it is told",
    )
    async def condition(
        self,
        interaction: discord.Interaction[GameBot],
        action: str,
        role: discord.Role | None = None,
        min_balance: app_commands.Range[int, 0, 1_000_000] | None = None,
        not_met_text: str = "",
    ) -> None:
        condition = (
            checked(
                lambda: Condition(
                    role_id=role.id if role else None, min_balance=min_balance, not_met_text=not_met_text
                )
            )
            if role or min_balance is not None
            else None
        )
        await self._edit(
            interaction, action, lambda d: d.model_copy(update={"condition": condition}), "Condition saved."
        )

    @action.command(
        name="delayed", description="Arm the action when a player runs it (hosts; 0 minutes: off)"
    )
    @app_commands.describe(
        action="The custom action: its name or id (`/action list`)",
        minutes="Minutes from a player's run to its result, at most 30 days; 0 turns the delay off",
        policy="A player who runs it again while it is armed: block, replace the waiting run, or stack",
        text="Shown to the player when it is armed",
    )
    async def delayed(
        self,
        interaction: discord.Interaction[GameBot],
        action: str,
        minutes: app_commands.Range[int, 0, 43_200],
        policy: Literal["block", "replace", "stack"] = "block",
        text: str = "",
    ) -> None:
        delayed = (
            checked(lambda: Delayed(delay=minutes * self.time_unit, policy=policy, armed_text=text))
            if minutes
            else None
        )
        await self._edit(
            interaction, action, lambda d: d.model_copy(update={"delayed": delayed}), "Delay saved."
        )

    @action.command(
        name="repeat", description="Run a custom action again and again, like a repeated post (hosts)"
    )
    @app_commands.describe(
        action="The custom action",
        name="A short name for the repeat, to pause, skip or end it with /schedule repeat",
        every="`every day at 09:00`, `every Friday 20:00`, `every 2h`",
        starts="The first run, like 20:00 or Friday 8pm; `every 2h` counts from it (optional)",
        times="Stop after this many runs (optional)",
        until="Or stop after this time, like `2026-12-24 18:00` (optional)",
    )
    async def repeat(
        self,
        interaction: discord.Interaction[GameBot],
        action: str,
        name: str,
        every: str,
        starts: str = "",
        times: app_commands.Range[int, 1, 1000] | None = None,
        until: str = "",
    ) -> None:
        guild_id = await require_host(interaction, "repeat custom actions")
        await interaction.response.defer(ephemeral=True, thinking=True)
        bot, by = self.bot, interaction.user.id
        definition = await in_time(self.actions.find(guild_id, action))
        channel_id = definition.trigger.channel_id or interaction.channel_id
        assert channel_id is not None
        guild = interaction.guild
        refused = webhook_refusal(guild.get_channel(channel_id) if guild else None, f"<#{channel_id}>")
        if refused:
            await reply(interaction, f"Nothing was repeated. {refused}")
            return
        not_for_host = await self.not_for_host(interaction, definition, guild_id)
        if not_for_host:
            await reply(interaction, f"Nothing was repeated: {not_for_host}")
            return
        zone = await in_time(bot.time_zones.for_user(guild_id, by))
        try:
            now = bot.jobs.now()
            first = parse_when(starts, zone, now, maximum=MAX_DELAY) if starts.strip() else None
            ends = parse_when(until, zone, now, maximum=MAX_DELAY) if until.strip() else None
            info = await in_time(
                bot.repeats.create(
                    name,
                    every,
                    zone=zone,
                    guild_id=guild_id,
                    channel_id=channel_id,
                    scheduled_by=by,
                    action=EXECUTE_CUSTOM_ACTION,
                    payload=run_payload(definition, guild_id, channel_id, by, "host"),
                    description=description_for(definition.name),
                    until=ends,
                    count=times,
                    first=first,
                    names=names_of(interaction, guild.get_channel(channel_id) if guild else None),
                )
            )
        except (SchedulingError, TimeError) as err:
            await reply(interaction, f"Nothing was repeated: {err}")
            return
        nxt = f"next {discord_time(info.next_times[0])}" if info.next_times else "no time left"
        await reply(
            interaction,
            f"🔁 **{definition.name}** runs in <#{channel_id}> {info.every} ({info.zone}); {nxt}.\n"
            f"Pause, skip, change or end it with `/schedule repeat name:{info.name}`.",
        )

    @action.command(name="run", description="Run a custom action")
    @app_commands.describe(action="The custom action: its name or id (`/action list`)")
    async def run(self, interaction: discord.Interaction[GameBot], action: str) -> None:
        await run_action(interaction, None, action)

    @action.command(name="post", description="Post a button that runs a custom action (hosts)")
    @app_commands.describe(action="The custom action: its name or id (`/action list`)")
    async def post(self, interaction: discord.Interaction[GameBot], action: str) -> None:
        guild_id = await require_host(interaction, "post custom actions")
        await interaction.response.defer(thinking=True)
        found = await in_time(self.actions.find(guild_id, action))
        view = discord.ui.View(timeout=None)
        view.add_item(RunButton(found.id, found.name))
        await interaction.followup.send(f"▶️ **{found.name}**", view=view)

    async def submit_schedule(self, interaction: discord.Interaction[GameBot], action_id: str) -> None:
        guild_id = await require_host(interaction, "schedule custom actions")
        data: Mapping[str, Any] = interaction.data or {}
        values = modal_values(data.get("components") or [])
        # The member's zone is read from a store: acknowledge first.
        await interaction.response.defer()
        try:
            wait = await typed_wait(interaction, values, maximum=MAX_SCHEDULE)
        except TimeError as err:
            await reply(interaction, f"Nothing was scheduled. {err}")
            return
        definition = await in_time(self.actions.require(guild_id, action_id))
        channel_id = definition.trigger.channel_id
        if channel_id is None:
            await reply(interaction, "Nothing was scheduled: pick a channel first.")
            return
        guild = interaction.guild
        refused = webhook_refusal(guild.get_channel(channel_id) if guild else None, f"<#{channel_id}>")
        if refused:
            await reply(interaction, f"Nothing was scheduled. {refused}")
            return
        not_for_host = await self.not_for_host(interaction, definition, guild_id)
        if not_for_host:
            await reply(interaction, f"Nothing was scheduled: {not_for_host}")
            return
        delay = wait / timedelta(minutes=1) * self.time_unit
        task = await self.actions.schedule(
            definition,
            guild_id=guild_id,
            channel_id=channel_id,
            by=interaction.user.id,
            delay=delay,
            names=names_of(interaction, guild.get_channel(channel_id) if guild else None),
        )
        new = JobSummary(
            job_id=task.job_id,
            action="execute_custom_action",
            guild_id=guild_id,
            channel_id=channel_id,
            deadline=task.deadline,
            scheduled_by=interaction.user.id,
            key=job_suffix(task.job_id, guild_id),
            description="",
        )
        await interaction.edit_original_response(
            view=await render_editor(self.bot, definition, guild_id, include=[new])
        )
        when = f"{discord.utils.format_dt(task.deadline, 'F')} ({remaining_text(task.deadline, utcnow())})"
        await interaction.followup.send(
            f"⏰ **{definition.name}** will run in <#{channel_id}> on {when}.",
            ephemeral=True,
        )


def _append(
    definition: ActionDefinition, outcome: TextOutcome | CardOutcome | CurrencyOutcome
) -> ActionDefinition:
    if len(definition.outcomes) >= MAX_OUTCOMES:
        raise CustomActionError(
            f"**{definition.name}** already has {MAX_OUTCOMES} outcomes, the most an action can have."
        )
    return definition.model_copy(update={"outcomes": [*definition.outcomes, outcome]})


async def setup(bot: GameBot) -> None:
    bot.add_dynamic_items(
        TriggerSelect,
        ChannelPick,
        ScheduleTaskButton,
        CancelTaskButton,
        EarlierCancelTaskButton,
        RunButton,
        BackButton,
        OpenActionSelect,
    )
    cog = CustomActionsCog(bot)
    bot.modals.add(SCHEDULE_MODAL, cog.submit_schedule)
    await bot.add_cog(cog)
