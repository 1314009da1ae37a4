"""The fake refuses what Discord refuses, with Discord's status, JSON code and ``errors`` tree.

Each refusal is sent through discord.py where discord.py can produce it, else as raw HTTP; next to it, the
matching valid request is accepted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord.http import Route

from local_discord import FakeDiscord
from tests.support.temporal import eventually

GUILD = 900_000_000_000_000_001
CHANNEL = 900_000_000_000_000_002
OTHER_CHANNEL = 900_000_000_000_000_004
MESSAGES = r"^/channels/\d+/messages$"
V2 = 1 << 15
RATE_LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Reset-After",
    "X-RateLimit-Bucket",
)


@pytest.fixture
def route_base() -> Iterator[None]:
    old = Route.BASE
    yield
    Route.BASE = old


async def _start(**kwargs: Any) -> FakeDiscord:
    f = FakeDiscord(**kwargs)
    await f.start()
    Route.BASE = f.base_url
    f.add_channel(CHANNEL, GUILD)
    f.add_channel(OTHER_CHANNEL, GUILD)
    return f


@pytest_asyncio.fixture
async def fake(route_base: None) -> AsyncIterator[FakeDiscord]:
    f = await _start()
    yield f
    await f.stop()


async def _login() -> discord.Client:
    c = discord.Client(intents=discord.Intents.none())
    await c.login("token")
    return c


@pytest_asyncio.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    c = await _login()
    yield c
    await c.close()


async def raw(
    fake: FakeDiscord, method: str, path: str, body: Any = None, params: dict[str, str] | None = None
) -> tuple[int, Any, dict[str, str]]:
    """A request discord.py would not build; returns status, JSON body, headers."""
    async with (
        aiohttp.ClientSession() as s,
        s.request(
            method, fake.base_url + path, json=body, params=params, headers={"Authorization": "Bot t"}
        ) as r,
    ):
        data = await r.json() if r.content_type == "application/json" else None
        return r.status, data, dict(r.headers)


def form_errors(body: dict[str, Any]) -> dict[str, list[str]]:
    """Discord's nested ``errors`` tree as {"a.0.b": [codes]}."""
    out: dict[str, list[str]] = {}

    def walk(node: dict[str, Any], path: list[str]) -> None:
        for key, value in node.items():
            if key == "_errors":
                out[".".join(path)] = [e["code"] for e in value]
            else:
                walk(value, [*path, key])

    walk(body.get("errors", {}), [])
    return out


async def refused(fake: FakeDiscord, body: Any, path: str = f"/channels/{CHANNEL}/messages") -> Any:
    status, data, _ = await raw(fake, "POST", path, body)
    assert (status, data["code"], data["message"]) == (400, 50035, "Invalid Form Body"), data
    return form_errors(data)


async def accepted(fake: FakeDiscord, body: Any, path: str = f"/channels/{CHANNEL}/messages") -> Any:
    status, data, _ = await raw(fake, "POST", path, body)
    assert status == 200, data
    return data


def text(content: str) -> dict[str, Any]:
    return {"type": 10, "content": content}


def button(custom_id: str) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": custom_id, "custom_id": custom_id}


def layout(*lines: str) -> discord.ui.LayoutView:
    view = discord.ui.LayoutView()
    container: discord.ui.Container[discord.ui.LayoutView] = discord.ui.Container()
    for line in lines:
        container.add_item(discord.ui.TextDisplay(line))
    view.add_item(container)
    return view


# ----- 1. IS_COMPONENTS_V2 with content or embeds ------------------------------------------------------


async def test_v2_message_refuses_content_and_embeds(fake: FakeDiscord, client: discord.Client) -> None:
    channel = client.get_partial_messageable(CHANNEL)
    card = await channel.send(view=layout("a card"))
    assert fake.message(card.id).flags & V2
    await accepted(fake, {"flags": V2, "content": None, "embeds": [], "components": [text("ok")]})
    fake.assert_no_violations()

    legacy = "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2"
    assert await refused(fake, {"flags": V2, "content": "hi", "components": [text("x")]}) == {
        "content": [legacy]
    }
    assert await refused(fake, {"flags": V2, "embeds": [{"title": "t"}], "components": [text("x")]}) == {
        "embeds": [legacy]
    }
    # Editing a V2 message: content is refused even if the edit leaves the flag out (it cannot be unset).
    with pytest.raises(discord.HTTPException) as exc:
        await card.edit(content="now with text")
    assert (exc.value.status, exc.value.code) == (400, 50035)
    assert "MessageFlags.IS_COMPONENTS_V2" in exc.value.text
    # Upgrading a classic message to V2 needs its content cleared.
    classic = await channel.send("plain")
    edit = f"/channels/{CHANNEL}/messages/{classic.id}"
    status, data, _ = await raw(fake, "PATCH", edit, {"flags": V2, "components": [text("x")]})
    assert (status, form_errors(data)) == (400, {"content": [legacy]})
    status, _, _ = await raw(fake, "PATCH", edit, {"flags": V2, "content": None, "components": [text("x")]})
    assert status == 200 and fake.message(classic.id).flags & V2
    assert {v.kind for v in fake.violations} == {"rule"}


