"""Settings → the google-genai client and the one LiveConnectConfig the link connects with.

Only what the model's row (`talkbox.config.models`) accepts goes into the setup: a thinking
level where the model takes one, affective dialog and the proactivity block only where they
are offered (config refuses them elsewhere), and a Developer API version that is always the
configured one, v1beta by default (docs/live-models.md §2, §3).
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from google import genai
from google.genai import types

from talkbox.config import Settings
from talkbox.config.models import ProactiveAudio
from talkbox.errors import ConfigError
from talkbox.live.vertex_auth import credential_problems

# websockets' defaults ping every 20 s and give up after 20 s without a pong; the real
# service has been measured answering pings in 8-30 s (docs/live-protocol.md §1.3), which would
# cut healthy connections with a client-side 1011. A longer timeout still notices a dead
# network within a minute and a half.
PING_INTERVAL_S = 30.0
PING_TIMEOUT_S = 60.0
# Leaving a connection must not hang for websockets' default 10 s when the peer is gone;
# the link closes the old socket before it resumes, so this bounds a GoAway rotation.
CLOSE_TIMEOUT_S = 2.0
OPEN_TIMEOUT_S = 10.0

_START_SENSITIVITY = {
    "high": types.StartSensitivity.START_SENSITIVITY_HIGH,
    "low": types.StartSensitivity.START_SENSITIVITY_LOW,
}
_THINKING_LEVEL = {
    "low": types.ThinkingLevel.LOW,
    "medium": types.ThinkingLevel.MEDIUM,
    "high": types.ThinkingLevel.HIGH,
}
_END_SENSITIVITY = {
    "high": types.EndSensitivity.END_SENSITIVITY_HIGH,
    "low": types.EndSensitivity.END_SENSITIVITY_LOW,
}


def ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying TLS context: the system's trust store, or only `ca_file` when given."""
    if ca_file is None:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=str(ca_file))


def is_loopback(base_url: str | None) -> bool:
    """True when `base_url` names this machine (the emulator, a local proxy)."""
    host = urlsplit(base_url).hostname if base_url else None
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def websocket_args(settings: Settings) -> dict[str, Any]:
    """The `async_client_args` the SDK passes on to `websockets.connect`."""
    args: dict[str, Any] = {
        # Passing our own context means SSL_CERT_FILE (which replaces certifi inside the
        # SDK) cannot silently change whom we trust.
        "ssl": ssl_context(settings.ca_file),
        "ping_interval": PING_INTERVAL_S,
        "ping_timeout": PING_TIMEOUT_S,
        "close_timeout": CLOSE_TIMEOUT_S,
        "open_timeout": OPEN_TIMEOUT_S,
        # No permessage-deflate (websockets offers it by default): compressing each 20-100 ms
        # of base64 audio cost ~59 us a message against the emulator, which accepts it, and
        # whether the service does is not known (docs/live-protocol.md §1.3.1).
        "compression": None,
    }
    if is_loopback(settings.base_url):
        # websockets honours HTTPS_PROXY; no proxy can reach this machine's own loopback.
        args["proxy"] = None
    return args


def build_client(settings: Settings) -> genai.Client:
    """The SDK client for the configured backend (raises ConfigError without credentials)."""
    options = types.HttpOptions(
        base_url=settings.base_url,
        async_client_args=websocket_args(settings),
    )
    if settings.backend == "vertex":
        problems = credential_problems(settings)
        if problems:
            raise ConfigError(problems)
        # Vertex authenticates with application default credentials and keeps its own
        # API version (v1beta1); the Developer API's version pin does not apply.
        return genai.Client(
            vertexai=True,
            project=settings.vertex_project,
            location=settings.vertex_location,
            http_options=options,
        )
    # Pinned: SDK 3.x defaults to v1, which does not serve Live (docs/live-models.md §3).
    options.api_version = settings.api_version
    return genai.Client(api_key=settings.require_api_key(), http_options=options)


