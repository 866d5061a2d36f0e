"""The timer tools the model calls: set_timer, set_alarm, list_timers, change_timer, cancel_timer.

Each is declared BLOCKING, as the appliance's other tools are: today's models take an
undeclared behaviour as NON_BLOCKING (docs/live-models.md §4), and a person who asks for a
timer must hear it confirmed, with the time it rings, before anything else. Every result
names the box's local time zone, since clock times are the box's local time. A refusal
(no such timer, too long, several match) is an `error` the model can read out.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from datetime import time as clock_time

from pydantic import BaseModel, ConfigDict, Field, field_validator

from talkbox.live.tools import BLOCKING, NoArguments, ToolRegistry, ToolResult
from talkbox.timers.service import TimerService, local_time
from talkbox.timers.table import Entry, Kind, TimerError

NAME_HELP = 'What the person calls it ("pasta", "tea"); leave out when none was said.'
ID_HELP = "The timer's id from list_timers (only when the name does not tell it)."


class SetTimerArguments(BaseModel):
    """set_timer's arguments: a duration in hours, minutes and seconds, and a name."""

    model_config = ConfigDict(extra="forbid")
    hours: int = Field(0, ge=0, le=24, description="Hours of the duration.")
    minutes: int = Field(0, ge=0, le=24 * 60, description="Minutes of the duration.")
    seconds: int = Field(0, ge=0, le=24 * 3600, description="Seconds of the duration.")
    name: str | None = Field(None, max_length=80, description=NAME_HELP)


class SetAlarmArguments(BaseModel):
    """set_alarm's arguments: a local clock time, an optional date, and a name."""

    model_config = ConfigDict(extra="forbid")
    time: str = Field(
        description="The local clock time it rings, 24-hour HH:MM (7:30 pm is 19:30)."
    )
    date: str | None = Field(
        None,
        description="The local date, YYYY-MM-DD; leave out for the next time the clock "
        "shows `time` (today, or tomorrow if that time has passed).",
    )
    name: str | None = Field(None, max_length=80, description=NAME_HELP)

    @field_validator("time")
    @classmethod
    def _check_time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError("time must be HH:MM, 24-hour, e.g. 07:30 or 19:45")
        return value.strip()

    @field_validator("date")
    @classmethod
    def _check_date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("date must be YYYY-MM-DD") from None
        return value.strip()


class ChangeTimerArguments(BaseModel):
    """change_timer's arguments: which one, and how much time to add (negative: take off)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=80, description="The name of the one to change.")
    timer_id: int | None = Field(None, ge=1, description=ID_HELP)
    hours: int = Field(0, ge=-24, le=24, description="Hours to add (negative: take off).")
    minutes: int = Field(
        0, ge=-24 * 60, le=24 * 60, description="Minutes to add (negative: take off)."
    )
    seconds: int = Field(
        0, ge=-24 * 3600, le=24 * 3600, description="Seconds to add (negative: take off)."
    )


class CancelTimerArguments(BaseModel):
    """cancel_timer's arguments: which one, or all."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=80, description="The name of the one to cancel.")
    timer_id: int | None = Field(None, ge=1, description=ID_HELP)
    all: bool = Field(False, description="Cancel every timer and alarm.")


def zone_of(moment: datetime) -> str:
    """The zone as the answers name it: "CET (UTC+01:00)", with its IANA id when known."""
    offset = moment.strftime("%z")
    utc = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    key = getattr(moment.tzinfo, "key", None)
    name = moment.tzname() or ""
    plain = not name or name == utc or (name == "UTC" and offset == "+0000")
    label = utc if plain else f"{name} ({utc})"
    return f"{key}, {label}" if isinstance(key, str) else label