# ----- 2. component counts -----------------------------------------------------------------------------


async def test_v2_component_total_counts_nested_ones(fake: FakeDiscord, client: discord.Client) -> None:
    await client.get_partial_messageable(CHANNEL).send(view=layout(*["line"] * 39))  # 1 + 39 = 40
    await accepted(fake, {"flags": V2, "components": [text("x")] * 40})  # 40 at the top level
    fake.assert_no_violations()

    container = {"type": 17, "components": [text("line")] * 40}  # 41 with the container
    assert await refused(fake, {"flags": V2, "components": [container]}) == {
        "components": ["COMPONENT_MAX_TOTAL_COMPONENTS_EXCEEDED"]
    }
    assert len(fake.messages(CHANNEL)) == 2  # the refused one was not stored


async def test_classic_rows_and_row_width(fake: FakeDiscord, client: discord.Client) -> None:
    view = discord.ui.View()
    for i in range(25):  # discord.py lays these out as 5 full rows
        view.add_item(discord.ui.Button(label=str(i), custom_id=f"b{i}"))
    await client.get_partial_messageable(CHANNEL).send("grid", view=view)
    six_rows_v2 = [{"type": 1, "components": [button(f"r{i}")]} for i in range(6)]
    await accepted(fake, {"flags": V2, "components": six_rows_v2})  # V2 has no 5-row limit
    fake.assert_no_violations()

    rows = [{"type": 1, "components": [button(f"r{i}")]} for i in range(6)]
    assert await refused(fake, {"content": "x", "components": rows}) == {
        "components": ["BASE_TYPE_MAX_LENGTH"]
    }
    six = {"type": 1, "components": [button(f"b{i}") for i in range(6)]}
    assert await refused(fake, {"content": "x", "components": [six]}) == {
        "components.0.components": ["BASE_TYPE_BAD_LENGTH"]
    }
    select = {"type": 3, "custom_id": "s", "options": [{"label": "a", "value": "a"}]}
    crowded = {"type": 1, "components": [select, button("b")]}
    assert await refused(fake, {"content": "x", "components": [crowded]}) == {
        "components.0.components.1": ["COMPONENT_LAYOUT_WIDTH_EXCEEDED"]
    }


# ----- 3. text display total ---------------------------------------------------------------------------


async def test_v2_text_display_total_is_4000(fake: FakeDiscord, client: discord.Client) -> None:
    await client.get_partial_messageable(CHANNEL).send(view=layout("a" * 2000, "b" * 2000))
    fake.assert_no_violations()
    body = {"flags": V2, "components": [{"type": 17, "components": [text("a" * 2000), text("b" * 2001)]}]}
    assert await refused(fake, body) == {"components": ["BASE_TYPE_MAX_LENGTH"]}


# ----- 4. V2-only component types without the flag ---------------------------------------------------

IMAGE = {"url": "https://example.com/a.png"}
V2_ONLY = {
    "container": {"type": 17, "components": [text("x")]},
    "text display": text("x"),
    "section with a thumbnail": {
        "type": 9,
        "components": [text("x")],
        "accessory": {"type": 11, "media": IMAGE},
    },
    "separator": {"type": 14},
    "media gallery": {"type": 12, "items": [{"media": IMAGE}]},
    "file": {"type": 13, "file": {"url": "attachment://a.txt"}},
}


@pytest.mark.parametrize("component", V2_ONLY.values(), ids=V2_ONLY.keys())
async def test_v2_only_types_need_the_flag(fake: FakeDiscord, component: dict[str, Any]) -> None:
    await accepted(fake, {"flags": V2, "components": [component]})
    fake.assert_no_violations()
    assert await refused(fake, {"components": [component]}) == {"components.0": ["UNION_TYPE_CHOICES"]}


# ----- 5. duplicate custom ids -------------------------------------------------------------------------


