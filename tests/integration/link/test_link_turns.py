"""The link against the emulator: text and audio turns, GoAway rotation, drops, idle close."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import math
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from talkbox.ask import ask
from talkbox.audio.wav import read_wav
from talkbox.config import Settings
from talkbox.emulator import Emulator, EmulatorOptions, Record
from talkbox.fakes import EventRecorder, run_in_background
from talkbox.live.events import (
    AnswerAudioReceived,
    GoAwayReceived,
    LinkConnected,
    LinkDisconnected,
    TurnCompleted,
    TurnFailed,
    TurnResent,
    TurnSent,
    UsageReported,
)
from talkbox.live.handles import HandleStore
from talkbox.live.link import LiveLink
from talkbox.live.outbox import MAX_LOOSE_AUDIO_FRAMES
from talkbox.live.turns import MAX_PENDING_TURNS

from .conftest import FAST_POLICY, emulator_settings


def speech(seconds: float, rate: int = 16_000) -> list[bytes]:
    """20 ms frames of a loud 220 Hz tone: speech as the emulator can tell."""
    frames = []
    per_frame = rate // 50
    for f in range(int(seconds * 50)):
        samples = (
            int(8000 * math.sin(2 * math.pi * 220 * (f * per_frame + i) / rate))
            for i in range(per_frame)
        )
        frames.append(struct.pack(f"<{per_frame}h", *samples))
    return frames


@pytest.mark.slow
async def test_six_turns_survive_goaway_rotation_and_two_drops_mid_answer(tmp_path: Path) -> None:
    options = EmulatorOptions(connection_lifetime_s=2.0, go_away_lead_s=0.5)
    async with Emulator(options) as emu:
        emu.arm("abort@turn=2")
        emu.arm("abort@turn=5")
        settings = emulator_settings(emu, tmp_path / "state")
        out = io.StringIO()
        questions = [f"question {n}" for n in range(1, 7)]
        rc = await ask(
            settings,
            questions,
            out_dir=tmp_path / "out",
            as_json=True,
            out=out,
            policy=FAST_POLICY,
            turn_timeout_s=20,
        )
        answers = [json.loads(line) for line in out.getvalue().splitlines()]
        goaways = emu.log.server_messages("goAway")
        aborts = emu.log.events("abort")
        ignored = [c for c in emu.log.closes() if c.message.get("code") == 1008]

    assert rc == 0
    assert [a["turn"] for a in answers] == [1, 2, 3, 4, 5, 6]
    # The emulator numbers turns by the conversation it holds: context survived every resume.
    for n, answer in enumerate(answers, start=1):
        assert answer["transcript"].startswith(f"turn {n}:")
        assert f"question {n}" in answer["transcript"]
        pcm, rate = read_wav(Path(answer["wav"]))
        assert rate == 24_000
        assert len(pcm) / 48_000 == pytest.approx(answer["audio_s"])
        assert answer["audio_s"] > 0
    assert len(aborts) == 2
    assert goaways, "the connection was never rotated"
    assert not ignored, "the link ignored a GoAway until the server cut it"
    assert sum(a["reconnects"] for a in answers) >= 2
    assert all(a["resumed"] for a in answers[1:])


async def test_an_audio_turn_is_answered_and_resent_whole_after_a_drop(tmp_path: Path) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("abort@turn=1")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.start_turn()
            for frame in speech(0.6):
                link.send_audio(frame)
            link.end_turn()
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn)
        starts = emu.log.client_messages("realtime_input.activityStart")
        audio_frames = emu.log.client_messages("realtime_input.audio")

    assert recorder.of(TurnResent) == [TurnResent(turn)]
    assert done.transcript.startswith("turn 1:")
    assert not done.interrupted
    assert done.audio_s > 0
    # Sent once, cut, sent again in full: two activity starts and every frame twice.
    assert len(starts) == 2
    sent = b"".join(
        base64.urlsafe_b64decode(r.message["realtimeInput"]["audio"]["data"]) for r in audio_frames
    )
    assert len(sent) == 2 * 30 * 640
    answer = [e for e in recorder.events if isinstance(e, AnswerAudioReceived)]
    assert all(e.turn_id == turn for e in answer)


async def test_the_link_offers_no_websocket_compression(tmp_path: Path) -> None:
    """The SDK passes `compression` to websockets: off, whatever the server would accept."""
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("hello")
            await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn)
        handshake = emu.log.events("handshake")[0]
    headers = {name.lower() for name in handshake.message["headers"]}
    assert "sec-websocket-key" in headers
    assert "sec-websocket-extensions" not in headers


async def test_a_malformed_frame_reconnects_and_the_turn_is_answered(tmp_path: Path) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("malformed:shape=non_json@turn=1")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("hello there")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn)
    assert done.transcript.startswith("turn 1:")
    assert any("malformed" in d.reason for d in recorder.of(LinkDisconnected))


async def test_goaway_while_idle_rotates_at_once_and_closes_the_old_socket_first(
    tmp_path: Path,
) -> None:
    options = EmulatorOptions(realtime=False, connection_lifetime_s=1.0, go_away_lead_s=0.6)
    async with Emulator(options) as emu:
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("remember this")
            await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn)
            await recorder.wait_for(LinkConnected, lambda e: e.reconnects == 1, within=5)
            second = link.send_text("and now?")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == second)
        first_goaway = emu.log.server_messages("goAway", conn=1)[0]
        closes = emu.log.closes(conn=1)
        second_handshake = emu.log.events("handshake", conn=2)[0]

    assert recorder.of(GoAwayReceived)
    assert done.transcript.startswith("turn 2:")
    # Idle: rotated before the 0.6 s deadline (the server never had to cut), by the client,
    # with a normal close ... (the deadline, not a tighter bound: a loaded machine may lag)
    assert closes[0].message["by"] == "client"
    assert closes[0].t - first_goaway.t < 0.6
    # ... and the old socket was closed before the new one was opened.
    assert closes[0].t <= second_handshake.t


async def test_an_idle_connection_is_closed_and_the_next_turn_reconnects(tmp_path: Path) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        settings = emulator_settings(emu, tmp_path, idle_disconnect_s=0.3)
        link = LiveLink(settings, recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            first = link.send_text("first")
            await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == first)
            idle = await recorder.wait_for(LinkDisconnected, lambda e: e.idle, within=3)
            assert not idle.reconnecting
            assert not link.status().connected
            handshakes_while_idle = len(emu.log.events("handshake"))
            second = link.send_text("second")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == second)
        handshakes = len(emu.log.events("handshake"))

    assert handshakes_while_idle == 1
    assert handshakes == 2
    assert done.transcript.startswith("turn 2:")
    assert recorder.of(LinkConnected)[-1].resumed
    # The turn typed while disconnected was queued and sent after setupComplete.
    assert recorder.of(TurnSent)[-1] == TurnSent(second)


async def test_goaway_mid_answer_rotates_right_after_the_turn_without_resending_it(
    tmp_path: Path,
) -> None:
    async with Emulator(EmulatorOptions(realtime=True)) as emu:
        emu.arm("goaway:time_left=3,then=close@turn=1")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("tell me more")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn)
            await recorder.wait_for(LinkConnected, lambda e: e.reconnects == 1, within=3)
            second = link.send_text("go on")
            after = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == second)
        goaway = emu.log.server_messages("goAway", conn=1)[0]
        turn_complete = emu.log.server_messages("serverContent.turnComplete", conn=1)[0]
        handles = [
            r
            for r in emu.log.server_messages("sessionResumptionUpdate", conn=1)
            if r.message["sessionResumptionUpdate"].get("resumable")
        ]
        (close,) = emu.log.closes(conn=1)

    assert goaway.t < turn_complete.t, "the GoAway should arrive mid-answer"
    # The answer was allowed to finish, the handle covering it arrived, then the link left.
    assert not done.interrupted
    assert handles[-1].t <= close.t
    assert close.message["by"] == "client"
    assert close.t - goaway.t < 3
    assert not recorder.of(TurnResent)
    assert after.transcript.startswith("turn 2:")
    assert recorder.of(LinkConnected)[-1].resumed


async def test_a_new_conversation_reconnects_fresh_and_forgets_the_handle(tmp_path: Path) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            first = link.send_text("one")
            await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == first)
            async with asyncio.timeout(5):
                await link.settled()
            old_conversation = link.status().conversation_id
            link.new_conversation()
            await recorder.wait_for(LinkConnected, lambda e: e.reconnects == 1, within=3)
            second = link.send_text("two")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == second)
            async with asyncio.timeout(5):
                await link.settled()
        setups = [r.message["setup"] for r in emu.log.client_messages("setup")]

    assert "handle" not in setups[1]["sessionResumption"]
    assert done.transcript.startswith("turn 1:")
    assert link.status().conversation_id != old_conversation
    stored = HandleStore(tmp_path, max_age_s=3600).load()
    assert stored is not None
    assert stored.conversation_id == link.status().conversation_id
    assert stored.turns == 1


async def test_server_turn_detection_streams_audio_and_reports_unprompted_answers(
    tmp_path: Path,
) -> None:
    async with Emulator(EmulatorOptions(realtime=False, silence_ms=200)) as emu:
        recorder = EventRecorder()
        settings = emulator_settings(emu, tmp_path, turn_detection="server", vad_silence_ms=200)
        link = LiveLink(settings, recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            await recorder.wait_for(LinkConnected)
            for frame in speech(0.5) + [bytes(640)] * 20:
                link.send_audio(frame)
            link.end_audio_stream()
            done = await recorder.wait_for(TurnCompleted)
        setup = emu.log.client_messages("setup")[0].message["setup"]
        starts = emu.log.client_messages("realtime_input.activityStart")

    assert setup["realtimeInputConfig"]["automaticActivityDetection"]["disabled"] is False
    assert not starts
    # The server decided when the person spoke, so the answer belongs to no turn of ours.
    assert done.turn_id is None
    assert any(isinstance(e, AnswerAudioReceived) and e.turn_id is None for e in recorder.events)


@pytest.mark.parametrize("transcripts", [True, False])
async def test_each_turn_logs_one_line_of_facts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, transcripts: bool
) -> None:
    caplog.set_level(logging.INFO, logger="talkbox.live.link")
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        settings = emulator_settings(emu, tmp_path, log_transcripts=transcripts)
        link = LiveLink(settings, recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("secret question")
            await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn)
    (line,) = [r.getMessage() for r in caplog.records if "answered" in r.getMessage()]
    assert "first audio after" in line
    assert "of audio" in line
    assert "tokens prompt=" in line
    assert ("secret question" in line) is transcripts
    connects = [r.getMessage() for r in caplog.records if r.getMessage().startswith("connected")]
    assert len(connects) == 1


@pytest.mark.parametrize(
    "shape",
    [
        "usage_separate@turn=1-",
        "no_turn_complete@turn=1-",
        "omit_generation_complete@turn=1-",
        "only_generation_complete",
    ],
)
async def test_turn_shapes_seen_in_the_field_still_end_turns(tmp_path: Path, shape: str) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        if shape == "only_generation_complete":
            # A model that ends its turns with generationComplete alone
            # (docs/live-protocol.md §4.5); the resumable handle that follows is what says
            # the turn is over.
            emu.arm("no_turn_complete@turn=1-")
        else:
            if shape.startswith("no_turn_complete"):
                # A 3.x model that ends its turns with an interaction status instead.
                emu.arm("interaction_status:status=IDLE@turn=1-")
            emu.arm(shape)
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            first = link.send_text("one")
            await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == first)
            second = link.send_text("two")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == second)
            usage = await recorder.wait_for(UsageReported, lambda e: e.turn_id == second)

    assert done.transcript.startswith("turn 2:")
    assert done.conversation_turn == 2
    assert usage.usage.prompt_tokens > 0


async def test_a_new_conversation_fails_the_pending_turn_instead_of_resending_it(
    tmp_path: Path,
) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            await recorder.wait_for(LinkConnected)
            pending = link.send_text("a question from the old conversation")
            link.new_conversation()
            failed = await recorder.wait_for(TurnFailed, lambda e: e.turn_id == pending)
            await recorder.wait_for(LinkConnected, lambda e: e.reconnects == 1, within=3)
            turn = link.send_text("a new beginning")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn)
        asked = [
            r.message["clientContent"]["turns"][0]["parts"][0]["text"]
            for r in emu.log.client_messages("client_content")
        ]

    assert "new conversation" in failed.reason
    assert asked == ["a new beginning"]
    assert done.transcript.startswith("turn 1:")


def tagged_speech(count: int) -> list[bytes]:
    """Loud 20 ms frames whose first sample is the frame's number, to tell them apart."""
    frames = speech(count / 50)
    return [struct.pack("<h", n) + frame[2:] for n, frame in enumerate(frames)]


