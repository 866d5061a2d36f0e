"""The upgrade and setup as the real service does them: paths, keys, TLS, models, casing."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import pytest
import websockets
from google import genai
from google.genai import errors, types
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from talkbox.emulator import Emulator

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
WAIT_S = 10.0


async def text_turn(session: Any, text: str = "hello") -> list[types.LiveServerMessage]:
    await session.send_realtime_input(text=text)
    async with asyncio.timeout(WAIT_S):
        return [m async for m in session.receive()]


async def connect_and_listen(client: Any) -> None:
    async with client.aio.live.connect(model=MODEL) as session:
        async with asyncio.timeout(WAIT_S):
            async for _ in session.receive():
                pass


@pytest.mark.parametrize("api_version", ["v1", "v1beta", "v1alpha"])
@pytest.mark.parametrize("trailing_slash", [False, True])
async def test_every_api_version_and_both_path_forms_are_accepted(
    make_emulator: Any, client_for: Any, api_version: str, trailing_slash: bool
) -> None:
    # v1 is refused during setup unless served like v1beta (see test_models.py).
    emulator = await make_emulator(v1_live="serve")
    client = client_for(emulator, api_version=api_version, trailing_slash=trailing_slash)
    async with client.aio.live.connect(model=MODEL) as session:
        messages = await text_turn(session)
    assert messages[-1].server_content is not None
    handshake = emulator.log.events("handshake")[0].message
    assert handshake["version"] == api_version
    assert str(handshake["path"]).startswith("//ws/" if trailing_slash else "/ws/")


async def test_a_wrong_key_is_refused_at_the_upgrade(emulator: Emulator, client_for: Any) -> None:
    client = client_for(emulator, api_key="not-the-key")
    with pytest.raises(InvalidStatus) as caught:
        async with client.aio.live.connect(model=MODEL):
            pass
    assert caught.value.response.status_code == 400
    body = json.loads(caught.value.response.body)
    assert body["error"]["message"] == "API key not valid. Please pass a valid API key."
    assert emulator.log.connection_attempts()[0].kind == "upgrade_refused"


@pytest.mark.parametrize("model", [MODEL, "gemini-foo"])
async def test_a_wrong_key_can_instead_be_closed_with_1007_during_setup(
    make_emulator: Any, client_for: Any, model: str
) -> None:
    emulator = await make_emulator(bad_key_mode="close1007")
    emulator.arm("quota:max=0,via=close")
    client = client_for(emulator, api_key="not-the-key")
    with pytest.raises(errors.APIError) as caught:
        # connect() itself fails: setup is answered with the close, not setupComplete.
        async with client.aio.live.connect(model=model):
            pytest.fail("connect() succeeded with a wrong key")
    assert caught.value.code == 1007
    assert caught.value.details == "API key not valid. Please pass a valid API key."
    assert not emulator.log.server_messages("setupComplete")
    # The key is checked before the model, the quota and any setup fault.
    assert not emulator.log.events("fault")


async def test_a_plain_https_get_is_refused_426_and_logged_as_refused(
    emulator: Emulator,
) -> None:
    reader, writer = await asyncio.open_connection(
        emulator.host, emulator.port, ssl=emulator.client_ssl_context()
    )
    request = f"GET {PATH} HTTP/1.1\r\nHost: localhost\r\nx-goog-api-key: emu-test-key\r\n\r\n"
    writer.write(request.encode())
    async with asyncio.timeout(WAIT_S):
        status = await reader.readline()
    writer.close()
    assert status.split()[1] == b"426"
    attempts = emulator.log.connection_attempts()
    assert [(r.kind, r.message["status"]) for r in attempts] == [("upgrade_refused", 426)]
    assert not emulator.log.events("handshake")
    assert emulator.open_upgrades("emu-test-key") == 0
    assert not emulator._pending
    assert not emulator._upgrades


@pytest.mark.parametrize("header", ["x-goog-api-key", "Authorization"])
async def test_a_credential_header_sent_twice_is_refused_400_and_logged(
    emulator: Emulator, header: str
) -> None:
    url = emulator.base_url.replace("https", "wss") + PATH
    value = "emu-test-key" if header == "x-goog-api-key" else "Token emu-test-key"
    with pytest.raises(InvalidStatus) as caught:
        async with connect(
            url, ssl=emulator.client_ssl_context(), additional_headers=[(header, value)] * 2
        ):
            pass
    assert caught.value.response.status_code == 400
    refused = emulator.log.events("upgrade_refused")
    assert len(refused) == 1
    assert refused[0].message["status"] == 400
    assert "more than once" in str(refused[0].message["problem"])


async def test_any_key_is_accepted_when_no_key_is_configured(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(api_key=None)
    async with client_for(emulator, api_key="whatever").aio.live.connect(model=MODEL) as session:
        assert (await text_turn(session))[-1].server_content is not None


async def test_an_unknown_model_is_closed_with_the_real_1008_reason_during_setup(
    emulator: Emulator, client_for: Any
) -> None:
    with pytest.raises(errors.APIError) as caught:
        async with client_for(emulator).aio.live.connect(model="gemini-foo"):
            pass
    assert caught.value.code == 1008
    assert caught.value.details == (
        "models/gemini-foo is not found for API version v1beta, "
        "or is not supported for bidiGenerateContent."
    )


async def test_an_unknown_path_is_refused_with_404(emulator: Emulator) -> None:
    url = emulator.base_url.replace("https", "wss") + "/ws/something.Else"
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, ssl=emulator.client_ssl_context()):
            pass
    assert caught.value.response.status_code == 404


async def test_the_ca_works_through_ssl_cert_file(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(emulator.ca_file))
    client = genai.Client(
        api_key="emu-test-key",
        http_options=types.HttpOptions(base_url=emulator.base_url, api_version="v1beta"),
    )
    async with client.aio.live.connect(model=MODEL) as session:
        assert (await text_turn(session))[-1].server_content is not None


async def test_a_client_without_the_ca_fails_tls(emulator: Emulator) -> None:
    client = genai.Client(
        api_key="emu-test-key",
        http_options=types.HttpOptions(
            base_url=emulator.base_url,
            api_version="v1beta",
            async_client_args={"ssl": ssl.create_default_context()},
        ),
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        async with client.aio.live.connect(model=MODEL):
            pass


async def raw_session(
    emulator: Emulator, query: str = "", headers: dict[str, str] | None = None
) -> Any:
    url = emulator.base_url.replace("https", "wss") + PATH + query
    return connect(url, ssl=emulator.client_ssl_context(), additional_headers=headers or {})


async def recv_json(ws: Any) -> dict[str, Any]:
    async with asyncio.timeout(WAIT_S):
        frame = await ws.recv()
    assert isinstance(frame, bytes), "the service sends binary frames"
    parsed: dict[str, Any] = json.loads(frame)
    return parsed


async def test_a_raw_client_may_pass_the_key_in_the_query_and_use_camel_case(
    emulator: Emulator,
) -> None:
    async with await raw_session(emulator, "?key=emu-test-key") as ws:
        await ws.send(json.dumps({"setup": {"model": f"models/{MODEL}", "sessionResumption": {}}}))
        assert await recv_json(ws) == {"setupComplete": {}}
        await ws.send(json.dumps({"realtimeInput": {"text": "camel"}}))
        kinds = []
        while True:
            message = await recv_json(ws)
            kinds.append(next(iter(message)))
            if message.get("serverContent", {}).get("turnComplete"):
                break
    assert kinds[0] == "sessionResumptionUpdate"
    assert "serverContent" in kinds


async def test_snake_case_at_every_depth_and_url_safe_base64_are_understood(
    emulator: Emulator,
) -> None:
    setup = {
        "setup": {
            "model": f"models/{MODEL}",
            "input_audio_transcription": {},
            "realtime_input_config": {"automatic_activity_detection": {"disabled": True}},
        }
    }
    pcm = bytes([0xFB, 0xEF, 0xFF, 0x3F] * 800)  # encodes with '-' and '_' URL-safe
    async with await raw_session(emulator, headers={"x-goog-api-key": "emu-test-key"}) as ws:
        await ws.send(json.dumps(setup))
        assert await recv_json(ws) == {"setupComplete": {}}
        await ws.send(json.dumps({"realtime_input": {"activity_start": {}}}))
        import base64

        data = base64.urlsafe_b64encode(pcm).decode().rstrip("=")
        assert "-" in data or "_" in data
        await ws.send(
            json.dumps({"realtime_input": {"audio": {"data": data, "mime_type": "audio/pcm"}}})
        )
        await ws.send(json.dumps({"realtime_input": {"activity_end": {}}}))
        transcript = None
        while True:
            message = await recv_json(ws)
            content = message.get("serverContent", {})
            if "inputTranscription" in content:
                transcript = content["inputTranscription"]["text"]
            if content.get("turnComplete"):
                break
    assert transcript == "audio 0.10 s"


async def test_a_first_frame_that_is_not_setup_is_closed_with_1007(emulator: Emulator) -> None:
    async with await raw_session(emulator, "?key=emu-test-key") as ws:
        await ws.send(json.dumps({"realtime_input": {"text": "too early"}}))
        with pytest.raises(websockets.ConnectionClosed) as caught:
            async with asyncio.timeout(WAIT_S):
                await ws.recv()
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1007


async def test_non_json_from_the_client_is_closed_with_1007(emulator: Emulator) -> None:
    async with await raw_session(emulator, "?key=emu-test-key") as ws:
        await ws.send("this is not json")
        with pytest.raises(websockets.ConnectionClosed) as caught:
            async with asyncio.timeout(WAIT_S):
                await ws.recv()
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1007
    assert emulator.log.client_messages("malformed")
