"""Encryption at rest: key rotation, encoded failure messages, and the codec server."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from stack.codec import ENCODING, EncryptionCodec, key_id
from stack.codec_server import codec_endpoint, create_app
from stack.devserver import free_port
from stack.temporal import data_converter
from tests.support.temporal import OTHER_KEY, TEST_KEY

REPO = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-codec-token"
UI = "http://127.0.0.1:8233"
SECRET = "meet me at the lighthouse"


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(text).encode())


def to_json(payloads: list[Payload]) -> dict[str, object]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


def from_json(body: dict[str, list[dict[str, object]]]) -> list[Payload]:
    out = []
    for item in body["payloads"]:
        metadata = item.get("metadata") or {}
        assert isinstance(metadata, dict)
        out.append(
            Payload(
                metadata={k: base64.b64decode(v) for k, v in metadata.items()},
                data=base64.b64decode(str(item.get("data", ""))),
            )
        )
    return out


# --- the codec ---------------------------------------------------------------------------------------


async def test_rotation_written_with_a_is_read_with_b_then_a() -> None:
    [sealed] = await EncryptionCodec([TEST_KEY]).encode([plain(SECRET)])
    assert SECRET.encode() not in sealed.SerializeToString()

    rotated = EncryptionCodec([OTHER_KEY, TEST_KEY])
    [opened] = await rotated.decode([sealed])
    assert json.loads(opened.data) == SECRET
    # New writes use the new key, which the old key alone cannot read.
    [resealed] = await rotated.encode([plain(SECRET)])
    assert resealed.metadata["encryption-key-id"] == key_id(OTHER_KEY).encode()
    with pytest.raises(ValueError, match="unknown key id"):
        await EncryptionCodec([TEST_KEY]).decode([resealed])


async def test_a_relabelled_payload_is_refused() -> None:
    [sealed] = await EncryptionCodec([TEST_KEY]).encode([plain(SECRET)])
    sealed.metadata["encryption-key-id"] = key_id(OTHER_KEY).encode()
    with pytest.raises(Exception):  # noqa: B017 (cryptography's InvalidTag)
        await EncryptionCodec([OTHER_KEY, TEST_KEY]).decode([sealed])


async def test_failure_messages_and_stack_traces_are_encrypted() -> None:
    converter = data_converter([TEST_KEY])
    try:
        raise ApplicationError(f"could not deliver {SECRET}", {"hint": SECRET}, type="Nope")
    except ApplicationError as err:
        failure = Failure()
        await converter.encode_failure(err, failure)

    wire = failure.SerializeToString()
    assert SECRET.encode() not in wire
    assert failure.message == "Encoded failure"
    assert failure.stack_trace == ""
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    assert failure.application_failure_info.details.payloads[0].metadata["encoding"] == ENCODING

    decoded = await data_converter([OTHER_KEY, TEST_KEY]).decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    assert decoded.message == f"could not deliver {SECRET}"
    assert decoded.details == ({"hint": SECRET},)


# --- the codec server --------------------------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[TestClient[aiohttp.web.Request, aiohttp.web.Application]]:
    app = create_app([OTHER_KEY, TEST_KEY], TOKEN, [UI, "http://localhost:8233"])
    async with TestClient(TestServer(app)) as client:
        yield client


async def sealed_by_worker() -> list[Payload]:
    """What the worker would store: the converter's own encoding of a string."""
    converter = data_converter([TEST_KEY])
    return await converter.encode([SECRET])


async def test_decode_with_the_bearer_token(
    http: TestClient[aiohttp.web.Request, aiohttp.web.Application],
) -> None:
    sealed = await sealed_by_worker()
    reply = await http.post(
        "/decode",
        json=to_json(sealed),
        headers={"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default", "Origin": UI},
    )
    assert reply.status == 200
    assert reply.headers["Access-Control-Allow-Origin"] == UI
    [opened] = from_json(await reply.json())
    assert json.loads(opened.data) == SECRET
    assert opened.metadata["encoding"] == b"json/plain"