async def test_duplicate_custom_ids_are_refused(fake: FakeDiscord, client: discord.Client) -> None:
    channel = client.get_partial_messageable(CHANNEL)
    distinct = discord.ui.View()
    distinct.add_item(discord.ui.Button(label="a", custom_id="a"))
    distinct.add_item(discord.ui.Button(label="b", custom_id="b"))
    await channel.send("ok", view=distinct)
    fake.assert_no_violations()

    twice = discord.ui.View()
    twice.add_item(discord.ui.Button(label="a", custom_id="same"))
    twice.add_item(discord.ui.Button(label="b", custom_id="same"))
    with pytest.raises(discord.HTTPException) as exc:  # discord.py itself lets this through
        await channel.send("dup", view=twice)
    assert (exc.value.status, exc.value.code) == (400, 50035)
    assert "Component custom id cannot be duplicated" in exc.value.text
    # Across nesting levels in V2: a section's accessory and a button in a row.
    section = {"type": 9, "components": [text("x")], "accessory": button("same")}
    row = {"type": 1, "components": [button("same")]}
    assert await refused(fake, {"flags": V2, "components": [section, row]}) == {
        "components.1.components.0.custom_id": ["COMPONENT_CUSTOM_ID_DUPLICATED"]
    }


# ----- 6. embeds ---------------------------------------------------------------------------------------


async def test_embed_total_and_field_limits(fake: FakeDiscord, client: discord.Client) -> None:
    channel = client.get_partial_messageable(CHANNEL)
    full = [discord.Embed(description="a" * 4096), discord.Embed(title="t" * 4, description="b" * 1900)]
    await channel.send(embeds=full)  # exactly 6000 across both
    fake.assert_no_violations()

    over = [discord.Embed(description="a" * 4096), discord.Embed(title="t" * 5, description="b" * 1900)]
    with pytest.raises(discord.HTTPException) as exc:
        await channel.send(embeds=over)
    assert (exc.value.status, exc.value.code) == (400, 50035)
    assert "Embed size exceeds maximum size of 6000" in exc.value.text
    parts = {
        "footer": {"text": "f" * 4000},
        "author": {"name": "n" * 2000},
    }
    assert await refused(fake, {"embeds": [{"description": "d" * 100, **parts}]}) == {
        "embeds.0.footer.text": ["BASE_TYPE_MAX_LENGTH"],
        "embeds.0.author.name": ["BASE_TYPE_MAX_LENGTH"],
    }
    fields = [{"name": "n", "value": "v"}] * 26
    assert await refused(fake, {"embeds": [{"title": "t" * 257, "fields": fields}]}) == {
        "embeds.0.title": ["BASE_TYPE_MAX_LENGTH"],
        "embeds.0.fields": ["BASE_TYPE_MAX_LENGTH"],
    }
    fields = [{"name": "n" * 257, "value": "v" * 1025}]
    assert await refused(fake, {"embeds": [{"fields": fields}]}) == {
        "embeds.0.fields.0.name": ["BASE_TYPE_MAX_LENGTH"],
        "embeds.0.fields.0.value": ["BASE_TYPE_MAX_LENGTH"],
    }
    fields = [{"name": "n", "value": "v"}, {"name": "n", "value": ""}]
    assert await refused(fake, {"embeds": [{"fields": fields}]}) == {
        "embeds.0.fields.1.value": ["BASE_TYPE_REQUIRED"]
    }
    _, data, _ = await raw(fake, "POST", f"/channels/{CHANNEL}/messages", {"embeds": [{"title": "t" * 257}]})
    assert (
        data["errors"]["embeds"]["0"]["title"]["_errors"][0]["message"] == "Must be 256 or fewer in length."
    )


# ----- 7. allowed_mentions -----------------------------------------------------------------------------


async def test_allowed_mentions_parse_and_ids_exclude_each_other(
    fake: FakeDiscord, client: discord.Client
) -> None:
    channel = client.get_partial_messageable(CHANNEL)
    await channel.send("<@1>", allowed_mentions=discord.AllowedMentions(users=[discord.Object(1)]))
    await channel.send("<@1>", allowed_mentions=discord.AllowedMentions(users=True, roles=True))
    fake.assert_no_violations()

    for kind in ("users", "roles"):
        status, data, _ = await raw(
            fake,
            "POST",
            f"/channels/{CHANNEL}/messages",
            {"content": "hi", "allowed_mentions": {"parse": [kind], kind: ["1"]}},
        )
        assert (status, data["code"]) == (400, 50035)
        assert data["errors"]["allowed_mentions"]["_errors"] == [
            {
                "code": "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                "message": f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
            }
        ]


