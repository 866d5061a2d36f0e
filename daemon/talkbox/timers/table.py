"""The timer table: pure data and pure functions, the clock always passed in.

Every time is wall-clock seconds since the epoch (`time.time()`), so a timer means the same
moment after a restart. Each operation returns a new `TimerTable` with what it found; none
reads a clock or touches a file (`talkbox.timers.store` keeps the table, `service` runs it).

A timer that fell due while the box was off (`recover`) rings once at start when it fell due
at most `missed_after_s` ago, and is kept as missed otherwise (TALKBOX_TIMER_MISSED_AFTER_S).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

MAX_TIMERS: Final = 20
"""Timers and alarms running at once; one more is refused with a message the model speaks."""
MAX_TIMER_S: Final = 24 * 3600.0
"""The longest timer: a day (longer waits are alarms)."""
MAX_ALARM_AHEAD_S: Final = 7 * 24 * 3600.0
"""The furthest alarm: a week ahead."""
MIN_TIMER_S: Final = 1.0
"""The shortest timer."""
KEEP_MISSED_S: Final = 24 * 3600.0
"""A missed timer is reported for a day, then forgotten."""
MAX_NAME: Final = 40
"""The longest name kept (a longer one is cut)."""


class Kind(StrEnum):
    """What a person asked for: a countdown or a clock time."""

    TIMER = "timer"
    ALARM = "alarm"


class TimerError(ValueError):
    """An operation the table refuses; the message is worded for the model to speak."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """One timer or alarm."""

    id: int
    kind: Kind
    name: str
    """As the person said it ("pasta"); empty when unnamed."""
    due: float
    """When it rings, epoch seconds."""
    set_at: float
    """When it was set, epoch seconds."""
    seconds: float = 0.0
    """A timer's duration as asked (changes add to it); 0 for an alarm."""

    @property
    def label(self) -> str:
        """How the journal and the answers name it: "the pasta timer", "alarm 3"."""
        if self.name:
            return f"the {self.name} {self.kind}"
        return f"{self.kind} {self.id}"

    def left(self, now: float) -> float:
        """Seconds until it rings (0 once due)."""
        return max(0.0, self.due - now)


def normalized(name: str) -> str:
    """A name as matched: case, spaces and a trailing "timer"/"alarm" do not count."""
    words = name.lower().replace("_", " ").split()
    while words and words[-1] in ("timer", "alarm", "timers", "alarms"):
        words.pop()
    while words and words[0] in ("the", "a", "my"):
        words.pop(0)
    return " ".join(words)


