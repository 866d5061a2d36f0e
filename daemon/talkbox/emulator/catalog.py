"""The emulator's own table of Live models: what each accepts at setup and how it answers.

The emulator picks the row by the setup's model; `EmulatorOptions.models` says which names
it serves (every row that is not retired, by default). A served name the table does not know
is built like its nearest family (``gemini-3.8-live-extended...``, ``gemini-3.8...``,
``gemini-3...``, else the 2.5 native-audio rules). A retired row is closed 1008 "not found",
as the service does since the model was shut down, unless it is named in ``models``: then it
is served with the rules it had (the 2.5 ones).

The refusals are the service's own words where a field report quotes them (1007 during
setup, or when the refused message arrives): the thinking, BLOCKING and scheduling strings
from pydantic-ai#8393, the unknown ``proactivity`` from pydantic-ai#8394, affective dialog
from js-genai#1953, v1alpha from mastra#23720, the retired-model 1008 from adk-python#3964,
the TEXT modality from the SDK's own live tests. ``decided`` marks the rules no source
settles; each can be changed here in one place.

Rows (versions served with an API key; thinking; tools by default; audio; turn end):

* gemini-3.8-live: v1beta; thinking refused; NON_BLOCKING; fast (x4); IDLE.
* gemini-3.8-live-extended-thinking: v1beta; LOW/MEDIUM/HIGH required; NON_BLOCKING only,
  no ``scheduling``; 1x; a filler ended IN_PROGRESS, then the answer ended IDLE.
* gemini-3.1-flash-live-preview: v1beta; optional; BLOCKING; 1x; IDLE.
* gemini-2.5-flash-native-audio-latest and -preview-12-2025: v1beta and v1alpha (affective
  dialog, proactivity); optional; BLOCKING; 1x; turnComplete without a status.
* retired, closed 1008: gemini-2.5-flash-native-audio-preview-09-2025,
  gemini-live-2.5-flash-preview, gemini-2.0-flash-live-001.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from talkbox.emulator.protocol import INVALID_ARGUMENT

Family = Literal["3.8", "3.8-thinking", "3.1", "2.5"]
Thinking = Literal["refused", "optional", "required"]

THINKING_REFUSED = "Thinking level is not supported for this model"
THINKING_REQUIRED = "Thinking level must be specified for this model"
BLOCKING_REFUSED = "BLOCKING function calls are not supported for this model"
SCHEDULING_REFUSED = "Function response scheduling is not supported for this model"
#: The levels extended thinking accepts; any other is refused with this, naming the level.
THINKING_LEVEL_REFUSED = "Thinking level {level} is not supported for this model"


def not_found(model: str, version: str) -> str:
    """The 1008 reason of a retired or unknown model, or a model on the wrong API version."""
    return (
        f"models/{model} is not found for API version {version}, "
        "or is not supported for bidiGenerateContent."
    )


def modalities_refused(modalities: list[str]) -> str:
    """The 1007 reason of a response modality the model cannot answer in."""
    joined = ", ".join(modalities)
    return (
        f"The requested combination of response modalities ({joined}) is not supported by the model"
    )


@dataclass(frozen=True)
class ModelRow:
    """What one Live model accepts and how it behaves."""

    name: str
    family: Family
    #: Shut down: closed 1008 "not found" during setup unless served by name.
    retired: bool = False
    #: What to use instead of a retired model (for the docs and the log).
    replacement: str = ""
    #: API versions that serve this model with an API key (others: 1008 "not found").
    api_versions: frozenset[str] = frozenset({"v1beta"})
    #: generationConfig.enableAffectiveDialog is accepted (else 1007 invalid argument).
    affective_dialog: bool = False
    #: thinkingConfig: refused, optional, or required with a level of `thinking_levels`.
    thinking: Thinking = "optional"
    thinking_levels: frozenset[str] = frozenset({"LOW", "MEDIUM", "HIGH"})
    #: Response modalities the model answers in.
    modalities: frozenset[str] = frozenset({"AUDIO"})
    #: The behavior of a function declared without one.
    default_behavior: Literal["BLOCKING", "NON_BLOCKING"] = "BLOCKING"
    #: BLOCKING declarations are accepted (else 1007 BLOCKING_REFUSED).
    blocking: bool = True
    #: functionResponses[].scheduling is accepted (else 1007 SCHEDULING_REFUSED).
    scheduling: bool = True
    #: sessionResumption.handle: null is refused 1007 (3.x; 2.5 accepted it).
    refuses_null_handle: bool = False
    #: Tools refused in setup (1007 invalid argument).
    refused_tools: frozenset[str] = frozenset()
    #: Answer audio is sent this many times faster than real time (1 = paced at playback);
    #: None takes `EmulatorOptions.fast_audio_factor`.
    audio_speed: float | None = 1.0
    #: turnComplete carries interactionStatus (IDLE when the interaction is over).
    interaction_status: bool = False
    #: Extended thinking: a spoken filler ends with turnComplete + IN_PROGRESS first.
    filler: bool = False
    #: Audio and its outputTranscription share one serverContent; transcripts come in
    #: several chunks, `finished` on the last; interimInputTranscription while the user speaks.
    combined_parts: bool = False
    #: voiceActivity ACTIVITY_START/END under automatic activity detection.
    voice_activity: bool = False
    #: An INTERRUPT-scheduled result waits until the user stops speaking ("polite").
    polite_interrupt: bool = False


_LIVE_3 = ModelRow(
    name="",
    family="3.8",
    thinking="refused",
    default_behavior="NON_BLOCKING",
    refuses_null_handle=True,
    refused_tools=frozenset({"codeExecution", "urlContext"}),
    audio_speed=None,
    interaction_status=True,
    combined_parts=True,
    voice_activity=True,
    polite_interrupt=True,
)
_NATIVE_AUDIO = ModelRow(
    name="",
    family="2.5",
    api_versions=frozenset({"v1beta", "v1alpha"}),
    affective_dialog=True,
    # decided: the SDK's own test says native audio refuses TEXT; the 2.5 rows keep the
    # emulator's older, looser rule so the recorded text sessions can still be replayed.
    modalities=frozenset({"AUDIO", "TEXT"}),
)
_FAMILIES: dict[Family, ModelRow] = {
    "3.8": _LIVE_3,
    "3.8-thinking": replace(
        _LIVE_3,
        family="3.8-thinking",
        thinking="required",
        blocking=False,
        scheduling=False,
        # Measured at 1.0x (a 2026-09 field probe): the filler and answer play as they come.
        audio_speed=1.0,
        filler=True,
    ),
    "3.1": replace(
        _LIVE_3,
        family="3.1",
        thinking="optional",
        thinking_levels=frozenset({"MINIMAL", "LOW", "MEDIUM", "HIGH"}),
        # decided: the documentation names NON_BLOCKING as the default from 3.8 on only.
        default_behavior="BLOCKING",
        audio_speed=1.0,
        # decided: voiceActivity was measured on 3.8 only.
        voice_activity=False,
        polite_interrupt=False,
    ),
    "2.5": _NATIVE_AUDIO,
}


def _row(name: str, family: Family, **changes: object) -> ModelRow:
    return replace(_FAMILIES[family], name=name, **changes)  # type: ignore[arg-type]


ROWS: tuple[ModelRow, ...] = (
    _row("gemini-3.8-live", "3.8"),
    _row("gemini-3.8-live-extended-thinking", "3.8-thinking"),
    _row("gemini-3.1-flash-live-preview", "3.1"),
    _row("gemini-2.5-flash-native-audio-latest", "2.5"),
    _row("gemini-2.5-flash-native-audio-preview-12-2025", "2.5"),
    _row(
        "gemini-2.5-flash-native-audio-preview-09-2025",
        "2.5",
        retired=True,
        replacement="gemini-3.8-live",
    ),
    _row("gemini-live-2.5-flash-preview", "2.5", retired=True, replacement="gemini-3.8-live"),
    _row("gemini-2.0-flash-live-001", "2.5", retired=True, replacement="gemini-3.8-live"),
)
TABLE: dict[str, ModelRow] = {row.name: row for row in ROWS}
#: What the emulator serves unless told otherwise: every row that is not retired.
DEFAULT_MODELS: tuple[str, ...] = tuple(row.name for row in ROWS if not row.retired)


def row_for(name: str) -> ModelRow:
    """The row of a model name (bare, no `models/`), or one built like its nearest family."""
    known = TABLE.get(name)
    if known is not None:
        return known
    if name.startswith("gemini-3.8-live-extended"):
        family: Family = "3.8-thinking"
    elif name.startswith("gemini-3.8"):
        family = "3.8"
    elif name.startswith("gemini-3"):
        family = "3.1"
    else:
        family = "2.5"
    return _row(name, family)


def setup_refusal(row: ModelRow, setup: dict[str, object]) -> tuple[int, str] | None:
    """The close code and reason for a normalised setup this model refuses, if it does."""
    generation = _dict(setup.get("generationConfig"))
    modalities = [str(m).upper() for m in _list(generation.get("responseModalities"))]
    if modalities and not set(modalities) <= row.modalities:
        return 1007, modalities_refused(modalities)
    if generation.get("enableAffectiveDialog") is not None and not row.affective_dialog:
        # decided: any value is refused ("removed from the API"); the report quotes `true`.
        return 1007, INVALID_ARGUMENT
    thinking = generation.get("thinkingConfig")
    refusal = _thinking_refusal(row, thinking)
    if refusal is not None:
        return 1007, refusal
    resumption = setup.get("sessionResumption")
    if (
        row.refuses_null_handle
        and isinstance(resumption, dict)
        and "handle" in resumption
        and resumption["handle"] is None
    ):
        # decided: the report says "rejected" without the code; 1007 like other bad setups.
        return 1007, INVALID_ARGUMENT
    for tool in _list(setup.get("tools")):
        tool = _dict(tool)
        if set(tool) & row.refused_tools:
            return 1007, INVALID_ARGUMENT
        for declaration in _list(tool.get("functionDeclarations")):
            behavior = str(_dict(declaration).get("behavior") or "").upper()
            if behavior == "BLOCKING" and not row.blocking:
                return 1007, BLOCKING_REFUSED
    return None


def _thinking_refusal(row: ModelRow, thinking: object) -> str | None:
    if row.thinking == "refused":
        return THINKING_REFUSED if thinking is not None else None
    if row.thinking == "optional":
        level = str(_dict(thinking).get("thinkingLevel") or "")
        if level and level not in row.thinking_levels:
            return THINKING_LEVEL_REFUSED.format(level=level)
        return None
    config = _dict(thinking)
    level = str(config.get("thinkingLevel") or "")
    if not level or level == "THINKING_LEVEL_UNSPECIFIED":
        # A thinkingBudget alone does not count (pydantic-ai#8393).
        return THINKING_REQUIRED
    if level not in row.thinking_levels:
        return THINKING_LEVEL_REFUSED.format(level=level)
    if config.get("thinkingBudget") is not None:
        # decided: a level and a budget together are refused (vercel/ai's report).
        return INVALID_ARGUMENT
    return None


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def describe() -> str:
    """The table as the command line's help prints it: one line per model."""
    lines = ["Models (the setup's model picks the row):", ""]
    for row in ROWS:
        if row.retired:
            lines.append(f"  {row.name}: retired, closed 1008 (use {row.replacement})")
            continue
        speed = "fast audio" if row.audio_speed is None else "real-time audio"
        traits = [
            f"family {row.family}",
            "+".join(sorted(row.api_versions)),
            speed,
            f"tools {row.default_behavior} by default",
            f"thinking {row.thinking}",
        ]
        if row.filler:
            traits.append("filler then answer")
        if row.affective_dialog:
            traits.append("affective dialog")
        lines.append(f"  {row.name}: " + ", ".join(traits))
    return "\n".join(lines)
