"""The remaining fault switches: GoAway variants, stalls, turn shapes, malformed frames,
setup variants and quotas, each seen through the real SDK."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import numpy as np
import pytest
from google.genai import errors, types
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from talkbox.emulator import Emulator

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
WAIT_S = 10.0
CONFIG = types.LiveConnectConfig(
    response_modalities=["AUDIO"], session_resumption=types.SessionResumptionConfig()
)


async def receive_all(session: Any, seen: list[types.LiveServerMessage], wait_s: float) -> None:
    """Keep receiving (across turnComplete) until the SDK raises or the wait ends."""
    async with asyncio.timeout(wait_s):
        while True:
            async for message in session.receive():
                seen.append(message)


async def one_turn(session: Any, text: str = "hello") -> list[types.LiveServerMessage]:
    await session.send_realtime_input(text=text)
    async with asyncio.timeout(WAIT_S):
        return [m async for m in session.receive()]


def content_flags(messages: list[types.LiveServerMessage]) -> list[dict[str, Any]]:
    return [
        m.server_content.model_dump(exclude_none=True)
        for m in messages
        if m.server_content and not m.server_content.model_turn
    ]


# ---- GoAway ------------------------------------------------------------------------------


async def test_a_goaway_fault_then_close_ends_the_connection_after_time_left(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("goaway:time_left=0.3@t=0.1")
    seen: list[types.LiveServerMessage] = []
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        with pytest.raises(errors.APIError) as caught:
            await receive_all(session, seen, WAIT_S)
    assert [m.go_away.time_left for m in seen if m.go_away] == ["0.300s"]
    assert caught.value.code == 1008
    gap = emulator.log.closes()[0].t - emulator.log.server_messages("goAway")[0].t
    assert 0.25 <= gap <= 2.0


async def test_after_a_silent_goaway_nothing_more_arrives_before_the_cut(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("goaway:time_left=0.5,text=0.5s,then=silence@msg=2")
    seen: list[types.LiveServerMessage] = []
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        await session.send_realtime_input(text="are you there?")
        with pytest.raises(errors.APIError) as caught:
            await receive_all(session, seen, WAIT_S)
    assert caught.value.code == 1008
    # The GoAway is the last thing said: the question gets no answer before the cut.
    assert [m.go_away.time_left for m in seen if m.go_away] == ["0.5s"]
    assert seen[-1].go_away is not None
    assert emulator.log.server_messages()[-1].kind == "goAway"


async def test_a_goaway_with_then_nothing_leaves_the_connection_open(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("goaway:time_left=0.1,then=nothing@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        first = await one_turn(session)
        await asyncio.sleep(0.3)
        second = await one_turn(session, "still here")
    assert [m.go_away.time_left for m in first if m.go_away] == ["0.100s"]
    assert second[-1].server_content is not None
    assert second[-1].server_content.turn_complete
    assert not emulator.log.closes()


async def test_no_goaway_cuts_at_the_lifetime_without_warning(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(connection_lifetime_s=0.4, go_away_lead_s=0.2)
    emulator.arm("no_goaway")
    seen: list[types.LiveServerMessage] = []
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        with pytest.raises(errors.APIError) as caught:
            await receive_all(session, seen, WAIT_S)
    assert caught.value.code == 1008
    assert not any(m.go_away for m in seen)


# ---- stalls and keepalive ---------------------------------------------------------------


@pytest.mark.parametrize("spec", ["stall:s=3@msg=2", "delay_pong:s=3"])
async def test_a_silent_server_trips_the_clients_keepalive(
    emulator: Emulator, client_for: Any, spec: str
) -> None:
    emulator.arm(spec)
    client = client_for(emulator, ping_interval=0.1, ping_timeout=0.3)
    seen: list[types.LiveServerMessage] = []
    started = time.monotonic()
    async with client.aio.live.connect(model=MODEL, config=CONFIG) as session:
        await session.send_realtime_input(text="hello?")
        with pytest.raises(errors.APIError) as caught:
            await receive_all(session, seen, WAIT_S)
    # The client closes 1011 "keepalive ping timeout" and drops the socket without waiting
    # for the answer, so the SDK reports an abnormal closure.
    assert caught.value.code == 1006
    assert time.monotonic() - started < 5.0
    async with asyncio.timeout(WAIT_S):
        await emulator.log.wait_for(lambda log: bool(log.closes()))
    close = emulator.log.closes()[0].message
    assert close == {"by": "client", "code": 1011, "reason": "keepalive ping timeout"}
    if spec.startswith("stall"):
        assert seen == []


async def test_a_stall_ends_and_the_answer_then_arrives(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("stall:s=0.4@msg=2")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        started = time.monotonic()
        messages = await one_turn(session)
    assert time.monotonic() - started >= 0.35
    assert messages[-1].server_content is not None
    assert messages[-1].server_content.turn_complete


# ---- turn shapes -------------------------------------------------------------------------


async def test_omitted_generation_complete_and_usage(emulator: Emulator, client_for: Any) -> None:
    emulator.arm("omit_generation_complete@turn=1")
    emulator.arm("omit_usage@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        first = await one_turn(session)
        second = await one_turn(session)
    assert {"generation_complete": True} not in content_flags(first)
    assert first[-1].usage_metadata is None
    assert {"generation_complete": True} in content_flags(second)
    assert second[-1].usage_metadata is not None


async def test_usage_can_come_in_its_own_message(emulator: Emulator, client_for: Any) -> None:
    emulator.arm("usage_separate")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        messages = await one_turn(session)
        after = await one_turn(session)
    assert messages[-1].usage_metadata is None
    # turnComplete ended the first receive(); its usage is the next call's first message.
    assert after[0].usage_metadata is not None
    assert after[0].server_content is None
    assert after[1].session_resumption_update is not None


async def test_turn_complete_can_carry_a_reason_and_waiting_for_input(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("turn_complete_reason:reason=NEED_MORE_INPUT@turn=1")
    emulator.arm("waiting_for_input@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        messages = await one_turn(session)
    last = messages[-1].server_content
    assert last is not None
    assert last.turn_complete_reason == types.TurnCompleteReason.NEED_MORE_INPUT
    assert last.waiting_for_input is True


async def test_without_turn_complete_an_idle_interaction_status_still_ends_receive(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("no_turn_complete@turn=1")
    emulator.arm("interaction_status:status=IDLE@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        messages = await one_turn(session)
    last = messages[-1].server_content
    assert last is not None
    assert last.turn_complete is None
    assert last.interaction_status == types.InteractionStatus.IDLE


async def test_without_turn_complete_receive_never_ends(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("no_turn_complete")
    seen: list[types.LiveServerMessage] = []
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        await session.send_realtime_input(text="hi")
        with pytest.raises(TimeoutError):
            await receive_all(session, seen, 0.5)
    assert any(m.server_content and m.server_content.generation_complete for m in seen)
    assert not any(m.server_content and m.server_content.turn_complete for m in seen)


async def test_the_server_can_interrupt_its_own_answer(emulator: Emulator, client_for: Any) -> None:
    emulator.arm("interrupt:after_ms=200@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        messages = await one_turn(session, "a long enough question to get a long answer")
    flags = content_flags(messages)
    assert flags[-2:] == [{"interrupted": True}, {"turn_complete": True}]
    assert {"generation_complete": True} not in flags
    assert len(b"".join(m.data for m in messages if m.data)) == int(0.2 * 24000) * 2


async def test_interrupted_and_turn_complete_can_share_a_message(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("interrupt:after_ms=100@turn=1")
    emulator.arm("interrupted_with_turn_complete@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        messages = await one_turn(session, "a long enough question to get a long answer")
    assert content_flags(messages)[-1] == {"interrupted": True, "turn_complete": True}
    assert messages[-1].usage_metadata is not None


async def test_the_server_can_cancel_its_own_tool_call(emulator: Emulator, client_for: Any) -> None:
    emulator.arm("tool_call:name=set_timer@turn=1")
    emulator.arm("tool_call_cancellation@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        messages = await one_turn(session)
    calls = [m.tool_call for m in messages if m.tool_call]
    cancels = [m.tool_call_cancellation for m in messages if m.tool_call_cancellation]
    assert calls[0].function_calls is not None
    assert cancels[0].ids == [calls[0].function_calls[0].id]
    assert messages[-1].server_content is not None
    assert messages[-1].server_content.turn_complete


async def test_first_audio_can_be_delayed(emulator: Emulator, client_for: Any) -> None:
    emulator.arm("first_audio_delay:s=0.3@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        await one_turn(session)
    sent = emulator.log.client_messages("realtime_input.text")[0].t
    first_audio = emulator.log.server_messages("serverContent.modelTurn")[0].t
    assert first_audio - sent >= 0.3


# ---- malformed frames --------------------------------------------------------------------


async def test_a_non_json_frame_raises_value_error_from_receive(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("malformed:shape=non_json@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        with pytest.raises(ValueError, match="Failed to parse response"):
            await one_turn(session)


async def test_an_empty_object_is_yielded_as_an_empty_message(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("malformed:shape=empty@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        messages = await one_turn(session)
    assert any(m.model_dump(exclude_none=True) == {} for m in messages)


@pytest.mark.parametrize("shape", ["snake_case", "unknown_only", "error_body"])
async def test_messages_without_a_known_top_level_key_crash_the_sdk_with_type_error(
    emulator: Emulator, client_for: Any, shape: str
) -> None:
    emulator.arm(f"malformed:shape={shape}@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        with pytest.raises(TypeError, match="not supported between instances"):
            await one_turn(session)


async def test_a_message_with_only_a_code_raises_server_error(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("malformed:shape=code_only@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        with pytest.raises(errors.ServerError) as caught:
            await one_turn(session)
    assert caught.value.code == 503


async def test_an_oversize_frame_breaks_the_connection_as_1006(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("malformed:shape=oversize@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        with pytest.raises(errors.APIError) as caught:
            await one_turn(session)
    assert caught.value.code == 1006


async def test_text_frames_and_url_safe_base64_are_read_the_same_by_the_sdk(
    make_emulator: Any, client_for: Any
) -> None:
    plain = await make_emulator(seed=1)
    odd = await make_emulator(seed=1)
    odd.arm("text_frames")
    odd.arm("urlsafe_b64")
    answers = []
    for emulator in (plain, odd):
        async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
            answers.append(b"".join(m.data for m in await one_turn(session, "hé?") if m.data))
    assert answers[0] == answers[1]
    encoded = [
        "".join(
            r.message["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"]
            for r in emulator.log.server_messages("serverContent.modelTurn")
        )
        for emulator in (plain, odd)
    ]
    assert "+" in encoded[0] or "/" in encoded[0]
    assert "+" not in encoded[1]
    assert "/" not in encoded[1]


async def test_text_frames_arrive_as_text(emulator: Emulator) -> None:
    emulator.arm("text_frames")
    path = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    url = emulator.base_url.replace("https", "wss") + path + "?key=emu-test-key"
    async with connect(url, ssl=emulator.client_ssl_context()) as ws:
        await ws.send(json.dumps({"setup": {"model": f"models/{MODEL}"}}))
        async with asyncio.timeout(WAIT_S):
            frame = await ws.recv()
    assert frame == '{"setupComplete":{}}'


async def test_server_frames_are_binary_compact_camel_case_json_under_1_mib(
    emulator: Emulator, client_for: Any
) -> None:
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        await one_turn(session, "x" * 400)
    for record in emulator.log.server_messages():
        encoded = json.dumps(record.message, separators=(",", ":")).encode()
        assert len(encoded) < 2**20
        assert all("_" not in key for key in record.message)


# ---- setup variants ----------------------------------------------------------------------


async def test_a_delayed_setup_complete_delays_connect(emulator: Emulator, client_for: Any) -> None:
    emulator.arm("delay_setup:s=0.4")
    started = time.monotonic()
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        assert time.monotonic() - started >= 0.4
        assert session.setup_complete is not None


async def test_a_missing_setup_complete_leaves_connect_waiting(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("no_setup_complete")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG).__aenter__()


async def test_another_message_first_means_the_sdk_misses_setup_complete(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("setup_first")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        assert session.setup_complete is None
        messages = await one_turn(session)
    assert messages[0].setup_complete is not None


# ---- quota and timed faults --------------------------------------------------------------


async def test_a_per_key_session_quota_closes_the_extra_session_with_resource_exhausted(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("quota:max=1,via=close")
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=CONFIG) as first:
        with pytest.raises(errors.APIError) as caught:
            async with client.aio.live.connect(model=MODEL, config=CONFIG):
                pass
        assert (await one_turn(first))[-1].server_content is not None
    assert caught.value.code == 1011
    assert caught.value.details is not None
    assert "RESOURCE_EXHAUSTED" in caught.value.details
    async with client.aio.live.connect(model=MODEL, config=CONFIG) as again:
        assert (await one_turn(again))[-1].server_content is not None


async def test_a_per_key_session_quota_can_refuse_the_upgrade_with_429(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("quota:max=1,via=http")
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=CONFIG):
        with pytest.raises(InvalidStatus) as caught:
            async with client.aio.live.connect(model=MODEL, config=CONFIG):
                pass
    assert caught.value.response.status_code == 429


async def test_a_timed_fault_fires_that_long_after_the_connection_opened(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("close:preset=deadline@t=0.3")
    seen: list[types.LiveServerMessage] = []
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        with pytest.raises(errors.APIError) as caught:
            await receive_all(session, seen, WAIT_S)
    assert caught.value.code == 1011
    opened = emulator.log.events("handshake")[0].t
    assert 0.28 <= emulator.log.closes()[0].t - opened <= 3.0


async def test_times_limits_how_often_a_fault_fires_across_connections(
    emulator: Emulator, client_for: Any
) -> None:
    fault = emulator.arm("close:preset=internal@conn=1-,times=2")
    client = client_for(emulator)
    for _ in range(2):
        with pytest.raises(errors.APIError):
            async with client.aio.live.connect(model=MODEL, config=CONFIG):
                pass
    async with client.aio.live.connect(model=MODEL, config=CONFIG) as session:
        assert (await one_turn(session))[-1].server_content is not None
    assert fault.fired == 2


async def test_periodic_handles_arrive_without_turns_or_resumption_in_setup(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("periodic_handles:s=0.1")
    updates: list[types.LiveSessionResumptionUpdate] = []
    plain = types.LiveConnectConfig(response_modalities=["AUDIO"])
    async with client_for(emulator).aio.live.connect(model=MODEL, config=plain) as session:
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                if message.session_resumption_update:
                    updates.append(message.session_resumption_update)
                if len(updates) == 3:
                    break
    assert all(u.resumable for u in updates)
    assert len({u.new_handle for u in updates}) == 3


async def test_voice_activity_messages_mark_speech_under_automatic_detection(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(silence_ms=200)
    emulator.arm("voice_activity")
    tone = (np.sin(np.arange(4800) / 2) * 9000).astype("<i2").tobytes()  # 0.3 s at 16 kHz
    async with client_for(emulator).aio.live.connect(model=MODEL, config=CONFIG) as session:
        for chunk in (bytes(3200), tone, bytes(6400)):
            await session.send_realtime_input(
                audio=types.Blob(data=chunk, mime_type="audio/pcm;rate=16000")
            )
        async with asyncio.timeout(WAIT_S):
            messages = [m async for m in session.receive()]
    activity = [m.voice_activity for m in messages if m.voice_activity]
    assert [(a.voice_activity_type, a.audio_offset) for a in activity] == [
        (types.VoiceActivityType.ACTIVITY_START, "0.100s"),
        (types.VoiceActivityType.ACTIVITY_END, "0.400s"),
    ]


async def test_an_http_quota_limits_connects_made_at_the_same_moment(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("quota:max=2,via=http")
    client = client_for(emulator)
    release = asyncio.Event()

    async def hold_open() -> None:
        async with client.aio.live.connect(model=MODEL, config=CONFIG):
            async with asyncio.timeout(WAIT_S):
                await release.wait()

    async def attempt() -> str:
        try:
            await hold_open()
        except InvalidStatus as refused:
            return str(refused.response.status_code)
        return "ok"

    async with asyncio.timeout(WAIT_S):
        tasks = [asyncio.create_task(attempt()) for _ in range(5)]
        # Every upgrade is answered (101 or 429) before any connection is let go.
        await emulator.log.wait_for(lambda log: len(log.connection_attempts()) == 5)
        release.set()
        results = await asyncio.gather(*tasks)
    assert sorted(results) == ["429", "429", "429", "ok", "ok"]
    # Once they are closed the key may connect again.
    async with client.aio.live.connect(model=MODEL, config=CONFIG) as session:
        assert (await one_turn(session))[-1].server_content is not None


async def test_a_timed_periodic_handles_fault_before_setup_waits_for_the_session(
    emulator: Emulator,
) -> None:
    emulator.arm("periodic_handles:s=0.05@t=0")
    url = emulator.base_url.replace("https", "wss") + PATH + "?key=emu-test-key"
    async with connect(url, ssl=emulator.client_ssl_context()) as ws:
        await asyncio.sleep(0.2)  # setup arrives late, after the fault fired
        await ws.send(json.dumps({"setup": {"model": f"models/{MODEL}"}}))
        async with asyncio.timeout(WAIT_S):
            assert json.loads(await ws.recv()) == {"setupComplete": {}}
            update = json.loads(await ws.recv())
    assert update["sessionResumptionUpdate"]["resumable"] is True
    assert not emulator.log.events("emulator_error")


async def test_a_malformed_frame_is_not_sent_once_a_goaway_went_silent(
    emulator: Emulator,
) -> None:
    emulator.arm("goaway:time_left=0.3,then=silence@turn=1")
    emulator.arm("malformed:shape=empty@turn=1")
    url = emulator.base_url.replace("https", "wss") + PATH + "?key=emu-test-key"
    frames = []
    async with connect(url, ssl=emulator.client_ssl_context()) as ws:
        await ws.send(json.dumps({"setup": {"model": f"models/{MODEL}"}}))
        await ws.send(json.dumps({"realtime_input": {"text": "hello"}}))
        async with asyncio.timeout(WAIT_S):
            with contextlib.suppress(ConnectionClosed):
                while True:
                    frames.append(json.loads(await ws.recv()))
    assert {} not in frames
    assert "goAway" in frames[-1]
    assert not emulator.log.server_messages("malformed.empty")
    assert [f.kind for f in emulator.faults if f.fired] == ["goaway", "malformed"]
