"""The outbox's audio runs: a turn's queued audio leaves as one message, in order."""

from __future__ import annotations

from talkbox.live.outbox import MAX_AUDIO_MESSAGE_BYTES, Op, OpKind, Outbox

FRAME = bytes(640)


def outbox_of(*ops: Op) -> Outbox:
    outbox = Outbox()
    outbox.ops.extend(ops)
    return outbox


def test_a_turns_queued_audio_is_one_run_up_to_100_ms() -> None:
    frames = [Op(OpKind.AUDIO, 1, pcm=bytes([n]) * 640) for n in range(7)]
    outbox = outbox_of(*frames)
    run = outbox.audio_run()
    assert run == frames[:5]
    assert sum(len(op.pcm) for op in run) == MAX_AUDIO_MESSAGE_BYTES


def test_a_run_stops_at_the_turns_end_and_at_another_turn() -> None:
    a, b = Op(OpKind.AUDIO, 1, pcm=FRAME), Op(OpKind.AUDIO, 1, pcm=FRAME)
    end = Op(OpKind.END, 1)
    other = Op(OpKind.AUDIO, 2, pcm=FRAME)
    assert outbox_of(a, b, end, other).audio_run() == [a, b]
    assert outbox_of(a, other).audio_run() == [a]


def test_a_run_is_empty_unless_audio_is_at_the_head_and_a_big_frame_still_goes() -> None:
    assert outbox_of(Op(OpKind.START, 1), Op(OpKind.AUDIO, 1, pcm=FRAME)).audio_run() == []
    big = Op(OpKind.AUDIO, 1, pcm=bytes(MAX_AUDIO_MESSAGE_BYTES * 2))
    assert outbox_of(big, Op(OpKind.AUDIO, 1, pcm=FRAME)).audio_run() == [big]