def spoken_span(seconds: float) -> str:
    """A duration as words: "9 minutes 5 seconds", "1 hour 2 minutes"."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    for amount, unit in ((hours, "hour"), (minutes, "minute"), (secs, "second")):
        if amount:
            parts.append(f"{amount} {unit}{'' if amount == 1 else 's'}")
    return " ".join(parts) or "0 seconds"


def alarm_due(now: float, at: str, day: str | None, zone: tzinfo | None = None) -> float:
    """The epoch time of local clock time `at` (HH:MM) on `day`, or next after `now`.

    `zone` None: the box's own zone (the system's rules, daylight saving included).
    """
    hour, minute = (int(part) for part in at.split(":"))
    here = datetime.fromtimestamp(now, zone) if zone is not None else local_time(now)
    wall = here.replace(tzinfo=None)
    when = datetime.combine(
        date.fromisoformat(day) if day else wall.date(), clock_time(hour, minute)
    )
    if day is None and when <= wall:
        when += timedelta(days=1)
    if zone is not None:
        return when.replace(tzinfo=zone).timestamp()
    # A naive datetime's timestamp() is read in the system's local time, as the box's clock is.
    return when.timestamp()


class TimerTools:
    """The timer tools' handlers over one `TimerService`; results say the local time zone."""

    def __init__(self, service: TimerService, *, zone: tzinfo | None = None) -> None:
        """Answer from `service`'s table; `zone` None: the box's local time."""
        self.service = service
        self._zone = zone

    def _local(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, self._zone) if self._zone else local_time(epoch)

    def describe(self, entry: Entry, now: float) -> ToolResult:
        """One entry as the answers and `ctl timers` give it."""
        rings = self._local(entry.due)
        today = self._local(now).date()
        described: ToolResult = {
            "id": entry.id,
            "kind": str(entry.kind),
            "name": entry.name,
            "rings_at": rings.strftime("%H:%M:%S"),
            "left": spoken_span(entry.left(now)),
            "left_seconds": round(entry.left(now)),
        }
        if rings.date() != today:
            described["rings_on"] = rings.date().isoformat()
        return described

    def _frame(self, now: float, **fields: object) -> ToolResult:
        here = self._local(now)
        return {**fields, "now": here.strftime("%H:%M:%S"), "time_zone": zone_of(here)}

    def report(self) -> ToolResult:
        """What `talkbox ctl timers` answers: every entry and every missed one, left as it is."""
        now, table = self.service.clock(), self.service.table
        return self._frame(
            now,
            timers=[self.describe(e, now) for e in table.entries],
            missed=[
                {**self.describe(e, now), "was_due_at": self._local(e.due).isoformat()}
                for e in table.missed
            ],
        )

    def next_timer(self) -> ToolResult | None:
        """The entry that rings next, as `ctl status` shows it; None when none is set."""
        soonest = self.service.table.soonest()
        return None if soonest is None else self.describe(soonest, self.service.clock())

    def set_timer(self, arguments: SetTimerArguments) -> ToolResult:
        """Start a timer."""
        seconds = arguments.hours * 3600 + arguments.minutes * 60 + arguments.seconds
        service, now = self.service, self.service.clock()
        try:
            table, entry = service.table.add_timer(now, seconds, arguments.name)
        except TimerError as exc:
            return {"error": str(exc)}
        service.commit(table)
        return self._frame(now, result=f"{entry.label} is set", timer=self.describe(entry, now))

    def set_alarm(self, arguments: SetAlarmArguments) -> ToolResult:
        """Set an alarm at a local clock time."""
        service, now = self.service, self.service.clock()
        try:
            due = alarm_due(now, arguments.time, arguments.date, self._zone)
            table, entry = service.table.add_alarm(now, due, arguments.name)
        except TimerError as exc:
            return self._frame(now, error=str(exc))
        service.commit(table)
        return self._frame(now, result=f"{entry.label} is set", alarm=self.describe(entry, now))

    def list_timers(self, _: NoArguments) -> ToolResult:
        """Every timer and alarm set, soonest first, and those missed while the box was off."""
        service, now = self.service, self.service.clock()
        table = service.table
        listed = self._frame(now, timers=[self.describe(e, now) for e in table.entries])
        if table.missed:
            listed["missed_while_off"] = [
                {
                    "kind": str(e.kind),
                    "name": e.name,
                    "was_due_at": self._local(e.due).strftime("%Y-%m-%d %H:%M"),
                }
                for e in table.missed
            ]
            service.commit(table.forget_missed())  # told once
        return listed

    def change_timer(self, arguments: ChangeTimerArguments) -> ToolResult:
        """Add time to a timer or alarm (or take some off)."""
        delta = arguments.hours * 3600 + arguments.minutes * 60 + arguments.seconds
        service, now = self.service, self.service.clock()
        try:
            if delta == 0:
                raise TimerError("say how much time to add or take off")
            entry = service.table.select(name=arguments.name, timer_id=arguments.timer_id)
            table, changed = service.table.change(now, entry, delta)
        except TimerError as exc:
            return {"error": str(exc)}
        service.commit(table)
        key = "alarm" if changed.kind is Kind.ALARM else "timer"
        return self._frame(
            now, result=f"{changed.label} is changed", **{key: self.describe(changed, now)}
        )

    def cancel_timer(self, arguments: CancelTimerArguments) -> ToolResult:
        """Cancel one timer or alarm, or all."""
        service, now = self.service, self.service.clock()
        table = service.table
        try:
            if arguments.all:
                gone = table.entries
                if not gone:
                    raise TimerError("no timer or alarm is set")
            else:
                gone = (table.select(name=arguments.name, timer_id=arguments.timer_id),)
        except TimerError as exc:
            return {"error": str(exc)}
        service.commit(table.cancel(gone))
        labels = ", ".join(e.label for e in gone)
        return self._frame(now, result=f"cancelled: {labels}")


def register_timer_tools(
    registry: ToolRegistry, service: TimerService, *, zone: tzinfo | None = None
) -> TimerTools:
    """Offer the five timer tools in `registry`, all BLOCKING (see the module docstring)."""
    tools = TimerTools(service, zone=zone)
    table: list[tuple[str, str, Callable[..., ToolResult], type[BaseModel]]] = [
        (
            "set_timer",
            "Start a timer on the device that rings after a duration (several may run; a name "
            "is optional). The result says when it rings, in the device's local time zone.",
            tools.set_timer,
            SetTimerArguments,
        ),
        (
            "set_alarm",
            "Set an alarm on the device that rings at a local clock time (the device's time "
            "zone, which the result names), e.g. 'wake me at 7:30'.",
            tools.set_alarm,
            SetAlarmArguments,
        ),
        (
            "list_timers",
            "List the timers and alarms set on the device, with the time left on each, and "
            "any that fell due while the device was off (missed).",
            tools.list_timers,
            NoArguments,
        ),
        (
            "change_timer",
            "Add time to a timer or alarm, or take some off (negative amounts), e.g. 'add 2 "
            "minutes to the pasta timer'.",
            tools.change_timer,
            ChangeTimerArguments,
        ),
        (
            "cancel_timer",
            "Cancel a timer or alarm by its name or id, or all of them. A ringing timer is "
            "stopped by the button or the wake word, not by this.",
            tools.cancel_timer,
            CancelTimerArguments,
        ),
    ]
    for name, description, handler, arguments in table:
        registry.register(name, description, handler, arguments, behavior=BLOCKING)
    return tools
