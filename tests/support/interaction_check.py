"""Every REST request the bot makes under simcord, checked against Discord's OpenAPI document and the
message rules the fake Discord enforces (`local_discord/openapi.py`, `local_discord/rules.py`).

simcord turns discord.py's calls into ``simcord.http.router.dispatch(backend, method, path, json=,
params=, files=)``: both its HTTPClient (channel messages, command sync) and its webhook adapter
(interaction callbacks, followups, edits of the original) go through it. While a backend is checked,
that function is wrapped: a request Discord would refuse is recorded as a :class:`Violation` and
answered 400 like Discord would, so the bot sees what it would see in production.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simcord.backend import Backend
from simcord.backend.errors import BackendError
from simcord.http import router
from simcord.types import HttpLogEntry

from local_discord import rules
from local_discord.openapi import FieldError, invalid_form_body, load_spec
from local_discord.rest import BOT_CONTENT_LIMIT

ROOT = Path(__file__).resolve().parents[2]
_OURS = f"{ROOT}{os.sep}"
_NOT_OURS = (f"{ROOT / '.venv'}{os.sep}", f"{Path(__file__).parent}{os.sep}")  # the harness is no culprit

# Interaction callback types (https://discord.com/developers/docs/interactions/receiving-and-responding).
_MESSAGE, _UPDATE = 4, 7
_NEW_MESSAGE = (
    ("POST", "/channels/{channel_id}/messages"),
    ("POST", "/webhooks/{webhook_id}/{webhook_token}"),
)
_EDIT = (
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original"),
    ("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}"),
)
_CALLBACK = ("POST", "/interactions/{interaction_id}/{interaction_token}/callback")
BODY_SHOWN = 400  # characters of a refused body shown in the report
# Discord answers this one 50006, not 50035 Invalid Form Body.
EMPTY = FieldError.rule((), "EMPTY_MESSAGE", "Cannot send an empty message")


@dataclass(frozen=True)
class Violation:
    """A request Discord would refuse, where the bot made it, and why (field paths start at body)."""

    method: str
    path: str
    body: Any
    errors: tuple[FieldError, ...]
    made_at: tuple[str, ...]  # our frames (bot/, components/, ...) innermost last

    def __str__(self) -> str:
        where = "; ".join(self.made_at) or "outside the project's code"
        reasons = "".join(f"\n    {e}" for e in self.errors)
        sent = json.dumps(self.body, ensure_ascii=False, default=str)
        sent = sent if len(sent) <= BODY_SHOWN else f"{sent[:BODY_SHOWN]}…"
        return f"{self.method} {self.path} (from {where}){reasons}\n    sent: {sent}"


def _query(params: Mapping[str, Any] | None) -> dict[str, str]:
    # What aiohttp would put in the URL: discord.py passes ints and bools as well as strings.
    return {
        k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in (params or {}).items()
    }


def _within(location: tuple[str | int, ...], errors: list[FieldError]) -> list[FieldError]:
    """Rule errors (located at body...) moved under ``location`` (e.g. the callback's data)."""
    return [dataclasses.replace(e, location=("body", *location, *e.location[1:])) for e in errors]


def message_errors(body: Mapping[str, Any], existing: Any | None, *, files: bool = False) -> list[FieldError]:
    """The fake Discord's rules beyond the schema, for a new message or an edit of ``existing``."""
    if existing is None:
        flags = int(body.get("flags") or 0)
        stored: Mapping[str, Any] = body
    else:
        # The V2 flag cannot be switched off, so a V2 message stays V2 whatever the edit's flags say.
        flags = (existing.flags | int(body.get("flags") or 0)) & rules.COMPONENTS_V2
        stored = {key: body[key] if key in body else getattr(existing, key) for key in ("content", "embeds")}
    errors = rules.legacy_fields(stored, flags)
    if "components" in body:
        errors += rules.components(body["components"], flags)
    if "embeds" in body:
        errors += rules.embeds(body["embeds"])
    errors += rules.allowed_mentions(body.get("allowed_mentions"))
    content = body.get("content")
    if isinstance(content, str) and len(content) > BOT_CONTENT_LIMIT:
        errors.append(
            FieldError.rule(
                ("content",), "BASE_TYPE_MAX_LENGTH", f"Must be {BOT_CONTENT_LIMIT} or fewer in length."
            )
        )
    keys = ("content", "embeds", "components", "sticker_ids", "poll", "attachments")
    if existing is None and not files and not any(body.get(k) for k in keys):
        errors.append(EMPTY)
    return errors


def _existing(
    backend: Backend, template: str, args: Mapping[str, str], body: Mapping[str, Any]
) -> Any | None:
    """The message an edit (or an interaction's UPDATE_MESSAGE, or a deferred original's followup)
    changes, as simcord holds it; None for a new message or one simcord will refuse as unknown."""
    try:
        if template.startswith("/channels/"):
            return backend.get_message(int(args["channel_id"]), int(args["message_id"]))
        if template.startswith("/interactions/"):
            record = backend.interactions[int(args["interaction_id"])]
            message_id = record.source_message_id if body.get("type") == _UPDATE else None
            return None if message_id is None else backend.get_message(record.channel_id, message_id)
        token = args["webhook_token"]
        if token not in backend.interaction_tokens:
            hook = backend.webhooks[backend.webhook_tokens[token]]
            return (
                backend.get_message(hook.channel_id, int(args["message_id"]))
                if "message_id" in args
                else None
            )
        record = backend.interaction_by_token(token)
        if template.endswith("/@original") or ("message_id" not in args and record.loading):
            message_id = record.message_id  # a followup to a deferred response edits the "thinking" original
        else:
            message_id = int(args["message_id"]) if "message_id" in args else None
        return None if message_id is None else backend.get_message(record.channel_id, message_id)
    except (BackendError, KeyError, ValueError):
        return None


def request_errors(
    backend: Backend, method: str, path: str, body: Any, params: Mapping[str, Any] | None, files: bool
) -> list[FieldError]:
    """Why Discord would refuse this request (empty if it would not)."""
    spec = load_spec()
    found = spec.find(method, path)
    if found is None:
        return [FieldError(("path",), "no such operation in Discord's OpenAPI document", "operation")]
    op, args = found
    errors = spec.validate(op, args, _query(params), body)
    if errors or not isinstance(body, Mapping):
        return errors  # the rules assume a well-formed body
    key = (op.method, op.template)
    if key in _NEW_MESSAGE or key in _EDIT:
        existing = _existing(backend, op.template, args, body)
        if key in _EDIT and existing is None:
            return []  # simcord answers 404 Unknown Message, as Discord does
        errors += message_errors(body, existing, files=files)
    elif key == _CALLBACK and body.get("type") in (_MESSAGE, _UPDATE):
        data = body.get("data") or {}
        existing = _existing(backend, op.template, args, body)
        errors += _within(("data",), message_errors(data, existing, files=files))
    return errors


def _our_frames() -> tuple[str, ...]:
    return tuple(
        f"{Path(f.filename).relative_to(ROOT)}:{f.lineno} ({f.name})"
        for f in traceback.extract_stack()
        if f.filename.startswith(_OURS) and not f.filename.startswith(_NOT_OURS)
    )


class RequestChecker:
    """The violations found in one simcord backend's requests."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.violations: list[Violation] = []
        self.checked = 0

    def check(self, method: str, path: str, body: Any, params: Mapping[str, Any] | None, files: bool) -> None:
        self.checked += 1
        errors = request_errors(self.backend, method, path, body, params, files)
        if not errors:
            return
        self.violations.append(Violation(method, path, body, tuple(errors), _our_frames()))
        if all(e.code == EMPTY.code for e in errors):
            raise BackendError(400, 50006, EMPTY.text)
        refusal = invalid_form_body(errors)
        raise BackendError(400, refusal["code"], refusal["message"], errors=refusal["errors"])

    def report(self) -> str:
        return f"{len(self.violations)} request(s) Discord would refuse:\n" + "\n".join(
            map(str, self.violations)
        )

    def assert_none(self) -> None:
        assert not self.violations, self.report()


_checkers: dict[int, RequestChecker] = {}
_original_dispatch = router.dispatch


def _checked_dispatch(backend: Backend, method: str, path: str, **kwargs: Any) -> Any:
    checker = _checkers.get(id(backend))
    if checker is None:
        return _original_dispatch(backend, method, path, **kwargs)
    body, params = kwargs.get("json"), kwargs.get("params")
    try:
        checker.check(method, path, body, params, bool(kwargs.get("files")))
    except BackendError:
        # Refused, but made: keep simcord's record of the bot's requests (and its transcript) whole.
        entry = HttpLogEntry(
            method, path, copy.deepcopy(params or {}), copy.deepcopy(body), kwargs.get("reason")
        )
        backend.http_requests.append(entry)
        backend.transcript.append(("HTTP", f"{method} {path}", body if isinstance(body, dict) else None))
        raise
    return _original_dispatch(backend, method, path, **kwargs)


@contextmanager
def checked_requests(backend: Backend) -> Iterator[RequestChecker]:
    """Check every request made to ``backend`` while inside; several backends may be checked at once."""
    checker = _checkers[id(backend)] = RequestChecker(backend)
    router.dispatch = _checked_dispatch
    try:
        yield checker
    finally:
        del _checkers[id(backend)]
        if not _checkers:
            router.dispatch = _original_dispatch
