"""The reconnect policy: classify() on the real SDK's exceptions, Backoff, ResumeProbe, leaving."""

from __future__ import annotations

import logging
import random
import ssl
from typing import Any

import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from google.genai.live import AsyncSession
from hypothesis import given
from hypothesis import strategies as st
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.frames import Close
from websockets.http11 import Response

from talkbox.live.backoff import Backoff, Outage, ProbeState, ResumeProbe, RetryPolicy, silence_left
from talkbox.live.failures import (
    BUILT_AT,
    NextStep,
    Outcome,
    ServiceSilent,
    SetupTimedOut,
    classify,
)
from talkbox.live.goaway import (
    WAKE_SLACK_S,
    EndReason,
    Leave,
    WakeIn,
    end_connection,
    go_away_deadline,
)


def sdk_close(code: int, reason: str) -> genai_errors.APIError:
    """The exception the SDK raises for a close frame (live.py: APIError.raise_error)."""
    try:
        genai_errors.APIError.raise_error(code, reason, None)
    except genai_errors.APIError as exc:
        return exc
    raise AssertionError("raise_error did not raise")


def http_refusal(status: int, body: bytes = b"", retry_after: str | None = None) -> InvalidStatus:
    headers = Headers() if retry_after is None else Headers({"Retry-After": retry_after})
    return InvalidStatus(Response(status, "refused", headers, body))


def judged(exc: BaseException, *, during_setup: bool = False, sent_handle: bool = True) -> NextStep:
    return classify(exc, during_setup=during_setup, sent_handle=sent_handle).action


@pytest.mark.parametrize(
    ("exc", "action"),
    [
        (sdk_close(1006, "abnormal closure [internal]"), NextStep.RESUME),
        (sdk_close(1011, "Internal error occurred."), NextStep.RESUME),
        (sdk_close(1011, "Deadline expired before operation could complete."), NextStep.RESUME),
        (sdk_close(1011, "keepalive ping timeout"), NextStep.RESUME),
        (sdk_close(1000, ""), NextStep.RESUME_NOW),
        (
            sdk_close(
                1008,
                "Connection aborted because the client failed to close the connection after "
                "receiving a GoAway signal once the session durat",
            ),
            NextStep.RESUME_NOW,
        ),
        (
            sdk_close(
                1011,
                "Request trace id: f102afa6f090070d, [ORIGINAL ERROR] generic::resource_exhausted:"
                " RESOURCE_EXHAUSTED: Maximum concurrent se",
            ),
            NextStep.QUOTA,
        ),
        (sdk_close(1008, "Requested entity was not found"), NextStep.FRESH),
        (sdk_close(1007, "Request contains an invalid argument."), NextStep.ENDED),
        (sdk_close(4000, "private"), NextStep.RESUME),
        (ConnectionClosedError(None, None), NextStep.RESUME),
        (ConnectionClosedError(Close(1011, "Internal error occurred."), None), NextStep.RESUME),
        (ConnectionClosedOK(Close(1000, ""), Close(1000, ""), True), NextStep.RESUME_NOW),
        (ConnectionResetError("reset by peer"), NextStep.RESUME),
        (TimeoutError(), NextStep.RESUME),
        (ValueError("Failed to parse response: b'garbage'"), NextStep.RESUME),
        (
            TypeError("'<=' not supported between instances of 'int' and 'NoneType'"),
            NextStep.RESUME,
        ),
        (http_refusal(503), NextStep.RESUME),
        (http_refusal(429, retry_after="3"), NextStep.QUOTA),
        (http_refusal(401), NextStep.FATAL),
        (http_refusal(403), NextStep.FATAL),
        (http_refusal(404), NextStep.FATAL),
        (http_refusal(400, b'{"error": {"message": "API key not valid."}}'), NextStep.FATAL),
        (ssl.SSLCertVerificationError(1, "certificate verify failed"), NextStep.RESUME),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), NextStep.RESUME),
    ],
)
def test_mid_session_failures_map_to_the_policy_table(exc: BaseException, action: NextStep) -> None:
    assert judged(exc) is action


