"""``python -m local_discord --port-file PATH``: serve a FakeDiscord until SIGTERM/SIGINT.

The base_url is written to PATH (atomically, so a poller never reads half a URL) once the port is bound.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from .rest import FakeDiscord


async def _serve(port_file: Path | None, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with FakeDiscord(host=host, port=port) as fake:
        if port_file is not None:
            tmp = port_file.with_name(port_file.name + ".tmp")
            tmp.write_text(fake.base_url, encoding="utf-8")
            os.replace(tmp, port_file)
        print(f"fake discord listening on {fake.base_url}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m local_discord", description=__doc__)
    parser.add_argument("--port-file", type=Path, help="write the base_url here once listening")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    asyncio.run(_serve(args.port_file, args.host, args.port))


if __name__ == "__main__":
    main()
