"""Fidelity: the emulator's turns have the kinds, order and shapes of recorded real sessions.

The cookbook fixtures are real server output (printed by the SDK; `wire_camelCase_derived` is
the wire form). Both they and the emulator's frames are read through the SDK's own converter,
then reduced to per-turn sequences of message kinds and to key/type shapes, and compared.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from google.genai import _live_converters as converters
from google.genai import types

from talkbox.emulator import Emulator

FIXTURES = Path(__file__).parents[2] / "data" / "live"
MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
WAIT_S = 10.0

Turn = list[tuple[str, types.LiveServerMessage | None]]


def parse(wire: dict[str, Any]) -> types.LiveServerMessage:
    """A server message as the SDK's receive() builds it (Developer API path)."""
    converted = converters._LiveServerMessage_from_mldev(wire)
    return types.LiveServerMessage._from_response(
        response=converted, kwargs=types.LiveServerMessage().model_dump()
    )


def kind(message: types.LiveServerMessage) -> str:
    dumped = message.model_dump(exclude_none=True)
    names = []
    for key, value in sorted(dumped.items()):
        if key == "server_content":
            names += [f"server_content.{k}" for k in sorted(value)]
        elif key == "session_resumption_update":
            names.append("handle" if value.get("new_handle") else "resumption_update{}")
        else:
            names.append(key)
    return "+".join(names)


def shape(value: Any) -> Any:
    """Keys and value types, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def split_turns(tokens: list[tuple[str, types.LiveServerMessage | None]]) -> list[Turn]:
    """Cut a stream into turns: each ends at turnComplete (plus the handle right after)."""
    turns: list[Turn] = []
    current: Turn = []
    for name, message in tokens:
        if name == "client":
            # A client message mid-answer (barge-in, tool response) belongs to that turn.
            continue
        if name == "handle" and not current and turns:
            turns[-1].append((name, message))
            continue
        current.append((name, message))
        if "server_content.turn_complete" in name:
            turns.append(current)
            current = []
    if current:
        turns.append(current)
    return turns


def fixture_turns(path: Path) -> list[Turn]:
    """Turns of a recorded file; printed text parts become modelTurn messages."""
    data = json.loads(path.read_text())
    turns: list[Turn] = []
    for sequence in data["sequences"]:
        tokens: list[tuple[str, types.LiveServerMessage | None]] = []
        inside = False
        for event in sequence["events"]:
            wire = event.get("wire_camelCase_derived")
            value = str(event.get("value", ""))
            if event.get("direction") == "client->server" or value.startswith("message > "):
                tokens.append(("client", None))
                inside = True
            elif wire is not None:
                message = parse(wire)
                name = kind(message)
                tokens.append((name, message))
                inside = name != "handle" and "turn_complete" not in name
                if name == "resumption_update{}":
                    inside = True
            elif event.get("printed") == "model_text_part" or (
                event.get("printed") == "text" and inside
            ):
                tokens.append(("server_content.model_turn", None))
        if any(message is not None for _, message in tokens):
            turns += [turn for turn in split_turns(tokens) if turn]
    return turns


def classify(turn: Turn) -> str:
    names = [name for name, _ in turn]
    if "tool_call" in names:
        return "tool"
    if "server_content.interrupted" in names:
        return "interrupted"
    return "normal"


def recorded() -> dict[str, list[Turn]]:
    by_class: dict[str, list[Turn]] = {}
    for path in sorted(FIXTURES.glob("cookbook_*.json")):
        for turn in fixture_turns(path):
            by_class.setdefault(classify(turn), []).append(turn)
    return by_class


MODEL_TURN = "server_content.model_turn"


def names(turn: Turn) -> list[str]:
    """The kinds of a turn's messages, a run of modelTurn chunks counted as one."""
    kinds = [name for name, _ in turn]
    return [k for i, k in enumerate(kinds) if not (k == MODEL_TURN and kinds[i - 1 : i] == [k])]


