"""The public schema of the client messages, checked the way the service's proto parsing does.

Written from the public API reference of BidiGenerateContent (ai.google.dev/api/live:
``BidiGenerateContentSetup``, ``...RealtimeInput``, ``...ClientContent``,
``...ToolResponse``), not from any SDK: a field the reference does not name is an unknown
field, wherever it is. Both casings of every name are
accepted (proto3 JSON); ``null`` is the default value, as proto3 JSON says.

`problem` returns the service's 1007 wording for the first thing wrong:

* ``Invalid JSON payload received. Unknown name "x" at 'setup.generation_config': Cannot find
  field.`` (an unknown field; the name as sent, the path in proto field names);
* ``Invalid JSON payload received. Unknown name "tools" at 'setup': Proto field is not
  repeating, cannot start list.`` (a list where one value belongs);
* ``Invalid value at 'setup.generation_config.temperature' (TYPE_FLOAT), "hot"`` (a scalar of
  the wrong type) and ``Invalid value at '...' (type.googleapis.com/google.ai.
  generativelanguage.v1beta.RealtimeInputConfig.ActivityHandling), "SOMETIMES"`` (an enum
  value the reference does not list, or an object where a scalar belongs).

Fields that differ by API version: ``setup.proactivity`` exists only on v1alpha (on v1beta it
is an unknown name, as the service answers). Only the unknown-name wording is quoted from
the service (for ``proactivity``, ``inputAudioTranscription`` in ``generation_config`` and
``scheduling`` in ``tool_response.function_responses[0]``); the wrong-type and enum wordings
follow the same parser's REST errors. Vertex-only fields (``sessionResumption.transparent``,
``explicitVadSignal``) are unknown here, as this emulator serves the Developer API only.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from talkbox.emulator.protocol import camel

_PACKAGE = "type.googleapis.com/google.ai.generativelanguage.{version}."


@dataclass(frozen=True)
class Scalar:
    """A proto scalar: string, bool, int32, int64, float, double or bytes."""

    kind: str


@dataclass(frozen=True)
class Enum:
    """A proto enum: its full name below the package, and the value names it has."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Message:
    """A proto message: its name below the package and its fields (camelCase names)."""

    name: str
    fields: dict[str, Spec] = field(default_factory=dict)
    #: Fields that exist only on these API versions: field -> versions.
    only_on: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Repeated:
    """A repeated field of `item`."""

    item: Spec


@dataclass(frozen=True)
class Free:
    """A google.protobuf.Struct or Value (function arguments, schemas): anything JSON."""

    object_only: bool = False


Spec = Scalar | Enum | Message | Repeated | Free

STRING = Scalar("string")
BOOL = Scalar("bool")
INT32 = Scalar("int32")
INT64 = Scalar("int64")
FLOAT = Scalar("float")
BYTES = Scalar("bytes")
STRUCT = Free(object_only=True)
VALUE = Free()


def _enum(name: str, *values: str) -> Enum:
    return Enum(name, values)


MODALITY = _enum(
    "GenerationConfig.Modality", "MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO", "VIDEO"
)
MEDIA_RESOLUTION = _enum(
    "GenerationConfig.MediaResolution",
    "MEDIA_RESOLUTION_UNSPECIFIED",
    "MEDIA_RESOLUTION_LOW",
    "MEDIA_RESOLUTION_MEDIUM",
    "MEDIA_RESOLUTION_HIGH",
)
THINKING_LEVEL = _enum(
    "ThinkingConfig.ThinkingLevel",
    "THINKING_LEVEL_UNSPECIFIED",
    "MINIMAL",
    "LOW",
    "MEDIUM",
    "HIGH",
    "XHIGH",
)
BEHAVIOR = _enum("FunctionDeclaration.Behavior", "UNSPECIFIED", "BLOCKING", "NON_BLOCKING")
SCHEDULING = _enum(
    "FunctionResponse.Scheduling", "SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"
)
START_SENSITIVITY = _enum(
    "AutomaticActivityDetection.StartSensitivity",
    "START_SENSITIVITY_UNSPECIFIED",
    "START_SENSITIVITY_HIGH",
    "START_SENSITIVITY_LOW",
)
END_SENSITIVITY = _enum(
    "AutomaticActivityDetection.EndSensitivity",
    "END_SENSITIVITY_UNSPECIFIED",
    "END_SENSITIVITY_HIGH",
    "END_SENSITIVITY_LOW",
)
ACTIVITY_HANDLING = _enum(
    "RealtimeInputConfig.ActivityHandling",
    "ACTIVITY_HANDLING_UNSPECIFIED",
    "START_OF_ACTIVITY_INTERRUPTS",
    "NO_INTERRUPTION",
)
TURN_COVERAGE = _enum(
    "RealtimeInputConfig.TurnCoverage",
    "TURN_COVERAGE_UNSPECIFIED",
    "TURN_INCLUDES_ONLY_ACTIVITY",
    "TURN_INCLUDES_ALL_INPUT",
    "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO",
)
TRANSCRIPTION_MODE = _enum("AudioTranscriptionConfig.Mode", "MODE_UNSPECIFIED", "VERBATIM", "SMART")

