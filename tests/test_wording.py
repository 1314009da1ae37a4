"""One message style for refusals: pydantic's complaints reach users in our words (first_error),
and the check every bot test runs (tests/support/wording.py) catches library text, patterns and
registered names in anything the bot shows."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import pytest
from pydantic import BaseModel, Field, ValidationError

from tests.support.wording import offences, shown_texts, why_not_for_users
from workflows.challenges_models import KEY_PATTERN
from workflows.common import Snowflake, first_error


class Everything(BaseModel):
    delay: timedelta = Field(default=timedelta(minutes=5), ge=timedelta(minutes=1))
    key: str = Field(default="ok", pattern=KEY_PATTERN)
    actions: list[int] = Field(default=[1], min_length=1, max_length=3)
    policy: Literal["block", "replace"] = "block"
    name: str = Field(default="x", min_length=1, max_length=3)
    count: int = Field(default=1, ge=0, le=10)
    when: timedelta = timedelta(0)
    who: Snowflake = 1
    needed: int


CASES = [
    ({"delay": timedelta(seconds=-5)}, "delay: must be at least 1 minute"),
    ({"key": "a b"}, "key: may use only letters, digits, _, ., : and - (1 to 60 characters)"),
    ({"actions": []}, "actions: needs at least 1 item"),
    ({"actions": [1, 2, 3, 4]}, "actions: takes at most 3 items"),
    ({"policy": "x"}, "policy: must be 'block' or 'replace'"),
    ({"name": ""}, "name: must not be empty"),
    ({"name": "abcd"}, "name: must be at most 3 characters long"),
    ({"count": "many"}, "count: must be a whole number"),
    ({"count": 11}, "count: must be at most 10"),
    ({"when": "soon"}, "when: must be a duration, like 90m"),
    ({"who": "05"}, "who: a Discord id is a whole number written in digits, not '05'"),
    ({}, "needed: is required"),
]


@pytest.mark.parametrize(("given", "said"), CASES)
def test_pydantic_complaints_in_our_words(given: dict[str, object], said: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Everything.model_validate({"needed": 1, **given} if given else {})
    assert first_error(refused.value) == said
    assert why_not_for_users(said) is None


def test_a_position_in_a_list_is_counted_from_one() -> None:
    class Round(BaseModel):
        after: timedelta

    class Plan(BaseModel):
        rounds: list[Round]

    with pytest.raises(ValidationError) as refused:
        Plan.model_validate({"rounds": [{"after": 60}, {}]})
    assert first_error(refused.value) == "rounds #2 after: is required"


@pytest.mark.parametrize(
    "text",
    [
        "delay: Input should be greater than or equal to 1 minute",
        "String should match pattern '^[A-Za-z0-9_.:-]{1,60}$'",
        "1 validation error for Delayed",
        "round 1: actions: List should have at least 1 item after validation, not 0",
        "**Safari** · `process_round_results` in <#1>",
        "🟢 `health_probe_discord`: answered in 80 ms",
        "no such ScheduledJob",
    ],
)
def test_the_check_catches_text_not_written_for_users(text: str) -> None:
    assert why_not_for_users(text) is not None


def test_the_check_reads_every_shown_text_of_a_request() -> None:
    body = {
        "type": 4,
        "data": {
            "flags": 1 << 15,
            "components": [
                {"type": 10, "content": "fine"},
                {
                    "type": 1,
                    "components": [{"type": 2, "label": "send_reminder", "custom_id": "x:^[a]{1,2}"}],
                },
            ],
        },
    }
    # The custom id is for the bot, not for people; the label is shown.
    assert list(shown_texts(body)) == ["fine", "send_reminder"]
    [found] = offences([("POST", "/interactions/1/t/callback", body)])
    assert "registered name" in found.why
