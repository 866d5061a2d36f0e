"""The link's faults as a person meets them: every turn answered and heard once, or failed once.

Each scenario runs the appliance on fakes against the emulator with a fault armed and holds
the outcome to one rule: every turn asked is answered and played exactly once, or it failed
once with the error tone and nothing of it is sent (or answered) afterwards; the status says
so right afterwards; and nothing reaches the journal as a traceback. The service's times are
scaled down (answer timeout, setup timeout, backoff) so each runs in seconds, with margins a
loaded machine keeps.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest

from talkbox.conversation import DoublePressed, Earcon, MuteRequested, State, UnmuteRequested
from talkbox.emulator import Emulator
from talkbox.live.backoff import RetryPolicy

from .conftest import (
    FAST_POLICY,
    Box,
    MakeEmulator,
    answer_sent,
    answers_by_connection,
    audio_received,
    recording,
    running_box,
    until,
)

QUESTION = "question-weather.wav"


def spoken_turns(emulator: Emulator) -> list[int]:
    """The conversation turn numbers the emulator answered, in order (from its transcripts)."""
    text = "".join(
        str(r.message["serverContent"]["outputTranscription"].get("text", ""))
        for r in emulator.log.server_messages("serverContent.")
        if "outputTranscription" in r.message["serverContent"]
    )
    return [int(n) for n in re.findall(r"turn (\d+):", text)]


def turn_starts(emulator: Emulator) -> list[float]:
    """When each activityStart reached the emulator."""
    return [r.t for r in emulator.log.client_messages("realtime_input.activityStart")]


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing in the journal carries a traceback."""
    bad = [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records
        if r.exc_info or r.stack_info or "Traceback" in r.getMessage()
    ]
    assert not bad, bad


async def ask(box: Box, seconds: float = 1.0) -> None:
    """Press (tap mode), say `seconds` of the question; the local VAD closes the turn."""
    box.world.button.press()
    await box.state_is(State.LISTENING, within=2)
    box.room.say(recording(QUESTION)[: int(seconds * 32_000)])
    await until(lambda: not box.room.speaking, within=seconds + 5, what="spoken")


async def answered_once(box: Box, *, within: float = 15) -> None:
    """The turn's answer played and the box rests again."""
    await box.state_is(State.SPEAKING, within=within)
    await box.state_is(State.IDLE, within=within)


# --------------------------------------------------------------- setupComplete comes late