@pytest.mark.parametrize(
    ("exc", "sent_handle", "action"),
    [
        (
            sdk_close(1008, "models/x is not found for API version v1beta, or is not supported"),
            False,
            NextStep.FATAL,
        ),
        (
            sdk_close(1008, "models/x is not found for API version v1beta, or is not supported"),
            True,
            NextStep.FATAL,
        ),
        (
            sdk_close(1008, "Operation is not implemented, or supported, or enabled."),
            False,
            NextStep.FATAL,
        ),
        (sdk_close(1008, "Your project has been denied access."), True, NextStep.FATAL),
        (sdk_close(1007, "API key not valid. Please pass a valid API key."), True, NextStep.FATAL),
        (sdk_close(1007, "API key expired. Please renew the API key."), False, NextStep.FATAL),
        (sdk_close(1007, "Request contains an invalid argument."), False, NextStep.FATAL),
        # Right after a handle, an invalid argument most likely means the resumed state.
        (sdk_close(1007, "Request contains an invalid argument."), True, NextStep.FRESH),
        (sdk_close(1008, "BidiGenerateContent session not found"), True, NextStep.FRESH),
        (sdk_close(1008, "Something else"), True, NextStep.FRESH),
        (sdk_close(1008, "Something else"), False, NextStep.FATAL),
        (sdk_close(1011, "The service is currently unavailable."), True, NextStep.RESUME),
    ],
)
def test_setup_failures_separate_configuration_from_handles(
    exc: BaseException, sent_handle: bool, action: NextStep
) -> None:
    assert judged(exc, during_setup=True, sent_handle=sent_handle) is action


def test_the_reason_carries_the_servers_words() -> None:
    outcome = classify(
        sdk_close(1008, "models/nope is not found for API version v1beta"),
        during_setup=True,
        sent_handle=False,
    )
    assert "models/nope is not found for API version v1beta" in outcome.reason
    assert "1008" in outcome.reason
    refused = classify(
        http_refusal(403, b"PERMISSION_DENIED"), during_setup=True, sent_handle=False
    )
    assert "403" in refused.reason
    assert "PERMISSION_DENIED" in refused.reason


def test_retry_after_seconds_and_http_dates_are_read() -> None:
    seconds = classify(http_refusal(429, retry_after="7"), during_setup=True, sent_handle=False)
    assert seconds.retry_after_s == 7.0
    dated = classify(
        http_refusal(429, retry_after="Wed, 21 Oct 2015 07:28:10 GMT"),
        during_setup=True,
        sent_handle=False,
        now=1445412480.0,  # 07:28:00 that day
    )
    assert dated.retry_after_s == pytest.approx(10.0)
    garbage = classify(http_refusal(429, retry_after="soon"), during_setup=True, sent_handle=False)
    assert garbage.retry_after_s is None


POLICY = RetryPolicy(base_s=0.5, cap_s=30.0, quota_base_s=30.0, quota_cap_s=120.0)
DROP = Outcome(NextStep.RESUME, "1006")


def test_delays_grow_then_stay_under_the_cap() -> None:
    backoff = Backoff(POLICY, random.Random(1))
    delays = [backoff.delay(DROP) for _ in range(12)]
    ceilings = [min(30.0, 0.5 * 2**n) for n in range(12)]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 30.0
    assert delays[5] > delays[0]


def test_jitter_spreads_clients_that_failed_together() -> None:
    firsts = {Backoff(POLICY, random.Random(seed)).delay(DROP) for seed in range(20)}
    assert len(firsts) == 20


def test_reset_starts_over_after_a_stable_connection() -> None:
    backoff = Backoff(POLICY, random.Random(2))
    for _ in range(6):
        backoff.delay(DROP)
    backoff.reset()
    assert backoff.delay(DROP) <= 0.5


def test_quota_waits_longer_and_honours_retry_after() -> None:
    backoff = Backoff(POLICY, random.Random(3))
    assert backoff.delay(Outcome(NextStep.QUOTA, "429")) >= 15.0
    told = Backoff(POLICY, random.Random(3)).delay(Outcome(NextStep.QUOTA, "429", retry_after_s=90))
    assert told == 90.0


