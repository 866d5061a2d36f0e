"""How the link meets failures the emulator injects: handles, quota, 1011 bursts, fatal ones."""

from __future__ import annotations

import asyncio
import io
import itertools
import logging
import random
import time
from pathlib import Path
from typing import Any

import pytest
import trustme

from talkbox.ask import ask
from talkbox.emulator import Emulator, EmulatorOptions
from talkbox.fakes import EventRecorder, run_in_background
from talkbox.live.backoff import Backoff, RetryPolicy
from talkbox.live.events import (
    ContextCompressed,
    ConversationRestarted,
    LinkConnected,
    LinkDisconnected,
    LinkFailed,
    TurnCompleted,
    TurnFailed,
)
from talkbox.live.failures import NextStep, Outcome
from talkbox.live.handles import HANDLE_LIFETIME_S, HandleStore, StoredHandle
from talkbox.live.link import LiveLink

from .conftest import FAST_POLICY, emulator_settings
from .front import NOT_YET_VALID, PASS, PORTAL, Behaviour, Front


async def one_turn(link: LiveLink, recorder: EventRecorder, text: str) -> TurnCompleted:
    turn = link.send_text(text)
    return await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn)


def link_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "talkbox.live.link" and r.levelno == logging.WARNING
    ]


def attempt_times(emu: Emulator) -> list[float]:
    return [r.t for r in emu.log.connection_attempts()]


async def test_a_rejected_handle_falls_back_to_a_fresh_conversation_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        first = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), first, policy=FAST_POLICY)
        async with run_in_background(link):
            await one_turn(link, first, "remember the number seven")
            async with asyncio.timeout(5):
                await link.settled()
        assert HandleStore(tmp_path, max_age_s=3600).load() is not None

        emu.arm("reject_handle:code=1008,reason=Requested entity was not found")
        second = EventRecorder()
        relaunched = LiveLink(emulator_settings(emu, tmp_path), second, policy=FAST_POLICY)
        async with run_in_background(relaunched):
            done = await one_turn(relaunched, second, "what was the number?")
        setups = [r.message["setup"] for r in emu.log.client_messages("setup")]

    assert "handle" in setups[1]["sessionResumption"]
    assert "handle" not in setups[2]["sessionResumption"]
    assert len(second.of(ConversationRestarted)) == 1
    assert done.transcript.startswith("turn 1:")
    assert done.conversation_turn == 1
    warnings = link_warnings(caplog)
    assert len(warnings) == 1
    assert "Requested entity was not found" in warnings[0]


