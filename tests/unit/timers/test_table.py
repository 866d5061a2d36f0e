"""The pure timer table: when each rings, what a change does, what survives a restart."""

from __future__ import annotations

import json

import pytest

from talkbox.timers.table import (
    MAX_TIMERS,
    Kind,
    TimerError,
    TimerTable,
    clean_name,
)

T0 = 1_800_000_000.0


def test_timers_ring_in_due_order_and_only_once_due() -> None:
    table, pasta = TimerTable().add_timer(T0, 540, "Pasta timer")
    table, tea = table.add_timer(T0 + 1, 180, "tea")
    assert pasta.name == "pasta"
    assert pasta.kind is Kind.TIMER
    assert pasta.due == T0 + 540
    assert table.soonest() == tea
    table, due = table.take_due(T0 + 180)
    assert due == ()
    table, due = table.take_due(T0 + 181)
    assert due == (tea,)
    table, due = table.take_due(T0 + 181)
    assert due == ()  # taken out: it rings once
    assert table.entries == (pasta,)


def test_two_timers_due_at_once_are_taken_together() -> None:
    table, one = TimerTable().add_timer(T0, 60, "eggs")
    table, two = table.add_timer(T0, 60)
    table, due = table.take_due(T0 + 60)
    assert due == (one, two)
    assert table.entries == ()
    assert two.label == "timer 2"
    assert one.label == "the eggs timer"


def test_limits_are_refused_in_words_the_model_can_speak() -> None:
    with pytest.raises(TimerError, match="24 hours"):
        TimerTable().add_timer(T0, 25 * 3600)
    with pytest.raises(TimerError, match="1 second"):
        TimerTable().add_timer(T0, 0)
    with pytest.raises(TimerError, match="passed"):
        TimerTable().add_alarm(T0, T0 - 1)
    with pytest.raises(TimerError, match="a week"):
        TimerTable().add_alarm(T0, T0 + 8 * 86400)
    table = TimerTable()
    for _ in range(MAX_TIMERS):
        table, _entry = table.add_timer(T0, 60)
    with pytest.raises(TimerError, match="cancel one first"):
        table.add_timer(T0, 60)


def test_select_by_name_id_or_the_only_one() -> None:
    table, pasta = TimerTable().add_timer(T0, 540, "pasta")
    assert table.select() == pasta
    table, tea = table.add_timer(T0, 180, "green tea")
    assert table.select(name="the Pasta timer") == pasta
    assert table.select(name="tea") == tea  # a part of the name, when only one has it
    assert table.select(timer_id=tea.id) == tea
    with pytest.raises(TimerError, match="give a name or an id"):
        table.select()
    with pytest.raises(TimerError, match=r"no timer or alarm called 'rice'.*the pasta timer"):
        table.select(name="rice")
    with pytest.raises(TimerError, match="id 9"):
        table.select(timer_id=9)


def test_change_moves_the_due_time_and_keeps_the_order() -> None:
    table, pasta = TimerTable().add_timer(T0, 540, "pasta")
    table, tea = table.add_timer(T0, 180, "tea")
    table, longer = table.change(T0 + 100, tea, 600)
    assert longer.due == T0 + 780
    assert longer.seconds == 780
    assert table.soonest() == pasta
    with pytest.raises(TimerError, match="cannot be made that much shorter"):
        table.change(T0 + 100, pasta, -440)
    table, shorter = table.change(T0 + 100, pasta, -439)
    assert shorter.left(T0 + 100) == 1


def test_cancel_takes_out_exactly_what_is_named() -> None:
    table, pasta = TimerTable().add_timer(T0, 540, "pasta")
    table, tea = table.add_timer(T0, 180, "tea")
    assert table.cancel((pasta,)).entries == (tea,)
    assert table.cancel(table.entries).entries == ()


def test_recover_rings_the_recent_and_reports_the_long_past() -> None:
    table, just = TimerTable().add_timer(T0, 60, "eggs")
    table, long_ago = table.add_alarm(T0, T0 + 120, "wake up")
    table, later = table.add_timer(T0, 3600, "bread")
    # The box was off from T0 + 30 until T0 + 700: eggs fell due 640 s ago, the alarm 580 s ago.
    table, ring, missed = table.recover(T0 + 700, missed_after_s=600)
    assert ring == (long_ago,)
    assert missed == (just,)
    assert table.entries == (later,)
    assert table.missed == (just,)
    # A missed one is told for a day, then forgotten.
    table, ring, missed = table.recover(T0 + 60 + 86_401, missed_after_s=600)
    assert table.missed == (later,)
    assert missed == (later,)
    assert ring == ()
    assert table.forget_missed().missed == ()


def test_the_table_survives_a_round_trip_through_json() -> None:
    table, _ = TimerTable().add_timer(T0, 540, "pasta")
    table, _ = table.add_alarm(T0, T0 + 9000)
    table, _, _ = table.recover(T0 + 100_000, missed_after_s=600)
    table, _ = table.add_timer(T0 + 100_000, 60, "tea")
    again = TimerTable.from_json(json.loads(json.dumps(table.to_json())))
    assert again == table
    assert again.next_id == 4


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        {"version": 2, "next_id": 1, "entries": []},
        {"version": 1, "next_id": "1", "entries": []},
        {"version": 1, "next_id": 1, "entries": {}},
        {"version": 1, "next_id": 1, "entries": [{"id": 0, "kind": "timer"}]},
        {"version": 1, "next_id": 1, "entries": [{"id": 1, "kind": "egg", "due": 1.0}]},
        {
            "version": 1,
            "next_id": 1,
            "entries": [{"id": 1, "kind": "timer", "due": "soon", "set_at": 0, "seconds": 1}],
        },
    ],
)
def test_a_damaged_table_is_refused(data: object) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        TimerTable.from_json(data)


def test_next_id_never_repeats_a_stored_id() -> None:
    data = {
        "version": 1,
        "next_id": 1,
        "entries": [{"id": 7, "kind": "timer", "name": "x", "due": T0, "set_at": T0, "seconds": 5}],
    }
    table = TimerTable.from_json(data)
    _, entry = table.add_timer(T0, 60)
    assert entry.id == 8


def test_names_are_cleaned() -> None:
    assert clean_name("  The  PASTA timer ") == "pasta"
    assert clean_name("tea\nalarm") == "tea"
    assert clean_name(None) == ""
    assert len(clean_name("x" * 200)) == 40
