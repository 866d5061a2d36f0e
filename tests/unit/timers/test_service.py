"""The service's due check: it rings what falls due, wakes on a change, and stops when cancelled."""

from __future__ import annotations

import asyncio
from pathlib import Path

from talkbox.timers.service import TimerService
from talkbox.timers.store import TimerStore
from talkbox.timers.table import Entry


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_run_rings_what_falls_due_and_wakes_at_once_on_a_change(tmp_path: Path) -> None:
    clock, rung = Clock(), []
    changes: list[int] = []
    service = TimerService(
        TimerStore(tmp_path),
        on_due=rung.append,
        on_change=lambda: changes.append(1),
        clock=clock,
    )
    task = asyncio.create_task(service.run())
    await asyncio.sleep(0.05)
    table, entry = service.table.add_timer(clock.now, 5, "tea")
    service.commit(table)
    assert service.running
    clock.now += 5  # the clock moves on; the service sleeps at most TICK_S
    async with asyncio.timeout(5):
        # Polled: the service is driven by its own clock checks, not by an event of ours.
        while not rung:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert rung == [(entry,)]
    assert not service.running
    assert len(changes) == 2  # set, then taken out when due
    task.cancel()
    async with asyncio.timeout(2):
        await asyncio.gather(task, return_exceptions=True)
    assert TimerStore(tmp_path).load().entries == ()


async def test_a_change_and_a_cancel_together_never_leave_the_task_hanging(tmp_path: Path) -> None:
    clock, rung = Clock(), list[tuple[Entry, ...]]()
    for attempt in range(50):
        store = TimerStore(tmp_path / str(attempt))
        service = TimerService(store, on_due=rung.append, clock=clock)
        task = asyncio.create_task(service.run())
        await asyncio.sleep(0)
        table, _ = service.table.add_timer(clock.now, 60)
        service.commit(table)
        task.cancel()
        async with asyncio.timeout(2):
            await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
