"""The bot's metric labels: bounded by what the code names, never by ids or user input."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from bot.metrics import command_of


def interaction(custom_id: str | None = None, command: str | None = None) -> Any:
    return SimpleNamespace(
        command=SimpleNamespace(qualified_name=command) if command else None,
        data={"custom_id": custom_id} if custom_id is not None else {},
    )


@pytest.mark.parametrize(
    ("custom_id", "label"),
    [
        ("safari:join", "safari:join"),
        ("whisper:reply:1200000000000000102", "whisper:reply"),
        ("ca:trigger:a1b2c3", "ca:trigger"),
        ("ca:trigger:my-action:extra", "ca:trigger"),
        ("jc:p3:0f1e2d3c:suffix", "jc"),
        ("jobs:page:2:next", "jobs:page"),
        ("", "other"),
        ("42:x", "other"),
    ],
)
def test_a_component_is_labelled_by_its_custom_id_s_first_words(custom_id: str, label: str) -> None:
    assert command_of(interaction(custom_id)) == label


def test_a_slash_command_is_labelled_by_its_name() -> None:
    assert command_of(interaction(command="safari schedule")) == "/safari schedule"
