"""Text a user types that must say something is refused, in words, when it shows nothing: every
entry that takes such text, with every kind of text that draws no character, and nothing started
(the clients are given a Temporal client that fails the test if it is touched)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, cast

import pytest
from temporalio.client import Client

from clients.challenges import Challenges, parse_rounds, rounds_from_json
from clients.custom_actions import CustomActions, parse_definition
from clients.jobs import Jobs
from clients.repeats import Repeats
from clients.whispers import Whispers
from tests.support.whispers import whisper_seal
from workflows.challenges_models import RoundSpec
from workflows.common import UserError, has_visible
from workflows.jobs_actions import POST_MESSAGE
from workflows.seasons_models import Submission

GUILD, CHANNEL, HOST, PLAYER = 1001, 2002, 3003, 4004
ACTION_ID = "a0123456789"

# Each kind of text that shows nothing.
INVISIBLE = {
    "spaces and line breaks": " \t\n \u3000",
    "zero-width space, joiner and non-joiner": "\u200b\u200c\u200d",
    "word joiner and byte-order mark": "\u2060\ufeff",
    "other format characters": "\u00ad\u202e\u2066",
    "control characters": "\x07\x1b",
    "combining marks alone": "\u0301\u0308\u20dd",
    "Hangul fillers": "\u3164\u115f\u1160\uffa0",
    "braille blank": "\u2800",
    "a mix": " \u200b\u3164\u2800\u0301 ",
}
# Texts that may be left out: spaces alone are taken as leaving them out.
OPTIONAL = {"card's text", "'not met' text", "round's message (typed)"}
# How an entry that took spaces off before this check refuses a blank text.
BLANK = ("the action needs a name", "a text outcome needs some text", "Your writing is empty")
SHOWN = ["Café au lait", "🦁 Safari!", "👩‍👩‍👧", "e\u0301", "1️⃣", "日本語", "\u3164a"]


class Untouchable:
    """A Temporal client no refusal may reach: any use fails the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the Temporal client was used ({name}) for a refused input")


NO_CLIENT = cast(Client, Untouchable())


def action(**fields: Any) -> dict[str, Any]:
    return {"id": ACTION_ID, "name": "Expedition", "created_by": HOST} | fields


async def chain(title: str = "Photo hunt", plan: object = None) -> object:
    rounds, _ = rounds_from_json(json.dumps(plan or [round_(name="Round 1")]).encode())
    return await Challenges(NO_CLIENT, "q").create(
        key="hunt", title=title, guild_id=GUILD, channel_id=CHANNEL, host_id=HOST, rounds=rounds
    )


def round_(name: str = "Round 1", content: str = "Go!") -> dict[str, Any]:
    return {
        "name": name,
        "after": 1800,
        "actions": [{"action": POST_MESSAGE, "payload": {"content": content}}],
    }


async def sync(call: Callable[[], object]) -> object:
    return call()


def post(content: str, reminder: str = "10m") -> Awaitable[object]:
    return Jobs(NO_CLIENT, "q").schedule(
        POST_MESSAGE,
        {"content": content},
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        delay=timedelta(hours=1),
        reminders=[{"offset": timedelta(minutes=10), "message": reminder}],  # type: ignore[list-item]
    )


def repeat(content: str) -> Awaitable[object]:
    return Repeats(NO_CLIENT, "q").create(
        "news",
        "every day at 09:00",
        zone="UTC",
        guild_id=GUILD,
        channel_id=CHANNEL,
        scheduled_by=HOST,
        action=POST_MESSAGE,
        payload={"content": content},
    )


def whisper(text: str) -> Awaitable[object]:
    return Whispers(NO_CLIENT, "q", whisper_seal()).send(
        guild_id=GUILD, channel_id=CHANNEL, sender_id=PLAYER, recipient_id=HOST, text=text
    )


def writing(text: str) -> None:
    problem = Submission(kind="writing", text=text).problem()
    if problem is not None:
        raise UserError(problem)


