"""The running timer table: the tools change it, a task rings what falls due.

`TimerService` owns the table (`talkbox.timers.table`) and its store: every change is saved
before it is answered, so what the model tells the person survives a power cut. `run()`
looks at the wall clock at least once a second (a Pi without a real-time clock may have its
clock set by NTP at any moment: a timer is due by the clock as it is now) and hands what fell
due to `on_due`, on the event loop, without any network.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime

from talkbox.timers.store import TimerStore
from talkbox.timers.table import Entry, TimerTable

log = logging.getLogger(__name__)

TICK_S = 1.0
"""The longest the due check sleeps (a clock set by NTP is noticed within this)."""


def local_time(epoch: float) -> datetime:
    """`epoch` as the box's local time, with its zone."""
    return datetime.fromtimestamp(epoch).astimezone()


class TimerService:
    """The timers and alarms of the running box, kept in the state dir."""

    def __init__(
        self,
        store: TimerStore,
        *,
        on_due: Callable[[tuple[Entry, ...]], None],
        on_change: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        missed_after_s: float = 600.0,
    ) -> None:
        """Load the table from `store`; `on_due` gets what falls due, `on_change` any change."""
        self._store = store
        self._on_due = on_due
        self._on_change = on_change
        self.clock = clock
        self.missed_after_s = missed_after_s
        self.table = store.load()
        self._wake: asyncio.Future[None] | None = None
        """What the due check sleeps on: a change wakes it at once."""

    def recover(self) -> tuple[Entry, ...]:
        """At start: what fell due while the box was off and rings now; logs what was missed."""
        now = self.clock()
        table, ring, missed = self.table.recover(now, self.missed_after_s)
        for entry in missed:
            log.warning(
                "%s fell due at %s while the box was off, %.0f min ago: missed, not rung "
                "(a timer due more than TALKBOX_TIMER_MISSED_AFTER_S=%g s ago is not rung)",
                entry.label,
                local_time(entry.due).strftime("%Y-%m-%d %H:%M:%S %Z"),
                (now - entry.due) / 60,
                self.missed_after_s,
            )
        for entry in ring:
            log.info(
                "%s fell due while the box was off, %.0f s ago: ringing",
                entry.label,
                now - entry.due,
            )
        if table != self.table:
            self._commit(table)
        return ring

    def commit(self, table: TimerTable) -> None:
        """Make `table` the table: stored, then the due check and `on_change` are told."""
        self._commit(table)

    def _commit(self, table: TimerTable) -> None:
        self.table = table
        self._store.save(table)
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)
        self._on_change()

    def check(self) -> tuple[Entry, ...]:
        """Take out and hand to `on_due` whatever is due now."""
        table, due = self.table.take_due(self.clock())
        if due:
            self._commit(table)
            for entry in due:
                log.info("%s is due: ringing", entry.label)
            self._on_due(due)
        return due

    async def run(self) -> None:
        """Ring each entry when it falls due, until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            self.check()
            soonest = self.table.soonest()
            wait = TICK_S if soonest is None else min(TICK_S, soonest.left(self.clock()))
            # A plain future and a timer handle: cancelling the task cancels the one await
            # (wait_for around an Event was seen to leave a cancelled task hanging on 3.11).
            wake = self._wake = loop.create_future()
            handle = loop.call_later(max(0.01, wait), _wake_up, wake)
            try:
                await wake
            finally:
                handle.cancel()
                self._wake = None

    @property
    def running(self) -> bool:
        """Whether any timer or alarm is set."""
        return bool(self.table.entries)


def _wake_up(wake: asyncio.Future[None]) -> None:
    if not wake.done():
        wake.set_result(None)
