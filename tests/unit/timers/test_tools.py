"""The timer tools through the registry, called with arguments as the model sends them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from google.genai import types

from talkbox.live.tools import BLOCKING, ToolRegistry
from talkbox.timers.service import TimerService
from talkbox.timers.store import TimerStore
from talkbox.timers.table import Entry
from talkbox.timers.tools import alarm_due, register_timer_tools, spoken_span

BERLIN = ZoneInfo("Europe/Berlin")
# 2026-12-07 18:30:00 in Berlin (CET, UTC+01:00).
T0 = datetime(2026, 12, 7, 18, 30, tzinfo=BERLIN).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def make(tmp_path: Path) -> tuple[ToolRegistry, TimerService, Clock, list[tuple[Entry, ...]]]:
    clock = Clock()
    rung: list[tuple[Entry, ...]] = []
    service = TimerService(TimerStore(tmp_path), on_due=rung.append, clock=clock)
    registry = ToolRegistry()
    register_timer_tools(registry, service, zone=BERLIN)
    return registry, service, clock, rung


async def call(registry: ToolRegistry, tool: str, /, **args: Any) -> dict[str, Any]:
    response = await registry.call(types.FunctionCall(id="c1", name=tool, args=args))
    assert response.response is not None
    return response.response


def test_every_timer_tool_is_declared_blocking(tmp_path: Path) -> None:
    registry, *_ = make(tmp_path)
    declared = {d.name: d.behavior for d in registry.declarations()}
    assert declared == dict.fromkeys(
        ["set_timer", "set_alarm", "list_timers", "change_timer", "cancel_timer"], BLOCKING
    )


async def test_set_list_change_cancel_through_the_registry(tmp_path: Path) -> None:
    registry, service, clock, rung = make(tmp_path)
    # The model sends numbers as JSON numbers, sometimes with a fraction part.
    set_pasta = await call(registry, "set_timer", minutes=9.0, name="pasta")
    assert set_pasta["timer"]["rings_at"] == "18:39:00"
    assert set_pasta["time_zone"] == "Europe/Berlin, CET (UTC+01:00)"
    assert set_pasta["now"] == "18:30:00"
    await call(registry, "set_timer", seconds=30)
    clock.now += 10
    listed = await call(registry, "list_timers")
    assert [(t["name"], t["left"]) for t in listed["timers"]] == [
        ("", "20 seconds"),
        ("pasta", "8 minutes 50 seconds"),
    ]
    changed = await call(registry, "change_timer", name="pasta", minutes=2)
    assert changed["timer"]["rings_at"] == "18:41:00"
    refused = await call(registry, "cancel_timer")
    assert "several are set" in refused["error"]
    cancelled = await call(registry, "cancel_timer", name="the pasta timer")
    assert cancelled["result"] == "cancelled: the pasta timer"
    # What the tools changed is on disk before they answered.
    assert TimerStore(tmp_path).load() == service.table
    assert [e.seconds for e in service.table.entries] == [30]
    clock.now += 20
    assert service.check()
    assert rung[0][0].seconds == 30


async def test_bad_arguments_are_errors_the_model_reads(tmp_path: Path) -> None:
    registry, *_ = make(tmp_path)
    assert "error" in await call(registry, "set_timer", minutes=-3)
    assert "1 second" in (await call(registry, "set_timer"))["error"]
    assert "HH:MM" in (await call(registry, "set_alarm", time="7.30pm"))["error"]
    assert "error" in await call(registry, "set_timer", minutes=5, when="now")


async def test_an_alarm_is_the_next_time_the_local_clock_shows_it(tmp_path: Path) -> None:
    registry, *_ = make(tmp_path)
    tomorrow = await call(registry, "set_alarm", time="07:30", name="wake up")
    assert tomorrow["alarm"]["rings_at"] == "07:30:00"
    assert tomorrow["alarm"]["rings_on"] == "2026-12-08"
    assert tomorrow["alarm"]["left"] == "13 hours"
    tonight = await call(registry, "set_alarm", time="19:45")
    assert "rings_on" not in tonight["alarm"]
    past = await call(registry, "set_alarm", time="07:30", date="2026-12-07")
    assert past["error"] == "that time has passed"


def test_alarm_due_follows_daylight_saving() -> None:
    # The night before the clocks go forward (2027-03-28, 02:00 CET → 03:00 CEST).
    before = datetime(2027, 3, 27, 22, 0, tzinfo=BERLIN).timestamp()
    due = alarm_due(before, "07:30", None, BERLIN)
    assert datetime.fromtimestamp(due, BERLIN).strftime("%Y-%m-%d %H:%M %Z") == (
        "2027-03-28 07:30 CEST"
    )
    assert due - before == pytest.approx(8.5 * 3600)  # one hour less than the clock suggests


async def test_missed_timers_are_told_once(tmp_path: Path) -> None:
    registry, service, clock, _ = make(tmp_path)
    await call(registry, "set_timer", minutes=1, name="eggs")
    clock.now += 3600
    assert service.recover() == ()
    listed = await call(registry, "list_timers")
    assert listed["missed_while_off"] == [
        {"kind": "timer", "name": "eggs", "was_due_at": "2026-12-07 18:31"}
    ]
    assert "missed_while_off" not in await call(registry, "list_timers")


def test_spoken_span() -> None:
    assert spoken_span(3661) == "1 hour 1 minute 1 second"
    assert spoken_span(0.4) == "0 seconds"
