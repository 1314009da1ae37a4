"""The operator's view: the dev server's Web UI, in Debian's Chromium driven by Playwright, shows a
job's pending timers by their summaries and its static summary, decoded through our codec server.

Needs `/usr/bin/chromium` (Debian's package; `.ci/run` installs it). Playwright never downloads a
browser here: it is pointed at the system one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from playwright.async_api import Page, async_playwright
from temporalio.client import Client

from clients.jobs import Jobs
from clients.names import Names
from stack.codec_server import codec_endpoint, create_app, serve
from stack.devserver import DevServer, free_port
from stack.temporal import data_converter
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, OUTPUT, needs_chromium
from tests.support.jobs_doubles import SAFARI_REMINDERS, Doubles
from tests.support.temporal import TEST_KEY
from worker import build_worker

pytestmark = needs_chromium


class _WallClock:
    async def get_current_time(self) -> datetime:
        return datetime.now(UTC)


@asynccontextmanager
async def codec_server(ui_origin: str) -> AsyncIterator[str]:
    """Our codec server, open to the UI's origin; yields the endpoint with the operator's token."""
    token = "operator-token"
    port = free_port()
    runner = await serve(create_app([TEST_KEY], token, [ui_origin]), port=port)
    try:
        yield codec_endpoint(token, port=port)
    finally:
        await runner.cleanup()


async def _text_appears(page: Page, text: str, timeout: float = 20.0) -> None:
    """Wait for text in the page or any of its frames (the UI renders markdown in a sandboxed iframe)."""
    end = asyncio.get_running_loop().time() + timeout
    while True:
        for frame in page.frames:
            if await frame.get_by_text(text, exact=False).count():
                return
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"{text!r} never appeared on {page.url}")
        await asyncio.sleep(0.25)


async def test_pending_timers_are_found_by_their_summaries() -> None:
    ui_port = free_port()
    async with (
        codec_server(f"http://127.0.0.1:{ui_port}") as endpoint,
        DevServer(port=free_port(), ui_port=ui_port, ui_codec_endpoint=endpoint) as server,
    ):
        client = await Client.connect(server.address, data_converter=data_converter([TEST_KEY]))
        jobs = Jobs(client, "web-ui")
        async with build_worker(client, "web-ui", Doubles(_WallClock()).activities()):
            job_id = await jobs.schedule(
                "post_message",
                {"content": "results"},
                guild_id=1,
                channel_id=2,
                scheduled_by=3,
                delay=timedelta(hours=1),
                reminders=SAFARI_REMINDERS,
                description="Safari Round Results",
                names=Names(channel="safari", member="Hana"),
            )
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
                    await page.goto(
                        f"{server.ui_url}/namespaces/default/workflows/{job_id}",
                        wait_until="domcontentloaded",
                    )
                    # The pending timer, named on the timeline (decoded by the codec server)...
                    await _text_appears(page, "30 minutes reminder in #safari")
                    OUTPUT.mkdir(exist_ok=True)
                    await page.screenshot(path=OUTPUT / "web-ui-timeline.png", full_page=True)
                    # ...and the job's static summary and details, under User Metadata.
                    await page.get_by_role("tab", name="User Metadata").click()
                    # Names beside the ids, as the bot saw them (once bare ids only).
                    await _text_appears(page, "Safari Round Results in #safari (2) by Hana (3)")
                    await _text_appears(
                        page, "reminders before the deadline: 30 minutes, 5 minutes, 1 minute"
                    )
                    await _text_appears(page, "in #safari (2)")  # the current details
                    await page.screenshot(path=OUTPUT / "web-ui-user-metadata.png", full_page=True)
                    # The list, whose columns an operator picks: Title among them.
                    listing = f"{server.ui_url}/namespaces/default/workflows"
                    await page.goto(listing, wait_until="domcontentloaded")
                    await _text_appears(page, job_id)
                    # Bare ids by default; an operator adds the Title column once (the UI keeps it).
                    await page.get_by_role("button", name="Configure Columns").click()
                    for column in ("Title", "Run ID", "End"):  # added, then room made for it
                        row = page.get_by_text(column, exact=True).last.locator("xpath=..")
                        await row.get_by_role("button").last.click()
                    await page.get_by_role("button", name="Close").last.click()
                    await _text_appears(page, "Safari Round Results in #safari by Hana")
                    await page.screenshot(path=OUTPUT / "web-ui-list.png", full_page=True)
                finally:
                    await browser.close()