def frame_numbers(records: list[Record]) -> list[int]:
    """The numbers of the tagged frames the emulator received, in order."""
    pcm = [base64.urlsafe_b64decode(r.message["realtimeInput"]["audio"]["data"]) for r in records]
    return [struct.unpack_from("<h", chunk)[0] for chunk in pcm]


def server_vad_settings(emu: Emulator, state: Path, **overrides: Any) -> Settings:
    """Settings for server turn detection against an emulator that ends turns on 200 ms quiet."""
    return emulator_settings(emu, state, turn_detection="server", vad_silence_ms=200, **overrides)


@pytest.mark.parametrize("when", ["connecting", "idle-disconnected"])
async def test_an_utterance_and_stream_end_sent_while_disconnected_are_answered(
    tmp_path: Path, when: str
) -> None:
    async with Emulator(EmulatorOptions(realtime=False, silence_ms=200)) as emu:
        recorder = EventRecorder()
        link = LiveLink(
            server_vad_settings(emu, tmp_path, idle_disconnect_s=0.3), recorder, policy=FAST_POLICY
        )
        async with run_in_background(link):
            if when == "idle-disconnected":
                first = link.send_text("hello")
                await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == first)
                await recorder.wait_for(LinkDisconnected, lambda e: e.idle, within=3)
            # Speech only, no trailing quiet: the stream end alone ends the utterance.
            for frame in speech(0.4):
                link.send_audio(frame)
            link.end_audio_stream()
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id is None, within=3)
        stream_ends = emu.log.client_messages("realtime_input.audioStreamEnd")

    assert len(stream_ends) == 1
    assert done.audio_s == pytest.approx(0.4)


