from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from google.genai import types
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field

from talkbox.live.tools import ToolRegistry, default_registry

FIXED = datetime(2026, 11, 23, 17, 5, 42, tzinfo=ZoneInfo("Europe/Berlin"))


class Ended:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def registry(ended: Ended | None = None, clock: datetime = FIXED) -> ToolRegistry:
    return default_registry(on_end_conversation=ended or Ended(), clock=lambda: clock)


def call(name: str | None, args: dict[str, Any] | None = None, id: str = "call-1") -> Any:
    return types.FunctionCall(id=id, name=name, args=args)


def test_the_default_tools_are_declared_by_name_with_a_description() -> None:
    declarations = registry().declarations()
    assert [d.name for d in declarations] == ["get_time", "end_conversation"]
    for declaration in declarations:
        assert declaration.description
        assert declaration.parameters is None


def test_declarations_fit_a_live_connect_config() -> None:
    config = types.LiveConnectConfig(
        tools=[types.Tool(function_declarations=registry().declarations())]
    )
    assert config.tools


async def test_get_time_tells_local_date_time_weekday_and_zone() -> None:
    response = await registry().call(call("get_time", {}))
    assert response.id == "call-1"
    assert response.name == "get_time"
    assert response.response == {
        "date": "2026-11-23",
        "time": "17:05",
        "weekday": "Monday",
        "time_zone": "CET",
        "utc_offset": "+01:00",
        "iso": "2026-11-23T17:05:42+01:00",
        "time_zone_id": "Europe/Berlin",
    }


async def test_get_time_handles_zones_without_a_name_and_negative_offsets() -> None:
    clock = datetime(2026, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))
    response = await registry(clock=clock).call(call("get_time"))
    assert response.response is not None
    assert response.response["utc_offset"] == "-05:30"
    assert "time_zone_id" not in response.response


async def test_get_time_by_default_reads_the_local_clock_with_its_zone() -> None:
    response = await default_registry(on_end_conversation=Ended()).call(call("get_time"))
    assert response.response is not None
    reported = datetime.fromisoformat(response.response["iso"])
    assert reported.tzinfo is not None
    assert abs(reported - datetime.now(UTC)) < timedelta(minutes=1)


async def test_end_conversation_calls_back_once_and_says_so() -> None:
    ended = Ended()
    response = await registry(ended).call(call("end_conversation", {}, id="x"))
    assert ended.count == 1
    assert response.id == "x"
    assert response.response is not None
    assert "error" not in response.response


async def test_an_unknown_function_gets_an_error_naming_the_available_ones() -> None:
    response = await registry().call(call("set_volume", {"level": 3}, id="v"))
    assert response.id == "v"
    assert response.name == "set_volume"
    assert response.response is not None
    error = response.response["error"]
    assert "set_volume" in error
    assert "get_time" in error
    assert "end_conversation" in error


async def test_bad_arguments_get_an_error_and_do_not_run_the_tool() -> None:
    ended = Ended()
    response = await registry(ended).call(call("end_conversation", {"now": True}))
    assert ended.count == 0
    assert response.response is not None
    assert "now" in response.response["error"]


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: int = Field(ge=0, le=10, description="volume step")


async def test_arguments_are_validated_by_the_tools_model() -> None:
    seen: list[int] = []
    tools = ToolRegistry()

    def set_volume(args: Level) -> dict[str, Any]:
        seen.append(args.level)
        return {"level": args.level}

    tools.register("set_volume", "Set the volume.", set_volume, Level)
    good = await tools.call(call("set_volume", {"level": 4}))
    bad = await tools.call(call("set_volume", {"level": 11}))
    assert good.response == {"level": 4}
    assert bad.response is not None
    assert "level" in bad.response["error"]
    assert seen == [4]


def test_a_tool_with_arguments_declares_their_schema() -> None:
    tools = ToolRegistry()
    tools.register("set_volume", "Set the volume.", lambda args: {}, Level)
    (declaration,) = tools.declarations()
    assert declaration.parameters is not None
    assert declaration.parameters.type == types.Type.OBJECT
    assert declaration.parameters.properties is not None
    assert declaration.parameters.properties["level"].type == types.Type.INTEGER
    assert declaration.parameters.required == ["level"]


async def test_an_async_tool_is_awaited() -> None:
    tools = ToolRegistry()

    async def slow(_: BaseModel) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"done": True}

    tools.register("slow", "Slow.", slow)
    assert (await tools.call(call("slow"))).response == {"done": True}


async def test_a_failing_tool_becomes_an_error_response(caplog: pytest.LogCaptureFixture) -> None:
    tools = ToolRegistry()

    def broken(_: BaseModel) -> dict[str, Any]:
        raise RuntimeError("boom")

    tools.register("broken", "Broken.", broken)
    response = await tools.call(call("broken"))
    assert response.response == {"error": "broken failed on the device"}
    assert "boom" in caplog.text


def test_a_name_cannot_be_registered_twice() -> None:
    tools = ToolRegistry()
    tools.register("a", "A.", lambda _: {})
    with pytest.raises(ValueError, match="twice"):
        tools.register("a", "A again.", lambda _: {})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    name=st.one_of(st.none(), st.sampled_from(["get_time", "end_conversation"]), st.text()),
    args=st.one_of(st.none(), st.dictionaries(st.text(max_size=10), json_values, max_size=4)),
    id=st.one_of(st.none(), st.text(max_size=10)),
)
def test_any_call_gets_a_response_with_its_id_and_never_raises(
    name: str | None, args: dict[str, Any] | None, id: str | None
) -> None:
    ended = Ended()
    response = asyncio.run(registry(ended).call(types.FunctionCall(id=id, name=name, args=args)))
    assert response.id == id
    assert response.name == name
    assert isinstance(response.response, dict)
    well_formed = name in ("get_time", "end_conversation") and not args
    assert ("error" in response.response) == (not well_formed)
    assert ended.count == (1 if well_formed and name == "end_conversation" else 0)


def test_declarations_are_made_once_and_again_after_a_registration() -> None:
    tools = registry()
    first = tools.declarations()
    again = tools.declarations()
    assert again == first
    assert all(a is b for a, b in zip(again, first, strict=True))
    assert tools.declarations(blocking=False)[0].behavior == types.Behavior.NON_BLOCKING
    tools.register("extra", "One more tool.", lambda _: {"ok": True})
    assert [d.name for d in tools.declarations()] == [*(d.name for d in first), "extra"]
