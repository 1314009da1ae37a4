"""The fake Discord API, driven by a real discord.py client over HTTP."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord.http import Route

from local_discord import FakeDiscord, FakeDiscordRemote, load_spec

GUILD = 900_000_000_000_000_001
CHANNEL = 900_000_000_000_000_002
USER = 900_000_000_000_000_003
MESSAGES = r"^/channels/\d+/messages$"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def route_base() -> Iterator[None]:
    """Put discord.http.Route.BASE back however the test ends."""
    old = Route.BASE
    yield
    Route.BASE = old


@pytest_asyncio.fixture
async def fake(route_base: None) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as f:
        Route.BASE = f.base_url
        f.add_channel(CHANNEL, GUILD)
        yield f


@pytest_asyncio.fixture
async def client(fake: FakeDiscord) -> AsyncIterator[discord.Client]:
    c = discord.Client(intents=discord.Intents.none())
    await c.login("token")
    yield c
    await c.close()


@pytest.mark.asyncio
async def test_login_fetch_channel_and_auth(fake: FakeDiscord, client: discord.Client) -> None:
    assert client.user is not None and client.user.id == fake.bot_user_id
    channel = await client.fetch_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    assert (channel.name, channel.guild.id) == ("general", GUILD)

    async with aiohttp.ClientSession() as s, s.get(f"{fake.base_url}/users/@me") as resp:
        assert resp.status == 401
        assert await resp.json() == {"message": "401: Unauthorized", "code": 0}
    fake.assert_no_violations()


@pytest.mark.asyncio
async def test_same_nonce_creates_one_message(fake: FakeDiscord, client: discord.Client) -> None:
    channel = client.get_partial_messageable(CHANNEL)
    first = await channel.send("hi", nonce="abc")
    second = await channel.send("hi", nonce="abc")
    assert first.id == second.id
    (recorded,) = fake.messages(CHANNEL)
    assert (recorded.id, recorded.content, recorded.nonce, recorded.guild_id) == (
        first.id,
        "hi",
        "abc",
        GUILD,
    )
    assert recorded.id > 2**22 and recorded.author_id == fake.bot_user_id

    await channel.send("hi")  # discord.py picks a fresh random nonce each time
    await channel.send("hi")
    assert len(fake.messages(CHANNEL)) == 3
    fake.assert_no_violations()


@pytest.mark.asyncio
async def test_429_is_retried_transparently(fake: FakeDiscord, client: discord.Client) -> None:
    fault = fake.inject("POST", MESSAGES, 429, retry_after=0.05)
    await client.get_partial_messageable(CHANNEL).send("after a rate limit")
    assert [r.status for r in fake.requests("POST", MESSAGES)] == [429, 200]
    assert fault.fired == 1 and fault.times == 0
    assert [m.content for m in fake.messages()] == ["after a rate limit"]


@pytest.mark.asyncio
async def test_persistent_5xx_raises_server_error(fake: FakeDiscord, client: discord.Client) -> None:
    # 503 is not in discord.py's retry set (500/502/504/524 sleep 1+2n s each), so this stays fast.
    fake.inject("POST", MESSAGES, 503, times=10)
    with pytest.raises(discord.DiscordServerError) as exc:
        await client.get_partial_messageable(CHANNEL).send("never")
    assert exc.value.status == 503
    assert fake.messages() == []


@pytest.mark.asyncio
async def test_lost_response_then_retry_is_deduplicated_by_nonce(
    fake: FakeDiscord, client: discord.Client
) -> None:
    # The message is committed but the client sees a 500; discord.py retries (after 1 s) with the same nonce.
    fake.inject("POST", MESSAGES, 500, lose_response=True)
    msg = await client.get_partial_messageable(CHANNEL).send("exactly once")
    assert [r.status for r in fake.requests("POST", MESSAGES)] == [500, 200]
    assert [m.id for m in fake.messages()] == [msg.id]


@pytest.mark.asyncio
async def test_removed_channel_is_unknown(fake: FakeDiscord, client: discord.Client) -> None:
    fake.remove_channel(CHANNEL)
    with pytest.raises(discord.NotFound) as exc:
        await client.get_partial_messageable(CHANNEL).send("into the void")
    assert exc.value.code == 10003
    with pytest.raises(discord.NotFound):
        await client.fetch_channel(CHANNEL)


@pytest.mark.asyncio
async def test_injected_error_codes(fake: FakeDiscord, client: discord.Client) -> None:
    fake.inject("*", MESSAGES, 403, code=50013)
    with pytest.raises(discord.Forbidden) as exc:
        await client.get_partial_messageable(CHANNEL).send("no perms")
    assert (exc.value.code, exc.value.text) == (50013, "Missing Permissions")


@pytest.mark.asyncio
async def test_edit_and_delete_message(fake: FakeDiscord, client: discord.Client) -> None:
    msg = await client.get_partial_messageable(CHANNEL).send("draft")
    edited = await msg.edit(content="final")
    assert edited.content == "final" and edited.edited_at is not None
    await msg.delete()
    assert fake.messages() == []
    (gone,) = fake.messages(include_deleted=True)
    assert (gone.content, gone.deleted, [e["content"] for e in gone.edits]) == ("final", True, ["final"])
    with pytest.raises(discord.NotFound) as exc:
        await msg.delete()
    assert exc.value.code == 10008


@pytest.mark.asyncio
async def test_webhook_lifecycle(fake: FakeDiscord, client: discord.Client) -> None:
    channel = await client.fetch_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    created = await channel.create_webhook(name="Scheduler")
    assert created.token is not None and created.channel_id == CHANNEL

    hook = discord.Webhook.partial(created.id, created.token, client=client)
    posted = await hook.send("round results", wait=True)
    assert posted.webhook_id == created.id and posted.content == "round results"
    await posted.edit(content="round results (final)")
    await hook.send("fire and forget")  # wait=False: Discord answers 204 with no body
    assert fake.requests("POST", r"^/webhooks/")[-1].status == 204

    contents = [(m.content, m.webhook_id) for m in fake.messages(CHANNEL)]
    assert contents == [("round results (final)", created.id), ("fire and forget", created.id)]
    await hook.delete()
    assert [(w.name, w.deleted) for w in fake.webhooks()] == [("Scheduler", True)]
    with pytest.raises(discord.NotFound) as exc:
        await hook.delete()
    assert exc.value.code == 10015
    fake.assert_no_violations()


@pytest.mark.asyncio
async def test_a_channel_holds_at_most_15_webhooks(fake: FakeDiscord, client: discord.Client) -> None:
    channel = await client.fetch_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    for _ in range(5):
        fake.add_webhook(CHANNEL)  # made by the server's admins in Discord's UI
    ours = [await channel.create_webhook(name=f"hook {i}") for i in range(10)]
    with pytest.raises(discord.HTTPException) as exc:
        await channel.create_webhook(name="one too many")
    assert (exc.value.status, exc.value.code) == (400, 30007)
    assert exc.value.text == "Maximum number of webhooks reached (15)"

    listed = await channel.webhooks()
    assert len(listed) == 15 and {w.id for w in ours} <= {w.id for w in listed}
    assert all(w.token for w in listed)
    await ours[0].delete()  # a deleted one frees its place
    await channel.create_webhook(name="fits again")
    fake.assert_no_violations()


@pytest.mark.asyncio
async def test_history_pages_newest_first_and_webhook_posts_keep_their_own_name(
    fake: FakeDiscord, client: discord.Client
) -> None:
    channel = await client.fetch_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    sent = [await channel.send(f"m{i}") for i in range(5)]
    hook = await channel.create_webhook(name="kept")
    posted = await hook.send("as someone", username="Treasure Hunt", wait=True)
    assert posted.author.name == "Treasure Hunt"

    after = [m.content async for m in channel.history(after=sent[1], limit=None, oldest_first=True)]
    assert after == ["m2", "m3", "m4", "as someone"]
    newest = await client.http.logs_from(CHANNEL, 2)
    assert [m["content"] for m in newest] == ["as someone", "m4"]
    before = await client.http.logs_from(CHANNEL, 10, before=sent[2].id)
    assert [m["content"] for m in before] == ["m1", "m0"]
    with pytest.raises(discord.HTTPException) as exc:
        await hook.send("nope", username="my discord bot")
    assert exc.value.code == 50035
    fake.violations.clear()  # that refusal was the point


@pytest.mark.asyncio
async def test_dms_and_closed_dms(fake: FakeDiscord, client: discord.Client) -> None:
    dm = await client.create_dm(discord.Object(USER))
    assert isinstance(dm, discord.DMChannel)
    await dm.send("a whisper for you")
    assert [m.content for m in fake.dms(USER)] == ["a whisper for you"]
    assert fake.dms(USER)[0].guild_id is None and fake.dm_channel_id(USER) == dm.id

    fake.close_dms(USER)
    with pytest.raises(discord.Forbidden) as exc:
        await dm.send("blocked")
    assert exc.value.code == 50007


@pytest.mark.asyncio
async def test_real_discord_py_payloads_pass_the_schema(fake: FakeDiscord, client: discord.Client) -> None:
    channel = client.get_partial_messageable(CHANNEL, guild_id=GUILD)
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Read Message", custom_id="whisper:read:1"))
    view.add_item(discord.ui.Select(custom_id="pick", options=[discord.SelectOption(label="a")]))
    embed = discord.Embed(title="Round 3", description="results", colour=0x00FF00).add_field(
        name="x", value="1"
    )
    embed.timestamp = discord.utils.utcnow()
    first = await channel.send(
        "<@1> wins",
        embed=embed,
        view=view,
        allowed_mentions=discord.AllowedMentions(users=[discord.Object(1)]),
        file=discord.File(__file__, filename="log.txt"),  # multipart: payload_json is validated
        silent=True,
    )
    await channel.send("reply", reference=first)
    fake.assert_no_violations()
    recorded = fake.message(first.id)
    assert recorded.components[0]["components"][0]["custom_id"] == "whisper:read:1"
    assert recorded.attachments[0]["filename"] == "log.txt" and recorded.flags == 4096
    assert (
        first.components and first.embeds[0].title == "Round 3" and first.attachments[0].filename == "log.txt"
    )


@pytest.mark.asyncio
async def test_invalid_body_is_rejected_and_recorded(fake: FakeDiscord, client: discord.Client) -> None:
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=CHANNEL)
    for body in ({"content": 123}, {"content": "x", "flags": "x"}):
        with pytest.raises(discord.HTTPException) as exc:
            await client.http.request(route, json=body)
        assert (exc.value.status, exc.value.code) == (400, 50035)
    assert [v.kind for v in fake.violations] == ["body", "body"]
    assert "body.content: 123 is not of type 'string', 'null'" in fake.violations[0].errors
    assert fake.messages() == []
    with pytest.raises(AssertionError, match="2 Discord API violation"):
        fake.assert_no_violations()


@pytest.mark.asyncio
async def test_query_parameters_and_bot_rules_are_checked(fake: FakeDiscord, client: discord.Client) -> None:
    channel = await client.fetch_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    hook = await channel.create_webhook(name="hook")
    route = Route(
        "POST", "/webhooks/{webhook_id}/{webhook_token}", webhook_id=hook.id, webhook_token=hook.token
    )
    with pytest.raises(discord.HTTPException) as exc:
        await client.http.request(route, json={"content": "x"}, params={"wait": "maybe"})
    assert exc.value.code == 50035
    with pytest.raises(discord.HTTPException) as exc:  # the spec allows 4000 characters; bots get 2000
        await channel.send("x" * 2001)
    assert exc.value.code == 50035
    assert [v.kind for v in fake.violations] == ["query", "rule"]


@pytest.mark.asyncio
async def test_unknown_route_is_recorded(fake: FakeDiscord, client: discord.Client) -> None:
    with pytest.raises(discord.NotFound):
        await client.http.request(Route("GET", "/guilds/{guild_id}/bans", guild_id=GUILD))
    (req,) = fake.unexpected_requests()
    assert (req.method, req.path, req.status) == ("GET", f"/guilds/{GUILD}/bans", 404)
    assert [v.kind for v in fake.violations] == ["unknown_route"]


@pytest.mark.asyncio
async def test_schema_validator_is_not_vacuous() -> None:
    spec = load_spec()
    found = spec.find("POST", f"/channels/{CHANNEL}/messages")
    assert found is not None
    op, params = found
    assert op.template == "/channels/{channel_id}/messages" and params == {"channel_id": str(CHANNEL)}
    button = {"type": 2, "style": 1, "label": "ok", "custom_id": "c"}
    good = {"content": "hi", "nonce": "123", "enforce_nonce": True, "allowed_mentions": {"users": [1, "2"]}}
    assert spec.validate(op, params, {}, good) == []
    assert spec.validate(op, params, {}, {"components": [{"type": 1, "components": [button]}]}) == []
    bad_button = {k: v for k, v in button.items() if k != "style"}
    for bad in (
        {"components": [{"type": 1, "components": [bad_button]}]},
        {"nonce": "n" * 26},
        {"tts": "yes"},
    ):
        assert spec.validate(op, params, {}, bad), bad
    assert spec.validate(op, {"channel_id": "abc"}, {}, good)  # path snowflakes are checked too

    # Webhook execution accepts anyOf two loose schemas; a wrong type must still fail both.
    found = spec.find("POST", "/webhooks/1/tok")
    assert found is not None
    webhook_op, webhook_params = found
    assert spec.validate(webhook_op, webhook_params, {"wait": "1"}, {"content": "ok", "username": "x"}) == []
    assert spec.validate(webhook_op, webhook_params, {}, {"content": 123})
    assert spec.validate(webhook_op, webhook_params, {"wait": "yes"}, {"content": "ok"})


@pytest.mark.asyncio
async def test_every_fake_route_is_in_the_spec(fake: FakeDiscord) -> None:
    spec = load_spec()
    for method, template in fake.routes():
        concrete = re.sub(r"\{(\w+)\}", lambda m: "tok" if m[1] == "webhook_token" else "1", template)
        found = spec.find(method, concrete)
        assert found is not None and found[0].template == template, (method, template)


@pytest.mark.asyncio
async def test_out_of_process_server(tmp_path: Path, route_base: None) -> None:
    port_file = tmp_path / "fake.url"
    log = (tmp_path / "fake.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "local_discord", "--port-file", str(port_file)],
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            if port_file.exists() or proc.poll() is not None:
                break
            await asyncio.sleep(0.05)
        assert port_file.exists(), (tmp_path / "fake.log").read_text()
        base_url = port_file.read_text()
        Route.BASE = base_url
        async with FakeDiscordRemote(base_url) as remote:
            await remote.add_channel(CHANNEL, GUILD, name="remote")
            await remote.inject("POST", MESSAGES, 429)
            client = discord.Client(intents=discord.Intents.none())
            await client.login("token")
            try:
                sent = await client.get_partial_messageable(CHANNEL).send("across processes")
            finally:
                await client.close()
            (msg,) = await remote.messages(CHANNEL)
            assert (msg.id, msg.content) == (sent.id, "across processes")
            assert [r.status for r in await remote.requests("POST")] == [429, 200]
            assert (await remote.faults())[0].fired == 1
            made = await remote.add_webhook(CHANNEL)
            assert [(w.id, w.application_id) for w in await remote.webhooks()] == [(made.id, None)]
            await remote.assert_no_violations()
    finally:
        proc.terminate()  # SIGTERM to this pid only
        proc.wait(timeout=5)
        log.close()
    assert proc.returncode == 0
