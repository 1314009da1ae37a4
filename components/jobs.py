"""The custom ids of the job listings' buttons (`/schedule list`, and listings that reuse its
Cancel button, like the Safari panel)."""

from __future__ import annotations

from components.custom_ids import CustomId, Field
from workflows.jobs_models import RUN_TAG

PAGE = Field(r"\d{1,4}", number=True)
VIEW = Field("[a-z]")  # the one-letter code of the listing to redraw
SUFFIX = Field("[A-Za-z0-9_.:-]{1,80}")  # the guild-local part of the job id
# The listed run's `run_tag`, so an old button cannot cancel the job's next run (which reuses
# its key); empty when the button was drawn without one.
RUN = Field(f"[0-9a-f]{{{RUN_TAG}}}", optional=True)

PAGE_BUTTON = CustomId("jobs:page:{page}:{direction}", page=PAGE, direction=Field("prev|next|refresh"))
# At most 3 + 1 + 4 + 1 + 8 + 1 + 80 = 98 characters, within Discord's 100.
CANCEL_JOB = CustomId(
    "jc:{view}{page}:{run}:{suffix}",
    view=VIEW,
    page=PAGE,
    run=RUN,
    suffix=SUFFIX,
)
# Posted before buttons carried their run: still answered, on the current run.
EARLIER_CANCEL_JOB = CustomId("jobs:cancel:{view}:{page}:{suffix}", view=VIEW, page=PAGE, suffix=SUFFIX)

# `/schedule history`'s pages: the page and the filters (outcome, channel, action), so a page
# turned after a restart shows the same selection. At most 3 + 1 + 4 + 1 + 9 + 1 + 20 + 1 + 48 = 88.
HISTORY_PAGE = CustomId(
    "jh:{direction}{page}:{outcome}:{channel}:{action}",
    direction=Field("[pnr]"),
    page=PAGE,
    outcome=Field("done|failed|cancelled|missed", optional=True),
    channel=Field(r"\d{1,20}", optional=True),
    action=Field("[a-z][a-z0-9_]{0,47}", optional=True),
)
# Retry on a failed or missed job in the history or an outage summary: the run it retries.
RETRY_JOB = CustomId("jr:{run}:{suffix}", run=Field(f"[0-9a-f]{{{RUN_TAG}}}"), suffix=SUFFIX)
# Steering a job (bot/jobs_steer.py): the listing's "Change a job" select (its value is
# `<run>:<suffix>`), the panel's buttons, and the modals two of them open. The run keeps an old
# panel from changing the job's next run; at most 4 + 6 + 1 + 8 + 1 + 80 = 100 characters.
STEER_VERB = Field("move|shift|run|pause|resume")
STEER_RUN = Field(f"[0-9a-f]{{{RUN_TAG}}}")
STEER_SELECT = CustomId("jss:{page}", page=PAGE)
STEER_BUTTON = CustomId("js:{verb}:{run}:{suffix}", verb=STEER_VERB, run=STEER_RUN, suffix=SUFFIX)
STEER_MODAL = CustomId("jsm:{verb}:{run}:{suffix}", verb=Field("move|shift"), run=STEER_RUN, suffix=SUFFIX)
# "Change…" on a job's public post (a Safari round's confirmation): opens the same panel.
STEER_OPEN = CustomId("jso:{run}:{suffix}", run=STEER_RUN, suffix=SUFFIX)
# What a member types in a steering modal.
WHEN_FIELD = "when"
BY_FIELD = "by"