def clean_name(name: str | None) -> str:
    """The name as kept: normalized, cut to MAX_NAME characters, printable only."""
    if not name:
        return ""
    printable = "".join(ch if ch.isprintable() else " " for ch in name)
    return normalized(printable)[:MAX_NAME]


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerTable:
    """The timers and alarms that will ring, and those that were missed while the box was off."""

    entries: tuple[Entry, ...] = ()
    """Sorted by due time, soonest first."""
    missed: tuple[Entry, ...] = ()
    """Fell due while the box was off, longer ago than the bound: never rung."""
    next_id: int = 1

    # ------------------------------------------------------------------ reading

    def soonest(self) -> Entry | None:
        """The entry that rings next, if any."""
        return self.entries[0] if self.entries else None

    def select(self, *, name: str | None = None, timer_id: int | None = None) -> Entry:
        """The one entry meant by `timer_id` or `name`; with neither, the only one there is."""
        if timer_id is not None:
            for entry in self.entries:
                if entry.id == timer_id:
                    return entry
            raise TimerError(f"there is no timer or alarm with id {timer_id}; {self._listing()}")
        if name:
            wanted = clean_name(name)
            found = [e for e in self.entries if e.name == wanted]
            if not found:
                found = [e for e in self.entries if wanted and wanted in e.name]
            if len(found) == 1:
                return found[0]
            if not found:
                raise TimerError(f"there is no timer or alarm called {wanted!r}; {self._listing()}")
            raise TimerError(f"several are called {wanted!r}: give the id; {self._listing()}")
        if len(self.entries) == 1:
            return self.entries[0]
        if not self.entries:
            raise TimerError("no timer or alarm is set")
        raise TimerError(f"several are set: give a name or an id; {self._listing()}")

    def _listing(self) -> str:
        if not self.entries:
            return "none is set"
        named = ", ".join(f"{e.label} (id {e.id})" for e in self.entries)
        return f"set now: {named}"

    # ------------------------------------------------------------------ changing

    def add_timer(
        self, now: float, seconds: float, name: str | None = None
    ) -> tuple[TimerTable, Entry]:
        """A timer that rings `seconds` from `now`."""
        if not MIN_TIMER_S <= seconds <= MAX_TIMER_S:
            raise TimerError(
                f"a timer runs from {MIN_TIMER_S:g} second to 24 hours, not {seconds:g} seconds"
                + ("; for a later time set an alarm" if seconds > MAX_TIMER_S else "")
            )
        return self._add(Kind.TIMER, now, now + seconds, name, seconds)

    def add_alarm(
        self, now: float, due: float, name: str | None = None
    ) -> tuple[TimerTable, Entry]:
        """An alarm that rings at `due`."""
        if due <= now:
            raise TimerError("that time has passed")
        if due - now > MAX_ALARM_AHEAD_S:
            raise TimerError("an alarm can be set at most a week ahead")
        return self._add(Kind.ALARM, now, due, name, 0.0)

    def _add(
        self, kind: Kind, now: float, due: float, name: str | None, seconds: float
    ) -> tuple[TimerTable, Entry]:
        if len(self.entries) >= MAX_TIMERS:
            raise TimerError(f"{MAX_TIMERS} timers and alarms are set already; cancel one first")
        entry = Entry(
            id=self.next_id, kind=kind, name=clean_name(name), due=due, set_at=now, seconds=seconds
        )
        table = replace(self, entries=_sorted((*self.entries, entry)), next_id=self.next_id + 1)
        return table, entry

    def change(self, now: float, entry: Entry, delta_s: float) -> tuple[TimerTable, Entry]:
        """`entry` rings `delta_s` later (earlier when negative); it must stay in the future."""
        if entry not in self.entries:
            raise TimerError(f"{entry.label} is no longer set")
        due = entry.due + delta_s
        if due <= now:
            left = entry.left(now)
            raise TimerError(
                f"{entry.label} has {left:.0f} seconds left; it cannot be made that much shorter"
            )
        if entry.kind is Kind.TIMER and due - now > MAX_TIMER_S:
            raise TimerError("a timer runs at most 24 hours")
        if entry.kind is Kind.ALARM and due - now > MAX_ALARM_AHEAD_S:
            raise TimerError("an alarm can be set at most a week ahead")
        changed = replace(entry, due=due, seconds=max(0.0, entry.seconds + delta_s))
        others = tuple(e for e in self.entries if e is not entry)
        return replace(self, entries=_sorted((*others, changed))), changed

    def cancel(self, entries: tuple[Entry, ...]) -> TimerTable:
        """The table without `entries`."""
        gone = {e.id for e in entries}
        return replace(self, entries=tuple(e for e in self.entries if e.id not in gone))

    def take_due(self, now: float) -> tuple[TimerTable, tuple[Entry, ...]]:
        """Take out every entry due at `now`: they ring."""
        due = tuple(e for e in self.entries if e.due <= now)
        if not due:
            return self, ()
        return self.cancel(due), due

    def recover(
        self, now: float, missed_after_s: float
    ) -> tuple[TimerTable, tuple[Entry, ...], tuple[Entry, ...]]:
        """At start: (table, entries to ring now, entries missed), old missed ones forgotten.

        An entry due at most `missed_after_s` ago rings; one due longer ago is missed.
        """
        table, due = self.take_due(now)
        ring = tuple(e for e in due if now - e.due <= missed_after_s)
        missed = tuple(e for e in due if now - e.due > missed_after_s)
        kept = tuple(e for e in table.missed if now - e.due <= KEEP_MISSED_S)
        return replace(table, missed=(*kept, *missed)), ring, missed

    def forget_missed(self) -> TimerTable:
        """The table once the missed entries have been told."""
        return replace(self, missed=())

    # ------------------------------------------------------------------ storing

    def to_json(self) -> dict[str, Any]:
        """The table as JSON-ready data (`from_json` reads it back)."""
        return {
            "version": 1,
            "next_id": self.next_id,
            "entries": [_entry_json(e) for e in self.entries],
            "missed": [_entry_json(e) for e in self.missed],
        }

    @classmethod
    def from_json(cls, data: Any) -> TimerTable:
        """The table stored by `to_json`; ValueError when it is not one."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a version 1 timer table")
        entries = tuple(_entry(item) for item in _list(data.get("entries")))
        missed = tuple(_entry(item) for item in _list(data.get("missed")))
        highest = max((e.id for e in (*entries, *missed)), default=0)
        next_id = data.get("next_id")
        if not isinstance(next_id, int) or isinstance(next_id, bool):
            raise ValueError("next_id is not a whole number")
        return cls(entries=_sorted(entries), missed=missed, next_id=max(next_id, highest + 1))


def _sorted(entries: tuple[Entry, ...]) -> tuple[Entry, ...]:
    return tuple(sorted(entries, key=lambda e: (e.due, e.id)))


def _entry_json(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": str(entry.kind),
        "name": entry.name,
        "due": entry.due,
        "set_at": entry.set_at,
        "seconds": entry.seconds,
    }


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("entries is not a list")
    return value


def _number(item: dict[str, Any], key: str) -> float:
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{key} is not a number")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{key} is not finite")
    return float(value)


def _entry(item: Any) -> Entry:
    if not isinstance(item, dict):
        raise ValueError("an entry is not an object")
    entry_id = item.get("id")
    if not isinstance(entry_id, int) or isinstance(entry_id, bool) or entry_id < 1:
        raise ValueError("an entry's id is not a positive whole number")
    name = item.get("name", "")
    if not isinstance(name, str):
        raise ValueError("an entry's name is not text")
    return Entry(
        id=entry_id,
        kind=Kind(str(item.get("kind"))),
        name=clean_name(name),
        due=_number(item, "due"),
        set_at=_number(item, "set_at"),
        seconds=_number(item, "seconds"),
    )
