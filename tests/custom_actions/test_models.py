"""Custom Action definitions: validation a host sees as messages, and the pure evaluation."""

from __future__ import annotations

import pytest

from activities.custom_actions import FALLBACK_WEBHOOK_NAME, webhook_name
from clients.custom_actions import CustomActionError, parse_definition
from workflows.custom_actions_models import (
    MAX_OUTCOMES,
    NOT_IN_SAFARI,
    ActionDefinition,
    Block,
    Condition,
    CurrencyOutcome,
    Player,
    TextOutcome,
    evaluate,
)

BASE = {"id": "a0123456789", "created_by": 1}


def refusal(**fields: object) -> str:
    with pytest.raises(CustomActionError) as refused:
        parse_definition(BASE | fields)
    return str(refused.value)


def test_clear_messages_for_bad_definitions() -> None:
    assert refusal(name="   ") == "That action is not valid: name: the action needs a name"
    too_many = [{"kind": "text", "text": "x"}] * (MAX_OUTCOMES + 1)
    assert refusal(name="A", outcomes=too_many) == (
        "That action is not valid: outcomes: an action has at most 10 outcomes; this one has 11"
    )
    long_text = refusal(name="A", outcomes=[{"kind": "text", "text": "x" * 1801}])
    assert "the text is 1801 characters; Discord shows at most 1800" in long_text
    total = refusal(name="A", outcomes=[{"kind": "text", "text": "x" * 1800}] * 2)
    assert "add up to 3600 characters; one message shows at most 3000" in total
    assert "changes nothing" in refusal(name="A", outcomes=[{"kind": "currency", "amount": 0}])
    assert "at most 80 characters" in refusal(name="n" * 81)


def test_names_are_tidied() -> None:
    assert parse_definition(BASE | {"name": "  Big   Hunt "}).name == "Big Hunt"


def definition(**fields: object) -> ActionDefinition:
    return ActionDefinition.model_validate(BASE | {"name": "Hunt"} | fields)


def test_evaluation_applies_changes_in_order_clamped_at_zero() -> None:
    hunt = definition(
        outcomes=[CurrencyOutcome(amount=-30), TextOutcome(text="ouch"), CurrencyOutcome(amount=5)]
    )
    result = evaluate(hunt, Player(user_id=9, balance=20))

    assert result.met
    assert [(c.before, c.after) for c in result.changes] == [(20, 0), (0, 5)]
    assert [b.text for b in result.blocks] == [
        "🪙 lost 20 (balance 20 → **0**)",
        "ouch",
        "🪙 gained 5 (balance 0 → **5**)",
    ]


def test_conditions() -> None:
    gated = definition(
        condition=Condition(role_id=77, min_balance=10, not_met_text="Not yet."),
        outcomes=[TextOutcome(text="in")],
    )
    assert evaluate(gated, Player(user_id=9, role_ids=[77], balance=10)).met
    for player in (Player(user_id=9, role_ids=[], balance=50), Player(user_id=9, role_ids=[77], balance=9)):
        result = evaluate(gated, player)
        assert not result.met and result.blocks == [Block(text="Not yet.")]
    # Safari currency involved, player not in the Safari: told so, even with no "not met" text.
    outsider = evaluate(definition(outcomes=[CurrencyOutcome(amount=1)]), Player(user_id=9))
    assert not outsider.met and outsider.blocks == [Block(text=NOT_IN_SAFARI.format(name="Hunt"))]


def test_webhook_names_discord_would_refuse_fall_back() -> None:
    assert webhook_name("Treasure Hunt") == "Treasure Hunt"
    assert webhook_name("My Discord quest") == FALLBACK_WEBHOOK_NAME
    assert webhook_name("clyde's game") == FALLBACK_WEBHOOK_NAME
