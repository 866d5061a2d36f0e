"""What the box says about itself: the STATUS= line and the last turn, from the events."""

from __future__ import annotations

from talkbox.appliance.status import Facts
from talkbox.conversation import AudioDeviceFailed, AudioDeviceRecovered, State
from talkbox.live.events import LinkConnected, LinkFailed, TurnCompleted, TurnFailed

CONNECTED = LinkConnected(resumed=False, conversation_id="c", reconnects=0, reason="start")
MIC_GONE = AudioDeviceFailed(device="capture", reason="No such device")


def completed(turn_id: int) -> TurnCompleted:
    return TurnCompleted(
        turn_id=turn_id,
        interrupted=False,
        audio_s=2.0,
        first_audio_s=0.3,
        duration_s=2.5,
        transcript="sunny",
        usage=None,
        conversation_turn=1,
    )


def test_a_microphone_missing_at_start_is_still_the_reason_once_the_link_connects() -> None:
    facts = Facts()
    facts.note(MIC_GONE)
    facts.note(CONNECTED)
    assert facts.line(State.ERROR) == "error: capture device: No such device"
    facts.note(AudioDeviceRecovered(device="capture"))
    assert facts.problem == ""


def test_a_device_reason_outranks_the_services_and_the_service_is_cleared_by_a_connection() -> None:
    facts = Facts()
    facts.note(LinkFailed(reason="API key not valid", retry_in_s=300.0))
    assert facts.line(State.ERROR) == "error: API key not valid"
    facts.note(MIC_GONE)
    assert facts.line(State.ERROR) == "error: capture device: No such device"
    facts.note(AudioDeviceRecovered(device="capture"))
    assert facts.line(State.ERROR) == "error: API key not valid"
    facts.note(CONNECTED)
    assert facts.problem == ""


def test_the_error_moment_after_a_failed_turn_names_the_turn_and_why() -> None:
    facts = Facts()
    facts.note(TurnFailed(turn_id=3, reason="withdrawn: no answer within 10 s"))
    assert facts.line(State.ERROR) == "error: turn 3 failed: withdrawn: no answer within 10 s"


def test_a_turn_a_failing_device_cut_is_never_called_answered() -> None:
    facts = Facts()
    facts.note(completed(1))
    facts.note(AudioDeviceFailed(device="playback", reason="Input/output error"), turn_id=2)
    facts.note(completed(2))  # the service finished the answer nobody heard
    last = facts.last_turn
    assert last is not None
    assert last.turn_id == 2
    assert not last.answered
    assert last.reason == "abandoned: the playback device failed (Input/output error)"
    facts.note(completed(3))
    assert facts.last_turn is not None
    assert facts.last_turn.answered
