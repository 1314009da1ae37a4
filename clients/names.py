"""What an operator reads in the Web UI beside the ids: the channel's and the member's names as
the bot knew them when it started something, in summaries and in the `Title` search attribute
(a column the workflow list can show, where summaries are not listed).

Names only, never message text: summaries and search attributes are stored in plain text. A
name is what it was at the start; the id beside it stays the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.common import SearchAttributePair

from workflows import search_attributes as sa

# A keyword is compared whole and kept short in the list's column.
TITLE_LENGTH = 120


@dataclass(frozen=True)
class Names:
    """The names the bot saw: the channel it was started in and the member who started it."""

    channel: str | None = None
    member: str | None = None

    def where(self, channel_id: int) -> str:
        """`#safari (1234…)`, or `channel 1234…` when the name is not known."""
        return f"#{self.channel} ({channel_id})" if self.channel else f"channel {channel_id}"

    def who(self, user_id: int) -> str:
        return f"{self.member} ({user_id})" if self.member else f"member {user_id}"

    def title(self, what: str) -> SearchAttributePair[str]:
        """`Safari round 3 in #safari by Hana`: the list's readable column."""
        parts = [what]
        if self.channel:
            parts.append(f"in #{self.channel}")
        if self.member:
            parts.append(f"by {self.member}")
        return SearchAttributePair(sa.TITLE, " ".join(parts)[:TITLE_LENGTH])


NO_NAMES = Names()
