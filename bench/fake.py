"""The fake Discord in its own process, so its CPU is not counted against the system under test.

`python -m bench.fake --port-file PATH` serves local_discord.FakeDiscord (schema validation off
by default: it costs the fake several ms per request on a shared 2-core machine and the tests
already check the bodies). Arrival time of each post is the millisecond in its snowflake id.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.workload import CHANNEL_ID, GUILD_ID, parse
from local_discord import FakeDiscord, FakeDiscordRemote
from local_discord.rest import DISCORD_EPOCH_MS

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Post:
    job: int
    kind: str
    at: float  # epoch seconds when the fake created the message


@dataclass(frozen=True)
class Observed:
    posts: list[Post]  # messages created (after nonce de-duplication)
    requests: dict[tuple[int, str], int]  # POST attempts per fire, nonce-deduplicated ones included


def snowflake_time(snowflake: int) -> float:
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000.0


class FakeProcess:
    def __init__(self, workdir: Path, *, validate: bool = False) -> None:
        self.workdir = workdir
        self.validate = validate
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, timeout: float = 20.0) -> FakeDiscordRemote:
        port_file = self.workdir / "fake-discord.url"
        cmd = [sys.executable, "-m", "bench.fake", "--port-file", str(port_file)]
        if self.validate:
            cmd.append("--validate")
        with (self.workdir / "fake-discord.log").open("wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"the fake Discord did not start; see {self.workdir / 'fake-discord.log'}")
            await asyncio.sleep(0.05)
        self.base_url = port_file.read_text(encoding="utf-8")
        remote = FakeDiscordRemote(self.base_url)
        await remote.add_channel(CHANNEL_ID, GUILD_ID, "bench")
        return remote

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def observe(remote: FakeDiscordRemote) -> Observed:
    posts = []
    for m in await remote.messages(CHANNEL_ID):
        if (key := parse(m.content)) is not None:
            posts.append(Post(key[0], key[1], snowflake_time(m.id)))
    requests: dict[tuple[int, str], int] = {}
    for r in await remote.requests("POST", r"^/channels/\d+/messages$"):
        body = r.json if isinstance(r.json, dict) else {}
        if (key := parse(str(body.get("content", "")))) is not None:
            requests[key] = requests.get(key, 0) + 1
    return Observed(posts, requests)


async def count_posts(remote: FakeDiscordRemote) -> int:
    return len(await remote.messages(CHANNEL_ID))


async def _serve(port_file: Path, validate: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # No rate-limit headers: the bench posts every fire into one channel, at up to 67 a second at
    # 1,000 jobs, and with the fake's 50 a second per channel reported, discord.py held the whole
    # run to that (fires seconds late, reminders skipped) and measured the fake, not the scheduler.
    # Without them discord.py sends one request at a time per channel, as in the 2026-11-23 runs.
    async with FakeDiscord(validate=validate, rate_limit_headers=False) as fake:
        tmp = port_file.with_name(port_file.name + ".tmp")
        tmp.write_text(fake.base_url, encoding="utf-8")
        os.replace(tmp, port_file)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fake")
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--validate", action="store_true", help="check bodies against Discord's OpenAPI")
    args = parser.parse_args()
    asyncio.run(_serve(args.port_file, args.validate))


if __name__ == "__main__":
    main()