async def test_loose_audio_keeps_the_newest_frames_when_the_backlog_is_full(
    tmp_path: Path,
) -> None:
    async with Emulator(EmulatorOptions(realtime=False, silence_ms=200)) as emu:
        recorder = EventRecorder()
        link = LiveLink(server_vad_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        # Queued before the link runs: more than the backlog holds.
        for frame in tagged_speech(MAX_LOOSE_AUDIO_FRAMES + 50):
            link.send_audio(frame)
        link.end_audio_stream()
        async with run_in_background(link):
            await recorder.wait_for(TurnCompleted, within=5)
        received = frame_numbers(emu.log.client_messages("realtime_input.audio"))

    # The stream end took a place too; the oldest frames went, the newest arrived in order.
    kept = MAX_LOOSE_AUDIO_FRAMES - 1
    assert received == list(range(MAX_LOOSE_AUDIO_FRAMES + 50 - kept, MAX_LOOSE_AUDIO_FRAMES + 50))
    assert link.status().loose_audio_dropped == 51


async def test_server_detected_turns_are_counted_and_logged_like_our_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="talkbox.live.link")
    async with Emulator(EmulatorOptions(realtime=False, silence_ms=200)) as emu:
        recorder = EventRecorder()
        link = LiveLink(server_vad_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            for frame in speech(0.3):
                link.send_audio(frame)
            link.end_audio_stream()
            await recorder.wait_for(TurnCompleted, lambda e: e.conversation_turn == 1)
            for frame in speech(0.3):
                link.send_audio(frame)
            link.end_audio_stream()
            await recorder.wait_for(TurnCompleted, lambda e: e.conversation_turn == 2)
            async with asyncio.timeout(5):
                await link.settled()

    done = recorder.of(TurnCompleted)
    assert [d.turn_id for d in done] == [None, None]
    assert [d.conversation_turn for d in done] == [1, 2]
    assert done[1].transcript.startswith("turn 2:")
    assert done[1].audio_s == pytest.approx(0.3)
    assert done[1].usage is not None
    lines = [r.getMessage() for r in caplog.records if "answered" in r.getMessage()]
    assert len(lines) == 2
    assert lines[1].startswith("server turn (conversation turn 2) answered in")
    assert "tokens prompt=" in lines[1]
    stored = HandleStore(tmp_path, max_age_s=3600).load()
    assert stored is not None
    assert stored.turns == 2


async def answer_to(recorder: EventRecorder, turn: int) -> TurnCompleted:
    """The TurnCompleted of `turn`, waiting a bounded time."""
    return await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn)


