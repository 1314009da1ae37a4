"""A host's first hour in the playground, in Chromium, on the stack `make run` starts: a Safari
round with its reminders, a custom action scheduled, a whisper read, a chain paused and resumed,
and a season played to its end with a drawing uploaded and one turn left to time out, with the
whole stack (Temporal, worker, bot, local Discord) restarted in the middle and the buttons posted
before the restart used after it. Screenshots land in test-output/ (`playground-hour-*.png`).

Real time on the real dev server, kept short: Safari's minutes last a second here; the custom
action runs one real minute after it is scheduled; the season's claim timeout (60 s) is the one
timeout, and the rest of the hour is played while it runs. Measured on 2 shared cores: about 80 s
of play, under 2 minutes with the stack's start.
"""

from __future__ import annotations

import struct
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page

from local_discord.playground import CHANNELS, HOST_ID, OTHER_PLAYER_ID, PLAYER_ID
from stack.devserver import DevServer, free_port
from tests.support.browser import needs_chromium
from tests.support.playground import PlaygroundStack, playground_stack
from tests.support.playground_page import act_as, fill_modal, open_channel, open_dms, open_page, run, shot

pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]

GENERAL, SAFARI, EVENTS = CHANNELS
# Long enough for a player to claim across the restart; the other player lets theirs lapse.
CLAIM_TIMEOUT = "60s"
SLOW = 90_000  # ms: what waits on a real timer


