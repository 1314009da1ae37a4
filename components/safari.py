"""The custom ids of the Safari panel's buttons and its scheduling modal."""

from __future__ import annotations

from components.custom_ids import CustomId

SCHEDULE_BUTTON = CustomId("safari:schedule")
JOIN_BUTTON = CustomId("safari:join")
STATUS_BUTTON = CustomId("safari:status")
REFRESH_BUTTON = CustomId("safari:refresh")
# Opens, for the host who clicks it only, the scheduled results with a Cancel button each.
MANAGE_BUTTON = CustomId("safari:manage")
SCHEDULE_MODAL = CustomId("safari:schedule-modal")
# The modal's inputs before its one When field (components.jobs.WHEN_FIELD): a modal opened
# before a restart comes back with these, read by bot/typed_when.py.
HOURS_FIELD, MINUTES_FIELD = "hours", "minutes"