async def test_a_ninth_pending_turn_is_refused_and_the_eight_are_answered(tmp_path: Path) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        # Asked while the link is not running yet: all of them wait.
        turns = [link.send_text(f"question {n}") for n in range(1, MAX_PENDING_TURNS + 2)]
        refused = recorder.of(TurnFailed)
        async with run_in_background(link):
            answered = [await answer_to(recorder, t) for t in turns[:-1]]

    reason = f"{MAX_PENDING_TURNS} turns are already waiting for an answer"
    assert refused == [TurnFailed(turn_id=turns[-1], reason=reason)]
    assert [a.conversation_turn for a in answered] == list(range(1, MAX_PENDING_TURNS + 1))


async def test_a_turn_asked_as_a_goaway_answer_ends_goes_on_the_new_connection(
    tmp_path: Path,
) -> None:
    async with Emulator(EmulatorOptions(realtime=True)) as emu:
        emu.arm("goaway:time_left=3,then=close@turn=1")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            first = link.send_text("tell me")
            await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == first)
            # The person asks again at once, while the old connection is still open.
            second = link.send_text("and then?")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == second)
        asked = [
            (r.conn, r.message["clientContent"]["turns"][0]["parts"][0]["text"])
            for r in emu.log.client_messages("client_content")
        ]
        (close,) = emu.log.closes(conn=1)

    assert asked == [(1, "tell me"), (2, "and then?")]
    assert close.message["by"] == "client"
    assert not recorder.of(TurnResent)
    assert done.transcript.startswith("turn 2:")
    assert recorder.of(LinkConnected)[-1].resumed


