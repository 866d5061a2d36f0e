"""What a connection's setup message says, read once when it arrives."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from talkbox.emulator.protocol import JsonDict


@dataclass(frozen=True)
class SetupFacts:
    """What a connection's setup message says, read once when setup arrives."""

    #: Automatic activity detection is disabled (the client sends activityStart/End).
    manual_activity: bool = False
    #: A new activity interrupts the answer (anything but NO_INTERRUPTION).
    interrupts: bool = True
    #: Session resumption updates were asked for.
    resumption: bool = False
    #: TEXT answers only.
    text_modality: bool = False
    #: TURN_INCLUDES_ALL_INPUT: inactivity is part of the turn.
    all_input: bool = False
    input_transcription: bool = False
    output_transcription: bool = False
    #: Silence that ends a turn under automatic activity detection.
    silence_limit_s: float = 0.5
    #: The contextWindowCompression of setup, if any.
    compression: JsonDict | None = None
    #: The function declarations of setup, by name.
    declarations: dict[str, JsonDict] = dataclasses.field(default_factory=dict)
    #: The behavior of a function declared without one (the model's).
    default_behavior: str = "BLOCKING"

    @classmethod
    def read(
        cls, setup: JsonDict, default_silence_ms: int, default_behavior: str = "BLOCKING"
    ) -> SetupFacts:
        """The facts of `setup`; `default_silence_ms` unless it sets silenceDurationMs."""
        realtime = setup.get("realtimeInputConfig")
        realtime = realtime if isinstance(realtime, dict) else {}
        detection = realtime.get("automaticActivityDetection", {})
        detection = detection if isinstance(detection, dict) else {}
        silence_ms = detection.get("silenceDurationMs")
        modalities = (setup.get("generationConfig") or {}).get("responseModalities") or []
        upper = [str(m).upper() for m in modalities]
        compression = setup.get("contextWindowCompression")
        declarations: dict[str, JsonDict] = {}
        for tool in setup.get("tools") or []:
            if isinstance(tool, dict):
                for declaration in tool.get("functionDeclarations") or []:
                    if isinstance(declaration, dict) and declaration.get("name"):
                        declarations[str(declaration["name"])] = declaration
        return cls(
            manual_activity=bool(detection.get("disabled")),
            interrupts=str(realtime.get("activityHandling", "")).upper() != "NO_INTERRUPTION",
            resumption="sessionResumption" in setup,
            text_modality="TEXT" in upper and "AUDIO" not in upper,
            all_input=str(realtime.get("turnCoverage", "")).upper() == "TURN_INCLUDES_ALL_INPUT",
            input_transcription="inputAudioTranscription" in setup,
            output_transcription="outputAudioTranscription" in setup,
            silence_limit_s=float(silence_ms if silence_ms is not None else default_silence_ms)
            / 1000,
            compression=compression if isinstance(compression, dict) else None,
            declarations=declarations,
            default_behavior=default_behavior,
        )

    def non_blocking(self, name: str) -> bool:
        """Whether the function `name` is NON_BLOCKING (declared so, or by the model's default)."""
        declaration = self.declarations.get(name, {})
        behavior = str(declaration.get("behavior") or "").upper()
        if behavior in ("", "UNSPECIFIED"):
            behavior = self.default_behavior
        return behavior == "NON_BLOCKING"
