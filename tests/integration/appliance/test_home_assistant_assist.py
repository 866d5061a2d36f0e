"""control_home against a stand-in of HA's REST conversation API, alone and through a turn."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from talkbox.appliance.control import Request
from talkbox.appliance.requests import answer
from talkbox.conversation import State
from talkbox.emulator import Emulator
from talkbox.homeassistant.assist import Assist, AssistOptions

from .conftest import MakeEmulator, recording, running_box, until
from .ha_standin import TOKEN, HomeAssistantStandIn

QUESTION = "question-weather.wav"


def assist(url: str, *, token: str = TOKEN, timeout_s: float = 5.0) -> Assist:
    return Assist(AssistOptions(url=url, token=token, timeout_s=timeout_s))


async def test_a_request_ha_understands_acts_and_its_words_come_back() -> None:
    with HomeAssistantStandIn() as ha:
        home = assist(ha.url)
        result = await home.ask("turn on the kitchen light")
        assert result == {
            "home_assistant_said": "Turned on the light",
            "response_type": "action_done",
        }
        assert ha.kitchen_light is True
        assert ha.authorizations == [f"Bearer {TOKEN}"]
        # The next request continues HA's conversation.
        asked = await home.ask("is the kitchen light on")
        assert asked["home_assistant_said"] == "Kitchen light is on"
        assert ha.requests[1]["conversation_id"] == "01JTESTCONVERSATION"


async def test_a_request_ha_does_not_understand_is_its_error_in_its_words() -> None:
    with HomeAssistantStandIn() as ha:
        result = await assist(ha.url).ask("make me a sandwich")
    assert result == {
        "home_assistant_said": "Sorry, I couldn't understand that",
        "response_type": "error",
        "error_code": "no_intent_match",
    }


async def test_a_refused_token_ha_down_and_a_slow_ha_are_results_not_hangs() -> None:
    with HomeAssistantStandIn() as ha:
        refused = await assist(ha.url, token="wrong").ask("turn on the kitchen light")
        assert refused["error"] == "Home Assistant refused the box's access token"
        assert ha.kitchen_light is False
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    down = await assist(closed).ask("turn on the kitchen light")
    assert down["error"].startswith("Home Assistant is not reachable")
    with HomeAssistantStandIn(delay_s=5.0) as slow:
        started = time.monotonic()
        late = await assist(slow.url, timeout_s=1.0).ask("turn on the kitchen light")
        waited = time.monotonic() - started
    assert late["error"] == "Home Assistant did not answer within 1 seconds"
    assert waited < 4.0  # bounded by the setting, not by HA


def tool_responses(emulator: Emulator) -> list[dict[str, Any]]:
    return [
        call
        for r in emulator.log.client_messages("tool_response")
        for call in r.message["toolResponse"]["functionResponses"]
    ]


async def test_a_spoken_home_request_goes_through_the_real_tool_path(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    request = {"request": "turn on the kitchen light"}
    with HomeAssistantStandIn() as ha:
        emulator = await make_emulator(
            realtime=True,
            faults=[f"tool_call:name=control_home,args={json.dumps(request)}@turn=1"],
        )
        async with running_box(
            emulator,
            tmp_path,
            button_mode="hold",
            home_assistant_url=ha.url,
            home_assistant_token=TOKEN,
        ) as box:
            declared = emulator.log.client_messages("setup")[-1].message["setup"]["tools"]
            names = [f["name"] for t in declared for f in t.get("functionDeclarations", [])]
            assert "control_home" in names
            box.world.button.press()
            await box.state_is(State.LISTENING, within=2)
            box.room.say(recording(QUESTION)[:32_000])
            await until(lambda: not box.room.speaking, within=3, what="spoken")
            box.world.button.release()
            await until(lambda: bool(tool_responses(emulator)), within=10, what="the tool answered")
            await box.state_is(State.IDLE, within=20)
        assert ha.requests == [{"text": "turn on the kitchen light"}]
        assert ha.kitchen_light is True
        (response,) = tool_responses(emulator)
        assert response["name"] == "control_home"
        assert response["response"]["home_assistant_said"] == "Turned on the light"


async def test_a_home_request_asked_in_words_makes_the_model_call_control_home(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    with HomeAssistantStandIn() as ha:
        emulator = await make_emulator(realtime=True)
        async with running_box(
            emulator, tmp_path, home_assistant_url=ha.url, home_assistant_token=TOKEN
        ) as box:
            await until(lambda: box.app.state is State.IDLE, within=10, what="idle")
            # The path `talkbox ctl say` takes; the emulator hears a home request in the text.
            answer(box.app, Request(command="say", text="Please turn on the kitchen light"))
            await until(lambda: bool(tool_responses(emulator)), within=10, what="the tool answered")
            await box.state_is(State.SPEAKING, within=10)
            await until(lambda: box.app.state is State.IDLE, within=20, what="idle after it")
            answer(box.app, Request(command="say", text="is the kitchen light on"))
            await until(lambda: len(tool_responses(emulator)) == 2, within=10, what="asked again")
        assert [r["text"] for r in ha.requests] == [
            "Please turn on the kitchen light",
            "is the kitchen light on",
        ]
        said = [r["response"]["home_assistant_said"] for r in tool_responses(emulator)]
        assert said == ["Turned on the light", "Kitchen light is on"]