@pytest.mark.parametrize(
    ("age_s", "timeout_s"),
    [(HANDLE_LIFETIME_S + 60, 10 * 3600.0), (400.0, 300.0)],
    ids=["older-than-the-handle-lifetime", "older-than-the-conversation-timeout"],
)
async def test_a_stale_handle_is_not_even_tried(
    tmp_path: Path, age_s: float, timeout_s: float
) -> None:
    store = HandleStore(tmp_path, max_age_s=10 * 3600)
    store.save(StoredHandle("Cgxra2o3bHc1bWVmaG8", "old-conversation", time.time() - age_s, 4))
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        settings = emulator_settings(emu, tmp_path, conversation_timeout_s=timeout_s)
        link = LiveLink(settings, recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            done = await one_turn(link, recorder, "hello")
        setups = [r.message["setup"] for r in emu.log.client_messages("setup")]
        rejected = emu.log.events("handle_rejected")

    assert len(setups) == 1
    assert "handle" not in setups[0]["sessionResumption"]
    assert not rejected
    assert not recorder.of(LinkConnected)[0].resumed
    assert done.conversation_turn == 1


async def test_a_bad_key_is_fatal_after_at_most_two_attempts(tmp_path: Path) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        settings = emulator_settings(
            emu, tmp_path, api_key="AIzaWrongKeyForTheEmulator0000000000000"
        )
        link = LiveLink(settings, recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("hello")
            failed = await recorder.wait_for(LinkFailed, within=5)
            lost = await recorder.wait_for(TurnFailed, within=1)
        attempts = emu.log.connection_attempts()

    assert "400" in failed.reason
    assert "API key not valid" in failed.reason
    assert failed.retry_in_s == FAST_POLICY.fatal_retry_s
    assert lost.turn_id == turn
    assert len(attempts) <= 2


async def test_settled_returns_as_soon_as_a_fatal_refusal_fails_the_pending_turn(
    tmp_path: Path,
) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        settings = emulator_settings(
            emu, tmp_path, api_key="AIzaWrongKeyForTheEmulator0000000000000"
        )
        link = LiveLink(settings, recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            link.send_text("hello")
            # Nothing is pending once the turn failed; waiting must not last the fatal wait.
            async with asyncio.timeout(2):
                await link.settled()
            assert recorder.of(TurnFailed)


async def test_turns_asked_during_the_fatal_wait_fail_at_once_with_its_reason(
    tmp_path: Path,
) -> None:
    async with Emulator(EmulatorOptions(realtime=False, api_versions=("v1alpha",))) as emu:
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            failed = await recorder.wait_for(LinkFailed, within=5)
            # The link waits 30 s before trying again; nobody should wait that long to learn.
            text = link.send_text("hello?")
            spoken = link.start_turn()
            link.send_audio(bytes(640))
            link.end_turn()
            refused = recorder.of(TurnFailed)

    assert refused == [
        TurnFailed(turn_id=text, reason=failed.reason),
        TurnFailed(turn_id=spoken, reason=failed.reason),
    ]
    assert link.status().audio_dropped_outside_turn == 1


async def test_a_wrong_api_version_is_fatal_and_not_retried_soon(tmp_path: Path) -> None:
    async with Emulator(EmulatorOptions(realtime=False, api_versions=("v1alpha",))) as emu:
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            failed = await recorder.wait_for(LinkFailed, within=5)
            # The policy's fatal wait is 30 s here: nothing may knock on the door meanwhile.
            await asyncio.sleep(0.5)
        attempts = emu.log.connection_attempts()

    assert "HTTP 404" in failed.reason
    assert len(attempts) == 1
    assert len(recorder.of(LinkFailed)) == 1


async def test_a_certificate_no_ca_vouches_for_is_an_outage_retried_with_backoff(
    tmp_path: Path,
) -> None:
    stranger = trustme.CA()
    wrong_ca = tmp_path / "wrong-ca.pem"
    stranger.cert_pem.write_to_path(str(wrong_ca))
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        settings = emulator_settings(emu, tmp_path / "state", ca_file=wrong_ca)
        link = LiveLink(settings, recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            # A captive portal's own certificate looks the same: the box keeps trying.
            await recorder.wait_for(
                LinkDisconnected, lambda _: len(recorder.of(LinkDisconnected)) >= 3, within=5
            )
    assert not recorder.of(LinkFailed)
    lost = recorder.of(LinkDisconnected)
    assert all(e.reconnecting and e.retry_in_s > 0 for e in lost)
    assert "certificate verify failed" in lost[0].reason


@pytest.mark.parametrize(
    ("behaviours", "words"),
    [
        ([PORTAL, PORTAL], "captive portal"),
        ([NOT_YET_VALID, NOT_YET_VALID], "certificate is not yet valid"),
    ],
    ids=["captive-portal-answers-http-302", "certificate-not-yet-valid"],
)
async def test_a_tls_failure_is_an_outage_and_the_turn_is_answered_once_it_passes(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    behaviours: list[Behaviour],
    words: str,
) -> None:
    caplog.set_level(logging.INFO)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        front = Front(emu, behaviours, tmp_path)
        async with front.serving():
            recorder = EventRecorder()
            settings = emulator_settings(
                emu, tmp_path / "state", base_url=front.base_url, ca_file=front.ca_file
            )
            link = LiveLink(settings, recorder, policy=FAST_POLICY)
            async with run_in_background(link):
                asked = time.monotonic()
                done = await one_turn(link, recorder, "hello")
                usable_after = time.monotonic() - asked
    assert front.answered[:3] == [*behaviours, PASS]
    assert done.transcript.startswith("turn 1:")
    assert not recorder.of(LinkFailed)
    assert not recorder.of(TurnFailed)
    refused = [m for m in info_lines(caplog) if m.startswith("connection refused (TLS failure")]
    assert len(refused) == 2
    assert all(words in line for line in refused)
    # Two short backoffs (FAST_POLICY: at most 0.05 + 0.1 s) and three handshakes.
    assert usable_after < 5


async def test_a_clock_before_the_build_date_is_named_in_the_journal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        front = Front(emu, [NOT_YET_VALID], tmp_path)
        async with front.serving():
            recorder = EventRecorder()
            settings = emulator_settings(
                emu, tmp_path / "state", base_url=front.base_url, ca_file=front.ca_file
            )
            # A Pi without RTC before NTP: 1970 plus the boot time.
            link = LiveLink(settings, recorder, policy=FAST_POLICY, wall_clock=lambda: 42.0)
            async with run_in_background(link):
                done = await one_turn(link, recorder, "hello")
    assert done.transcript.startswith("turn 1:")
    refused = [m for m in info_lines(caplog) if m.startswith("connection refused (TLS failure")]
    assert len(refused) == 1
    assert (
        "the system clock says 1970-01-01 00:00 UTC, before this talkbox was built" in (refused[0])
    )


def info_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "talkbox.live.link"]


async def test_quota_refusals_honour_retry_after_then_succeed(tmp_path: Path) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("reject_upgrade:status=429,retry_after=0.5@conn=1-2")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            done = await one_turn(link, recorder, "hello")
        times = attempt_times(emu)
        refused = emu.log.events("upgrade_refused")

    assert done.transcript.startswith("turn 1:")
    assert len(refused) == 2
    assert len(times) == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # The policy alone would wait 0.1-0.4 s; the server asked for 0.5 s.
    assert all(gap >= 0.5 for gap in gaps)


@pytest.mark.parametrize(
    ("fault", "action"),
    [
        ("close:preset=internal@conn=1-6", NextStep.RESUME),
        ("close:preset=resource_exhausted@conn=1-6", NextStep.QUOTA),
    ],
    ids=["1011-internal", "1011-resource-exhausted"],
)
async def test_1011_bursts_back_off_with_growing_jittered_capped_delays(
    tmp_path: Path, fault: str, action: NextStep
) -> None:
    policy = RetryPolicy(
        base_s=0.04, cap_s=0.3, quota_base_s=0.08, quota_cap_s=0.3, stable_after_s=5.0
    )
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm(fault)
        recorder = EventRecorder()
        link = LiveLink(
            emulator_settings(emu, tmp_path), recorder, policy=policy, rng=random.Random(7)
        )
        async with run_in_background(link):
            done = await one_turn(link, recorder, "hello")
        times = attempt_times(emu)

    assert done.transcript.startswith("turn 1:")
    assert len(times) == 7
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # The same policy and seed predict every wait: they grow, are jittered, stop at the cap.
    twin = Backoff(policy, random.Random(7))
    expected = [twin.delay(Outcome(action, "x")) for _ in gaps]
    announced = [e.retry_in_s for e in recorder.of(LinkDisconnected) if e.reconnecting]
    assert announced == pytest.approx(expected)
    # And the link really waited that long before each new attempt. (No upper bound: on a
    # loaded machine a TLS handshake alone can take longer than any slack we would allow.)
    for gap, wait in zip(gaps, expected, strict=True):
        assert gap >= wait
    assert expected[1] > expected[0]
    assert max(expected) <= 0.3
    assert len({round(w, 6) for w in expected[-3:]}) == 3  # jittered even at the cap


async def test_compression_keeps_a_long_conversation_going_past_the_window(
    tmp_path: Path,
) -> None:
    async with Emulator(EmulatorOptions(realtime=False, context_window=600)) as emu:
        recorder = EventRecorder()
        settings = emulator_settings(
            emu, tmp_path, compression_trigger_tokens=450, compression_target_tokens=250
        )
        link = LiveLink(settings, recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            answers = [await one_turn(link, recorder, f"question {n}") for n in range(1, 25)]
        compressions = emu.log.events("compression")
        closes = [c for c in emu.log.closes() if c.message.get("by") == "server"]

    assert [a.conversation_turn for a in answers] == list(range(1, 25))
    assert answers[-1].transcript.startswith("turn 24:")
    assert compressions
    assert recorder.of(ContextCompressed)
    assert not closes
    assert max(a.usage.prompt_tokens for a in answers if a.usage) <= 600


async def test_without_compression_the_service_ends_the_conversation_and_the_next_turn_is_fresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with Emulator(EmulatorOptions(realtime=False, context_window=600)) as emu:
        recorder = EventRecorder()
        settings = emulator_settings(emu, tmp_path, compression=False)
        link = LiveLink(settings, recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            failed: TurnFailed | None = None
            n = 0
            while failed is None and n < 40:
                n += 1
                turn = link.send_text(f"question {n}")
                async with asyncio.timeout(10):
                    while True:
                        done = [e for e in recorder.of(TurnCompleted) if e.turn_id == turn]
                        lost = [e for e in recorder.of(TurnFailed) if e.turn_id == turn]
                        if done or lost:
                            break
                        await asyncio.sleep(0.01)
                failed = lost[0] if lost else None
            assert failed is not None, "the window never filled"
            warnings_at_end = list(link_warnings(caplog))
            after = await one_turn(link, recorder, "a new beginning")

    assert "1007" in failed.reason
    assert len(recorder.of(ConversationRestarted)) == 1
    ended_link = [d for d in recorder.of(LinkDisconnected) if "1007" in d.reason]
    assert [(d.reconnecting, d.idle) for d in ended_link] == [(False, False)]
    assert after.conversation_turn == 1
    assert after.transcript.startswith("turn 1:")
    (ended,) = warnings_at_end
    assert "ended conversation" in ended
    assert "next turn starts a fresh one" in ended


async def test_a_turn_cut_again_and_again_is_reported_failed_and_ask_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("abort@turn=1-")
        out = io.StringIO()
        rc = await ask(
            emulator_settings(emu, tmp_path),
            ["doomed question"],
            out_dir=tmp_path,
            as_json=False,
            out=out,
            policy=FAST_POLICY,
            turn_timeout_s=10,
        )
        user_turns = emu.log.client_messages("client_content")

    assert rc == 1
    assert out.getvalue() == ""
    assert "cut 3 times" in capsys.readouterr().err
    assert len(user_turns) == 3


async def test_ask_stops_at_a_turn_that_is_not_answered_in_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("first_audio_delay:s=3@turn=1")
        out = io.StringIO()
        rc = await ask(
            emulator_settings(emu, tmp_path),
            ["slow question", "never asked"],
            out_dir=tmp_path,
            as_json=False,
            out=out,
            policy=FAST_POLICY,
            turn_timeout_s=0.3,
        )
        user_turns = emu.log.client_messages("client_content")

    assert rc == 1
    assert out.getvalue() == ""
    assert "turn 'slow question' not answered within 0.3s" in capsys.readouterr().err
    assert len(user_turns) == 1


async def _second_turn_after_resume_failures(
    tmp_path: Path, failing_connections: str
) -> tuple[EventRecorder, TurnCompleted, list[dict[str, Any]]]:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("abort@turn=2")
        emu.arm(f"close:preset=unavailable@conn={failing_connections}")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            await one_turn(link, recorder, "first")
            done = await one_turn(link, recorder, "second")
        setups = [r.message["setup"] for r in emu.log.client_messages("setup")]
    return recorder, done, setups


async def test_resuming_that_keeps_failing_is_probed_once_without_the_handle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    recorder, done, setups = await _second_turn_after_resume_failures(tmp_path, "2-3")

    # Two failed resumes, then one try without the handle, which the service accepted.
    assert ["handle" in setup["sessionResumption"] for setup in setups] == [
        False,
        True,
        True,
        False,
    ]
    assert len(recorder.of(ConversationRestarted)) == 1
    assert done.transcript.startswith("turn 1:")
    assert len([w for w in link_warnings(caplog) if "fresh" in w]) == 1


async def test_when_the_probe_fails_too_the_handle_is_kept(tmp_path: Path) -> None:
    recorder, done, setups = await _second_turn_after_resume_failures(tmp_path, "2-4")

    assert ["handle" in setup["sessionResumption"] for setup in setups] == [
        False,
        True,
        True,
        False,
        True,
    ]
    assert not recorder.of(ConversationRestarted)
    assert done.transcript.startswith("turn 2:")
