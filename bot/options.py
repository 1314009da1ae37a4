"""A slash command's options checked as Discord checks them, before discord.py reads them.

Discord sends each option as its declared type (an attachment as the id of an uploaded file,
a number within its range, one of its choices), and discord.py trusts that: an attachment sent
as text raises inside discord.py, where nothing answers the user, and a value out of range
reaches the handler as if Discord had checked it. `GameTree.interaction_check` calls
`option_problem` first, so such a command is answered with what was wrong and runs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import discord
from discord import app_commands
from discord.enums import AppCommandOptionType as Kind

SUBCOMMAND, GROUP = 1, 2
# Where Discord puts the object a snowflake option names.
RESOLVED = {
    Kind.user: ("users",),
    Kind.channel: ("channels",),
    Kind.role: ("roles",),
    Kind.mentionable: ("users", "roles"),
    Kind.attachment: ("attachments",),
}
WHAT = {
    Kind.string: "text",
    Kind.integer: "a whole number",
    Kind.number: "a number",
    Kind.boolean: "true or false",
    Kind.user: "a member",
    Kind.channel: "a channel",
    Kind.role: "a role",
    Kind.mentionable: "a member or a role",
    Kind.attachment: "an uploaded file",
}


class UnreadableOptions(app_commands.AppCommandError):
    """A command whose options are not what Discord sends; the message says which and why."""


def leaf_options(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The options of the subcommand that was run (below its groups)."""
    options: list[Mapping[str, Any]] = list(data.get("options") or [])
    while len(options) == 1 and options[0].get("type") in (SUBCOMMAND, GROUP):
        options = list(options[0].get("options") or [])
    return options


def _fits(kind: Kind, value: Any, resolved: Mapping[str, Any]) -> bool:
    if kind is Kind.string:
        return isinstance(value, str)
    if kind is Kind.integer:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is Kind.number:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is Kind.boolean:
        return isinstance(value, bool)
    if not (isinstance(value, str) and value.isascii() and value.isdigit()):
        return False
    return any(value in (resolved.get(place) or {}) for place in RESOLVED.get(kind, ()))


def _limits(parameter: app_commands.Parameter, value: Any) -> str | None:
    low, high = parameter.min_value, parameter.max_value
    if parameter.type is Kind.string:
        size = len(value)
        if low is not None and high is not None and not low <= size <= high:
            return f"must be {low} to {high} characters long"
        if low is not None and size < low:
            return f"must be at least {low} characters long"
        if high is not None and size > high:
            return f"must be at most {high} characters long"
        return None
    below, above = low is not None and value < low, high is not None and value > high
    if parameter.type in (Kind.integer, Kind.number) and (below or above):
        if low is not None and high is not None:
            return f"must be from {low} to {high}"
        return f"must be at least {low}" if below else f"must be at most {high}"
    return None


def option_problem(command: app_commands.Command[Any, ..., Any], data: Mapping[str, Any]) -> str | None:
    """What in these options Discord would never send for `command`, in words; None if nothing."""
    parameters = {parameter.display_name: parameter for parameter in command.parameters}
    resolved: Mapping[str, Any] = data.get("resolved") or {}
    given: set[str] = set()
    for option in leaf_options(data):
        name = str(option.get("name"))
        parameter = parameters.get(name)
        if parameter is None:
            return f"this command has no option called {name[:40]!r}"
        given.add(name)
        value = option.get("value")
        if option.get("type") != parameter.type.value or not _fits(parameter.type, value, resolved):
            return f"**{name}** must be {WHAT.get(parameter.type, 'something else')}"
        limit = _limits(parameter, value)
        if limit:
            # The option's description says what the range means ("0 turns the delay off").
            return f"**{name}** {limit} ({parameter.description.rstrip('.')})"
        choices: Sequence[app_commands.Choice[Any]] = parameter.choices
        if choices and not parameter.autocomplete and all(choice.value != value for choice in choices):
            allowed = ", ".join(str(choice.name) for choice in choices)
            return f"**{name}** must be one of: {allowed}"
    missing = [name for name, parameter in parameters.items() if parameter.required and name not in given]
    if missing:
        return f"**{missing[0]}** is required"
    return None


def check_options(interaction: discord.Interaction[Any]) -> None:
    """UnreadableOptions for a slash command whose options Discord would not have sent."""
    if interaction.type is not discord.InteractionType.application_command:
        return
    command = interaction.command
    data: Mapping[str, Any] = interaction.data or {}
    if not isinstance(command, app_commands.Command) or data.get("type", 1) != 1:
        return  # unknown commands and context menus: discord.py answers them through on_error
    problem = option_problem(command, data)
    if problem is not None:
        raise UnreadableOptions(f"Nothing was done: {problem}. Please run the command again.")
