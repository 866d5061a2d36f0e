"""The shipped fakes: the event recorder and the background runner."""

from __future__ import annotations

import asyncio

import pytest

from talkbox.fakes import EventRecorder, run_in_background
from talkbox.live.events import GenerationCompleted, TurnSent


async def test_the_recorder_keeps_events_in_order_and_filters_by_type() -> None:
    recorder = EventRecorder()
    recorder(TurnSent(1))
    recorder(GenerationCompleted(1))
    recorder(TurnSent(2))
    assert recorder.of(TurnSent) == [TurnSent(1), TurnSent(2)]
    assert await recorder.wait_for(TurnSent, lambda e: e.turn_id == 2, within=0.01) == TurnSent(2)
    recorder.reset()
    assert recorder.events == []


async def test_waiting_for_an_event_that_never_comes_times_out() -> None:
    recorder = EventRecorder()
    recorder(TurnSent(1))
    with pytest.raises(TimeoutError):
        await recorder.wait_for(TurnSent, lambda e: e.turn_id == 2, within=0.01)


async def test_waiting_returns_as_soon_as_the_event_is_recorded() -> None:
    recorder = EventRecorder()
    # Recorded from the loop once wait_for is already waiting (nothing is there before).
    asyncio.get_running_loop().call_soon(recorder, GenerationCompleted(None))
    assert await recorder.wait_for(GenerationCompleted, within=5) == GenerationCompleted(None)


class Forever:
    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = False

    async def run(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_a_part_runs_for_the_block_and_is_cancelled_after_it() -> None:
    part = Forever()
    async with run_in_background(part) as running:
        assert running is part
        async with asyncio.timeout(5):
            await part.started.wait()
        assert not part.cancelled
    assert part.cancelled
