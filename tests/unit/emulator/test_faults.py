"""The fault grammar: parsing, validation, trigger limits, round trips, presets."""

from __future__ import annotations

from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from talkbox.emulator import CLOSE_PRESETS, Fault, Span, Trigger
from talkbox.emulator.faultactor import FaultActor
from talkbox.emulator.faults import FLAG_KINDS, INSTANT_KINDS, kinds


def test_a_full_spec_parses_into_kind_typed_params_and_trigger() -> None:
    fault = Fault.parse("close:code=1011,reason=Internal error occurred.@turn=2")
    assert fault.kind == "close"
    assert fault.params["code"] == 1011
    assert fault.params["reason"] == "Internal error occurred."
    assert fault.trigger == Trigger(turn=Span(2, 2))
    assert fault.close_code_reason() == (1011, "Internal error occurred.")


@pytest.mark.parametrize(
    ("spec", "trigger"),
    [
        ("abort@t=1.5", Trigger(t=1.5)),
        ("abort@msg=3", Trigger(msg=Span(3, 3))),
        ("abort@conn=1-3", Trigger(conn=Span(1, 3))),
        ("abort@conn=2-", Trigger(conn=Span(2, None))),
        ("abort@conn=2,t=0.5,times=4", Trigger(t=0.5, conn=Span(2, 2), times=4)),
        ("abort@turn=1,at=generated", Trigger(turn=Span(1, 1), at="generated")),
        ("abort", Trigger()),
    ],
)
def test_triggers_by_time_message_turn_and_connection(spec: str, trigger: Trigger) -> None:
    assert Fault.parse(spec).trigger == trigger


@pytest.mark.parametrize(
    ("spec", "limit"),
    [
        ("abort@turn=2", 1),
        ("abort@t=1", 1),
        ("abort@conn=1-3", 0),
        ("abort@turn=2-", 0),
        ("abort", 0),
        ("abort@turn=2,times=3", 3),
        ("abort@conn=1-3,times=2", 2),
    ],
)
def test_single_values_fire_once_and_ranges_or_no_trigger_fire_at_every_match(
    spec: str, limit: int
) -> None:
    assert Fault.parse(spec).trigger.limit == limit


def test_a_fault_is_exhausted_after_firing_its_limit() -> None:
    fault = Fault.parse("abort@turn=1,times=2")
    assert not fault.exhausted
    fault.fired = 2
    assert fault.exhausted


def test_connection_ranges_select_attempts() -> None:
    fault = Fault.parse("reject_upgrade:status=429@conn=2-3")
    assert [n for n in range(1, 6) if fault.matches_connection(n)] == [2, 3]
    assert all(Fault.parse("abort").matches_connection(n) for n in range(1, 4))


@pytest.mark.parametrize(
    "spec",
    [
        "explode",
        "close:colour=red",
        "close:code=abc",
        "close:code=1006",
        "close:preset=nope",
        "reject_upgrade:status=418",
        "abort@when=3",
        "abort@turn=0",
        "abort@turn=3-2",
        "abort@t=1,turn=2",
        "abort@t=-1",
        "goaway:then=explode",
        "malformed:shape=weird",
        "tool_call",
        "tool_call:name=f,args=[1]",
        "omit_usage@t=1",
        "reject_upgrade@turn=1",
        "quota:via=pigeon",
        "stall:s=-2",
        ":code=1",
        "abort@turn=1,at=never",
        "abort@t=1,at=generated",
    ],
)
def test_bad_specs_are_refused_with_a_reason(spec: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        Fault.parse(spec)


def test_json_args_may_contain_commas_and_at_signs() -> None:
    fault = Fault.parse('tool_call:name=get_weather,args={"city": "Paris", "at": "a@b"}@turn=1')
    assert fault.args == {"city": "Paris", "at": "a@b"}
    assert fault.trigger.turn == Span(1, 1)
    no_trigger = Fault.parse('tool_call:name=f,args={"x": "a@b"}')
    assert no_trigger.args == {"x": "a@b"}
    assert no_trigger.trigger == Trigger()


def test_presets_give_the_real_codes_and_reasons_cut_to_123_bytes() -> None:
    code, reason = Fault.parse("close:preset=resource_exhausted").close_code_reason()
    assert code == 1011
    assert len(reason.encode()) == 123
    assert reason.endswith("Maximum concurrent se")
    assert Fault.parse("close:preset=goaway_ignored").close_code_reason()[1].endswith("durat")
    assert Fault.parse("close:preset=deadline,code=4000").close_code_reason() == (
        4000,
        CLOSE_PRESETS["deadline"][1],
    )


def test_python_construction_matches_the_parsed_form() -> None:
    made = Fault.make("close", code=1008, reason="bye", turn=2, conn="1-3")
    assert made == Fault.parse("close:code=1008,reason=bye@turn=2,conn=1-3")


@pytest.mark.parametrize(
    "spec",
    [
        "close:code=1008,reason=bye@turn=2,conn=1-3",
        "reject_upgrade:status=429,retry_after=30@conn=1-",
        "goaway:time_left=0.5,then=silence@t=0.2",
        "interrupt:after_ms=200@turn=1",
        "abort@msg=4,times=2",
        "goaway:time_left=1@turn=1,at=generated",
    ],
)
def test_a_fault_prints_as_a_spec_that_parses_back_to_it(spec: str) -> None:
    fault = Fault.parse(spec)
    assert Fault.parse(str(fault)) == fault


@given(
    kind=st.sampled_from(["abort", "stall", "close", "malformed"]),
    first=st.integers(1, 50),
    extra=st.one_of(st.none(), st.integers(0, 10)),
    times=st.one_of(st.none(), st.integers(0, 9)),
    key=st.sampled_from(["msg", "turn", "conn"]),
)
def test_any_generated_trigger_round_trips(
    kind: str, first: int, extra: int | None, times: int | None, key: str
) -> None:
    span = str(first) if extra is None else f"{first}-{first + extra}"
    spec = f"{kind}@{key}={span}" + (f",times={times}" if times is not None else "")
    fault = Fault.parse(spec)
    assert Fault.parse(str(fault)) == fault
    assert first in getattr(fault.trigger, key)


def test_every_kind_can_be_armed_with_its_defaults() -> None:
    for kind in kinds():
        spec = f"{kind}:name=f" if kind == "tool_call" else kind
        assert Fault.parse(spec).kind == kind


def test_a_code_given_with_a_preset_wins_even_when_it_equals_the_default_code() -> None:
    fault = Fault.parse("close:preset=not_found,code=1011")
    assert fault.close_code_reason() == (1011, "Requested entity was not found")
    assert str(fault) == "close:code=1011,preset=not_found"
    assert Fault.parse(str(fault)).close_code_reason() == (1011, "Requested entity was not found")
    assert Fault.parse("close:preset=not_found").close_code_reason()[0] == 1008


def test_every_instant_kind_has_an_action_and_every_action_a_kind() -> None:
    actions = FaultActor(cast(Any, None))._actions
    assert set(actions) == INSTANT_KINDS
    assert FLAG_KINDS <= INSTANT_KINDS