def chunk_runs(turn: Turn) -> list[int]:
    """How many modelTurn messages each run of them in a turn holds."""
    runs: list[int] = []
    previous = None
    for name, _ in turn:
        if name == MODEL_TURN:
            if previous == MODEL_TURN:
                runs[-1] += 1
            else:
                runs.append(1)
        previous = name
    return runs


def emulator_turns(emulator: Emulator) -> list[Turn]:
    tokens: list[tuple[str, types.LiveServerMessage | None]] = []
    for record in emulator.log.records:
        if record.direction == "in" and record.kind != "setup":
            if record.kind != "tool_response":
                tokens.append(("client", None))
        elif record.direction == "out" and record.kind != "setupComplete":
            message = parse(record.message)
            tokens.append((kind(message), message))
    return split_turns(tokens)


def assert_same_shapes(ours: Turn, real: list[Turn]) -> None:
    """Every non-modelTurn message has the keys and value types of every real one of its kind."""
    real_shapes: dict[str, list[Any]] = {}
    for turn in real:
        for name, message in turn:
            if message is not None:
                dumped = message.model_dump(exclude_none=True, mode="json")
                real_shapes.setdefault(name, []).append(shape(dumped))
    for name, message in ours:
        if name == MODEL_TURN or name not in real_shapes:
            continue
        assert message is not None
        ours_shape = shape(message.model_dump(exclude_none=True, mode="json"))
        for real_shape in real_shapes[name]:
            assert ours_shape == real_shape, name


RECORDED = recorded()


def test_the_recordings_stream_text_answers_in_several_model_turn_messages() -> None:
    runs = [run for turns in RECORDED.values() for turn in turns for run in chunk_runs(turn)]
    assert max(runs) >= 2


def test_the_recordings_hold_every_kind_of_turn_the_emulator_is_compared_with() -> None:
    assert {"normal", "tool", "interrupted"} <= set(RECORDED)
    assert any("handle" in names(t) for t in RECORDED["normal"])


@pytest.mark.parametrize("modality", ["TEXT", "AUDIO"])
@pytest.mark.parametrize("resumption", [True, False], ids=["resumption", "no-resumption"])
async def test_a_normal_turn_matches_the_recorded_sequence(
    emulator: Emulator, client_for: Any, modality: str, resumption: bool
) -> None:
    config = types.LiveConnectConfig(
        response_modalities=[modality],
        session_resumption=types.SessionResumptionConfig() if resumption else None,
    )
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config) as session:
        for text in ("hello", "what is the capital of brazil?"):
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text=text)])
            )
            async with asyncio.timeout(WAIT_S):
                _ = [m async for m in session.receive()]
        if resumption:
            async with asyncio.timeout(WAIT_S):
                async for message in session.receive():
                    if message.session_resumption_update:
                        break
    ours = emulator_turns(emulator)
    real = [t for t in RECORDED["normal"] if ("handle" in names(t)) == resumption]
    assert real
    assert len(ours) == 2
    for turn in ours:
        assert names(turn) in [names(r) for r in real]
        # Text streams in several parts as the real service does; audio in many chunks.
        assert all(run >= 2 for run in chunk_runs(turn)), chunk_runs(turn)
        assert_same_shapes(turn, real)