# ----- 8. webhooks and with_components -----------------------------------------------------------------


async def test_user_webhook_ignores_components_without_with_components(
    fake: FakeDiscord, client: discord.Client
) -> None:
    user_hook = fake.add_webhook(CHANNEL)
    hook = discord.Webhook.partial(user_hook.id, user_hook.token, client=client)
    card = await hook.send(view=layout("via a webhook"), wait=True)  # discord.py adds with_components=1
    assert fake.requests("POST", r"^/webhooks/")[-1].query["with_components"] == "1"
    assert fake.message(card.id).components[0]["components"][0]["content"] == "via a webhook"
    fake.assert_no_violations()

    execute = f"/webhooks/{user_hook.id}/{user_hook.token}"
    v2 = {"flags": V2, "components": [text("x")]}
    status, data, _ = await raw(fake, "POST", execute, v2, params={"wait": "true"})
    # Discord drops the components, and a V2 message with nothing else is empty.
    assert (status, data) == (400, {"message": "Cannot send an empty message", "code": 50006})
    classic = {"content": "hi", "components": [{"type": 1, "components": [button("a")]}]}
    status, data, _ = await raw(fake, "POST", execute, classic, params={"wait": "true"})
    assert status == 200 and data["components"] == []
    status, data, _ = await raw(fake, "POST", execute, v2, params={"wait": "true", "with_components": "true"})
    assert status == 200 and data["components"] == [text("x")]

    # The bot's own webhooks belong to its application: Discord keeps their components.
    channel = await client.fetch_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    own = await channel.create_webhook(name="own")
    status, data, _ = await raw(fake, "POST", f"/webhooks/{own.id}/{own.token}", v2, params={"wait": "1"})
    assert status == 200 and data["components"] == [text("x")]


# ----- 9. snowflakes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [str(2**64), "-1", "abc"])
async def test_bad_snowflakes_in_paths(fake: FakeDiscord, bad: str) -> None:
    status, data, _ = await raw(fake, "POST", f"/channels/{bad}/messages", {"content": "x"})
    assert (status, data["code"]) == (400, 50035)
    assert data["errors"] == {
        "channel_id": {
            "_errors": [{"code": "NUMBER_TYPE_COERCE", "message": f'Value "{bad}" is not snowflake.'}]
        }
    }


async def test_snowflake_bounds_through_discord_py(fake: FakeDiscord, client: discord.Client) -> None:
    with pytest.raises(discord.NotFound) as not_found:  # the largest snowflake is valid, just unknown
        await client.fetch_channel(2**64 - 1)
    assert not_found.value.code == 10003
    mentions = {"content": "x", "allowed_mentions": {"users": [2**64 - 1, str(2**64 - 1)]}}
    await accepted(fake, mentions)
    fake.assert_no_violations()

    route = Route("POST", "/channels/{channel_id}/messages", channel_id=2**64)
    with pytest.raises(discord.HTTPException) as exc:
        await client.http.request(route, json={"content": "x"})
    assert (exc.value.status, exc.value.code) == (400, 50035)
    assert "is not snowflake" in exc.value.text
    body = {
        "content": "x",
        "allowed_mentions": {"users": [2**64, str(2**64)]},
        "message_reference": {"message_id": "-5"},
    }
    assert await refused(fake, body) == {
        "allowed_mentions.users.0": ["NUMBER_TYPE_COERCE"],
        "allowed_mentions.users.1": ["NUMBER_TYPE_COERCE"],
        "message_reference.message_id": ["NUMBER_TYPE_COERCE"],
    }


# ----- 10. rate-limit headers --------------------------------------------------------------------------


async def test_every_response_carries_rate_limit_headers(fake: FakeDiscord) -> None:
    fake.rate_window = 60.0  # one window for the whole test, however slow the machine
    answers = [
        await raw(fake, "GET", f"/channels/{CHANNEL}"),
        await raw(fake, "GET", f"/channels/{CHANNEL + 100}"),  # 404
        await raw(fake, "POST", f"/channels/{CHANNEL}/messages", {"content": 1}),  # 400
    ]
    fake.inject("POST", MESSAGES, 503)
    answers.append(await raw(fake, "POST", f"/channels/{CHANNEL}/messages", {"content": "x"}))
    assert [a[0] for a in answers] == [200, 404, 400, 503]
    for _, _, headers in answers:
        assert all(h in headers for h in RATE_LIMIT_HEADERS), headers
        assert headers["X-RateLimit-Limit"] == "50"

    fake.inject("POST", MESSAGES, 429, retry_after=0.25)
    status, data, headers = await raw(fake, "POST", f"/channels/{CHANNEL}/messages", {"content": "x"})
    assert status == 429 and data == {
        "message": "You are being rate limited.",
        "retry_after": 0.25,
        "global": False,
    }
    assert all(h in headers for h in (*RATE_LIMIT_HEADERS, "Retry-After", "X-RateLimit-Scope"))
    assert (headers["X-RateLimit-Remaining"], headers["X-RateLimit-Reset-After"]) == ("0", "0.250")


