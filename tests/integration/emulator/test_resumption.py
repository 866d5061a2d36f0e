"""Resumption handles: snapshots, expiry, rejection, and the one-socket-per-session rule."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from google.genai import errors, types

from talkbox.emulator import Emulator

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
WAIT_S = 10.0


def config(handle: str | None = None) -> types.LiveConnectConfig:
    return types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        output_audio_transcription={},
        session_resumption=types.SessionResumptionConfig(handle=handle),
    )


async def turn_and_handle(session: Any, text: str) -> tuple[str, str]:
    """Run one text turn; return its output transcript and the handle that follows it."""
    await session.send_realtime_input(text=text)
    transcript = ""
    async with asyncio.timeout(WAIT_S):
        async for message in session.receive():
            content = message.server_content
            if content and content.output_transcription and content.output_transcription.text:
                transcript = content.output_transcription.text
        async for message in session.receive():
            update = message.session_resumption_update
            if update and update.resumable and update.new_handle:
                return transcript, update.new_handle
    raise AssertionError("no handle")


async def resume_and_talk(client: Any, handle: str) -> str:
    async with client.aio.live.connect(model=MODEL, config=config(handle)) as session:
        transcript, _ = await turn_and_handle(session, "after resume")
    return transcript


async def test_an_older_handle_resumes_the_conversation_as_it_was_then(
    emulator: Emulator, client_for: Any
) -> None:
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=config()) as session:
        _, first_handle = await turn_and_handle(session, "one")
        _, second_handle = await turn_and_handle(session, "two")
    assert first_handle != second_handle
    assert (await resume_and_talk(client, second_handle)).startswith("turn 3:")
    assert (await resume_and_talk(client, first_handle)).startswith("turn 2:")


async def test_a_handle_expires_after_the_sessions_last_connection_closed(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(handle_lifetime_s=0.3)
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=config()) as session:
        _, handle = await turn_and_handle(session, "one")
        await asyncio.sleep(0.4)  # still connected: the handle stays valid
    assert (await resume_and_talk(client, handle)).startswith("turn 2:")
    await asyncio.sleep(0.5)
    with pytest.raises(errors.APIError) as caught:
        await resume_and_talk(client, handle)
    assert caught.value.code == 1008
    assert caught.value.details == "Requested entity was not found"
    assert emulator.log.events("handle_rejected")


async def test_an_unknown_handle_is_rejected_during_setup(
    emulator: Emulator, client_for: Any
) -> None:
    with pytest.raises(errors.APIError) as caught:
        async with client_for(emulator).aio.live.connect(model=MODEL, config=config("bogus")):
            pass
    assert caught.value.code == 1008


async def test_reject_handle_refuses_the_next_resume_with_the_given_close(
    emulator: Emulator, client_for: Any
) -> None:
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=config()) as session:
        _, handle = await turn_and_handle(session, "one")
    fault = emulator.arm(
        "reject_handle:code=1007,reason=Request contains an invalid argument.@times=1"
    )
    with pytest.raises(errors.APIError) as caught:
        await resume_and_talk(client, handle)
    assert (caught.value.code, caught.value.details) == (
        1007,
        "Request contains an invalid argument.",
    )
    assert fault.fired == 1
    assert emulator.log.events("handle_rejected")[0].message["handle"] == handle
    # times=1: only the next resume; the handle itself is still good.
    assert (await resume_and_talk(client, handle)).startswith("turn 2:")


async def test_expire_handles_makes_every_earlier_handle_unknown(
    emulator: Emulator, client_for: Any
) -> None:
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=config()) as session:
        _, handle = await turn_and_handle(session, "one")
    emulator.arm("expire_handles")
    with pytest.raises(errors.APIError) as caught:
        await resume_and_talk(client, handle)
    assert caught.value.code == 1008


async def test_resuming_while_the_old_socket_is_open_is_refused_with_1011(
    emulator: Emulator, client_for: Any
) -> None:
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=config()) as old:
        _, handle = await turn_and_handle(old, "one")
        with pytest.raises(errors.APIError) as caught:
            await resume_and_talk(client, handle)
        assert caught.value.code == 1011
        assert caught.value.details == "The service is currently unavailable."
    # Once the old socket is closed, the same handle works.
    assert (await resume_and_talk(client, handle)).startswith("turn 2:")


async def test_the_one_socket_rule_can_be_switched_off(make_emulator: Any, client_for: Any) -> None:
    emulator = await make_emulator(reject_resume_while_open=False)
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=config()) as old:
        _, handle = await turn_and_handle(old, "one")
        assert (await resume_and_talk(client, handle)).startswith("turn 2:")


async def updates_of_two_turns(
    session: Any, wait_s: float = WAIT_S
) -> list[types.LiveSessionResumptionUpdate]:
    await session.send_realtime_input(text="hi")
    updates = []
    async with asyncio.timeout(wait_s):
        async for message in session.receive():
            if message.session_resumption_update:
                updates.append(message.session_resumption_update)
        await session.send_realtime_input(text="next")
        async for message in session.receive():
            if message.session_resumption_update:
                updates.append(message.session_resumption_update)
        # The update after a turn's turnComplete comes with the next receive() call.
        async for message in session.receive():
            if message.session_resumption_update:
                updates.append(message.session_resumption_update)
                break
    return updates


async def test_withheld_updates_leave_out_every_resumption_update(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("withhold_updates")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config()) as session:
        with pytest.raises(TimeoutError):
            await updates_of_two_turns(session, wait_s=0.5)
    assert not emulator.log.server_messages("sessionResumptionUpdate")


async def test_unresumable_turns_send_only_empty_updates(
    emulator: Emulator, client_for: Any
) -> None:
    emulator.arm("unresumable@turn=1")
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config()) as session:
        updates = await updates_of_two_turns(session)
    # turn 1: {} at the start, {} instead of a handle; turn 2: {} at the start, then a handle.
    assert [(u.new_handle, u.resumable) for u in updates[:3]] == [(None, None)] * 3
    assert updates[3].resumable is True
    assert updates[3].new_handle


async def test_without_resumption_in_setup_no_updates_are_sent(
    emulator: Emulator, client_for: Any
) -> None:
    cfg = types.LiveConnectConfig(response_modalities=["AUDIO"])
    async with client_for(emulator).aio.live.connect(model=MODEL, config=cfg) as session:
        await session.send_realtime_input(text="hi")
        async with asyncio.timeout(WAIT_S):
            messages = [m async for m in session.receive()]
    assert not any(m.session_resumption_update for m in messages)
    assert not emulator.log.server_messages("sessionResumptionUpdate")


async def test_resuming_with_another_model_is_refused_with_1007(
    emulator: Emulator, client_for: Any
) -> None:
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=config()) as session:
        _, handle = await turn_and_handle(session, "one")
    with pytest.raises(errors.APIError) as caught:
        async with client.aio.live.connect(
            model="gemini-2.5-flash-native-audio-latest", config=config(handle)
        ):
            pass
    assert caught.value.code == 1007


async def resume_and_wait(client: Any, handle: str) -> None:
    async with client.aio.live.connect(model=MODEL, config=config(handle)) as session:
        async with asyncio.timeout(WAIT_S):
            async for _ in session.receive():
                pass


async def test_without_compression_a_session_time_limit_ends_the_session_across_resumes(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(session_limit_s=2.0)
    client = client_for(emulator)
    async with client.aio.live.connect(model=MODEL, config=config()) as session:
        _, handle = await turn_and_handle(session, "one")
        await asyncio.sleep(1.2)
    started = asyncio.get_running_loop().time()
    with pytest.raises(errors.APIError) as caught:
        await resume_and_wait(client, handle)
    # The first connection used over half of the limit; the resumed one gets at most the
    # remaining 0.8 s (a fresh limit would give it 2 s; the gap leaves room for a slow machine).
    assert asyncio.get_running_loop().time() - started < 1.7
    assert caught.value.code == 1011
    assert emulator.log.events("session_limit")


async def test_with_compression_there_is_no_session_time_limit(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(session_limit_s=0.2)
    compressed = config()
    compressed.context_window_compression = types.ContextWindowCompressionConfig(
        sliding_window=types.SlidingWindow()
    )
    async with client_for(emulator).aio.live.connect(model=MODEL, config=compressed) as session:
        await asyncio.sleep(0.4)
        transcript, _ = await turn_and_handle(session, "still here")
    assert transcript.startswith("turn 1:")
    assert not emulator.log.events("session_limit")
