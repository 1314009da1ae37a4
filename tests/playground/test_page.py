"""The playground's page in Debian's Chromium, as a person uses it: a host schedules a Safari round
and sees its reminder and results card arrive, cancels a second round from the jobs list, and two
players send and read a whisper. Screenshots land in test-output/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page

from local_discord.playground import CHANNELS, HOST_ID, OTHER_PLAYER_ID, PLAYER_ID
from stack.devserver import DevServer
from tests.support.browser import needs_chromium
from tests.support.playground import PlaygroundStack, playground_stack
from tests.support.playground_page import act_as, fill_modal, open_channel, open_page, run, shot, two_polls

pytestmark = [needs_chromium, pytest.mark.asyncio(loop_scope="module")]

GENERAL, SAFARI, EVENTS = CHANNELS


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def play(server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PlaygroundStack]:
    async with playground_stack(server, Path(tmp_path_factory.mktemp("page"))) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def page(play: PlaygroundStack) -> AsyncIterator[Page]:
    # A fresh browser per test, and no form left open after it, pass or fail: one test's failure
    # with a form open once blocked every later test's page.
    async with open_page(play, HOST_ID, SAFARI) as tab:
        yield tab


async def test_a_host_runs_a_safari_round_and_cancels_another_from_the_page(page: Page) -> None:
    await run(page, "safari panel")
    await page.get_by_role("button", name="Join").wait_for()
    await act_as(page, PLAYER_ID)
    await page.get_by_role("button", name="Join").last.click()
    await page.get_by_text("You joined the Safari!").wait_for()

    await act_as(page, HOST_ID)
    await run(page, "safari schedule")
    await fill_modal(page, when="3m")
    await page.get_by_text("scheduled by").first.wait_for()
    # A minute typed in the modal lasts a second in this stack: the reminder, then the card.
    await page.get_by_text("in 1 minute").wait_for(timeout=30_000)
    await page.get_by_text("Safari: round 1").wait_for(timeout=60_000)
    # The post that announced the round now says its results are out.
    await page.get_by_text("✅ posted").wait_for(timeout=30_000)
    await shot(page, "safari-results")

    await run(page, "safari schedule")
    await fill_modal(page, when="2h")
    await page.get_by_text("scheduled by").first.wait_for()
    await run(page, "schedule list")
    cancel = page.locator("button[data-custom-id^='jc:']")
    await cancel.first.wait_for()
    await shot(page, "jobs-list")
    await cancel.first.click()
    await page.get_by_text("Cancelled").first.wait_for()
    # Everyone reads, where it was announced, that the round was called off.
    await page.get_by_text("❌ cancelled by").wait_for(timeout=30_000)
    await shot(page, "jobs-cancelled")


async def test_two_players_send_and_read_a_whisper_on_the_page(page: Page) -> None:
    await act_as(page, PLAYER_ID)
    await open_channel(page, GENERAL)
    await run(page, "whisper send", to=str(OTHER_PLAYER_ID))
    await fill_modal(page, text="meet me at the watering hole")
    await page.get_by_text("Whisper sent").wait_for()
    read = page.get_by_role("button", name="Read Message")
    await read.wait_for(timeout=30_000)

    await act_as(page, OTHER_PLAYER_ID)
    await read.click()
    await page.get_by_text("meet me at the watering hole").wait_for()
    await shot(page, "whisper-read")
    # The sender's view never shows the text: only the recipient's ephemeral card holds it.
    await act_as(page, PLAYER_ID)
    await page.get_by_text("Whisper sent").wait_for()
    assert await page.get_by_text("meet me at the watering hole").count() == 0


async def test_a_cancelled_form_stays_closed_after_a_reload_and_a_later_form(page: Page) -> None:
    await act_as(page, HOST_ID)
    await open_channel(page, SAFARI)
    await run(page, "safari schedule")
    await page.wait_for_selector("#modal[open]")
    await page.click("#modal-cancel")
    await page.wait_for_selector("#modal:not([open])", state="attached")

    # Discord forgets a closed form: neither a reload, a member switch nor a later form brings it back.
    await page.reload()
    await page.get_by_text("is online").wait_for()
    await act_as(page, PLAYER_ID)
    await act_as(page, HOST_ID)
    await two_polls(page)  # each poll used to reopen it
    assert not await page.locator("#modal[open]").count()

    await run(page, "safari schedule")
    await fill_modal(page, when="2h")
    await page.get_by_text("scheduled by").first.wait_for()
    await two_polls(page)
    assert not await page.locator("#modal[open]").count()


async def test_a_first_visit_shows_a_guide_and_commands_say_what_they_do(page: Page) -> None:
    guide = page.locator("#guide")
    await guide.get_by_text("Welcome to the playground").wait_for()
    await shot(page, "first-visit")
    await page.click("#guide-close")
    await page.reload()
    await page.get_by_text("is online").wait_for()
    assert await guide.is_hidden()  # seen once is enough; the button brings it back
    await page.click("#guide-button")
    assert await guide.is_visible()

    # No command is picked for you (it once started on /action add-card, the first in the
    # alphabet); Send without one says what to do; the commands come under their feature.
    await page.click("#guide-close")
    assert await page.input_value("#command") == ""
    assert await page.locator("#command option:checked").inner_text() == "Pick a command…"
    await page.click("#run")
    await page.locator("#command-error").get_by_text("Pick a command first").wait_for()
    features = await page.locator("#command optgroup").evaluate_all("groups => groups.map(g => g.label)")
    assert {"/safari", "/schedule", "/season", "/whisper"} <= set(features)

    await page.select_option("#command", "safari schedule")
    help_line = page.locator("#command-help")
    assert "/safari schedule" in await help_line.inner_text()
    assert len(await help_line.inner_text()) > len("/safari schedule ")  # the command's own description
    await page.select_option("#command", "whisper send")
    assert await page.locator("#options .field-help").count() >= 1  # each option's description, inline


async def test_a_select_shows_the_chosen_value_and_a_read_whisper_opens_again(page: Page) -> None:
    """Once the custom action editor's trigger select snapped back to its placeholder after a
    choice, and a whisper's card promised a second reading no button gave."""
    await act_as(page, HOST_ID)
    await open_channel(page, GENERAL)
    await run(page, "action create", name="Lantern")
    trigger = page.get_by_label("Trigger").last
    await trigger.wait_for()
    assert await trigger.evaluate("el => el.selectedOptions[0].textContent") == "Button click"
    await trigger.select_option("schedule")
    await page.get_by_text("scheduled runs need a channel").wait_for()
    trigger = page.get_by_label("Trigger").last
    assert await trigger.evaluate("el => el.selectedOptions[0].textContent") == "Scheduled Action"
    await shot(page, "action-editor-trigger")

    await act_as(page, PLAYER_ID)
    await open_channel(page, EVENTS)  # a channel of its own: an earlier whisper is in general
    await run(page, "whisper send", to=str(OTHER_PLAYER_ID))
    await fill_modal(page, text="the lantern is lit")
    read = page.get_by_role("button", name="Read Message")
    await read.wait_for(timeout=30_000)
    await act_as(page, OTHER_PLAYER_ID)
    await read.click()
    await page.get_by_text("the lantern is lit").first.wait_for()
    await page.get_by_text("can open it again until").wait_for(timeout=30_000)
    await page.get_by_role("button", name="Read Message").click()
    await page.get_by_text("Already read").wait_for()
    await shot(page, "whisper-read-again")


