"""The link on each model row of today's service, through the real SDK and the strict emulator.

The emulator has its own model table (it shares nothing with `talkbox.config.models`), so a
setup the client builds wrongly for a model is refused here as the service would refuse it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from talkbox.emulator import Emulator, EmulatorOptions
from talkbox.fakes import EventRecorder, run_in_background
from talkbox.live import answer_end
from talkbox.live.events import (
    AnswerAudioReceived,
    GenerationCompleted,
    LinkEvent,
    LinkFailed,
    ToolCallReceived,
    TurnCompleted,
    TurnFailed,
)
from talkbox.live.link import LiveLink
from talkbox.live.tools import NON_BLOCKING, NoArguments, Scheduling, ToolRegistry, ToolResult
from talkbox.live.tools import default_registry as tools_for_test

from .conftest import FAST_POLICY, emulator_settings

# Every Developer API row the emulator serves, with the settings that make a good setup.
ROWS: dict[str, dict[str, Any]] = {
    "gemini-3.8-live": {},
    "gemini-3.8-live-extended-thinking": {},
    "gemini-3.1-flash-live-preview": {"thinking_level": "medium"},
    "gemini-2.5-flash-native-audio-latest": {},
    "gemini-2.5-flash-native-audio-preview-12-2025": {
        "api_version": "v1alpha",
        "affective_dialog": True,
        "proactive_audio": True,
    },
}
BLOCKING_ROWS = [m for m in ROWS if m != "gemini-3.8-live-extended-thinking"]


class TimedRecorder(EventRecorder):
    """An EventRecorder that also notes when each event arrived (monotonic seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[tuple[float, LinkEvent]] = []

    def __call__(self, event: LinkEvent) -> None:
        self.times.append((time.monotonic(), event))
        super().__call__(event)

    def when(self, kind: type[Any]) -> list[float]:
        return [t for t, event in self.times if isinstance(event, kind)]


def registry() -> ToolRegistry:
    return tools_for_test(on_end_conversation=lambda: None)


@pytest.mark.parametrize("model", list(ROWS))
async def test_each_rows_setup_is_accepted_and_a_turn_is_answered(
    tmp_path: Path, model: str
) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        settings = emulator_settings(emu, tmp_path, model=model, **ROWS[model])
        link = LiveLink(settings, recorder, tools=registry(), policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("hello there")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=10)
        (setup,) = [r.message["setup"] for r in emu.log.client_messages("setup")]
        closes = emu.log.events("close")

    assert not recorder.of(LinkFailed)
    assert "turn 1:" in done.transcript
    assert done.end_reason is None
    assert not [c for c in closes if c.message.get("code") in (1007, 1008)]
    assert setup["model"] == f"models/{model}"
    generation = setup.get("generationConfig", {})
    thinking = generation.get("thinkingConfig")
    if model == "gemini-3.8-live-extended-thinking":
        assert thinking == {"thinkingLevel": "LOW"}
    elif model == "gemini-3.1-flash-live-preview":
        assert thinking == {"thinkingLevel": "MEDIUM"}
    else:
        assert thinking is None
    wanted_extras = bool(ROWS[model].get("affective_dialog"))
    assert ("enableAffectiveDialog" in generation) is wanted_extras
    assert ("proactivity" in setup) is wanted_extras
    assert "handle" not in setup["sessionResumption"]
    behaviors = [d.get("behavior") for t in setup["tools"] for d in t["functionDeclarations"]]
    assert None not in behaviors


@pytest.mark.parametrize("model", BLOCKING_ROWS)
async def test_a_blocking_tool_turn_is_answered_and_spoken_on_each_row(
    tmp_path: Path, model: str
) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        settings = emulator_settings(emu, tmp_path, model=model, **ROWS[model])
        link = LiveLink(settings, recorder, tools=registry(), policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("please get time for me")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=10)
        (response,) = emu.log.client_messages("tool_response")

    (call,) = recorder.of(ToolCallReceived)
    assert [c.name for c in call.calls] == ["get_time"]
    sent = response.message["toolResponse"]["functionResponses"][0]
    assert sent["id"] == call.calls[0].id
    assert "scheduling" not in sent
    assert "time" in sent["response"]
    assert "after calling get_time" in done.transcript


async def test_on_extended_thinking_every_tool_is_non_blocking_and_its_result_has_no_scheduling(
    tmp_path: Path,
) -> None:
    model = "gemini-3.8-live-extended-thinking"
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        link = LiveLink(
            emulator_settings(emu, tmp_path, model=model),
            recorder,
            tools=registry(),
            policy=FAST_POLICY,
        )
        async with run_in_background(link):
            turn = link.send_text("please get time for me")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=10)
            result = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id is None, within=10)
        (setup,) = [r.message["setup"] for r in emu.log.client_messages("setup")]
        (response,) = emu.log.client_messages("tool_response")

    behaviors = {d["behavior"] for t in setup["tools"] for d in t["functionDeclarations"]}
    assert behaviors == {"NON_BLOCKING"}
    sent = response.message["toolResponse"]["functionResponses"][0]
    assert "scheduling" not in sent
    assert "time" in sent["response"]
    # The answer went on without waiting; the late result is spoken as a turn of its own.
    assert "after calling" not in done.transcript
    assert "result of get_time" in result.transcript