@pytest.mark.parametrize("earlier_failures", [0, 1, 5])
def test_a_retry_after_shorter_than_the_quota_backoff_is_when_the_next_attempt_comes(
    earlier_failures: int,
) -> None:
    # One 429 with Retry-After: 20 once kept a box waiting 55 s (the doubled quota backoff).
    backoff = Backoff(RetryPolicy(), random.Random(8))
    for _ in range(earlier_failures):
        backoff.delay(Outcome(NextStep.RESUME, "1006"))
    assert backoff.delay(Outcome(NextStep.QUOTA, "429", retry_after_s=20)) == 20.0


def test_a_retry_after_of_zero_still_waits_the_base_backoff() -> None:
    zero = Outcome(NextStep.QUOTA, "429", retry_after_s=0)
    assert Backoff(POLICY, random.Random(1)).delay(zero) == POLICY.base_s


def test_a_retry_after_longer_than_the_fatal_wait_is_honoured_up_to_an_hour() -> None:
    ten_minutes = Outcome(NextStep.QUOTA, "429", retry_after_s=600)
    assert Backoff(RetryPolicy(), random.Random(6)).delay(ten_minutes) == 600.0
    a_week = Outcome(NextStep.QUOTA, "429", retry_after_s=7 * 86_400)
    assert Backoff(RetryPolicy(), random.Random(6)).delay(a_week) == 3600.0


def test_orderly_ends_and_refused_handles_retry_at_once_but_not_in_a_loop() -> None:
    backoff = Backoff(POLICY, random.Random(4))
    assert backoff.delay(Outcome(NextStep.RESUME_NOW, "1000")) == 0.0
    assert backoff.delay(Outcome(NextStep.RESUME_NOW, "1000")) > 0.0
    fresh = Backoff(POLICY, random.Random(4))
    assert fresh.delay(Outcome(NextStep.FRESH, "1008")) == 0.0


def test_fatal_failures_wait_five_minutes() -> None:
    backoff = Backoff(RetryPolicy(), random.Random(5))
    assert backoff.delay(Outcome(NextStep.FATAL, "bad key")) == 300.0


@given(
    seed=st.integers(0, 2**32),
    failures=st.integers(0, 200),
    base=st.floats(0.01, 5.0),
    cap=st.floats(0.01, 60.0),
)
def test_no_delay_exceeds_the_cap_or_goes_negative(
    seed: int, failures: int, base: float, cap: float
) -> None:
    backoff = Backoff(RetryPolicy(base_s=base, cap_s=cap), random.Random(seed))
    for _ in range(failures):
        backoff.delay(DROP)
    delay = backoff.delay(DROP)
    assert 0.0 <= delay <= max(cap, 0.0) + 1e-9


def test_a_google_json_refusal_becomes_one_plain_line_with_its_message() -> None:
    body = b"""{
  "error": {
    "code": 400,
    "message": "API key not valid. Please pass a valid API key.",
    "status": "INVALID_ARGUMENT"
  }
}"""
    outcome = classify(http_refusal(400, body), during_setup=True, sent_handle=False)
    assert outcome.action is NextStep.FATAL
    assert outcome.reason == (
        "HTTP 400: API key not valid. Please pass a valid API key. (INVALID_ARGUMENT)"
    )


def test_any_other_refusal_body_is_folded_onto_one_line() -> None:
    outcome = classify(
        http_refusal(503, b"<html>\n  <body>busy</body>\n</html>\n" + b"x" * 500),
        during_setup=True,
        sent_handle=False,
    )
    assert "\n" not in outcome.reason
    assert outcome.reason.startswith("HTTP 503: <html> <body>busy</body> </html>")
    assert len(outcome.reason) <= len("HTTP 503: ") + 300


# ---------------------------------------------------------------- frames the SDK cannot read