async def test_usage_grows_across_turns_and_resumption_like_the_real_service(
    emulator: Emulator, client_for: Any
) -> None:
    config = types.LiveConnectConfig(
        response_modalities=["TEXT"], session_resumption=types.SessionResumptionConfig()
    )
    usages: list[types.UsageMetadata] = []
    handle = None
    client = client_for(emulator)
    for question in ("hello", "what is the capital of brazil?", "what did I ask last?"):
        if handle:
            config.session_resumption = types.SessionResumptionConfig(handle=handle)
        async with client.aio.live.connect(model=MODEL, config=config) as session:
            await session.send_client_content(
                turns=types.Content(role="user", parts=[types.Part(text=question)])
            )
            async with asyncio.timeout(WAIT_S):
                messages = [m async for m in session.receive()]
                async for message in session.receive():
                    update = message.session_resumption_update
                    if update and update.new_handle:
                        handle = update.new_handle
                        break
        assert messages[-1].usage_metadata is not None
        usages.append(messages[-1].usage_metadata)

    real_usages = [
        message.usage_metadata
        for turn in RECORDED["normal"]
        for _, message in turn
        if message is not None and message.usage_metadata is not None
    ]
    for series in (usages, real_usages[:3]):
        prompts = [u.prompt_token_count or 0 for u in series]
        responses = [u.response_token_count or 0 for u in series]
        totals = [u.total_token_count for u in series]
        assert totals == [p + r for p, r in zip(prompts, responses, strict=True)]
        # The prompt is the whole context: earlier prompts and answers plus the new question.
        assert all(prompts[i + 1] > prompts[i] + responses[i] for i in range(len(series) - 1))


async def test_a_tool_call_turn_matches_the_recorded_sequence(
    emulator: Emulator, client_for: Any
) -> None:
    tool = types.Tool(function_declarations=[types.FunctionDeclaration(name="get_weather_vegas")])
    config = types.LiveConnectConfig(response_modalities=["TEXT"], tools=[tool])
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="get weather vegas?")])
        )
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                if message.tool_call and message.tool_call.function_calls:
                    call = message.tool_call.function_calls[0]
                    await session.send_tool_response(
                        function_responses=types.FunctionResponse(
                            id=call.id, name=call.name, response={"weather": "Sunny"}
                        )
                    )
    ours = emulator_turns(emulator)
    real = RECORDED["tool"]
    assert len(ours) == 1
    assert names(ours[0]) in [names(r) for r in real]
    assert_same_shapes(ours[0], real)
    real_ids = [
        call.id
        for turn in real
        for _, message in turn
        if message is not None and message.tool_call
        for call in message.tool_call.function_calls or []
    ]
    assert real_ids
    for call_id in [*real_ids, call.id]:
        assert re.fullmatch(r"function-call-\d{1,20}", call_id or "")


async def test_an_interrupted_turn_matches_the_recorded_sequence(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(realtime=True)
    config = types.LiveConnectConfig(response_modalities=["AUDIO"])
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="talk for a while " * 4)])
        )
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                if message.data:
                    await session.send_client_content(
                        turns=types.Content(role="user", parts=[types.Part(text="stop")])
                    )
                    break
            _ = [m async for m in session.receive()]
    interrupted = emulator_turns(emulator)[0]
    real = RECORDED["interrupted"]
    assert names(interrupted) in [names(r) for r in real]
    assert_same_shapes(interrupted, real)


@pytest.mark.parametrize("wrong", ["generation_complete_in_interrupted", "usage_apart"])
def test_the_comparison_notices_a_different_turn(wrong: str) -> None:
    real = RECORDED["interrupted"][0]
    altered = list(real)
    if wrong == "generation_complete_in_interrupted":
        message = parse({"serverContent": {"generationComplete": True}})
        altered.insert(-1, (kind(message), message))
    else:
        altered[-1] = (
            "server_content.turn_complete",
            parse({"serverContent": {"turnComplete": True}}),
        )
    assert names(altered) not in [names(r) for r in RECORDED["interrupted"]]