async def test_a_dm_offers_only_the_commands_that_work_there(page: Page) -> None:
    """The DM once listed every server command, each refused when sent; Discord offers there only
    the bot's global commands allowed in DMs (a player's claim and submit)."""
    await page.click("#dm-button")
    await page.get_by_text("acting as").wait_for()

    async def offered() -> list[str]:
        return [o.strip() for o in await page.locator("#command option").all_inner_texts()]

    await page.wait_for_function(
        "() => ![...document.querySelectorAll('#command option')].some(o => o.value.startsWith('safari'))"
    )
    in_dm = await offered()
    assert "/season claim" in in_dm and "/season submit" in in_dm
    assert not [c for c in in_dm if c.startswith(("/safari", "/action", "/schedule"))]
    await open_channel(page, GENERAL)
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#command option')].some(o => o.value === 'safari panel')"
    )
    assert "/safari panel" in await offered()


async def test_a_form_left_open_is_closed_before_the_next_page(page: Page, play: PlaygroundStack) -> None:
    """A test that failed with a form open left it on every later test's page; the page fixture
    now closes what is left, as `close_forms` does here."""
    await act_as(page, HOST_ID)
    await open_channel(page, SAFARI)
    await run(page, "safari schedule")
    await page.wait_for_selector("#modal[open]")
    assert play.close_forms() == 1
    await page.reload()
    await page.get_by_text("is online").wait_for()
    await two_polls(page)
    assert not await page.locator("#modal[open]").count()