class OneFrame:
    """A websocket that has one frame to give: what the SDK's _receive reads."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    async def recv(self, decode: bool = True) -> bytes:
        return self.raw


async def sdk_reading(raw: bytes) -> BaseException:
    """The exception the real SDK raises reading `raw` from the service."""
    client = genai.Client(api_key="k", http_options=types.HttpOptions(api_version="v1beta"))
    session = AsyncSession(api_client=client._api_client, websocket=OneFrame(raw))  # type: ignore[arg-type]
    try:
        await session._receive()
    except Exception as exc:  # noqa: BLE001 - whatever the SDK raises is the point
        return exc
    raise AssertionError("the SDK read the frame")


@pytest.mark.parametrize(
    ("raw", "action", "words"),
    [
        (
            b'{"error": {"code": 500, "message": "Internal error encountered.", '
            b'"status": "INTERNAL"}}',
            NextStep.RESUME,
            "service error 500 INTERNAL: Internal error encountered.",
        ),
        (
            b'{"error": {"code": 429, "message": "Quota exceeded for quota metric.", '
            b'"status": "RESOURCE_EXHAUSTED"}}',
            NextStep.QUOTA,
            "service error 429 RESOURCE_EXHAUSTED: Quota exceeded for quota metric.",
        ),
        (
            b'{"error": {"message": "The service is currently unavailable."}}',
            NextStep.RESUME,
            "service error: The service is currently unavailable.",
        ),
        (
            b'{"somethingNew": {"value": 1}}',
            NextStep.RESUME,
            'malformed server message: an unknown message {"somethingNew": {"value": 1}}',
        ),
    ],
    ids=["error-body", "quota-error-body", "message-only", "unknown-message"],
)
async def test_a_frame_the_sdk_cannot_read_is_told_in_the_services_words(
    raw: bytes, action: NextStep, words: str
) -> None:
    exc = await sdk_reading(raw)
    outcome = classify(exc, during_setup=False, sent_handle=True)
    assert outcome.action is action
    assert outcome.reason == words
    assert "not supported between" not in outcome.reason


async def test_a_frame_that_is_not_json_keeps_the_sdks_words() -> None:
    exc = await sdk_reading(b"<html>not json")
    outcome = classify(exc, during_setup=False, sent_handle=True)
    assert outcome.reason == "malformed server message: Failed to parse response: b'<html>not json'"


# ---------------------------------------------------------------- TLS failures

BUILT = BUILT_AT.timestamp()


def not_yet_valid() -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed: certificate is not yet valid")
    exc.verify_code = 9
    exc.verify_message = "certificate is not yet valid"
    return exc


@pytest.mark.parametrize(
    "exc",
    [
        not_yet_valid(),
        ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
        ssl.SSLError(1, "[SSL] record layer failure"),
    ],
    ids=["certificate-not-yet-valid", "plain-http-answer", "record-layer"],
)
def test_a_clock_before_the_build_date_is_named_in_any_tls_failure(exc: ssl.SSLError) -> None:
    outcome = classify(exc, during_setup=True, sent_handle=True, now=86_400.0)
    assert outcome.action is NextStep.RESUME
    assert outcome.unreached
    assert "the system clock says 1970-01-02 00:00 UTC" in outcome.reason
    assert f"before this talkbox was built ({BUILT_AT:%Y-%m-%d})" in outcome.reason


def test_a_certificate_not_yet_valid_by_a_plausible_clock_asks_whether_the_clock_is_behind() -> (
    None
):
    outcome = classify(not_yet_valid(), during_setup=True, sent_handle=False, now=BUILT + 3600)
    assert outcome.action is NextStep.RESUME
    assert "not valid yet by this clock: is the clock behind?" in outcome.reason
    assert "built" not in outcome.reason


def test_a_plain_http_answer_to_the_client_hello_is_called_a_portal_or_proxy() -> None:
    exc = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    outcome = classify(exc, during_setup=True, sent_handle=False, now=BUILT + 3600)
    assert outcome.reason.startswith("TLS failure: ")
    assert "captive portal" in outcome.reason


# ---------------------------------------------------------------- the resume probe

RESUME = Outcome(NextStep.RESUME, "1011 internal error")


def test_two_transient_setup_failures_while_resuming_earn_one_try_without_the_handle() -> None:
    probe = ResumeProbe()
    probe.failed(RESUME, setup_done=False, sent_handle=True)
    assert not probe.skip_handle
    probe.failed(RESUME, setup_done=False, sent_handle=True)
    assert probe.skip_handle
    # That try answered: the service serves fresh sessions, not this handle.
    assert probe.connected() == 2
    assert not probe.skip_handle
    assert probe.state is ProbeState.NONE


@pytest.mark.parametrize(
    "exc",
    [
        ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
        OSError(101, "Network is unreachable"),
        http_refusal(503),
    ],
    ids=["tls", "network", "http"],
)
def test_failures_before_the_session_is_reached_earn_no_try_without_the_handle(
    exc: BaseException,
) -> None:
    probe = ResumeProbe()
    for _ in range(4):
        outcome = classify(exc, during_setup=True, sent_handle=True)
        probe.failed(outcome, setup_done=False, sent_handle=True)
    assert not probe.skip_handle


def test_when_the_try_without_the_handle_fails_too_the_handle_is_kept() -> None:
    probe = ResumeProbe()
    for _ in range(2):
        probe.failed(RESUME, setup_done=False, sent_handle=True)
    probe.failed(RESUME, setup_done=False, sent_handle=False)
    assert probe.state is ProbeState.SPENT
    for _ in range(3):
        probe.failed(RESUME, setup_done=False, sent_handle=True)
    assert not probe.skip_handle
    # A connection that resumed is no probe's answer.
    assert probe.connected() is None


@pytest.mark.parametrize(
    ("outcome", "setup_done", "sent_handle"),
    [
        (RESUME, True, True),
        (RESUME, False, False),
        (Outcome(NextStep.QUOTA, "429"), False, True),
        (Outcome(NextStep.FRESH, "1008 handle"), False, True),
    ],
    ids=["after-setup", "without-handle", "quota", "refused-handle"],
)
def test_only_transient_setup_failures_while_resuming_count_towards_the_probe(
    outcome: Outcome, setup_done: bool, sent_handle: bool
) -> None:
    probe = ResumeProbe()
    for _ in range(5):
        probe.failed(outcome, setup_done=setup_done, sent_handle=sent_handle)
    assert not probe.skip_handle
    assert probe.failures == 0


# ---------------------------------------------------------------- leaving a connection


def ending(**overrides: Any) -> Leave | WakeIn:
    facts: dict[str, Any] = {
        "now": 100.0,
        "restart_requested": False,
        "go_away_deadline": None,
        "between_turns": True,
        "idle_disconnect_s": 0.0,
        "quiet": True,
        "last_activity": 100.0,
        "handle_due_at": None,
    }
    facts.update(overrides)
    return end_connection(**facts)


def test_with_nothing_to_watch_the_connection_stays_until_something_changes() -> None:
    assert ending() == WakeIn(None)


def test_a_requested_new_conversation_leaves_at_once() -> None:
    assert ending(restart_requested=True, between_turns=False) == Leave(EndReason.NEW_CONVERSATION)


def test_a_withdrawn_turn_that_went_up_leaves_at_once_even_mid_turn() -> None:
    assert ending(withdrawn=True, between_turns=False, go_away_deadline=200.0) == Leave(
        EndReason.WITHDRAWN
    )


def test_after_a_goaway_the_link_leaves_between_turns_at_once() -> None:
    assert ending(go_away_deadline=105.0) == Leave(EndReason.GOAWAY)


def test_after_a_goaway_mid_turn_the_link_waits_for_the_turn_until_the_deadline() -> None:
    assert ending(go_away_deadline=105.0, between_turns=False) == WakeIn(5.0 + WAKE_SLACK_S)
    assert ending(go_away_deadline=105.0, between_turns=False, now=105.0) == Leave(
        EndReason.GOAWAY_DEADLINE
    )


def test_a_quiet_connection_is_closed_after_the_idle_time() -> None:
    assert ending(idle_disconnect_s=30.0, last_activity=80.0) == WakeIn(10.0 + WAKE_SLACK_S)
    assert ending(idle_disconnect_s=30.0, last_activity=70.0) == Leave(EndReason.IDLE)


def test_a_busy_connection_or_an_idle_time_of_zero_is_never_closed_as_idle() -> None:
    assert ending(idle_disconnect_s=30.0, last_activity=0.0, quiet=False) == WakeIn(None)
    assert ending(idle_disconnect_s=0.0, last_activity=0.0) == WakeIn(None)


def test_a_due_handle_wakes_the_watch_when_its_wait_ends_whichever_comes_first() -> None:
    assert ending(handle_due_at=100.5, quiet=False) == WakeIn(0.5 + WAKE_SLACK_S)
    soonest = ending(
        go_away_deadline=109.0,
        between_turns=False,
        idle_disconnect_s=30.0,
        last_activity=75.0,
        handle_due_at=107.0,
    )
    assert soonest == WakeIn(5.0 + WAKE_SLACK_S)


@pytest.mark.parametrize(
    ("time_left", "believed", "leave_after"),
    [(60.0, 60.0, 55.0), (8.0, 8.0, 6.0), (0.0, 0.0, 0.0), (None, 10.0, 7.5)],
)
def test_a_goaway_leaves_a_margin_of_a_quarter_of_its_time_at_most_five_seconds(
    time_left: float | None, believed: float, leave_after: float
) -> None:
    assert go_away_deadline(time_left, 1000.0) == (believed, 1000.0 + leave_after)


def test_a_retired_model_is_fatal_and_says_which_setting_to_change() -> None:
    reason = (
        "models/gemini-2.5-flash-native-audio-preview-09-2025 is not found for API version "
        "v1beta, or is not supported for bidiGenerateContent."
    )
    for during_setup, sent_handle in ((True, False), (True, True), (False, False)):
        outcome = classify(
            sdk_close(1008, reason), during_setup=during_setup, sent_handle=sent_handle
        )
        assert outcome.action is NextStep.FATAL
        assert outcome.reason == (
            f"1008 {reason}: the model is retired or the API version is wrong: set "
            "TALKBOX_MODEL (default gemini-3.8-live)"
        )


@pytest.mark.parametrize(
    ("reason", "setting"),
    [
        ("Thinking level is not supported for this model", "TALKBOX_THINKING_LEVEL"),
        ("Thinking level must be specified for this model", "TALKBOX_THINKING_LEVEL"),
        (
            "Invalid JSON payload received. Unknown name \"proactivity\" at 'setup': Cannot "
            "find field.",
            "TALKBOX_PROACTIVE_AUDIO",
        ),
        ("BLOCKING function calls are not supported for this model", "TALKBOX_MODEL"),
        (
            "The requested combination of response modalities (TEXT) is not supported by the model",
            "TALKBOX_MODEL",
        ),
    ],
)
def test_a_setup_refusal_is_fatal_even_when_resuming_and_names_its_setting(
    reason: str, setting: str
) -> None:
    for sent_handle in (False, True):
        outcome = classify(sdk_close(1007, reason), during_setup=True, sent_handle=sent_handle)
        assert outcome.action is NextStep.FATAL
        assert outcome.reason.startswith(f"1007 {reason} (the setup was refused: check ")
        assert setting in outcome.reason


def test_an_unexplained_setup_refusal_is_fatal_and_points_at_check() -> None:
    outcome = classify(
        sdk_close(1007, "Request contains an invalid argument."),
        during_setup=True,
        sent_handle=False,
    )
    assert outcome.action is NextStep.FATAL
    assert outcome.reason.endswith("(the setup was refused: run talkbox check)")


def test_setup_refusals_wait_the_fatal_delay_never_less() -> None:
    backoff = Backoff(RetryPolicy(), random.Random(7))
    retired = classify(
        sdk_close(1008, "models/m is not found for API version v1beta"),
        during_setup=True,
        sent_handle=False,
    )
    refused = classify(
        sdk_close(1007, "Thinking level is not supported for this model"),
        during_setup=True,
        sent_handle=True,
    )
    delays = [backoff.delay(o) for o in (retired, refused, retired, refused)]
    assert delays == [RetryPolicy().fatal_retry_s] * 4


def test_the_watcher_wakes_when_an_answers_end_falls_due() -> None:
    decision = end_connection(
        now=100.0,
        restart_requested=False,
        go_away_deadline=None,
        between_turns=False,
        idle_disconnect_s=0,
        quiet=False,
        last_activity=90.0,
        handle_due_at=None,
        answer_due_at=112.5,
    )
    assert decision == WakeIn(12.5 + WAKE_SLACK_S)


# ---------------------------------------------------------------- outages


OUTAGE_POLICY = RetryPolicy(offline_after_s=60.0, give_up_after_s=30.0)


def test_a_setup_that_never_completes_is_a_transient_failure_named_as_such() -> None:
    outcome = classify(SetupTimedOut(15.0), during_setup=True, sent_handle=True)
    assert outcome == Outcome(NextStep.RESUME, "no setupComplete within 15s")


def test_failures_log_at_info_until_the_outage_lasts_the_offline_time() -> None:
    outage = Outage(RetryPolicy(offline_after_s=60.0))
    steps = [outage.failed(began_at=100.0, now=t, retry_in_s=5.0) for t in (101, 130, 159.9)]
    assert [s.level for s in steps] == [logging.INFO] * 3
    assert not any(s.offline or s.give_up for s in steps)
    late = outage.failed(began_at=165.0, now=160.0 + 0.1, retry_in_s=30.0)
    assert late.level == logging.WARNING
    assert late.offline
    assert late.failures == 4
    assert late.lasted_s == pytest.approx(60.1)
    assert not late.give_up  # the daemon never gives up


def test_an_outage_is_counted_from_the_start_of_its_first_attempt() -> None:
    outage = Outage(RetryPolicy(offline_after_s=60.0))
    # The first attempt hung for 15 s in setup before it failed.
    first = outage.failed(began_at=100.0, now=115.0, retry_in_s=1.0)
    assert first.lasted_s == 15.0


@pytest.mark.parametrize(
    ("now", "retry_in_s", "give_up"),
    [(10.0, 19.9, False), (10.0, 20.1, True), (29.0, 0.5, False), (31.0, 0.0, True)],
)
def test_ask_gives_up_when_the_next_attempt_would_start_past_its_bound(
    now: float, retry_in_s: float, give_up: bool
) -> None:
    outage = Outage(OUTAGE_POLICY)
    step = outage.failed(began_at=0.0, now=now, retry_in_s=retry_in_s)
    assert step.give_up is give_up


def test_a_connection_after_an_outage_says_how_long_it_was_offline_once() -> None:
    outage = Outage(RetryPolicy(offline_after_s=60.0))
    outage.failed(began_at=0.0, now=10.0, retry_in_s=1.0)
    assert outage.connected(11.0) is None  # never offline: nothing to say
    outage.failed(began_at=11.0, now=70.0, retry_in_s=1.0)
    assert outage.offline
    assert outage.connected(95.0) == (95.0, 2)
    assert not outage.offline
    assert outage.connected(96.0) is None


def test_only_a_stable_connection_ends_an_outage() -> None:
    outage = Outage(RetryPolicy(offline_after_s=60.0))
    outage.failed(began_at=0.0, now=50.0, retry_in_s=1.0)
    outage.connected(51.0)  # set up, then cut at once: still the same outage
    step = outage.failed(began_at=51.0, now=61.0, retry_in_s=1.0)
    assert step.offline
    assert step.failures == 2
    outage.stable()
    fresh = outage.failed(began_at=500.0, now=501.0, retry_in_s=1.0)
    assert (fresh.failures, fresh.lasted_s, fresh.offline) == (1, 1.0, False)


def test_the_default_policy_bounds_setup_and_never_gives_up() -> None:
    policy = RetryPolicy()
    assert 0 < policy.setup_timeout_s <= 30
    assert policy.give_up_after_s is None
    assert policy.offline_after_s >= policy.cap_s


def test_silence_counts_only_while_a_sent_turn_waits_and_from_the_last_traffic() -> None:
    assert silence_left(now=100.0, awaiting=False, quiet_since=0.0, limit_s=30.0) is None
    assert silence_left(now=100.0, awaiting=True, quiet_since=90.0, limit_s=30.0) == 20.0
    assert silence_left(now=130.0, awaiting=True, quiet_since=100.0, limit_s=30.0) == 0.0
    outcome = classify(ServiceSilent(30.0), during_setup=False, sent_handle=True)
    assert outcome.action is NextStep.RESUME
    assert outcome.reason == "no message from the service for 30s while a turn waited"