async def test_a_non_blocking_call_answered_with_interrupt_matches_the_recorded_cell(
    make_emulator: Any, client_for: Any
) -> None:
    """The recorded cell 40: call, talk on, the result interrupts the next answer, speak it."""
    # Real time, so the result can arrive while an answer still plays; short names keep the
    # tone phrases (80 ms a character) and so the test short.
    emulator = await make_emulator(realtime=True)
    tool = types.Tool(
        function_declarations=[
            types.FunctionDeclaration(name="f", behavior=types.Behavior.NON_BLOCKING)
        ]
    )
    config = types.LiveConnectConfig(response_modalities=["AUDIO"], tools=[tool])
    async with client_for(emulator).aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="call f")])
        )
        async with asyncio.timeout(WAIT_S):
            first = [m async for m in session.receive()]
        call = next(c for m in first if m.tool_call for c in m.tool_call.function_calls or [])
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="tell me about Paris " * 4)])
        )
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                if message.data:
                    await session.send_tool_response(
                        function_responses=types.FunctionResponse(
                            id=call.id,
                            name=call.name,
                            response={"weather": "Sunny, 42 degrees"},
                            scheduling=types.FunctionResponseScheduling.INTERRUPT,
                        )
                    )
                    break
            _ = [m async for m in session.receive()]
            _ = [m async for m in session.receive()]
    ours = emulator_turns(emulator)
    assert [classify(turn) for turn in ours] == ["tool", "interrupted", "normal"]
    for turn in ours:
        real = RECORDED[classify(turn)]
        assert names(turn) in [names(r) for r in real]
        assert_same_shapes(turn, real)


# ---- the 3.8 shape ----------------------------------------------------------------------

LIVE_38 = json.loads((FIXTURES / "gemini-3.8-live_turn_shape.json").read_text())


def test_the_3_8_shape_reads_through_the_sdk_as_its_sequence_says() -> None:
    kinds = [kind(parse(wire)) for wire in LIVE_38["wire_examples"]]
    assert [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k] == LIVE_38["sequence"]
    timing = LIVE_38["timing"]
    # The recorded reply arrived several times faster than it plays, turnComplete much later.
    assert timing["reply_s"] / timing["all_audio_after_first_chunk_s"] > 4
    assert (
        timing["turn_complete_after_generation_complete_s"]
        > 10 * (timing["generation_complete_after_last_audio_s"])
    )


async def test_a_3_8_spoken_turn_matches_the_shape_written_from_the_reports(
    make_emulator: Any, client_for: Any
) -> None:
    emulator = await make_emulator(realtime=True)
    config = types.LiveConnectConfig(
        response_modalities=["AUDIO"],
        session_resumption=types.SessionResumptionConfig(),
        input_audio_transcription={},
        output_audio_transcription={},
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
        ),
    )
    speech = (np.sin(np.arange(48_000) / 3) * 9000).astype("<i2").tobytes()  # 3 s at 16 kHz
    arrivals: list[tuple[float, types.LiveServerMessage]] = []
    client = client_for(emulator)
    async with client.aio.live.connect(model="gemini-3.8-live", config=config) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        for i in range(0, len(speech), 3200):
            await session.send_realtime_input(
                audio=types.Blob(data=speech[i : i + 3200], mime_type="audio/pcm;rate=16000")
            )
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        async with asyncio.timeout(WAIT_S):
            async for message in session.receive():
                arrivals.append((asyncio.get_running_loop().time(), message))
            async for message in session.receive():
                if message.session_resumption_update:
                    break
    (ours,) = emulator_turns(emulator)
    collapsed = [k for i, k in enumerate(names(ours)) if i == 0 or names(ours)[i - 1] != k]
    assert collapsed == LIVE_38["sequence"]
    real: dict[str, list[Any]] = {}
    for wire in LIVE_38["wire_examples"]:
        message = parse(wire)
        real.setdefault(kind(message), []).append(shape(message.model_dump(exclude_none=True)))
    for name, message in ours:
        if name != MODEL_TURN and message is not None and name in real:
            # Each message has the keys and types of one written down for its kind.
            assert shape(message.model_dump(exclude_none=True)) in real[name], name
    audio = [t for t, m in arrivals if m.data]
    generated = next(
        t for t, m in arrivals if m.server_content and m.server_content.generation_complete
    )
    completed = arrivals[-1][0]
    reply_s = 3.0
    # Fast audio (4x here; a loaded machine may halve it), generationComplete right after the
    # last chunk, turnComplete once the reply would have played.
    assert audio[-1] - audio[0] < reply_s / 2
    assert generated - audio[-1] < reply_s / 4
    assert completed - audio[0] >= reply_s - 0.25
