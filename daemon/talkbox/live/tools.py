"""Local function tools the model may call, with arguments validated by pydantic models.

Registering tools needs no google.genai: the SDK's types are made from these only when a
connection declares the tools or a call is answered, so the daemon can build its registry
before the SDK's slow import (`talkbox.live.link` loads it after READY=1).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    from google.genai import types

log = logging.getLogger(__name__)

ToolResult = dict[str, Any]
ToolHandler = Callable[[Any], ToolResult | Awaitable[ToolResult]]


class NoArguments(BaseModel):
    """Arguments of a tool that takes none; anything given is an error the model can read."""

    model_config = ConfigDict(extra="forbid")


class Behavior(StrEnum):
    """How a declared function is called: the SDK's `types.Behavior` values a tool may take."""

    BLOCKING = "BLOCKING"
    NON_BLOCKING = "NON_BLOCKING"


class Scheduling(StrEnum):
    """What a NON_BLOCKING result does: the SDK's `types.FunctionResponseScheduling` values."""

    SCHEDULING_UNSPECIFIED = "SCHEDULING_UNSPECIFIED"
    SILENT = "SILENT"
    WHEN_IDLE = "WHEN_IDLE"
    INTERRUPT = "INTERRUPT"


BLOCKING = Behavior.BLOCKING
NON_BLOCKING = Behavior.NON_BLOCKING


@dataclass(frozen=True)
class Tool:
    """One function the model may call: its declaration, argument model, handler and timing.

    `behavior` is always declared, since 3.8 takes an undeclared one as NON_BLOCKING
    (docs/live-models.md §4). BLOCKING: the model waits for the result and speaks it (short
    calls whose answer must come first). NON_BLOCKING: the model may go on talking, and the
    response's `scheduling` says what the result does (WHEN_IDLE: spoken when the model is
    idle; INTERRUPT: spoken at once, after the person stops talking; SILENT: only added to
    the context).
    """

    name: str
    description: str
    arguments: type[BaseModel]
    handler: ToolHandler
    behavior: Behavior = BLOCKING
    scheduling: Scheduling | None = None
    """For NON_BLOCKING tools only: what the response asks the model to do with the result."""

    def declaration(self, *, blocking: bool = True) -> types.FunctionDeclaration:
        """The declaration sent in the session setup (`blocking` False: the model takes none)."""
        from google.genai import types

        behavior = types.Behavior(self.behavior if blocking else NON_BLOCKING)
        schema = self.arguments.model_json_schema()
        if not schema.get("properties"):
            # A tool without parameters is declared without a schema, as the API expects.
            return types.FunctionDeclaration(
                name=self.name, description=self.description, behavior=behavior
            )
        parameters = types.Schema.from_json_schema(
            json_schema=types.JSONSchema.model_validate(schema), api_option="GEMINI_API"
        )
        return types.FunctionDeclaration(
            name=self.name, description=self.description, parameters=parameters, behavior=behavior
        )

    def response_scheduling(self, *, scheduling: bool) -> Scheduling | None:
        """The scheduling its responses carry (`scheduling` False: the model takes none)."""
        if not scheduling or self.behavior is not NON_BLOCKING:
            return None
        return self.scheduling


class ToolRunner(Protocol):
    """What the link needs from the local tools (ToolRegistry is one)."""

    def declarations(self, *, blocking: bool = True) -> list[types.FunctionDeclaration]:
        """The function declarations offered (`blocking` False: all NON_BLOCKING)."""
        ...

    async def call(
        self, call: types.FunctionCall, *, scheduling: bool = True
    ) -> types.FunctionResponse:
        """Run one call; never raises (`scheduling` False: responses carry none)."""
        ...


class ToolRegistry:
    """The tools offered to the model; `call` answers every function call, never raising."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._declared: dict[bool, list[types.FunctionDeclaration]] = {}
        """Declarations made once: each connection's setup sends the same ones."""

    def register(
        self,
        name: str,
        description: str,
        handler: ToolHandler,
        arguments: type[BaseModel] = NoArguments,
        *,
        behavior: Behavior | types.Behavior = BLOCKING,
        scheduling: Scheduling | types.FunctionResponseScheduling | None = None,
    ) -> None:
        """Offer a tool; `handler` gets the validated arguments model and returns a dict.

        A NON_BLOCKING tool names the `scheduling` of its responses; a BLOCKING one has none.
        The SDK's own enum members are taken too (the values are the same strings).
        """
        if name in self._tools:
            raise ValueError(f"tool {name!r} is registered twice")
        if behavior not in (BLOCKING, NON_BLOCKING):
            raise ValueError(f"tool {name!r}: behavior must be BLOCKING or NON_BLOCKING")
        behavior = Behavior(behavior)
        if (behavior is NON_BLOCKING) != (scheduling is not None):
            raise ValueError(f"tool {name!r}: a scheduling is given exactly for NON_BLOCKING")
        if scheduling is not None:
            scheduling = Scheduling(scheduling)
        if scheduling is Scheduling.SCHEDULING_UNSPECIFIED:
            raise ValueError(f"tool {name!r}: choose WHEN_IDLE, INTERRUPT or SILENT")
        self._declared.clear()
        self._tools[name] = Tool(
            name=name,
            description=description,
            arguments=arguments,
            handler=handler,
            behavior=behavior,
            scheduling=scheduling,
        )

    def tool(self, name: str) -> Tool | None:
        """The registered tool called `name`, if any."""
        return self._tools.get(name)

    @property
    def names(self) -> list[str]:
        """The registered tool names, in registration order."""
        return list(self._tools)

    def declarations(self, *, blocking: bool = True) -> list[types.FunctionDeclaration]:
        """The function declarations for LiveConnectConfig.tools, each with its behavior."""
        declared = self._declared.get(blocking)
        if declared is None:
            # Made once, not at every connection: pydantic's JSON schema generation costs
            # milliseconds and left a little memory behind each time (benchmarks/soak.py).
            declared = [tool.declaration(blocking=blocking) for tool in self._tools.values()]
            self._declared[blocking] = declared
        return list(declared)

    async def call(
        self, call: types.FunctionCall, *, scheduling: bool = True
    ) -> types.FunctionResponse:
        """Run one function call and return its response; errors become error responses."""
        name = call.name or ""
        tool = self._tools.get(name)
        if tool is None:
            log.warning("the model called an unknown tool %r", name)
            known = ", ".join(self._tools) or "none"
            return _error(call, f"unknown function {name!r}; available: {known}")
        when = tool.response_scheduling(scheduling=scheduling)
        args: Mapping[str, Any] = call.args if isinstance(call.args, Mapping) else {}
        try:
            arguments = tool.arguments.model_validate(dict(args))
        except ValidationError as exc:
            log.warning("the model called %s with bad arguments: %s", name, _summary(exc))
            return _error(call, f"bad arguments for {name}: {_summary(exc)}", when)
        try:
            result = tool.handler(arguments)
            if inspect.isawaitable(result):
                result = await result
        except Exception:  # a tool's bug must become an answer the model can speak about
            log.exception("tool %s failed", name)
            return _error(call, f"{name} failed on the device", when)
        log.info("tool %s called", name)
        return _response(call, result, when)


