"""Custom search attributes operators filter on in the Web UI and the bot lists by.

They are stored in plain text: ids and names only, never message text.
The dev stack registers them at start (`stack.devserver.SEARCH_ATTRIBUTES`).
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

GUILD_ID = SearchAttributeKey.for_keyword("GuildId")
CHANNEL_ID = SearchAttributeKey.for_keyword("ChannelId")
JOB_ACTION = SearchAttributeKey.for_keyword("JobAction")
JOB_DEADLINE = SearchAttributeKey.for_datetime("JobDeadline")
JOB_KEY = SearchAttributeKey.for_keyword("JobKey")
SCHEDULED_BY = SearchAttributeKey.for_keyword("ScheduledBy")
# done, failed, cancelled or missed, set when a job, chain, season or whisper closes.
OUTCOME = SearchAttributeKey.for_keyword("Outcome")
# What it is, where and by whom, in names ("Safari results in #safari by Hana"): the workflow
# list shows search attributes as columns but not summaries (`clients/names.py`).
TITLE = SearchAttributeKey.for_keyword("Title")

ALL = (GUILD_ID, CHANNEL_ID, JOB_ACTION, JOB_DEADLINE, JOB_KEY, SCHEDULED_BY, OUTCOME, TITLE)
