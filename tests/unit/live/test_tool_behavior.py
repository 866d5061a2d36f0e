"""Every declaration says its behavior; NON_BLOCKING responses carry the tool's scheduling."""

from __future__ import annotations

from typing import Any

import pytest
from google.genai import types

from talkbox.live.tools import (
    BLOCKING,
    NON_BLOCKING,
    NoArguments,
    Scheduling,
    ToolRegistry,
    ToolResult,
    default_registry,
)


def volume(_: NoArguments) -> ToolResult:
    return {"status": "ok", "volume": 7}


def call(name: str) -> types.FunctionCall:
    return types.FunctionCall(id="call-9", name=name, args={})


def mixed() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register("get_time", "The time.", volume, behavior=BLOCKING)
    registry.register(
        "set_volume", "Volume.", volume, behavior=NON_BLOCKING, scheduling=Scheduling.SILENT
    )
    return registry


def test_get_time_and_end_conversation_are_declared_blocking() -> None:
    declarations = default_registry(on_end_conversation=lambda: None).declarations()
    assert [(d.name, d.behavior) for d in declarations] == [
        ("get_time", BLOCKING),
        ("end_conversation", BLOCKING),
    ]


def test_a_model_without_blocking_calls_gets_every_tool_declared_non_blocking() -> None:
    declarations = mixed().declarations(blocking=False)
    assert [d.behavior for d in declarations] == [NON_BLOCKING, NON_BLOCKING]
    assert [d.behavior for d in mixed().declarations()] == [BLOCKING, NON_BLOCKING]


@pytest.mark.parametrize(
    "scheduling", [Scheduling.WHEN_IDLE, Scheduling.INTERRUPT, Scheduling.SILENT]
)
async def test_a_non_blocking_tool_answers_with_its_own_scheduling(scheduling: Scheduling) -> None:
    registry = ToolRegistry()
    registry.register("set_volume", "Volume.", volume, behavior=NON_BLOCKING, scheduling=scheduling)
    response = await registry.call(call("set_volume"))
    # The SDK's own enum goes on the wire, with the registered value.
    assert isinstance(response.scheduling, types.FunctionResponseScheduling)
    assert response.scheduling == scheduling
    assert response.response == {"status": "ok", "volume": 7}


async def test_responses_carry_no_scheduling_where_the_model_takes_none_or_the_tool_blocks() -> (
    None
):
    registry = mixed()
    assert (await registry.call(call("set_volume"), scheduling=False)).scheduling is None
    assert (await registry.call(call("get_time"))).scheduling is None


async def test_an_error_answer_of_a_non_blocking_tool_keeps_its_scheduling() -> None:
    def broken(_: NoArguments) -> ToolResult:
        raise RuntimeError("no mixer")

    registry = ToolRegistry()
    registry.register(
        "set_volume", "Volume.", broken, behavior=NON_BLOCKING, scheduling=Scheduling.INTERRUPT
    )
    response = await registry.call(call("set_volume"))
    assert response.response == {"error": "set_volume failed on the device"}
    assert response.scheduling is types.FunctionResponseScheduling.INTERRUPT


@pytest.mark.parametrize(
    ("behavior", "scheduling"),
    [
        (NON_BLOCKING, None),
        (BLOCKING, Scheduling.WHEN_IDLE),
        (NON_BLOCKING, Scheduling.SCHEDULING_UNSPECIFIED),
        (types.Behavior.UNSPECIFIED, None),
    ],
)
def test_a_tool_must_say_its_behavior_and_a_non_blocking_one_its_scheduling(
    behavior: types.Behavior, scheduling: Any
) -> None:
    with pytest.raises(ValueError, match="set_volume"):
        ToolRegistry().register(
            "set_volume", "Volume.", volume, behavior=behavior, scheduling=scheduling
        )