def drawing(size: int = 96) -> bytes:
    """The PNG a player picks in the form's file field: a gold disc on dark blue."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    middle = size / 2
    rows = b"".join(
        b"\0"
        + b"".join(
            b"\xf0\xc0\x30" if (x - middle) ** 2 + (y - middle) ** 2 < (size / 3) ** 2 else b"\x20\x30\x60"
            for x in range(size)
        )
        for y in range(size)
    )
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def play(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PlaygroundStack]:
    # Its own server on a database file, which a restart keeps, as `make run`'s `.data/` does.
    folder = Path(tmp_path_factory.mktemp("first-hour"))
    async with (
        DevServer(db_file=folder / "temporal.sqlite", port=free_port(), headless=True) as server,
        playground_stack(server, folder, state_file=folder / "playground.json") as running,
    ):
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def page(play: PlaygroundStack) -> AsyncIterator[Page]:
    async with open_page(play, HOST_ID, SAFARI) as tab:
        yield tab


async def see(page: Page, text: str, timeout: float = 20_000) -> None:
    await page.get_by_text(text).last.wait_for(timeout=timeout)


async def click(page: Page, custom_id_prefix: str) -> None:
    """The last button (on the page as the member sees it) whose custom id starts so."""
    await page.locator(f"button[data-custom-id^='{custom_id_prefix}']").last.click()


async def test_a_hosts_first_hour(page: Page, play: PlaygroundStack) -> None:
    started = time.monotonic()
    await page.click("#guide-close")  # read once, as a new host does

    # --- Safari: the panel, a player joins, a round with its reminders, then its results.
    await run(page, "safari panel")
    await act_as(page, PLAYER_ID)
    await click(page, "safari:join")
    await see(page, "You joined the Safari!")
    await act_as(page, HOST_ID)
    await run(page, "safari schedule")
    await fill_modal(page, when="3m")
    await see(page, "scheduled by")
    await see(page, "in 1 minute", 30_000)  # the reminder (a minute lasts a second here)
    await see(page, "Safari: round 1", 60_000)
    await shot(page, "hour-1-safari")

    # --- A custom action, scheduled from its editor for a minute from now.
    await open_channel(page, GENERAL)
    await run(page, "action create", name="Lantern")
    await page.get_by_label("Trigger").last.wait_for()
    await run(page, "action add-text", action="Lantern", text="The lantern glows in the dark.")
    await see(page, "Added the text.")
    await page.get_by_label("Trigger").first.select_option("schedule")
    await see(page, "scheduled runs need a channel")
    await page.get_by_label("Channel for the scheduled run").last.select_option(str(GENERAL))
    await click(page, "ca:schedule:")
    await fill_modal(page, when="1m")
    await see(page, "will run in")
    await shot(page, "hour-2-action-scheduled")

    # --- A whisper, sent by Pax, read by Quinn only.
    await act_as(page, PLAYER_ID)
    await run(page, "whisper send", to=str(OTHER_PLAYER_ID))
    await fill_modal(page, text="meet me at the lantern")
    await see(page, "Whisper sent")
    await act_as(page, OTHER_PLAYER_ID)
    await page.get_by_role("button", name="Read Message").last.click()
    await see(page, "meet me at the lantern")
    await shot(page, "hour-3-whisper-read")

    # --- A chain, paused and resumed: the players read both.
    await act_as(page, HOST_ID)
    await open_channel(page, EVENTS)
    await run(page, "challenge create")
    await fill_modal(
        page,
        key="sprint",
        title="Sprint",
        rounds="20s Warm-up | 🏃 Warm-up round!\n10s Final | 🏁 Final round!",
        reminders="",
    )
    await see(page, "Challenge Sprint started")
    await run(page, "challenge pause", key="sprint")
    await see(page, "Paused.")
    await run(page, "challenge resume", key="sprint")
    await see(page, "Resumed.")
    await act_as(page, PLAYER_ID)
    await see(page, "is paused")
    await shot(page, "hour-4-chain-paused-resumed")

    # --- A season of two: both join, both write; then each is offered a drawing.
    await act_as(page, HOST_ID)
    await run(
        page,
        "season create",
        min_players="2",
        max_players="2",
        claim_timeout=CLAIM_TIMEOUT,
        writing_timeout="5m",
        drawing_timeout="5m",
    )
    for player in (PLAYER_ID, OTHER_PLAYER_ID):
        await act_as(page, player)
        await click(page, "season:join")
        await see(page, "joined")
    await see(page, "The season has started")
    await open_dms(page)
    for player, sentence in ((PLAYER_ID, "a cat plays chess"), (OTHER_PLAYER_ID, "a dog rides a bike")):
        await act_as(page, player)
        await click(page, "season:claim:")
        await see(page, "starts with you")
        await click(page, "season:submit:")
        await fill_modal(page, text=sentence)
        await see(page, "is in")
    await act_as(page, PLAYER_ID)
    await see(page, "has a drawing turn", 30_000)
    await shot(page, "hour-5-season-offers")

    # --- `make run` restarted: everything stops and starts again.
    await play.restart()
    await see(page, "is online", 30_000)
    # The command last picked is still picked (the list was empty while the bot was away).
    assert await page.input_value("#command") == "season create"

    # A button posted before the restart works after it: Pax claims and uploads a drawing.
    await act_as(page, PLAYER_ID)
    await open_dms(page)
    await click(page, "season:claim:")
    await see(page, "Draw this")
    await click(page, "season:submit:")
    await page.wait_for_selector("#modal[open]")
    await page.set_input_files(
        "#modal-fields [name='image']", {"name": "cat.png", "mimeType": "image/png", "buffer": drawing()}
    )
    await page.click("#modal-submit")
    await see(page, "Your drawing for game")
    # The game's last step: no reply promises a next player who does not exist.
    assert not await page.get_by_text("The next player will see it").count()
    await shot(page, "hour-6-drawing-uploaded")

    # Quinn lets the drawing turn lapse: the one timeout; then the season is over.
    await act_as(page, OTHER_PLAYER_ID)
    await see(page, "was not claimed", SLOW)
    await open_channel(page, EVENTS)
    await see(page, "The season is over", SLOW)
    # The finished game's card shows the drawing, fetched from where it was uploaded.
    card_image = page.locator(".media img").last
    await card_image.wait_for(timeout=30_000)
    loaded = "img => img.complete && img.naturalWidth > 0"
    await page.wait_for_function(loaded, arg=await card_image.element_handle())
    await see(page, "Final round!", SLOW)
    await shot(page, "hour-7-season-over")
    # The custom action ran at its minute, through the restart.
    await open_channel(page, GENERAL)
    await see(page, "The lantern glows in the dark.", SLOW)
    await shot(page, "hour-8-action-ran")
    print(f"first hour played in {time.monotonic() - started:.0f} s")
