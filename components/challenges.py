"""The custom ids of the challenge creation modal."""

from __future__ import annotations

from components.custom_ids import CustomId

CREATE_MODAL = CustomId("challenge:create")
# The modal's inputs: a modal opened before a restart comes back with these.
KEY_FIELD, TITLE_FIELD, ROUNDS_FIELD, REMINDERS_FIELD = "key", "title", "rounds", "reminders"
