"""The codec server: decrypts payloads for the Temporal Web UI (and `temporal` CLI) of operators
who hold the key, and nobody else.

    POST /encode, POST /decode          Authorization: Bearer <CODEC_TOKEN>
    POST /<token>/encode, /<token>/decode   the same, token in the path

Bodies are Temporal's codec-server JSON, `{"payloads": [{"metadata": {k: base64}, "data": base64}]}`.
The Web UI cannot send a bearer header of its own without OIDC, so the dev stack points it at
`http://127.0.0.1:8234/<token>` (`--ui-codec-endpoint`); the UI then posts to `<that>/decode`.
CORS answers only the configured UI origins. Tokens are compared in constant time, and the access
log is off, because a request path may carry the token.

    python -m stack.codec_server [--port 8234] [--host 127.0.0.1] [--origin URL ...]

reads ENCRYPTION_KEYS, CODEC_TOKEN and LOG_FORMAT like every other process (stack/settings.py);
CODEC_PORT and CODEC_ALLOWED_ORIGINS (comma-separated) set the defaults of --port and --origin.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import quote

from aiohttp import web
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from stack.codec import EncryptionCodec
from stack.settings import Settings, load_settings
from stack.telemetry import setup_logging

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8234
DEV_UI_ORIGINS = ("http://127.0.0.1:8233", "http://localhost:8233")
ALLOWED_HEADERS = "content-type, x-namespace, authorization"
MAX_BODY = 16 * 1024 * 1024

log = logging.getLogger("codec_server")

_CODEC: web.AppKey[EncryptionCodec] = web.AppKey("codec", EncryptionCodec)
_TOKEN: web.AppKey[bytes] = web.AppKey("token", bytes)
_ORIGINS: web.AppKey[frozenset[str]] = web.AppKey("origins", frozenset)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def codec_endpoint(token: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    """The value for `--ui-codec-endpoint`: the token rides in the path (see module doc)."""
    return f"http://{host}:{port}/{quote(token, safe='')}"


def _token_ok(request: web.Request) -> bool:
    expected = request.app[_TOKEN]
    given = request.match_info.get("token")
    if given is None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        given = value.strip()
    return hmac.compare_digest(given.encode(), expected)


def _cors_headers(request: web.Request) -> dict[str, str]:
    origin = request.headers.get("Origin")
    if origin is None or origin not in request.app[_ORIGINS]:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


@web.middleware
async def _cors_and_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    cors = _cors_headers(request)
    if request.method == "OPTIONS":  # preflight: no credentials are sent with it
        return web.Response(status=204 if cors else 403, headers=cors)
    if not _token_ok(request):
        return web.json_response({"error": "unauthorized"}, status=401, headers=cors)
    try:
        response = await handler(request)
    except web.HTTPException as err:
        err.headers.update(cors)
        raise
    response.headers.update(cors)
    return response


async def _read_payloads(request: web.Request) -> list[Payload]:
    try:
        body = await request.text()
        payloads = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
    except (json_format.ParseError, UnicodeDecodeError, ValueError) as err:
        raise web.HTTPBadRequest(text=f"not codec-server JSON: {err}") from None
    return list(payloads.payloads)


def _reply(payloads: Iterable[Payload]) -> web.Response:
    body = json_format.MessageToJson(Payloads(payloads=list(payloads)))
    return web.Response(text=body, content_type="application/json")


async def _encode(request: web.Request) -> web.Response:
    payloads = await _read_payloads(request)
    return _reply(await request.app[_CODEC].encode(payloads))


async def _decode(request: web.Request) -> web.Response:
    codec = request.app[_CODEC]
    decoded = []
    for payload in await _read_payloads(request):
        try:
            [plain] = await codec.decode([payload])
        except Exception as err:  # unknown key id or tampered data: show that one payload as it is
            log.warning("cannot decode a payload: %s", type(err).__name__)
            plain = payload
        decoded.append(plain)
    return _reply(decoded)


def create_app(
    keys: Sequence[bytes], token: str, allowed_origins: Iterable[str] = DEV_UI_ORIGINS
) -> web.Application:
    """The codec server as an aiohttp application (serve it with `serve()` or any aiohttp runner)."""
    if not token or not token.strip():
        raise ValueError("the codec server needs a non-empty token (CODEC_TOKEN)")
    app = web.Application(middlewares=[_cors_and_auth], client_max_size=MAX_BODY)
    app[_CODEC] = EncryptionCodec(keys)
    app[_TOKEN] = token.encode()
    app[_ORIGINS] = frozenset(origin.rstrip("/") for origin in allowed_origins)
    for prefix in ("", "/{token}"):
        app.router.add_post(prefix + "/encode", _encode)
        app.router.add_post(prefix + "/decode", _decode)
        app.router.add_route("OPTIONS", prefix + "/encode", _encode)
        app.router.add_route("OPTIONS", prefix + "/decode", _decode)
    return app


async def serve(app: web.Application, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> web.AppRunner:
    """Start serving in this event loop; `await runner.cleanup()` stops it."""
    # No access log: a request path may carry the token.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    env_origins = [o.strip() for o in os.environ.get("CODEC_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    parser = argparse.ArgumentParser(prog="python -m stack.codec_server", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("CODEC_PORT", DEFAULT_PORT)), help="default 8234"
    )
    parser.add_argument(
        "--origin",
        action="append",
        dest="origins",
        help="a Web UI origin allowed by CORS (repeatable; default the dev UI on :8233)",
    )
    args = parser.parse_args(argv)
    args.origins = args.origins or env_origins or list(DEV_UI_ORIGINS)
    return args


async def _main(args: argparse.Namespace, settings: Settings) -> None:
    keys = settings.aes_keys()
    if not keys:
        raise SystemExit("configuration error: ENCRYPTION_KEYS: not set")
    if settings.codec_token is None:
        raise SystemExit("configuration error: CODEC_TOKEN: not set")
    app = create_app(keys, settings.codec_token.get_secret_value(), args.origins)
    runner = await serve(app, args.host, args.port)
    log.info("codec server on http://%s:%d for %s", args.host, args.port, ", ".join(args.origins))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    settings = load_settings()
    setup_logging(settings.log_format)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args, settings))


if __name__ == "__main__":
    main()
