"""Posted listings of jobs that redraw themselves when the jobs they list change.

A job fires, or is cancelled from anywhere (a listing, the CLI, the Web UI), and a panel that
still lists it with its countdown tells players something that is no longer true. The bot is
a Temporal client only, so nothing tells it that a job ended: it looks again.

    live = LiveListings()                 # the bot holds one (GameBot.live_listings)
    live.watch(Watched(guild, (channel, message), shown, listing, redraw))
    await live.changed(guild)             # after this bot scheduled or cancelled a job there
    await live.tick()                     # its loop (`start`) calls it every TICK

A watched listing is looked at again once a job it shows is due (a little after its deadline,
while the worker posts), when this bot changes a job of its guild, and every POLL in any case
(changes made elsewhere). It is redrawn only when what it would show differs from what it
shows, and forgotten when its message is gone. What is watched is kept in this process: after
a restart, a panel is watched again once anyone uses one of its buttons.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import discord

log = logging.getLogger("bot.live_listings")

TICK = timedelta(seconds=10)
POLL = timedelta(minutes=5)
# After a job's deadline its action takes a moment (the worker posts); looked at again then.
GRACE = timedelta(seconds=5)
RECHECK = timedelta(seconds=20)
# What one guild's watched listings may hold: older ones are dropped first.
MAX_PER_GUILD = 20

# The ids of the jobs a listing would show now, with their deadlines.
Listing = Callable[[], Awaitable[dict[str, datetime]]]
# Redraw the message with what is listed now, leaving these job ids out; False: the message is gone.
Redraw = Callable[[Collection[str]], Awaitable[bool]]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Watched:
    guild_id: int
    key: tuple[int, int]  # (channel id, message id): one entry per message
    shown: dict[str, datetime] | None  # job id -> deadline, as drawn; None: not known
    listing: Listing
    redraw: Redraw
    looked: datetime = field(default_factory=utcnow)
    # An ephemeral listing can be edited only while its interaction's token lasts (15 minutes).
    until: datetime | None = None

    def due(self) -> datetime:
        """When to look again: just after the first shown deadline, or at the next poll."""
        soonest = min((self.shown or {}).values(), default=None)
        poll = self.looked + POLL
        if soonest is None:
            return poll
        after = soonest + GRACE
        if after <= self.looked:  # still shown after its deadline: the worker is posting
            after = self.looked + RECHECK
        return min(after, poll)


class LiveListings:
    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self._clock = clock
        self._watched: dict[tuple[int, int], Watched] = {}
        self._loop: asyncio.Task[None] | None = None
        self._stopped = False

    def watch(self, watched: Watched) -> None:
        """Keep this message's listing true from now on. One whose `shown` is not known is looked
        at on the next tick, unless it is watched already."""
        if watched.shown is None and watched.key in self._watched:
            return
        watched.looked = self._clock() - (POLL if watched.shown is None else timedelta(0))
        self._watched.pop(watched.key, None)
        self._watched[watched.key] = watched
        mine = [w for w in self._watched.values() if w.guild_id == watched.guild_id]
        for old in mine[: max(0, len(mine) - MAX_PER_GUILD)]:
            self._watched.pop(old.key, None)

    def watching(self, guild_id: int) -> list[Watched]:
        return [w for w in self._watched.values() if w.guild_id == guild_id]

    async def changed(self, guild_id: int, exclude: Collection[str] = ()) -> None:
        """This bot changed a job of the guild: look at its listings now (`exclude`: ids the
        visibility store may still show for a moment)."""
        await self._look(self.watching(guild_id), exclude)

    async def tick(self, now: datetime | None = None) -> None:
        """Look at every listing that is due (`now`: a test's clock)."""
        now = now or self._clock()
        for key in [key for key, w in self._watched.items() if w.until is not None and w.until <= now]:
            del self._watched[key]
        await self._look([w for w in self._watched.values() if w.due() <= now], ())

    async def _look(self, watched: list[Watched], exclude: Collection[str]) -> None:
        for entry in watched:
            entry.looked = self._clock()
            try:
                listed = await entry.listing()
            except Exception:
                log.warning("could not list the jobs of panel %s", entry.key, exc_info=True)
                continue
            now = {job_id: at for job_id, at in listed.items() if job_id not in exclude}
            if entry.shown is not None and set(now) == set(entry.shown):
                continue
            try:
                kept = await entry.redraw(exclude)
            except discord.HTTPException as err:
                log.warning("could not refresh the panel %s: %s", entry.key, err)
                continue
            if not kept:
                self._watched.pop(entry.key, None)
                continue
            entry.shown = now

    def start(self) -> None:
        """Look by itself every TICK: the bot process does (`bot.app.run`); in process, a test
        drives `tick` and `changed` itself, so no task outlives it."""
        if not self._stopped and (self._loop is None or self._loop.done()):
            self._loop = asyncio.get_running_loop().create_task(self.run(), name="live-listings")

    def stop(self) -> None:
        """No more looking by itself (the bot is closing)."""
        self._stopped = True
        if self._loop is not None:
            self._loop.cancel()

    async def run(self) -> None:
        """Look every TICK, for as long as the bot runs."""
        while True:
            await asyncio.sleep(TICK.total_seconds())
            try:
                await self.tick()
            except Exception:
                log.exception("refreshing the posted panels failed")
