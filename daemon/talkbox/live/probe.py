"""`talkbox check --online`: one Live setup with the real settings, and the service's answer.

    result = await probe_setup(settings)
    print(result.line); exit(result.exit_code)

The setup is the one the daemon sends (the same LiveConnectConfig, tools included), so a
model that refuses an option says so here in its own words. Nothing else is sent: no audio,
no turn; the connection is closed as setup completes. The failure is judged by the
link's own policy (`talkbox.live.backoff.classify`): a refusal retrying cannot fix (a key,
a model, a setup the model refuses) exits 78, anything else (the network, quota) exits 1.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from google import genai

from talkbox.config import Settings
from talkbox.errors import ExitCode
from talkbox.live.failures import NextStep, classify
from talkbox.live.session_config import OPEN_TIMEOUT_S, build_client, build_connect_config
from talkbox.live.tools import ToolRegistry, default_registry

# Setup itself must answer within this, after the socket opened (the SDK waits for one frame).
SETUP_TIMEOUT_S = 2 * OPEN_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What the service answered to one setup: a line for stdout or stderr, and an exit code."""

    line: str
    exit_code: ExitCode
    setup_ms: float | None = None
    """How long setup took, when the service accepted it."""

    @property
    def accepted(self) -> bool:
        """Whether the service answered setup."""
        return self.exit_code is ExitCode.OK


async def probe_setup(
    settings: Settings,
    *,
    client: genai.Client | None = None,
    clock: Callable[[], float] = time.monotonic,
    timeout_s: float = SETUP_TIMEOUT_S,
    tools: ToolRegistry | None = None,
) -> ProbeResult:
    """Open one Live setup with `settings`, close it, and say what the service answered.

    `tools` is the registry the running box declares (the appliance's, with its device
    tools): the service checks every declaration, so one it refuses fails here, not at the
    box's first connection. Without it, the link's own device-free tools are declared.
    """
    client = client or build_client(settings)
    registry = tools or default_registry(on_end_conversation=lambda: None)
    functions = registry.declarations(blocking=settings.model_row.blocking_tools)
    config = build_connect_config(settings, handle=None, functions=functions)
    started = clock()
    try:
        async with asyncio.timeout(timeout_s):
            async with client.aio.live.connect(model=settings.model, config=config):
                elapsed_ms = (clock() - started) * 1000
    except Exception as exc:  # noqa: BLE001 -- every refusal is the answer, reported not raised
        if isinstance(exc, TimeoutError):
            return ProbeResult(
                f"no answer to setup within {timeout_s:g}s from {_where(settings)}",
                ExitCode.CRASH,
            )
        # The wall clock: a clock before the build date is named in a TLS failure.
        outcome = classify(exc, during_setup=True, sent_handle=False, now=time.time())
        code = ExitCode.CONFIG if outcome.action is NextStep.FATAL else ExitCode.CRASH
        return ProbeResult(f"{settings.model} refused: {outcome.reason}", code)
    credentials = "credentials" if settings.backend == "vertex" else "key"
    return ProbeResult(
        f"{credentials} accepted, {settings.model} answered setup in {elapsed_ms:.0f} ms",
        ExitCode.OK,
        setup_ms=elapsed_ms,
    )


def _where(settings: Settings) -> str:
    return settings.base_url or ("Vertex AI" if settings.backend == "vertex" else "the service")