def build_connect_config(
    settings: Settings,
    *,
    handle: str | None,
    functions: Sequence[types.FunctionDeclaration] = (),
) -> types.LiveConnectConfig:
    """One LiveConnectConfig from the settings, resuming `handle` when given."""
    speech: types.SpeechConfig | None = None
    if settings.voice or settings.language:
        speech = types.SpeechConfig(
            voice_config=(
                types.VoiceConfig(
                    prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=settings.voice)
                )
                if settings.voice
                else None
            ),
            language_code=settings.language,
        )

    tools: list[types.ToolUnion] = []
    if settings.google_search:
        tools.append(types.Tool(google_search=types.GoogleSearch()))
    if functions:
        tools.append(types.Tool(function_declarations=list(functions)))

    instruction = settings.effective_system_instruction
    row = settings.model_row
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        speech_config=speech,
        system_instruction=(
            types.Content(role="user", parts=[types.Part(text=instruction)])
            if instruction
            else None
        ),
        input_audio_transcription=(
            types.AudioTranscriptionConfig() if settings.transcribe_input else None
        ),
        output_audio_transcription=(
            types.AudioTranscriptionConfig() if settings.transcribe_output else None
        ),
        tools=tools or None,
        realtime_input_config=_realtime_input(settings),
        # Resumption is asked for even without a handle: that is what makes the server
        # send the handles a later connection resumes with. Without a handle the SDK sends
        # `sessionResumption: {}`, never `handle: null`, which 3.x models refuse.
        session_resumption=(
            types.SessionResumptionConfig(handle=handle) if settings.resume else None
        ),
        context_window_compression=(
            types.ContextWindowCompressionConfig(
                trigger_tokens=settings.compression_trigger_tokens,
                sliding_window=types.SlidingWindow(
                    target_tokens=settings.compression_target_tokens
                ),
            )
            if settings.compression
            else None
        ),
        thinking_config=_thinking(settings),
        enable_affective_dialog=True
        if settings.affective_dialog and row.affective_dialog
        else None,
        proactivity=(
            types.ProactivityConfig(proactive_audio=True)
            if settings.proactive_audio and row.proactive_audio is ProactiveAudio.OFFERED
            else None
        ),
    )


def _thinking(settings: Settings) -> types.ThinkingConfig | None:
    # Never a thinkingBudget: a level only, and only where the row takes one.
    level = settings.effective_thinking_level
    if level is None:
        return None
    return types.ThinkingConfig(thinking_level=_THINKING_LEVEL[level])


def _realtime_input(settings: Settings) -> types.RealtimeInputConfig:
    if settings.turn_detection == "local":
        # talkbox decides when the person speaks and sends activityStart/activityEnd.
        return types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
        )
    return types.RealtimeInputConfig(
        automatic_activity_detection=types.AutomaticActivityDetection(
            disabled=False,
            start_of_speech_sensitivity=_START_SENSITIVITY[settings.vad_start_sensitivity],
            end_of_speech_sensitivity=_END_SENSITIVITY[settings.vad_end_sensitivity],
            prefix_padding_ms=settings.vad_prefix_padding_ms,
            silence_duration_ms=settings.vad_silence_ms,
        )
    )


class _NotTheKeyWeUse(logging.Filter):
    """Drops the SDK's note that it prefers GOOGLE_API_KEY: talkbox passes the key itself.

    The SDK reads both variables whatever key it is given, and warns when both are set;
    talkbox takes GEMINI_API_KEY first (config), so the note would name the wrong key.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Both GOOGLE_API_KEY and GEMINI_API_KEY")


class _NotAdviceForUs(logging.Filter):
    """Drops the SDK's 15-line note recommending JSON Schema to those who write schemas.

    Converting talkbox's own tool declarations triggers it on the first connect; it asks
    nothing of a person reading the journal, where it would sit among the lines that do.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "Json Schema is now supported natively" not in record.getMessage()


# Wherever the client is built (ask, demo, check --online, the daemon), the note would mislead.
logging.getLogger("google_genai._api_client").addFilter(_NotTheKeyWeUse())
logging.getLogger("google_genai.types").addFilter(_NotAdviceForUs())