BLOB = Message("Blob", {"mimeType": STRING, "data": BYTES})
FILE_DATA = Message("FileData", {"mimeType": STRING, "fileUri": STRING})
FUNCTION_CALL = Message("FunctionCall", {"id": STRING, "name": STRING, "args": STRUCT})
FUNCTION_RESPONSE = Message(
    "FunctionResponse",
    {
        "id": STRING,
        "name": STRING,
        "response": STRUCT,
        "willContinue": BOOL,
        "scheduling": SCHEDULING,
    },
)
VIDEO_METADATA = Message(
    "VideoMetadata", {"startOffset": STRING, "endOffset": STRING, "fps": FLOAT}
)
PART = Message(
    "Part",
    {
        "text": STRING,
        "inlineData": BLOB,
        "fileData": FILE_DATA,
        "functionCall": FUNCTION_CALL,
        "functionResponse": FUNCTION_RESPONSE,
        "thought": BOOL,
        "thoughtSignature": BYTES,
        "videoMetadata": VIDEO_METADATA,
    },
)
CONTENT = Message("Content", {"role": STRING, "parts": Repeated(PART)})

PREBUILT_VOICE = Message("PrebuiltVoiceConfig", {"voiceName": STRING})
VOICE = Message("VoiceConfig", {"prebuiltVoiceConfig": PREBUILT_VOICE})
SPEAKER_VOICE = Message("SpeakerVoiceConfig", {"speaker": STRING, "voiceConfig": VOICE})
SPEECH = Message(
    "SpeechConfig",
    {
        "voiceConfig": VOICE,
        "languageCode": STRING,
        "multiSpeakerVoiceConfig": Message(
            "MultiSpeakerVoiceConfig", {"speakerVoiceConfigs": Repeated(SPEAKER_VOICE)}
        ),
    },
)
THINKING = Message(
    "ThinkingConfig",
    {"includeThoughts": BOOL, "thinkingBudget": INT32, "thinkingLevel": THINKING_LEVEL},
)
GENERATION = Message(
    "GenerationConfig",
    {
        "candidateCount": INT32,
        "maxOutputTokens": INT32,
        "temperature": FLOAT,
        "topP": FLOAT,
        "topK": INT32,
        "seed": INT32,
        "presencePenalty": FLOAT,
        "frequencyPenalty": FLOAT,
        "responseModalities": Repeated(MODALITY),
        "speechConfig": SPEECH,
        "mediaResolution": MEDIA_RESOLUTION,
        "thinkingConfig": THINKING,
        "enableAffectiveDialog": BOOL,
    },
)
FUNCTION_DECLARATION = Message(
    "FunctionDeclaration",
    {
        "name": STRING,
        "description": STRING,
        "behavior": BEHAVIOR,
        "parameters": STRUCT,
        "parametersJsonSchema": VALUE,
        "response": STRUCT,
        "responseJsonSchema": VALUE,
    },
)
TOOL = Message(
    "Tool",
    {
        "functionDeclarations": Repeated(FUNCTION_DECLARATION),
        # The search tools' own options are many and change often; their insides are free.
        "googleSearch": STRUCT,
        "googleSearchRetrieval": STRUCT,
        "codeExecution": STRUCT,
        "urlContext": STRUCT,
        "googleMaps": STRUCT,
    },
)
AUTOMATIC_ACTIVITY = Message(
    "AutomaticActivityDetection",
    {
        "disabled": BOOL,
        "startOfSpeechSensitivity": START_SENSITIVITY,
        "endOfSpeechSensitivity": END_SENSITIVITY,
        "prefixPaddingMs": INT32,
        "silenceDurationMs": INT32,
    },
)
REALTIME_INPUT_CONFIG = Message(
    "RealtimeInputConfig",
    {
        "automaticActivityDetection": AUTOMATIC_ACTIVITY,
        "activityHandling": ACTIVITY_HANDLING,
        "turnCoverage": TURN_COVERAGE,
    },
)
TRANSCRIPTION = Message(
    "AudioTranscriptionConfig",
    {
        "languageCodes": Repeated(STRING),
        "customVocabulary": Repeated(STRING),
        "mode": TRANSCRIPTION_MODE,
    },
)
SETUP = Message(
    "BidiGenerateContentSetup",
    {
        "model": STRING,
        "generationConfig": GENERATION,
        "systemInstruction": CONTENT,
        "tools": Repeated(TOOL),
        "realtimeInputConfig": REALTIME_INPUT_CONFIG,
        "sessionResumption": Message("SessionResumptionConfig", {"handle": STRING}),
        "contextWindowCompression": Message(
            "ContextWindowCompressionConfig",
            {
                "triggerTokens": INT64,
                "slidingWindow": Message("SlidingWindow", {"targetTokens": INT64}),
            },
        ),
        "inputAudioTranscription": TRANSCRIPTION,
        "outputAudioTranscription": TRANSCRIPTION,
        "historyConfig": Message("HistoryConfig", {"initialHistoryInClientContent": BOOL}),
        "proactivity": Message("ProactivityConfig", {"proactiveAudio": BOOL}),
    },
    only_on={"proactivity": frozenset({"v1alpha"})},
)
REALTIME_INPUT = Message(
    "BidiGenerateContentRealtimeInput",
    {
        "audio": BLOB,
        "mediaChunks": Repeated(BLOB),
        "video": BLOB,
        "activityStart": Message("ActivityStart"),
        "activityEnd": Message("ActivityEnd"),
        "audioStreamEnd": BOOL,
        "text": STRING,
    },
)
CLIENT_CONTENT = Message(
    "BidiGenerateContentClientContent", {"turns": Repeated(CONTENT), "turnComplete": BOOL}
)
TOOL_RESPONSE = Message(
    "BidiGenerateContentToolResponse", {"functionResponses": Repeated(FUNCTION_RESPONSE)}
)
#: The messages checked, by their camelCase name. contextUpdate (SDK 3.x) is not in the
#: reference of the Developer API and is left unchecked (it is logged and ignored).
MESSAGES: dict[str, Message] = {
    "setup": SETUP,
    "realtimeInput": REALTIME_INPUT,
    "clientContent": CLIENT_CONTENT,
    "toolResponse": TOOL_RESPONSE,
}

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def proto_name(key: str) -> str:
    """The proto (snake_case) field name of a key given in either casing."""
    return _SNAKE.sub("_", camel(key)).lower()