# What each entry is called in its refusal, and how to give it a text.
ENTRIES: dict[str, tuple[str, Callable[[str], Awaitable[object]]]] = {
    "custom action's name": (
        "the name",
        lambda t: CustomActions(NO_CLIENT, "q").create(GUILD, t, by=HOST),
    ),
    "text outcome": (
        "the text",
        lambda t: sync(lambda: parse_definition(action(outcomes=[{"kind": "text", "text": t}]))),
    ),
    "card's title": (
        "the card's title",
        lambda t: sync(lambda: parse_definition(action(outcomes=[{"kind": "card", "title": t}]))),
    ),
    "card's text": (
        "the card's text",
        lambda t: sync(
            lambda: parse_definition(action(outcomes=[{"kind": "card", "title": "Map", "body": t}]))
        ),
    ),
    "'not met' text": (
        "the 'not met' text",
        lambda t: sync(lambda: parse_definition(action(condition={"min_balance": 5, "not_met_text": t}))),
    ),
    "text shown when armed": (
        "the text shown when it arms",
        lambda t: sync(lambda: parse_definition(action(delayed={"delay": 3600, "armed_text": t}))),
    ),
    "chain's title": ("the chain's title", lambda t: chain(title=t)),
    "round's name (plan)": ("the round's name", lambda t: chain(plan=[round_(name=t)])),
    "round's message (plan)": ("the message", lambda t: chain(plan=[round_(content=t)])),
    "round's message (typed)": ("the message", lambda t: sync(lambda: parse_rounds(f"30m Round 1 | {t}"))),
    "chain reminder's message": (
        "the reminder's message",
        lambda t: chain(plan=[round_() | {"reminders": [{"offset": 60, "message": t}]}]),
    ),
    "round added to a chain": (
        "the round's name",
        lambda t: Challenges(NO_CLIENT, "q").add_round(
            GUILD, "hunt", RoundSpec.model_validate(round_(name=t)), by=HOST
        ),
    ),
    "scheduled post": ("the message", lambda t: post(t)),
    "reminder's message": ("the reminder's message", lambda t: post("Results soon", reminder=t)),
    "repeated post": ("the message", repeat),
    "whisper": ("the whisper", whisper),
    "season writing": ("Your writing", lambda t: sync(lambda: writing(t))),
}


# An optional text left blank is no text (a typed round posts its default line): those pairs
# are not cases of text that shows nothing.
CASES = [
    (entry, kind)
    for entry in ENTRIES
    for kind in INVISIBLE
    if not (entry in OPTIONAL and not INVISIBLE[kind].strip())
]


@pytest.mark.parametrize(("entry", "kind"), CASES)
async def test_text_that_shows_nothing_is_refused_in_words(entry: str, kind: str) -> None:
    what, give = ENTRIES[entry]
    text = INVISIBLE[kind]
    with pytest.raises(UserError) as refused:
        await give(text)
    message = str(refused.value)
    if text.strip():
        assert f"{what} has no visible characters" in message, message
    else:  # spaces alone: refused as empty where an entry already said so
        assert any(words in message for words in (f"{what} has no visible", *BLANK)), message


@pytest.mark.parametrize("text", SHOWN)
def test_text_with_something_to_see_is_accepted(text: str) -> None:
    assert has_visible(text)
    definition = parse_definition(
        action(
            name=text,
            outcomes=[{"kind": "text", "text": text}, {"kind": "card", "title": text, "body": text}],
            condition={"min_balance": 5, "not_met_text": text},
        )
    )
    assert definition.name == text.strip()
    [parsed] = parse_rounds(f"30m {text} | {text}")
    assert parsed.name == text
    assert Submission(kind="writing", text=text).problem() is None


@pytest.mark.parametrize("kind", INVISIBLE)
def test_nothing_visible_is_told_apart(kind: str) -> None:
    assert not has_visible(INVISIBLE[kind])