async def test_extended_thinkings_filler_and_answer_are_one_turn(tmp_path: Path) -> None:
    model = "gemini-3.8-live-extended-thinking"
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path, model=model), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("why is the sky blue")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=10)
            second = link.send_text("and at night?")
            again = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == second, within=10)
        statuses = [
            r.message["serverContent"].get("interactionStatus")
            for r in emu.log.server_messages("serverContent.")
            if r.message["serverContent"].get("turnComplete")
        ]

    assert statuses == ["IN_PROGRESS", "IDLE", "IN_PROGRESS", "IDLE"]
    assert [e.turn_id for e in recorder.of(TurnCompleted)] == [turn, second]
    assert done.transcript.startswith("Let me think.")
    assert "turn 1:" in done.transcript
    assert again.conversation_turn == 2
    # Both utterances' audio belongs to the one turn.
    audio = sum(len(e.pcm) for e in recorder.of(AnswerAudioReceived) if e.turn_id == turn)
    assert done.audio_s == pytest.approx(audio / 2 / 24_000)


@pytest.mark.slow
async def test_3_8_audio_arrives_faster_than_real_time_and_generation_completes_first(
    tmp_path: Path,
) -> None:
    question = "tell me a story about the moon and the sea, please"
    async with Emulator(EmulatorOptions(realtime=True, fast_audio_factor=4.0)) as emu:
        recorder = TimedRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text(question)
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=30)

    audio_times = recorder.when(AnswerAudioReceived)
    (generated,) = recorder.when(GenerationCompleted)
    (completed,) = recorder.when(TurnCompleted)
    assert done.audio_s > 3.0
    arrival = audio_times[-1] - audio_times[0]
    # All audio in at about a quarter of its length; the end paced to its playback.
    assert arrival < done.audio_s / 2
    assert audio_times[-1] <= generated < completed
    assert completed - audio_times[0] > done.audio_s * 0.75
    assert done.end_reason is None


async def test_a_turn_blocked_by_the_service_says_why(tmp_path: Path) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("turn_complete_reason:reason=GENERATED_CONTENT_SAFETY@turn=1")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("hello")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=10)
    assert done.end_reason == "GENERATED_CONTENT_SAFETY"
    assert done.abnormal


async def test_a_missing_interaction_status_ends_the_turn_at_turn_complete(tmp_path: Path) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("no_interaction_status@turn=1")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("hello")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=10)
    assert done.transcript.startswith("turn 1:")
    assert not recorder.of(TurnFailed)


