"""The privacy invariant on the wire: with local turn detection no audio leaves outside a turn.

Each scenario is a caller that keeps streaming the microphone as if still listening while the
link loses the turn under it; the emulator's log is the judge of what reached the server.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from talkbox.emulator import Emulator, EmulatorOptions, Record
from talkbox.fakes import EventRecorder, run_in_background
from talkbox.live.backoff import RetryPolicy
from talkbox.live.events import LinkConnected, TurnCompleted, TurnFailed
from talkbox.live.link import LiveLink

from .conftest import FAST_POLICY, emulator_settings
from .test_link_turns import speech

# A fatal failure waits a third of a second here, so the retry after it happens in the test.
QUICK_FATAL = RetryPolicy(
    base_s=0.05, cap_s=0.4, quota_base_s=0.2, quota_cap_s=0.8, fatal_retry_s=0.3
)


def audio_outside_turns(records: list[Record]) -> list[Record]:
    """Audio frames a connection received outside activityStart..activityEnd."""
    outside = []
    for conn in sorted({r.conn for r in records}):
        in_turn = False
        for record in (r for r in records if r.conn == conn):
            if record.kind == "realtime_input.activityStart":
                in_turn = True
            elif record.kind == "realtime_input.activityEnd":
                in_turn = False
            elif record.kind == "realtime_input.audio" and not in_turn:
                outside.append(record)
    return outside


async def keep_listening(link: LiveLink, seconds: float) -> None:
    """A caller that streams 20 ms frames in real time whatever happened to its turn."""
    for frame in speech(seconds):
        link.send_audio(frame)
        await asyncio.sleep(0.02)


SCENARIOS = {
    # The service ends the conversation (1007) while the person is still talking.
    "service-ended": ("close:preset=invalid_argument@t=0.4,conn=1", FAST_POLICY),
    # The service refuses the first connection for good (403); the link retries later.
    "fatal": ("reject_upgrade:status=403@conn=1", QUICK_FATAL),
    # The open turn is cut three times and given up.
    "cut-three-times": ("abort@t=0.15,conn=1-3", FAST_POLICY),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_no_audio_reaches_the_server_outside_a_turn_when_the_link_loses_the_turn(
    tmp_path: Path, scenario: str
) -> None:
    fault, policy = SCENARIOS[scenario]
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm(fault)
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=policy)
        async with run_in_background(link), asyncio.TaskGroup() as tg:
            lost = link.start_turn()
            # The person keeps talking throughout; the caller never stops streaming.
            listening = tg.create_task(keep_listening(link, 5.0))
            await recorder.wait_for(TurnFailed, lambda e: e.turn_id == lost, within=3)
            # Still "listening" after the failure, past the link's next connection.
            await asyncio.sleep(0.4)
            link.end_turn()
            await asyncio.sleep(0.1)
            # The link still works: a proper turn afterwards is answered.
            turn = link.start_turn()
            await asyncio.sleep(0.3)
            link.end_turn()
            await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=5)
            listening.cancel()
        records = emu.log.client_messages()

    assert len(emu.log.connection_attempts()) >= 2
    assert recorder.of(LinkConnected)
    assert any(r.kind == "realtime_input.audio" for r in records)
    assert audio_outside_turns(records) == []
    assert link.status().audio_dropped_outside_turn > 0


@pytest.mark.parametrize("seed", range(3))
async def test_random_calls_and_cuts_never_send_audio_outside_a_turn(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        # Connections that die at random moments, now and then with the conversation.
        for conn in range(1, 6):
            kind = rng.choice(["abort", "close:preset=invalid_argument", "close:preset=internal"])
            emu.arm(f"{kind}@t={rng.uniform(0.1, 0.5):.2f},conn={conn}")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            for _ in range(40):
                match rng.choice(["start", "end", "audio", "audio", "audio", "text", "new"]):
                    case "start":
                        link.start_turn()
                    case "end":
                        link.end_turn()
                    case "text":
                        link.send_text("hello")
                    case "new":
                        link.new_conversation(after_turn=rng.random() < 0.5)
                    case _:
                        await keep_listening(link, rng.choice([0.04, 0.1, 0.2]))
            link.end_turn()
            async with asyncio.timeout(10):
                await link.settled()
        records = emu.log.client_messages()

    assert audio_outside_turns(records) == []