async def test_a_setup_answered_later_than_the_answer_timeout_fails_the_turn_and_never_sends_it(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # setupComplete 20 s late, the real answer timeout 10 s and setup timeout 15 s, scaled.
    # The turn closes about 2 s after the connection began (1 s of speech, the VAD's end):
    # the answer timeout (1.5 s after that) must come well before the setup timeout.
    emulator = await make_emulator(realtime=True, faults=["delay_setup:s=12@conn=2"])
    policy = RetryPolicy(
        base_s=0.05, cap_s=0.4, fatal_retry_s=30.0, stable_after_s=5.0, setup_timeout_s=8.0
    )
    async with running_box(
        emulator, tmp_path, policy=policy, answer_timeout_s=1.5, idle_disconnect_s=0.5
    ) as box:
        await until(lambda: not box.app.link.status().connected, within=5, what="idle close")
        await ask(box)
        await box.state_is(State.THINKING, within=3)
        await box.state_is(State.ERROR, within=4)
        failed_at = asyncio.get_running_loop().time()
        assert box.world.speaker.earcons.count(Earcon.ERROR) == 1
        last = box.app.status()["last_turn"]
        assert last["answered"] is False
        assert last["reason"].startswith("withdrawn: no answer within 1.5 s")
        # The late setup times out, the next connection is made, and nothing of the turn
        # the person heard fail goes up on it.
        await until(lambda: box.app.link.status().reconnects >= 1, within=15, what="reconnect")
        await box.state_is(State.IDLE, within=5)
        await asyncio.sleep(0.5)
        assert turn_starts(emulator) == []
        assert audio_received(emulator) == b""
        assert box.app.link.status().pending_turns == 0
        # And the box is usable: the next question is the conversation's first.
        await ask(box)
        await answered_once(box)
    assert spoken_turns(emulator) == [1]
    assert box.world.speaker.earcons.count(Earcon.ERROR) == 1
    assert all(t > failed_at for t in turn_starts(emulator))
    assert_no_traceback(caplog)


async def test_a_setup_answered_late_but_within_the_answer_timeout_answers_the_turn(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # setupComplete 5 s late against the real 10 s answer timeout, scaled.
    emulator = await make_emulator(realtime=True, faults=["delay_setup:s=0.8@conn=2"])
    async with running_box(emulator, tmp_path, answer_timeout_s=4.0, idle_disconnect_s=0.5) as box:
        await until(lambda: not box.app.link.status().connected, within=5, what="idle close")
        await ask(box)
        await answered_once(box)
        assert box.app.status()["last_turn"]["answered"] is True
    assert Earcon.ERROR not in box.world.speaker.earcons
    assert spoken_turns(emulator) == [1]
    assert box.world.speaker.audio == answer_sent(emulator)
    assert_no_traceback(caplog)


# ------------------------------------------------------------------------------ the mute


@pytest.mark.parametrize("how", ["double-press", "ctl"])
async def test_a_muted_half_sentence_never_becomes_part_of_the_conversation(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    caplog.set_level(logging.INFO)
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path, follow_up_s=0.0) as box:
        await ask(box)
        await answered_once(box)
        await until(lambda: box.app.link.status().conversation_turns == 1, within=5, what="1")
        # Mid-sentence: activityStart and some speech went up, then the person mutes.
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording(QUESTION)[: 3 * 32_000])
        await until(lambda: len(turn_starts(emulator)) == 2, within=5, what="second turn")
        await asyncio.sleep(0.4)
        if how == "ctl":
            box.app.post(MuteRequested(source="ctl"))
        else:
            # The first press of a double press ends a tapped turn: only the second one
            # says it was a double press.
            box.world.button.press()
            box.world.button.release()
            await asyncio.sleep(0.15)
            box.world.button.press()
            box.app.post(DoublePressed())  # as gpio posts it, right after the second press
            box.world.button.release()
        await box.state_is(State.MUTED, within=2)
        await until(lambda: not box.room.speaking, within=5, what="spoken")
        await until(lambda: box.app.link.status().reconnects >= 1, within=5, what="reconnect")
        assert box.app.link.status().conversation_turns == 1
        box.app.post(UnmuteRequested(source="ctl"))
        await box.state_is(State.IDLE, within=2)
        await ask(box)
        await answered_once(box)
    # The muted half sentence was never answered into the conversation: the question after
    # it is the conversation's second turn, resumed from the handle taken before it.
    assert spoken_turns(emulator)[-1] == 2
    assert box.app.link.status().conversation_turns == 2
    if how == "ctl":
        ends = emulator.log.client_messages("realtime_input.activityEnd")
        assert len(ends) == 2  # the two questions asked, not the muted one
    assert_no_traceback(caplog)


async def test_a_turn_withdrawn_before_any_of_it_went_up_leaves_the_connection_alone(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path, policy=FAST_POLICY) as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.app.post(MuteRequested(source="ctl"))  # nothing said yet: nothing went up
        await box.state_is(State.MUTED, within=2)
        await asyncio.sleep(0.3)
        assert box.app.link.status().reconnects == 0
        assert box.app.link.status().connected
    assert turn_starts(emulator) == []


# ------------------------------------------------------- a connection ends while speaking


@pytest.mark.parametrize(
    "fault",
    [
        "abort@turn=1,at=generated",
        "close:preset=internal@turn=1,at=generated",
        # The deadline (0.75 s) comes before the answer has played, so before turnComplete.
        "goaway:time_left=1@turn=1,at=generated",
        "goaway:time_left=1@turn=1",
    ],
    ids=["drop", "1011", "goaway-1s-left-after-generation", "goaway-1s-left-mid-answer"],
)
async def test_an_answer_that_fully_arrived_plays_whole_once_and_is_not_asked_again(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    caplog.set_level(logging.INFO)
    emulator = await make_emulator(realtime=True, faults=[fault])
    async with running_box(emulator, tmp_path, follow_up_s=0.0) as box:
        await ask(box, seconds=2.0)
        await answered_once(box)
        assert box.app.status()["last_turn"]["answered"] is True
        await until(lambda: box.app.link.status().reconnects >= 1, within=5, what="reconnect")
        reconnected_after = box.app.link.status()
        assert reconnected_after.connected
        # Usable at once: the next question is answered on the new connection.
        await ask(box)
        await answered_once(box)
    assert len(turn_starts(emulator)) == 2
    assert spoken_turns(emulator)[0] == 1
    assert box.world.speaker.flush_marks == []
    assert box.world.speaker.audio == answer_sent(emulator)
    assert Earcon.ERROR not in box.world.speaker.earcons
    assert_no_traceback(caplog)


async def test_a_goaway_with_time_to_spare_rotates_after_the_answer_without_asking_again(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 10 s left: the answer ends long before the deadline (7.5 s); the rotation follows it.
    emulator = await make_emulator(realtime=True, faults=["goaway:time_left=10@turn=1"])
    async with running_box(emulator, tmp_path, follow_up_s=0.0) as box:
        await ask(box, seconds=2.0)
        await answered_once(box)
        await until(lambda: box.app.link.status().reconnects >= 1, within=5, what="rotation")
    assert len(turn_starts(emulator)) == 1
    assert box.world.speaker.flush_marks == []
    assert box.world.speaker.audio == answer_sent(emulator)
    assert_no_traceback(caplog)


@pytest.mark.parametrize("left", [10.0, 1.0], ids=["10s-left", "1s-left"])
async def test_a_goaway_at_idle_rotates_at_once_and_the_next_turn_is_answered(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, left: float
) -> None:
    emulator = await make_emulator(realtime=True, faults=[f"goaway:time_left={left:g}@t=0.3"])
    async with running_box(emulator, tmp_path, follow_up_s=0.0) as box:
        await until(lambda: box.app.link.status().reconnects >= 1, within=5, what="rotation")
        assert box.app.state is State.IDLE
        await ask(box)
        await answered_once(box)
    assert State.OFFLINE not in box.world.indicator.states()
    assert spoken_turns(emulator) == [1]
    assert box.world.speaker.audio == answer_sent(emulator)
    assert_no_traceback(caplog)


@pytest.mark.parametrize(
    "fault",
    ["abort@msg=20", "abort@turn=1"],
    ids=["drop-while-listening", "drop-while-speaking-before-generation"],
)
async def test_a_turn_cut_before_its_answer_arrived_is_asked_again_and_heard_once(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    caplog.set_level(logging.INFO)
    emulator = await make_emulator(realtime=True, faults=[fault])
    async with running_box(emulator, tmp_path, follow_up_s=0.0) as box:
        await ask(box, seconds=2.0)
        await answered_once(box)
        assert box.app.status()["last_turn"]["answered"] is True
    answers = answers_by_connection(emulator)
    # Played once: whatever of the cut answer played was flushed, then the new one whole.
    flushed_at = box.world.speaker.flush_marks[-1] if box.world.speaker.flush_marks else 0
    assert box.world.speaker.audio[flushed_at:] == answers[-1]
    assert Earcon.ERROR not in box.world.speaker.earcons
    assert box.app.link.status().conversation_turns == 1
    assert_no_traceback(caplog)


# ------------------------------------------------------------------- a short reconnect


@pytest.mark.parametrize("setup_late_s", [0.0, 1.0], ids=["backoff", "backoff-and-slow-setup"])
async def test_a_press_during_a_sub_second_reconnect_opens_the_turn_and_it_is_answered(
    make_emulator: MakeEmulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    setup_late_s: float,
) -> None:
    caplog.set_level(logging.INFO)
    faults = ["abort@t=0.5,conn=1"]
    if setup_late_s:
        faults.append(f"delay_setup:s={setup_late_s:g}@conn=2")
    emulator = await make_emulator(realtime=True, faults=faults)
    # The real first backoff (0.25-0.5 s): the press lands while the link waits it out.
    policy = RetryPolicy(base_s=0.5, cap_s=4.0, fatal_retry_s=30.0, stable_after_s=5.0)
    async with running_box(emulator, tmp_path, policy=policy, follow_up_s=0.0) as box:
        await until(lambda: not box.app.link.status().connected, within=5, what="the drop")
        assert box.app.state is State.IDLE
        assert box.app.status_line() == "idle"
        await asyncio.sleep(0.1)
        await ask(box)
        await answered_once(box)
        assert box.app.status()["last_turn"]["answered"] is True
    assert State.OFFLINE not in box.world.indicator.states()
    assert Earcon.ERROR not in box.world.speaker.earcons
    assert spoken_turns(emulator) == [1]
    assert box.world.speaker.audio == answer_sent(emulator)
    assert_no_traceback(caplog)


async def test_offline_is_a_scaled_minute_of_failures_and_then_a_press_is_refused(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emulator = await make_emulator(
        realtime=True, faults=["abort@t=0.3,conn=1", "reject_upgrade:status=503@conn=2-"]
    )
    # README: offline after 60 s of failures; here 1.5 s.
    policy = RetryPolicy(
        base_s=0.05, cap_s=0.2, fatal_retry_s=30.0, stable_after_s=5.0, offline_after_s=1.5
    )
    async with running_box(emulator, tmp_path, policy=policy) as box:
        await until(lambda: not box.app.link.status().connected, within=5, what="the drop")
        dropped_at = asyncio.get_running_loop().time()
        await box.state_is(State.OFFLINE, within=5)
        assert asyncio.get_running_loop().time() - dropped_at >= 1.4
        assert box.app.status_line().startswith("offline: retrying in ")
        assert box.app.link.status().offline
        box.world.button.press()  # offline: an earcon, never a turn answered later
        await until(
            lambda: box.world.speaker.earcons[-1:] == [Earcon.ERROR], within=2, what="refusal"
        )
        assert box.app.state is State.OFFLINE
    assert turn_starts(emulator) == []
    assert_no_traceback(caplog)


# ------------------------------------------------------------------ quota: Retry-After


async def test_a_429_with_retry_after_is_waited_out_exactly_and_the_turn_asked_is_answered(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    # Retry-After: 20 against the real quota backoff (15-30 s, doubling), scaled by 1/10.
    emulator = await make_emulator(
        realtime=True,
        faults=["abort@t=0.3,conn=1", "reject_upgrade:status=429,retry_after=2@conn=2"],
    )
    policy = RetryPolicy(
        base_s=0.05, cap_s=0.4, quota_base_s=3.0, quota_cap_s=12.0, stable_after_s=5.0
    )
    async with running_box(emulator, tmp_path, policy=policy, follow_up_s=0.0) as box:
        await until(lambda: len(emulator.log.events("upgrade_refused")) == 1, within=5, what="429")
        assert box.app.state is State.IDLE  # waiting out a quota is not offline
        await ask(box)
        await answered_once(box)
    attempts = [r.t for r in emulator.log.connection_attempts()]
    assert len(attempts) == 3
    assert attempts[2] - attempts[1] >= 2.0
    waits = [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith("connection refused (HTTP 429")
    ]
    assert len(waits) == 1
    assert waits[0].endswith("reconnecting in 2.00s")
    assert State.OFFLINE not in box.world.indicator.states()
    assert spoken_turns(emulator) == [1]
    assert box.world.speaker.audio == answer_sent(emulator)
    assert_no_traceback(caplog)


# ------------------------------------------- broken frames, 1011 and a refused handle


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("malformed:shape=non_json@turn=1", "Failed to parse response: b'<html>not json'"),
        ("malformed:shape=error_body@turn=1", "service error 500 INTERNAL: Internal error"),
        ("malformed:shape=unknown_only@turn=1", 'an unknown message {"somethingNew"'),
        ("close:preset=internal@turn=1", "1011 Internal error occurred."),
    ],
    ids=["non-json-frame", "error-body", "unknown-message", "1011"],
)
async def test_a_broken_answer_is_asked_again_heard_once_and_logged_in_the_services_words(
    make_emulator: MakeEmulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    fault: str,
    said: str,
) -> None:
    caplog.set_level(logging.INFO)
    emulator = await make_emulator(realtime=True, faults=[fault])
    async with running_box(emulator, tmp_path, follow_up_s=0.0) as box:
        await ask(box, seconds=2.0)
        await answered_once(box)
        assert box.app.status()["last_turn"]["answered"] is True
        assert box.app.status_line() == "idle"
    lost = [r.getMessage() for r in caplog.records if r.getMessage().startswith("connection lost")]
    assert len(lost) == 1
    assert said in lost[0]
    assert "not supported between" not in lost[0]
    answers = answers_by_connection(emulator)
    flushed_at = box.world.speaker.flush_marks[-1] if box.world.speaker.flush_marks else 0
    assert box.world.speaker.audio[flushed_at:] == answers[-1]
    assert spoken_turns(emulator)[-1] == 1
    assert Earcon.ERROR not in box.world.speaker.earcons
    assert_no_traceback(caplog)


async def test_a_refused_handle_starts_a_fresh_conversation_that_answers_the_turn_waiting(
    make_emulator: MakeEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path, follow_up_s=0.0, idle_disconnect_s=2.0) as box:
        await ask(box)
        await answered_once(box)
        await until(lambda: not box.app.link.status().connected, within=6, what="idle close")
        assert box.app.link.status().conversation_turns == 1
        emulator.arm("reject_handle@times=1")
        await ask(box)
        await answered_once(box)
    assert emulator.log.events("handle_rejected")
    # A fresh conversation: its first turn.
    assert spoken_turns(emulator) == [1, 1]
    assert Earcon.ERROR not in box.world.speaker.earcons
    assert State.OFFLINE not in box.world.indicator.states()
    assert_no_traceback(caplog)
