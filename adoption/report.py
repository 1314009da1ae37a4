"""What an import did, entry by entry: created, skipped (with why) or refused (with why).

A dry run fills the same report with what it would do. Every line names where the entry came
from (its position in the file and its id there) and only ids, times and fixed wording: never
a whisper's text, which no report, log or output ever holds.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["created", "skipped", "refused"]


@dataclass(frozen=True)
class Entry:
    outcome: Outcome
    where: str  # "scheduledJobs.json entry 3 (job_1709…)": the position and id in the source
    what: str  # what it is, or becomes here
    why: str = ""  # the reason for a skip or a refusal; a note for a creation


@dataclass
class Report:
    dry_run: bool = False
    entries: list[Entry] = field(default_factory=list)

    def created(self, where: str, what: str, note: str = "") -> None:
        self.entries.append(Entry("created", where, what, note))

    def skipped(self, where: str, what: str, why: str) -> None:
        self.entries.append(Entry("skipped", where, what, why))

    def refused(self, where: str, what: str, why: str) -> None:
        self.entries.append(Entry("refused", where, what, why))

    def count(self, outcome: Outcome) -> int:
        return sum(1 for entry in self.entries if entry.outcome == outcome)

    def of(self, outcome: Outcome) -> list[Entry]:
        return [entry for entry in self.entries if entry.outcome == outcome]

    def extend(self, other: Report) -> None:
        self.entries.extend(other.entries)

    def lines(self) -> list[str]:
        labels = {
            "created": "would create" if self.dry_run else "created",
            "skipped": "would skip" if self.dry_run else "skipped",
            "refused": "would refuse" if self.dry_run else "refused",
        }
        lines = []
        for entry in self.entries:
            line = f"{labels[entry.outcome]}: {entry.where}: {entry.what}"
            if entry.why:
                line += f" ({entry.why})" if entry.outcome == "created" else f": {entry.why}"
            lines.append(line)
        counts = Counter(entry.outcome for entry in self.entries)
        created, skipped, refused = counts["created"], counts["skipped"], counts["refused"]
        if self.dry_run:
            lines.append(
                f"Dry run, nothing changed. Would create {created}, skip {skipped}, refuse {refused}."
            )
        else:
            lines.append(f"Created {created}, skipped {skipped}, refused {refused}.")
        return lines

    def text(self) -> str:
        return "\n".join(self.lines())


def load_json(data: bytes, name: str, report: Report) -> Any:
    """The document, or None after reporting why it cannot be read (with the line and column)."""
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        report.refused(name, "the file", "it is not UTF-8 text")
    except json.JSONDecodeError as err:
        report.refused(f"{name} line {err.lineno} column {err.colno}", "the file", f"not JSON: {err.msg}")
    return None
