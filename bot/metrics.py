"""The bot's own metrics, served beside its Temporal client's on BOT_METRICS_PORT (one endpoint:
they go through the same SDK runtime's meter, stack/telemetry.py, so they follow the same
Prometheus conventions):

- `bot_interactions_total{command, outcome}`: each interaction once its handler ended: `ok`,
  `refused` (the user was told no: a check, a bad value, a `UserError`) or `failed` (an error
  nobody expected: the user got GENERIC_FAILURE);
- `bot_interaction_first_answer_seconds{command}`: from the interaction's creation (its id's
  timestamp) to Discord's answer to the bot's first response: what Discord's 3 s deadline counts,
  taken from the requests discord.py makes (an aiohttp trace), whatever the handler did. An answer
  Discord refused counts too: one sent too late is refused, and it is the one to see;
- `bot_errors_total{kind}`: the errors the error path (`bot.replies.report_error`) answered, by
  exception class;
- `bot_gateway_latency_seconds{shard}`: each shard's heartbeat round trip to the gateway.

`command` is a slash command's name (`/safari schedule`), or the first two words of a button's,
select's or modal's custom id (`safari:join`, `ca:trigger`): what the code chose, never ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import time
from collections import OrderedDict
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, Literal

import aiohttp
import discord
from temporalio.common import MetricMeter

Outcome = Literal["ok", "refused", "failed"]

INTERACTIONS = "bot_interactions"
FIRST_ANSWER = "bot_interaction_first_answer"
ERRORS = "bot_errors"
GATEWAY_LATENCY = "bot_gateway_latency_seconds"
# Discord's deadline is 3 s: bounds around it, so a quantile near it reads true.
BUCKETS = {FIRST_ANSWER: (0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 5, 10)}
GATEWAY_SAMPLE = 15.0
# Interactions whose handler has not ended yet, by id; a handler that never ends (a bug that
# swallowed the interaction) is forgotten after this many newer ones.
PENDING = 10_000

_CALLBACK = re.compile(r"/interactions/(\d+)/[^/]+/callback$")
# Whole words only: `jc:p3:…` is `jc`, not `jc:p`.
_CUSTOM_ID_WORDS = re.compile(r"[a-z][a-z_-]*(?=:|$)(?::[a-z][a-z_-]*(?=:|$))?")


def command_of(interaction: discord.Interaction[Any]) -> str:
    """The interaction's `command` label (see the module's doc)."""
    command = interaction.command
    if command is not None:
        return f"/{command.qualified_name}"
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    words = _CUSTOM_ID_WORDS.match(custom_id)
    return words.group(0) if words else "other"


class BotMetrics:
    """`BotMetrics(meter)`; without a meter (BOT_METRICS_PORT unset) every record is a no-op."""

    def __init__(self, meter: MetricMeter | None = None) -> None:
        meter = meter or MetricMeter.noop
        self._interactions = meter.create_counter(INTERACTIONS, "interactions by command and outcome")
        self._first_answer = meter.create_histogram_timedelta(
            FIRST_ANSWER, "from an interaction's creation to Discord's answer to the first response"
        )
        self._errors = meter.create_counter(ERRORS, "errors the error path answered, by kind")
        self._latency = meter.create_gauge_float(
            GATEWAY_LATENCY, "the gateway's heartbeat round trip", unit="seconds"
        )
        self._pending: OrderedDict[int, str] = OrderedDict()
        self._answered: OrderedDict[int, None] = OrderedDict()

    def received(self, interaction: discord.Interaction[Any]) -> None:
        self._pending[interaction.id] = command_of(interaction)
        while len(self._pending) > PENDING:
            self._pending.popitem(last=False)

    def finished(self, interaction: discord.Interaction[Any], outcome: Outcome) -> None:
        command = self._pending.pop(interaction.id, None) or command_of(interaction)
        self._interactions.add(1, {"command": command, "outcome": outcome})

    def error(self, error: BaseException) -> None:
        original = getattr(error, "original", None)  # CommandInvokeError wraps the handler's error
        kind = type(original if isinstance(original, BaseException) else error).__name__
        self._errors.add(1, {"kind": kind})

    def answered(self, interaction_id: int, at: float) -> None:
        """Discord answered the first response to this interaction at `at` (epoch seconds)."""
        if interaction_id in self._answered:
            return  # the error path's answer after a refused first one: not the first
        self._answered[interaction_id] = None
        while len(self._answered) > PENDING:
            self._answered.popitem(last=False)
        created = discord.utils.snowflake_time(interaction_id).timestamp()
        command = self._pending.get(interaction_id, "other")
        self._first_answer.record(timedelta(seconds=max(at - created, 0.0)), {"command": command})

    def http_trace(self) -> aiohttp.TraceConfig:
        """For discord.py's `http_trace`: sees every interaction callback the bot sends."""

        async def ended(
            session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestEndParams
        ) -> None:
            del session, context
            found = _CALLBACK.search(params.url.path)
            if found is not None:
                self.answered(int(found.group(1)), time.time())

        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(ended)
        return trace

    def sample_gateway(self, latencies: list[tuple[int, float]]) -> None:
        for shard, seconds in latencies:
            if math.isfinite(seconds):  # inf until the shard's first heartbeat is acknowledged
                self._latency.set(seconds, {"shard": str(shard)})

    async def watch_gateway(self, bot: discord.AutoShardedClient, every: float = GATEWAY_SAMPLE) -> None:
        """Sample every shard's latency until cancelled."""
        while True:
            with contextlib.suppress(Exception):  # a shard being replaced: sample again next time
                self.sample_gateway(bot.latencies)
            await asyncio.sleep(every)


def metrics_of(interaction: discord.Interaction[Any]) -> BotMetrics | None:
    found = getattr(interaction.client, "metrics", None)
    return found if isinstance(found, BotMetrics) else None


def record_outcome(interaction: discord.Interaction[Any], outcome: Outcome) -> None:
    metrics = metrics_of(interaction)
    if metrics is not None:
        metrics.finished(interaction, outcome)


def record_error(interaction: discord.Interaction[Any], error: BaseException, *, expected: bool) -> None:
    """The error path answered `error`: a refusal when `expected`, else a failure."""
    metrics = metrics_of(interaction)
    if metrics is not None:
        metrics.error(error)
        metrics.finished(interaction, "refused" if expected else "failed")