def problem(name: str, body: Any, version: str) -> str | None:
    """The 1007 reason for the first schema error in message `name` as sent, if any.

    `body` is the message's value exactly as the client sent it (either casing).
    """
    schema = MESSAGES.get(name)
    if schema is None:
        return None
    return _check(body, schema, proto_name(name), version)


def _check(value: Any, spec: Spec, path: str, version: str) -> str | None:
    if value is None:
        return None
    if isinstance(spec, Repeated):
        if not isinstance(value, list):
            return _invalid(path, spec.item, value, version)
        for i, item in enumerate(value):
            if isinstance(item, list):
                return _invalid(f"{path}[{i}]", spec.item, item, version)
            found = _check(item, spec.item, f"{path}[{i}]", version)
            if found:
                return found
        return None
    if isinstance(value, list):
        head, _, last = path.rpartition(".")
        name = last.split("[")[0]
        return (
            f"Invalid JSON payload received. Unknown name \"{camel(name)}\" at '{head}': "
            "Proto field is not repeating, cannot start list."
        )
    if isinstance(spec, Free):
        if spec.object_only and not isinstance(value, dict):
            struct = "type.googleapis.com/google.protobuf.Struct"
            return f"Invalid value at '{path}' ({struct}), {_shown(value)}"
        return None
    if isinstance(spec, Message):
        return _check_message(value, spec, path, version)
    if isinstance(spec, Enum):
        return _check_enum(value, spec, path, version)
    return None if _scalar_ok(value, spec.kind) else _invalid(path, spec, value, version)


def _check_message(value: Any, spec: Message, path: str, version: str) -> str | None:
    if not isinstance(value, dict):
        return _invalid(path, spec, value, version)
    for key, item in value.items():
        name = camel(key)
        inner = spec.fields.get(name)
        versions = spec.only_on.get(name)
        if inner is None or (versions is not None and version not in versions):
            return (
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{path}': "
                "Cannot find field."
            )
        found = _check(item, inner, f"{path}.{proto_name(name)}", version)
        if found:
            return found
    return None


def _check_enum(value: Any, spec: Enum, path: str, version: str) -> str | None:
    if isinstance(value, str) and value in spec.values:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(spec.values):
        return None
    return _invalid(path, spec, value, version)


def _scalar_ok(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "bytes":
        return isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9+/_=\-\s]*", value) is not None
    if isinstance(value, bool):
        return False
    if kind in ("int32", "int64"):
        if isinstance(value, int):
            return True
        if isinstance(value, float):
            return value.is_integer()
        return isinstance(value, str) and re.fullmatch(r"-?\d{1,20}", value) is not None
    # float, double: a number, a numeric string, or the named non-finite values.
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        if value in ("NaN", "Infinity", "-Infinity"):
            return True
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return False


def _invalid(path: str, spec: Spec, value: Any, version: str) -> str:
    if isinstance(spec, Scalar):
        kind = f"TYPE_{spec.kind.upper()}"
    elif isinstance(spec, Enum | Message):
        kind = _PACKAGE.format(version=version) + spec.name
    else:
        kind = "type.googleapis.com/google.protobuf.Value"
    return f"Invalid value at '{path}' ({kind}), {_shown(value)}"


def _shown(value: Any) -> str:
    """A value as the parser quotes it: strings in quotes, the rest as JSON (cut short)."""
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 40 else text[:37] + "..."