async def test_decode_with_the_token_in_the_path(
    http: TestClient[aiohttp.web.Request, aiohttp.web.Application],
) -> None:
    sealed = await sealed_by_worker()
    reply = await http.post(f"/{TOKEN}/decode", json=to_json(sealed))
    assert reply.status == 200
    [opened] = from_json(await reply.json())
    assert json.loads(opened.data) == SECRET


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/decode", {}),
        ("/decode", {"Authorization": "Bearer wrong"}),
        ("/decode", {"Authorization": TOKEN}),  # no scheme
        ("/decode", {"Authorization": f"Basic {TOKEN}"}),
        ("/wrong/decode", {}),
        (f"/{TOKEN}x/decode", {}),
        ("/encode", {}),
    ],
)
async def test_refused_without_the_token(
    http: TestClient[aiohttp.web.Request, aiohttp.web.Application], path: str, headers: dict[str, str]
) -> None:
    sealed = await sealed_by_worker()
    reply = await http.post(path, json=to_json(sealed), headers={**headers, "Origin": UI})
    assert reply.status == 401
    assert SECRET not in await reply.text()
    # The UI can read the refusal (CORS headers on errors too).
    assert reply.headers["Access-Control-Allow-Origin"] == UI


async def test_encode_then_decode_round_trip(
    http: TestClient[aiohttp.web.Request, aiohttp.web.Application],
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    reply = await http.post("/encode", json=to_json([plain(SECRET)]), headers=auth)
    assert reply.status == 200
    [sealed] = from_json(await reply.json())
    assert sealed.metadata["encoding"] == ENCODING and SECRET.encode() not in sealed.data
    assert sealed.metadata["encryption-key-id"] == key_id(OTHER_KEY).encode()  # the first key writes
    back = await http.post("/decode", json=to_json([sealed]), headers=auth)
    [opened] = from_json(await back.json())
    assert json.loads(opened.data) == SECRET


async def test_undecodable_and_plain_payloads_come_back_as_they_are(
    http: TestClient[aiohttp.web.Request, aiohttp.web.Application],
) -> None:
    [foreign] = await EncryptionCodec([bytes(32)]).encode([plain("x")])
    reply = await http.post(
        "/decode", json=to_json([foreign, plain("y")]), headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert reply.status == 200
    assert from_json(await reply.json()) == [foreign, plain("y")]
    bad = await http.post("/decode", data=b"not json", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status == 400


@pytest.mark.parametrize("origin", [UI, "http://localhost:8233"])
async def test_cors_preflight_for_the_ui(
    http: TestClient[aiohttp.web.Request, aiohttp.web.Application], origin: str
) -> None:
    reply = await http.options(
        f"/{TOKEN}/decode",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-namespace",
        },
    )
    assert reply.status == 204
    assert reply.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in reply.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip() for h in reply.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"content-type", "x-namespace", "authorization"}
    # Preflight without credentials also works for the bearer path.
    assert (await http.options("/decode", headers={"Origin": origin})).status == 204


async def test_cors_refuses_other_origins(
    http: TestClient[aiohttp.web.Request, aiohttp.web.Application],
) -> None:
    reply = await http.options("/decode", headers={"Origin": "http://evil.example"})
    assert reply.status == 403
    assert "Access-Control-Allow-Origin" not in reply.headers
    post = await http.post(
        "/decode",
        json=to_json(await sealed_by_worker()),
        headers={"Authorization": f"Bearer {TOKEN}", "Origin": "http://evil.example"},
    )
    assert "Access-Control-Allow-Origin" not in post.headers


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(ValueError, match="token"):
        create_app([TEST_KEY], "", [UI])


def test_the_ui_endpoint_carries_the_token_in_its_path() -> None:
    assert codec_endpoint("a/b c", port=9999) == "http://127.0.0.1:9999/a%2Fb%20c"


async def test_python_dash_m_serves_on_the_given_port(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "ENCRYPTION_KEYS": base64.b64encode(TEST_KEY).decode(),
        "CODEC_TOKEN": TOKEN,
        "CODEC_PORT": str(port),
    }
    log = (tmp_path / "codec.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "stack.codec_server"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        sealed = await sealed_by_worker()
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.post(
                        f"{codec_endpoint(TOKEN, port=port)}/decode", json=to_json(sealed)
                    ) as reply:
                        assert reply.status == 200
                        [opened] = from_json(await reply.json())
                        assert json.loads(opened.data) == SECRET
                        break
                except aiohttp.ClientConnectionError:
                    assert proc.poll() is None, (tmp_path / "codec.log").read_text()
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the codec server did not answer")
            async with session.post(f"http://127.0.0.1:{port}/decode", json=to_json(sealed)) as refused:
                assert refused.status == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    assert TOKEN not in (tmp_path / "codec.log").read_text()