async def test_message_posts_are_bucketed_per_channel(fake: FakeDiscord) -> None:
    fake.rate_window = 60.0
    posts = [
        await raw(fake, "POST", f"/channels/{channel}/messages", {"content": "x"})
        for channel in (CHANNEL, CHANNEL, OTHER_CHANNEL)
    ]
    remaining = [h["X-RateLimit-Remaining"] for _, _, h in posts]
    assert remaining == ["49", "48", "49"]
    assert len({h["X-RateLimit-Bucket"] for _, _, h in posts}) == 1  # one route, two channels
    _, _, get = await raw(fake, "GET", f"/channels/{CHANNEL}")
    assert get["X-RateLimit-Bucket"] != posts[0][2]["X-RateLimit-Bucket"]


async def test_discord_py_sends_concurrently_after_a_5xx(fake: FakeDiscord, client: discord.Client) -> None:
    # A new bucket starts at limit 1 in discord.py; only rate-limit headers open it, and a 503 is the
    # first (and only) answer this bucket has had.
    fake.inject("POST", MESSAGES, 503)
    channel = client.get_partial_messageable(CHANNEL)
    with pytest.raises(discord.DiscordServerError):
        await channel.send("first")
    hold = fake.hold("POST", MESSAGES)
    sends = [asyncio.create_task(channel.send(f"m{i}")) for i in range(3)]
    await hold.wait_for(3)  # all three are at the fake at once: discord.py did not serialise them
    hold.release()
    await asyncio.gather(*sends)
    assert sorted(m.content for m in fake.messages(CHANNEL)) == ["m0", "m1", "m2"]


async def test_without_headers_discord_py_holds_the_bucket_at_one(route_base: None) -> None:
    """The counter-case of the test above: it is the headers that make the difference."""
    fake = await _start(rate_limit_headers=False)
    client = await _login()
    try:
        fake.inject("POST", MESSAGES, 503)
        channel = client.get_partial_messageable(CHANNEL)
        with pytest.raises(discord.DiscordServerError):
            await channel.send("first")
        hold = fake.hold("POST", MESSAGES)
        sends = [asyncio.create_task(channel.send(f"m{i}")) for i in range(2)]
        await hold.wait_for(1)
        # The second send waits inside discord.py's bucket, not at the fake.
        await eventually(
            lambda: any(len(b._pending_requests) == 1 for b in client.http._buckets.values()), 10
        )
        assert hold.arrived == 1
        assert [b.limit for b in client.http._buckets.values() if b._pending_requests] == [1]
        hold.release()
        await asyncio.gather(*sends)
        assert hold.arrived == 2
    finally:
        await client.close()
        await fake.stop()


# ----- 11. nonce window --------------------------------------------------------------------------------


async def test_nonces_are_deduplicated_for_a_window_only(route_base: None) -> None:
    now = [1_000.0]
    fake = await _start(clock=lambda: now[0])
    client = await _login()
    try:
        channel = client.get_partial_messageable(CHANNEL)
        first = await channel.send("hi", nonce="n1")
        now[0] += 299.0
        assert (await channel.send("hi", nonce="n1")).id == first.id  # within the default 5 minutes
        now[0] = 1_000.0 + 300.0
        second = await channel.send("hi", nonce="n1")
        assert second.id != first.id
        assert (await channel.send("hi", nonce="n1")).id == second.id  # the new one starts a window
        assert len(fake.messages(CHANNEL)) == 2
    finally:
        await client.close()
        await fake.stop()

    fake = await _start(clock=lambda: now[0], nonce_window=10.0)
    client = await _login()
    try:
        channel = client.get_partial_messageable(CHANNEL)
        first = await channel.send("hi", nonce="n2")
        now[0] += 10.0
        assert (await channel.send("hi", nonce="n2")).id != first.id
    finally:
        await client.close()
        await fake.stop()
