"""Every fault switch, seen through the real SDK the way docs/live-protocol.md §3.2 says."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from google.genai import errors, types
from websockets.exceptions import ConnectionClosed, InvalidStatus

from talkbox.emulator import CLOSE_PRESETS, Emulator, Fault

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
WAIT_S = 10.0
RESUMABLE = types.LiveConnectConfig(
    response_modalities=["AUDIO"], session_resumption=types.SessionResumptionConfig()
)


async def drain(session: Any, seen: list[types.LiveServerMessage] | None = None) -> None:
    """Receive until the connection ends (the SDK raises), keeping what came before."""
    seen = [] if seen is None else seen
    async with asyncio.timeout(WAIT_S):
        while True:
            async for message in session.receive():
                seen.append(message)


async def turn(session: Any, text: str = "hello") -> list[types.LiveServerMessage]:
    await session.send_realtime_input(text=text)
    async with asyncio.timeout(WAIT_S):
        return [m async for m in session.receive()]


async def test_close_at_a_turn_reaches_the_sdk_as_api_error_with_code_and_reason(
    emulator: Emulator, client_for: Any
) -> None:
    fault = emulator.arm("close:code=1011,reason=Internal error occurred.@turn=2")
    async with client_for(emulator).aio.live.connect(model=MODEL) as session:
        await turn(session)
        await session.send_realtime_input(text="second")
        with pytest.raises(errors.APIError) as caught:
            await drain(session)
    assert caught.value.code == 1011
    assert caught.value.details == "Internal error occurred."
    assert str(caught.value) == "1011 None. Internal error occurred."
    assert fault.fired == 1
    close = emulator.log.closes()[0].message
    assert close == {"by": "server", "code": 1011, "reason": "Internal error occurred."}


@pytest.mark.parametrize("preset", sorted(CLOSE_PRESETS))
async def test_every_close_preset_reaches_the_sdk_truncated_to_123_bytes(
    emulator: Emulator, client_for: Any, preset: str
) -> None:
    code, reason = CLOSE_PRESETS[preset]
    emulator.arm(Fault.make("close", preset=preset, msg=2))
    async with client_for(emulator).aio.live.connect(model=MODEL) as session:
        await session.send_realtime_input(text="hello")
        with pytest.raises(errors.APIError) as caught:
            await drain(session)
    assert caught.value.code == code
    assert caught.value.details == reason.encode()[:123].decode("utf-8", "ignore")
    assert len(str(caught.value.details).encode()) <= 123


async def test_a_close_during_setup_is_raised_from_connect(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("close:preset=denied@conn=1")
    with pytest.raises(errors.APIError) as caught:
        async with client_for(emulator).aio.live.connect(model=MODEL):
            pass
    assert caught.value.code == 1008
    assert caught.value.details == "Your project has been denied access."


async def test_an_abort_is_seen_as_1006_abnormal_closure(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("abort@msg=2")
    async with client_for(emulator).aio.live.connect(model=MODEL) as session:
        await session.send_realtime_input(text="hello")
        with pytest.raises(errors.APIError) as caught:
            await drain(session)
    assert caught.value.code == 1006
    assert caught.value.details == "abnormal closure [internal]"
    assert emulator.log.closes()[0].kind == "abort"


@pytest.mark.parametrize("status", [401, 403, 404, 503])
async def test_a_refused_upgrade_is_raised_as_invalid_status(
    emulator: Emulator, client_for: Any, status: int
) -> None:
    emulator.arm(f"reject_upgrade:status={status}@conn=1")
    with pytest.raises(InvalidStatus) as caught:
        async with client_for(emulator).aio.live.connect(model=MODEL):
            pass
    assert caught.value.response.status_code == status
    # conn=1 only: the next attempt goes through.
    async with client_for(emulator).aio.live.connect(model=MODEL) as session:
        assert (await turn(session))[-1].server_content is not None


async def test_a_429_refusal_carries_retry_after(emulator: Emulator, client_for: Any) -> None:
    emulator.arm("reject_upgrade:status=429,retry_after=30@conn=1-2")
    for _ in range(2):
        with pytest.raises(InvalidStatus) as caught:
            async with client_for(emulator).aio.live.connect(model=MODEL):
                pass
        assert caught.value.response.status_code == 429
        assert caught.value.response.headers["Retry-After"] == "30"
    assert [r.kind for r in emulator.log.connection_attempts()] == [
        "upgrade_refused",
        "upgrade_refused",
    ]


async def test_go_away_comes_before_the_lifetime_and_a_staying_client_is_closed_1008(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(connection_lifetime_s=0.6, go_away_lead_s=0.25)
    seen: list[types.LiveServerMessage] = []
    async with client_for(emulator).aio.live.connect(model=MODEL) as session:
        with pytest.raises(errors.APIError) as caught:
            await drain(session, seen)
    go_away = [m.go_away for m in seen if m.go_away]
    assert [g.time_left for g in go_away] == ["0.250s"]
    assert caught.value.code == 1008
    assert caught.value.details is not None
    assert caught.value.details.startswith("Connection aborted because the client failed")
    assert len(caught.value.details.encode()) == 123
    sent = emulator.log.server_messages("goAway")[0].t
    closed = emulator.log.closes()[0].t
    assert 0.2 <= closed - sent <= 1.0


async def test_a_client_that_leaves_after_go_away_sees_no_close_from_the_server(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(connection_lifetime_s=0.5, go_away_lead_s=0.3)
    async with client_for(emulator).aio.live.connect(model=MODEL) as session:
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                if message.go_away:
                    break
    async with asyncio.timeout(WAIT_S):
        await emulator.log.wait_for(lambda log: bool(log.closes()))
    assert emulator.log.closes()[0].message["by"] == "client"
    assert emulator.log.closes()[0].message["code"] == 1000


async def test_sending_after_the_server_closed_raises_connection_closed(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("close:preset=unavailable@msg=2")
    async with client_for(emulator).aio.live.connect(model=MODEL) as session:
        await session.send_realtime_input(text="hello")
        async with asyncio.timeout(WAIT_S):
            await emulator.log.wait_for(lambda log: bool(log.closes()))
        await asyncio.sleep(0.05)
        with pytest.raises(ConnectionClosed) as caught:
            await session.send_realtime_input(text="again")
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1011
