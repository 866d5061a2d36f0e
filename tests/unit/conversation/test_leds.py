"""The state → LED pattern table."""

from __future__ import annotations

import pytest

from talkbox.conversation import PATTERNS, Effect, LedKind, State, pattern


@pytest.mark.parametrize("kind", list(LedKind))
def test_every_state_has_a_pattern_of_its_own_on_every_kind(kind: LedKind) -> None:
    shown = [pattern(kind, state) for state in State]
    assert set(PATTERNS[kind]) == set(State)
    assert len(set(shown)) == len(State)


@pytest.mark.parametrize("kind", [LedKind.LED, LedKind.PWM])
def test_on_a_single_led_only_listening_is_steadily_on_at_full_level(kind: LedKind) -> None:
    steady_full = [
        state
        for state in State
        if pattern(kind, state).effect is Effect.ON and pattern(kind, state).level == 1.0
    ]
    assert steady_full == [State.LISTENING]


def test_a_plain_led_can_only_be_on_off_or_blink() -> None:
    assert {pattern(LedKind.LED, s).effect for s in State} <= {Effect.ON, Effect.OFF, Effect.BLINK}


def test_on_an_rgb_led_the_listening_colour_is_used_by_no_other_state() -> None:
    listening = pattern(LedKind.RGB, State.LISTENING).color
    others = {pattern(LedKind.RGB, s).color for s in State if s is not State.LISTENING}
    assert listening not in others


@pytest.mark.parametrize("kind", list(LedKind))
def test_every_rhythm_has_positive_times(kind: LedKind) -> None:
    for state in State:
        shown = pattern(kind, state)
        if shown.effect in (Effect.BLINK, Effect.PULSE):
            assert min(shown.on_s, shown.off_s) > 0, state


@pytest.mark.parametrize("kind", list(LedKind))
def test_idle_with_a_timer_set_looks_like_no_state_and_only_idle_changes(kind: LedKind) -> None:
    from talkbox.conversation.leds import TIMER_RUNNING

    hint = pattern(kind, State.IDLE, timers=True)
    assert hint == TIMER_RUNNING[kind]
    assert hint not in {pattern(kind, s) for s in State}
    assert all(pattern(kind, s, timers=True) == pattern(kind, s) for s in State if s != State.IDLE)