class ToolCalls:
    """The function calls running on one connection, each a task of the connection's group.

    Every call is answered through `answer`: with the runner's response, or at once with an
    error when there is no runner (the model waits for an answer to a blocking call; an
    error lets it speak on instead of hanging). A cancelled call is not answered.
    """

    def __init__(
        self,
        runner: ToolRunner | None,
        tg: asyncio.TaskGroup,
        answer: Callable[[tuple[types.FunctionResponse, ...]], None],
        *,
        scheduling: bool = True,
    ) -> None:
        self._runner = runner
        self._tg = tg
        self._answer = answer
        self._scheduling = scheduling
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, calls: Sequence[types.FunctionCall]) -> None:
        """Run each call of a toolCall message."""
        runner = self._runner
        if runner is None:
            log.warning(
                "the model called %s, but no functions are offered",
                ", ".join(c.name or "?" for c in calls),
            )
            self._answer(tuple(no_functions_response(c) for c in calls))
            return
        for call in calls:
            self._tasks[call.id or ""] = self._tg.create_task(
                self._run(runner, call), name=f"tool-{call.name}"
            )

    def cancel(self, ids: Sequence[str]) -> None:
        """Stop the calls the server cancelled (new input during a BLOCKING call).

        A cancelled call is never answered: its task stops here, and a response it already
        gave is taken out of the outbox by the link (`TurnLedger.drop_tool_responses`).
        """
        for call_id in ids:
            task = self._tasks.pop(call_id, None)
            if task is not None:
                task.cancel()

    async def _run(self, runner: ToolRunner, call: types.FunctionCall) -> None:
        response = await runner.call(call, scheduling=self._scheduling)
        self._tasks.pop(call.id or "", None)
        self._answer((response,))


def _response(
    call: types.FunctionCall, result: ToolResult, scheduling: Scheduling | None
) -> types.FunctionResponse:
    from google.genai import types

    when = None if scheduling is None else types.FunctionResponseScheduling(scheduling)
    return types.FunctionResponse(id=call.id, name=call.name, response=result, scheduling=when)


def _error(
    call: types.FunctionCall, message: str, scheduling: Scheduling | None = None
) -> types.FunctionResponse:
    return _response(call, {"error": message}, scheduling)


def no_functions_response(call: types.FunctionCall) -> types.FunctionResponse:
    """The answer to a call when the link offers no functions at all."""
    return _error(call, f"unknown function {call.name!r}: this device offers no functions")


def _summary(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def local_now() -> datetime:
    """The current local time with its time zone."""
    return datetime.now().astimezone()


def _time_report(now: datetime) -> ToolResult:
    """What get_time answers: enough for 'what time / day / date is it' in any phrasing."""
    if now.tzinfo is None:
        now = now.astimezone()
    offset = now.strftime("%z")
    report: ToolResult = {
        "date": now.date().isoformat(),
        "time": now.strftime("%H:%M"),
        "weekday": now.strftime("%A"),
        "time_zone": now.tzname() or "",
        "utc_offset": f"{offset[:3]}:{offset[3:]}" if offset else "",
        "iso": now.isoformat(timespec="seconds"),
    }
    zone_key = getattr(now.tzinfo, "key", None)
    if isinstance(zone_key, str):
        report["time_zone_id"] = zone_key
    return report


def default_registry(
    *, on_end_conversation: Callable[[], None], clock: Callable[[], datetime] = local_now
) -> ToolRegistry:
    """The tools every talkbox offers: get_time and end_conversation."""
    registry = ToolRegistry()

    def get_time(_: NoArguments) -> ToolResult:
        return _time_report(clock())

    def end_conversation(_: NoArguments) -> ToolResult:
        on_end_conversation()
        return {"result": "the conversation ends after this answer; say a short goodbye"}

    # Both BLOCKING: their result must be spoken before anything else (docs/live-models.md §4).
    registry.register(
        "get_time",
        "Get the current local date, time, weekday and time zone of the device.",
        get_time,
        behavior=BLOCKING,
    )
    registry.register(
        "end_conversation",
        "End the conversation when the person says goodbye or is done; the next question "
        "starts a fresh conversation.",
        end_conversation,
        behavior=BLOCKING,
    )
    return registry
