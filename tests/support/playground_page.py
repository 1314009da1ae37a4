"""The playground's page in Chromium, as a member uses it: open it, act as a member, pick a
channel, send a command, fill a form, keep a screenshot in test-output/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from playwright.async_api import Page, async_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, OUTPUT
from tests.support.playground import PlaygroundStack


@asynccontextmanager
async def open_page(play: PlaygroundStack, user_id: int, channel_id: int) -> AsyncIterator[Page]:
    """A fresh browser on the page, acting as `user_id` in `channel_id`. Pass or fail, no form is
    left open on the way out (`close_forms`): the next page would show it on every load."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = await browser.new_page(viewport={"width": 1280, "height": 900})
            await tab.goto(f"{play.discord.url}/?as={user_id}&channel={channel_id}")
            await tab.get_by_text("is online").wait_for()
            yield tab
        finally:
            await browser.close()
            play.close_forms()


async def act_as(page: Page, user_id: int) -> None:
    await page.check(f"input[name=as][value='{user_id}']")


async def open_channel(page: Page, channel_id: int) -> None:
    await page.click(f".channel[data-channel='{channel_id}']")


async def open_dms(page: Page) -> None:
    await page.click("#dm-button")


async def run(page: Page, command: str, **options: str) -> None:
    """Pick a slash command in the command bar, fill its options, send it."""
    await page.select_option("#command", command)
    for name, value in options.items():
        field = page.locator(f"#options [name='{name}']")
        if await field.evaluate("el => el.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    await page.click("#run")


async def fill_modal(page: Page, **values: str) -> None:
    await page.wait_for_selector("#modal[open]")
    for name, value in values.items():
        await page.fill(f"#modal-fields [name='{name}']", value)
    await page.click("#modal-submit")


async def two_polls(page: Page) -> None:
    """Until the page has fetched and rendered the state twice more."""
    for _ in range(2):
        async with page.expect_response(lambda r: "/_play/state" in r.url):
            pass
    await page.evaluate("() => new Promise(requestAnimationFrame)")


async def shot(page: Page, name: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / f"playground-{name}.png"), full_page=True)
