"""Custom ids are a contract: a button stays on a message for years, a modal may be submitted
after a restart. Every id format ever posted is written out literally below, and must be built,
parsed and answered exactly as before; nothing outside components/ writes a custom id."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from typing import Any, cast

import discord
import pytest
from temporalio.client import Client

import components
from bot.app import FEATURES, GameBot
from bot.persistent import PersistentItem
from components import challenges, custom_actions, jobs, safari, seasons, whispers
from components.custom_ids import CustomId, Field
from tests.support.bot_harness import bot_settings

ROOT = Path(__file__).resolve().parents[1]
ACTION = "a0123456789"
RUN = "0123abcd"
WHISPER = "whisper-1111-2222-0123456789abcdef"
TURN = "turn-1111-1767225600-g0-s1-o2"

# (definition, an id exactly as posted, the values it carries)
CONTRACT: list[tuple[CustomId, str, dict[str, Any]]] = [
    (jobs.PAGE_BUTTON, "jobs:page:0:next", {"page": 0, "direction": "next"}),
    (jobs.PAGE_BUTTON, "jobs:page:1234:refresh", {"page": 1234, "direction": "refresh"}),
    (
        jobs.CANCEL_JOB,
        f"jc:d0:{RUN}:safari-round-1",
        {"view": "d", "page": 0, "run": RUN, "suffix": "safari-round-1"},
    ),
    (jobs.CANCEL_JOB, "jc:s12::reminder.42", {"view": "s", "page": 12, "run": "", "suffix": "reminder.42"}),
    (
        jobs.HISTORY_PAGE,
        "jh:n2:failed:987654321098765432:post_message",
        {
            "direction": "n",
            "page": 2,
            "outcome": "failed",
            "channel": "987654321098765432",
            "action": "post_message",
        },
    ),
    (
        jobs.HISTORY_PAGE,
        "jh:r0:::",
        {"direction": "r", "page": 0, "outcome": "", "channel": "", "action": ""},
    ),
    (jobs.RETRY_JOB, f"jr:{RUN}:safari-round-1", {"run": RUN, "suffix": "safari-round-1"}),
    (
        jobs.EARLIER_CANCEL_JOB,
        "jobs:cancel:d:2:safari-round-3",
        {"view": "d", "page": 2, "suffix": "safari-round-3"},
    ),
    (jobs.STEER_SELECT, "jss:3", {"page": 3}),
    (
        jobs.STEER_BUTTON,
        f"js:pause:{RUN}:safari-round-1",
        {"verb": "pause", "run": RUN, "suffix": "safari-round-1"},
    ),
    (
        jobs.STEER_BUTTON,
        f"js:resume:{RUN}:ca:{ACTION}:h1",
        {"verb": "resume", "run": RUN, "suffix": f"ca:{ACTION}:h1"},
    ),
    (jobs.STEER_MODAL, f"jsm:shift:{RUN}:post.7", {"verb": "shift", "run": RUN, "suffix": "post.7"}),
    (jobs.STEER_OPEN, f"jso:{RUN}:safari-round-2", {"run": RUN, "suffix": "safari-round-2"}),
    (safari.SCHEDULE_BUTTON, "safari:schedule", {}),
    (safari.JOIN_BUTTON, "safari:join", {}),
    (safari.STATUS_BUTTON, "safari:status", {}),
    (safari.REFRESH_BUTTON, "safari:refresh", {}),
    (safari.MANAGE_BUTTON, "safari:manage", {}),
    (safari.SCHEDULE_MODAL, "safari:schedule-modal", {}),
    (challenges.CREATE_MODAL, "challenge:create", {}),
    (custom_actions.TRIGGER_SELECT, f"ca:trigger:{ACTION}", {"action_id": ACTION}),
    (custom_actions.CHANNEL_SELECT, f"ca:channel:{ACTION}", {"action_id": ACTION}),
    (custom_actions.SCHEDULE_BUTTON, f"ca:schedule:{ACTION}", {"action_id": ACTION}),
    (custom_actions.RUN_BUTTON, f"ca:run:{ACTION}", {"action_id": ACTION}),
    (custom_actions.BACK_BUTTON, "ca:back", {}),
    (custom_actions.OPEN_SELECT, "ca:open", {}),
    (custom_actions.SCHEDULE_MODAL, f"ca:schedule-modal:{ACTION}", {"action_id": ACTION}),
    (
        custom_actions.CANCEL_TASK,
        f"cac:e:{RUN}:ca:{ACTION}:h0123456789",
        {"mode": "e", "run": RUN, "suffix": f"ca:{ACTION}:h0123456789"},
    ),
    (
        custom_actions.CANCEL_TASK,
        f"cac:p::ca:{ACTION}:3333:2",
        {"mode": "p", "run": "", "suffix": f"ca:{ACTION}:3333:2"},
    ),
    (
        custom_actions.EARLIER_CANCEL_TASK,
        f"ca:cancel:p:ca:{ACTION}:3333:1",
        {"mode": "p", "suffix": f"ca:{ACTION}:3333:1"},
    ),
    (whispers.PICK_SELECT, "whisper:pick", {}),
    (whispers.READ_BUTTON, f"whisper:read:{WHISPER}", {"whisper_id": WHISPER}),
    (whispers.REPLY_BUTTON, "whisper:reply:2222", {"user_id": 2222}),
    (whispers.UNSEND_BUTTON, f"whisper:unsend:{WHISPER}", {"whisper_id": WHISPER}),
    (whispers.SEND_MODAL, "whisper:send:3333", {"recipient_id": 3333}),
    (seasons.JOIN_BUTTON, "season:join", {}),
    (seasons.CLAIM_BUTTON, f"season:claim:{TURN}", {"turn_id": TURN}),
    (seasons.SUBMIT_BUTTON, f"season:submit:{TURN}:drawing", {"turn_id": TURN, "kind": "drawing"}),
    (seasons.SUBMIT_MODAL, f"season:modal:{TURN}:writing", {"turn_id": TURN, "kind": "writing"}),
]


def definitions() -> dict[str, CustomId]:
    """Every CustomId that components/ defines, by `module.NAME`."""
    found: dict[str, CustomId] = {}
    for module_info in pkgutil.iter_modules(components.__path__):
        module = importlib.import_module(f"components.{module_info.name}")
        for name, value in vars(module).items():
            if isinstance(value, CustomId):
                found[f"{module_info.name}.{name}"] = value
    return found


def test_every_definition_is_in_the_contract() -> None:
    listed = {id(definition) for definition, _, _ in CONTRACT}
    assert [name for name, d in definitions().items() if id(d) not in listed] == []


@pytest.mark.parametrize(("definition", "posted", "values"), CONTRACT, ids=[c[1] for c in CONTRACT])
def test_an_id_in_its_posted_format_is_built_and_parsed_back(
    definition: CustomId, posted: str, values: dict[str, Any]
) -> None:
    assert definition.build(**values) == posted
    assert definition.match(posted) == values
    # ...and by no other definition: one click, one answer.
    assert [d for d in definitions().values() if d is not definition and d.match(posted) is not None] == []


def test_modal_inputs_keep_their_ids() -> None:
    """A modal opened before a restart comes back with its inputs under these ids."""
    assert (safari.HOURS_FIELD, safari.MINUTES_FIELD) == ("hours", "minutes")
    assert (custom_actions.DAYS_FIELD, custom_actions.HOURS_FIELD, custom_actions.MINUTES_FIELD) == (
        "days",
        "hours",
        "minutes",
    )
    assert (challenges.KEY_FIELD, challenges.TITLE_FIELD) == ("key", "title")
    assert (challenges.ROUNDS_FIELD, challenges.REMINDERS_FIELD) == ("rounds", "reminders")
    assert (whispers.TEXT_FIELD, seasons.TEXT_FIELD, seasons.IMAGE_FIELD) == ("text", "text", "image")


def test_a_value_the_template_would_not_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="whisper_id"):
        whispers.READ_BUTTON.build(whisper_id="job-1-abc")
    with pytest.raises(ValueError, match="needs turn_id"):
        seasons.CLAIM_BUTTON.build()
    with pytest.raises(ValueError, match="100"):
        CustomId("x:{rest}", rest=Field(".*")).build(rest="y" * 99)
    assert jobs.CANCEL_JOB.match(f"jc:d0:{RUN}x:k") is None  # a run is 8 hex digits or nothing
    with pytest.raises(ValueError, match="used once"):
        CustomId("x:{a}:{a}", a=Field("[a-z]"))
    with pytest.raises(ValueError, match="does not use"):
        CustomId("x:{a}", a=Field("[a-z]"), b=Field("[a-z]"))


# --- what the bot answers ----------------------------------------------------------------------


async def loaded_bot() -> tuple[GameBot, list[type[discord.ui.DynamicItem[Any]]]]:
    """The bot with every feature loaded (never started: nothing to close), and its DynamicItems."""
    bot = GameBot(bot_settings("custom-ids"), cast(Client, None), shard_count=1)
    registered: dict[type[discord.ui.DynamicItem[Any]], None] = {}  # two listings share Cancel
    bot.add_dynamic_items = lambda *items: registered.update(dict.fromkeys(items))  # type: ignore[method-assign]
    for feature in FEATURES:
        await bot.load_extension(feature)
    return bot, list(registered)


async def test_every_posted_id_is_answered_by_one_item_or_modal_handler_as_before() -> None:
    bot, registered = await loaded_bot()
    assert all(issubclass(item, PersistentItem) for item in registered)
    items = cast(list[type[PersistentItem[Any]]], registered)
    for definition, posted, values in CONTRACT:
        answering = [item for item in items if item.__discord_ui_compiled_template__.fullmatch(posted)]
        route = bot.modals.find(posted)
        assert len(answering) + (route is not None) == 1, posted
        if route is not None:
            handler, carried = route
            assert carried == values
            inspect.signature(handler).bind(None, **carried)  # the handler takes what the id carries
            continue
        [item_class] = answering
        assert item_class.custom is definition
        match = re.fullmatch(definition.template, posted)
        assert match is not None
        # What discord.py does on a click: the item rebuilt from the id carries the same id.
        item = await item_class.from_custom_id(cast(Any, None), cast(Any, None), match)
        assert item.custom_id == posted


# --- nothing else writes one --------------------------------------------------------------------


def written_custom_ids(path: Path) -> list[str]:
    """`custom_id=` given a string literal or an f-string."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword)
        and node.arg == "custom_id"
        and isinstance(node.value, ast.Constant | ast.JoinedStr)
    ]


def test_nothing_outside_components_writes_a_custom_id() -> None:
    layers = ("bot", "workflows", "activities", "clients")
    paths = [path for layer in layers for path in sorted((ROOT / layer).rglob("*.py"))]
    assert [hit for path in paths for hit in written_custom_ids(path)] == []