async def test_cancelling_the_link_as_it_leaves_a_connection_on_purpose_stops_it(
    tmp_path: Path,
) -> None:
    cancel_on_next_tick = False
    task: asyncio.Task[None] | None = None

    def clock() -> float:
        # The watch reads the clock just before it ends the connection: a cancel from the
        # owner lands exactly while the connection's TaskGroup is failing on purpose.
        nonlocal cancel_on_next_tick
        if cancel_on_next_tick and task is not None:
            cancel_on_next_tick = False
            task.cancel()
        return time.monotonic()

    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY, clock=clock)
        task = asyncio.create_task(link.run())
        await recorder.wait_for(LinkConnected)
        cancel_on_next_tick = True
        link.new_conversation()
        async with asyncio.timeout(3):
            await asyncio.wait([task])

    assert task.cancelled()
    assert len(emu.log.events("handshake")) == 1


async def test_a_withdrawn_turn_that_went_up_is_taken_back_by_resuming_the_handle_before_it(
    tmp_path: Path,
) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            first = link.send_text("remember seven")
            await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == first)
            async with asyncio.timeout(5):
                await link.settled()
            half = link.start_turn()
            for frame in speech(0.5):
                link.send_audio(frame)
            async with asyncio.timeout(5):
                # Polled: the emulator's log is written by its own connection tasks.
                while not emu.log.client_messages("realtime_input.audio"):  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            link.withdraw(half, "muted")
            failed = await recorder.wait_for(TurnFailed, lambda e: e.turn_id == half)
            connected = await recorder.wait_for(LinkConnected, lambda e: e.reconnects == 1)
            after = link.send_text("what was the number?")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == after)
        setups = [r.message["setup"] for r in emu.log.client_messages("setup")]

    assert failed.reason == "withdrawn: muted"
    assert connected.resumed
    assert "handle" in setups[1]["sessionResumption"]
    # The half sentence is not in the resumed conversation: the next turn is its second.
    assert done.conversation_turn == 2
    assert done.transcript.startswith("turn 2:")
    assert not emu.log.client_messages("realtime_input.activityEnd")
    assert len(emu.log.client_messages("realtime_input.activityStart")) == 1
