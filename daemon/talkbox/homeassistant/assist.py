"""The control_home tool: a spoken home request, handed to Home Assistant's Assist.

The model passes the person's request in their words; the tool POSTs it to HA's conversation
API (`/api/conversation/process`, docs/home-assistant.md §5) with the long-lived token, and
returns HA's spoken answer. HA matches the request against what the person exposed to Assist,
and nothing else. Every failure (HA down, the token refused, no answer in time, a request HA
did not understand) comes back as the tool's result in words the model can say: never a hang,
never an exception into the link.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from pydantic import BaseModel, ConfigDict, Field

from talkbox.config import Settings
from talkbox.live.tools import BLOCKING, ToolRegistry, ToolResult

log = logging.getLogger(__name__)

TOOL_NAME: Final = "control_home"
DESCRIPTION: Final = (
    "Control or ask about the person's home through Home Assistant: lights, switches, covers, "
    "scenes, climate, locks, and questions like 'is the garage door open'. Pass the request "
    "in the person's own words; Home Assistant acts only on what its owner exposed to it and "
    "answers in words, which you then say. Not for general knowledge, time, weather or "
    "anything outside the home; if Home Assistant says it failed or did not understand, say so."
)
PATH: Final = "/api/conversation/process"


class HomeRequest(BaseModel):
    """control_home's arguments."""

    model_config = ConfigDict(extra="forbid")
    request: str = Field(
        min_length=1,
        max_length=500,
        description="The home request in the person's words, such as 'turn on the kitchen "
        "light' or 'is the front door locked'.",
    )


@dataclass(slots=True)
class AssistOptions:
    """Where HA is, the token, and how long to wait."""

    url: str
    token: str = field(repr=False)
    timeout_s: float = 10.0
    language: str | None = None


class Assist:
    """HA's conversation API, one request at a time; keeps HA's conversation id for follow-ups."""

    def __init__(
        self, options: AssistOptions, *, transport: httpx.AsyncBaseTransport | None = None
    ):
        """Talk to HA as `options` say (`transport`: another way to reach it, for tests)."""
        self.options = options
        self._transport = transport
        self._conversation_id: str | None = None

    async def ask(self, text: str) -> ToolResult:
        """HA's answer to `text`, or what went wrong, as the tool's result."""
        options = self.options
        body: dict[str, Any] = {"text": text}
        if options.language:
            body["language"] = options.language
        if self._conversation_id:
            body["conversation_id"] = self._conversation_id
        headers = {"Authorization": f"Bearer {options.token}"}
        try:
            # Both bounds: httpx's per phase, asyncio's for the whole exchange.
            async with (
                asyncio.timeout(options.timeout_s),
                httpx.AsyncClient(timeout=options.timeout_s, follow_redirects=False) as client,
            ):
                reply = await client.post(options.url + PATH, json=body, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            log.warning("Home Assistant did not answer within %.0f s", options.timeout_s)
            return _error(f"Home Assistant did not answer within {options.timeout_s:.0f} seconds")
        except httpx.HTTPError as exc:
            log.warning("Home Assistant is not reachable at %s: %s", options.url, exc)
            return _error(f"Home Assistant is not reachable ({type(exc).__name__})")
        return self._answer(reply)

    def _answer(self, reply: httpx.Response) -> ToolResult:
        if reply.status_code == 401:
            log.warning(
                "Home Assistant refused the token (401): set a valid long-lived token in "
                "TALKBOX_HOME_ASSISTANT_TOKEN"
            )
            return _error("Home Assistant refused the box's access token")
        if reply.status_code != 200:
            log.warning("Home Assistant answered HTTP %d", reply.status_code)
            return _error(f"Home Assistant answered with HTTP status {reply.status_code}")
        try:
            data = reply.json()
            response = data["response"]
            kind = str(response.get("response_type", ""))
            speech = str(response["speech"]["plain"]["speech"])
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("Home Assistant's answer is not a conversation response")
            return _error("Home Assistant's answer could not be read")
        conversation_id = data.get("conversation_id")
        if isinstance(conversation_id, str) and conversation_id:
            self._conversation_id = conversation_id
        result: ToolResult = {"home_assistant_said": speech, "response_type": kind}
        if kind == "error":
            code = (response.get("data") or {}).get("code")
            result["error_code"] = str(code or "unknown")
        log.info("Home Assistant answered (%s)", kind or "?")
        return result


def _error(message: str) -> ToolResult:
    return {"error": message, "hint": "tell the person the home could not be reached or acted on"}


def register_assist(registry: ToolRegistry, assist: Assist) -> None:
    """Offer control_home: BLOCKING, since HA's answer is what the model must say next."""

    async def control_home(arguments: HomeRequest) -> ToolResult:
        return await assist.ask(arguments.request)

    registry.register(TOOL_NAME, DESCRIPTION, control_home, HomeRequest, behavior=BLOCKING)


def assist_of(settings: Settings) -> Assist | None:
    """The Assist client the settings describe (None: no TALKBOX_HOME_ASSISTANT_URL or token)."""
    token = settings.assist_token()
    if settings.home_assistant_url is None or token is None:
        return None
    return Assist(
        AssistOptions(
            url=settings.home_assistant_url,
            token=token.get_secret_value(),
            timeout_s=settings.home_assistant_timeout_s,
        )
    )