@pytest.mark.filterwarnings("ignore:WAITING_FOR_INPUT is not a valid InteractionStatus")
async def test_an_unknown_interaction_status_becomes_a_clear_turn_failure_not_a_hang(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real wait is seconds; the rule, not its length, is under test.
    monkeypatch.setattr(answer_end, "END_GRACE_S", 0.3)
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        emu.arm("interaction_status:status=WAITING_FOR_INPUT@turn=1")
        recorder = EventRecorder()
        link = LiveLink(emulator_settings(emu, tmp_path), recorder, policy=FAST_POLICY)
        async with run_in_background(link):
            turn = link.send_text("hello")
            failed = await recorder.wait_for(TurnFailed, lambda e: e.turn_id == turn, within=10)
            after = link.send_text("are you there?")
            answered = await recorder.wait_for(
                TurnCompleted, lambda e: e.turn_id == after, within=10
            )
    assert failed.reason == (
        "the service never ended its answer (turnComplete with interactionStatus WAITING_FOR_INPUT)"
    )
    assert answered.transcript.startswith("turn 2:")


def volume_tool(scheduling: Scheduling, called: asyncio.Event | None = None) -> ToolRegistry:
    def set_volume(_: NoArguments) -> ToolResult:
        # Set in the same task step that queues the response: once a waiter wakes, the
        # response is in the link's outbox.
        if called is not None:
            called.set()
        return {"status": "ok", "volume": 5}

    tools = ToolRegistry()
    tools.register(
        "set_volume",
        "Set the speaker volume.",
        set_volume,
        behavior=NON_BLOCKING,
        scheduling=scheduling,
    )
    return tools


async def test_a_when_idle_result_is_spoken_after_the_answer(tmp_path: Path) -> None:
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        link = LiveLink(
            emulator_settings(emu, tmp_path),
            recorder,
            tools=volume_tool(Scheduling.WHEN_IDLE),
            policy=FAST_POLICY,
        )
        async with run_in_background(link):
            turn = link.send_text("please set volume")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=10)
            spoken = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id is None, within=10)
        (response,) = emu.log.client_messages("tool_response")

    assert response.message["toolResponse"]["functionResponses"][0]["scheduling"] == "WHEN_IDLE"
    assert not done.interrupted
    assert "result of set_volume" in spoken.transcript
    assert [e.turn_id for e in recorder.of(TurnCompleted)] == [turn, None]


@pytest.mark.slow
async def test_an_interrupt_result_stops_the_answer_and_is_spoken_at_once(tmp_path: Path) -> None:
    # Paced answers, so the result arrives while the answer is still under way.
    async with Emulator(EmulatorOptions(realtime=True)) as emu:
        recorder = EventRecorder()
        link = LiveLink(
            emulator_settings(emu, tmp_path),
            recorder,
            tools=volume_tool(Scheduling.INTERRUPT),
            policy=FAST_POLICY,
        )
        async with run_in_background(link):
            turn = link.send_text("please set volume, and then tell me a long story about it")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=20)
            spoken = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id is None, within=20)
        (response,) = emu.log.client_messages("tool_response")

    assert response.message["toolResponse"]["functionResponses"][0]["scheduling"] == "INTERRUPT"
    assert done.interrupted
    assert "result of set_volume" in spoken.transcript


async def test_a_silent_result_only_joins_the_context(tmp_path: Path) -> None:
    called = asyncio.Event()
    async with Emulator(EmulatorOptions(realtime=False)) as emu:
        recorder = EventRecorder()
        link = LiveLink(
            emulator_settings(emu, tmp_path),
            recorder,
            tools=volume_tool(Scheduling.SILENT, called),
            policy=FAST_POLICY,
        )
        async with run_in_background(link):
            turn = link.send_text("please set volume")
            done = await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == turn, within=10)
            async with asyncio.timeout(10):
                await called.wait()
            # Queued behind the tool's response, so the model has the result by then.
            after = link.send_text("thanks")
            await recorder.wait_for(TurnCompleted, lambda e: e.turn_id == after, within=10)
        (response,) = emu.log.client_messages("tool_response")
        thanks = emu.log.client_messages("client_content")[-1]

    assert response.message["toolResponse"]["functionResponses"][0]["scheduling"] == "SILENT"
    assert response.index is not None
    assert thanks.index is not None
    assert response.index < thanks.index
    assert not done.interrupted
    # Nothing was spoken between the two answers: no turn of the model's own.
    assert [e.turn_id for e in recorder.of(TurnCompleted)] == [turn, after]
