"""The Live area: how talkbox reaches Gemini and what the session asks of the model."""

from __future__ import annotations

import re
from collections.abc import Set
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import PrivateAttr, ValidationInfo, field_validator, model_validator

from talkbox.config.connection import ConnectionFields, row_of
from talkbox.config.credentials import (
    CREDENTIAL_NAME,
    MISSING_KEY,
)
from talkbox.config.fields import (
    LocalPath,
    LowerCase,
    Problem,
    setting,
    shown_path,
)
from talkbox.config.files import read_text
from talkbox.config.models import (
    ModelRow,
    ProactiveAudio,
    Stage,
    Thinking,
    ThinkingLevel,
    model_row,
)
from talkbox.errors import ConfigError

DEFAULT_SYSTEM_INSTRUCTION = (
    "You are talkbox, a voice assistant on a kitchen table. Everything you say is spoken "
    "aloud, so answer in one to three short sentences of plain speech: no lists, markdown, "
    "emoji or web addresses. If a question is unclear, ask one short question back. When "
    "the person says goodbye or is done, say a brief goodbye and call end_conversation."
)

# The service triggers compression at 80 % of the window when no trigger is given.
DEFAULT_TRIGGER_FRACTION = 0.8

_BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-[A-Za-z0-9]{5,8})*$")
_VOICE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


def context_window_tokens(model: str, backend: Literal["gemini", "vertex"] = "gemini") -> int:
    """The context window of a Live model, in tokens (its row in `talkbox.config.models`)."""
    return model_row(model, backend=backend).context_window_tokens


def _check_v1alpha(row: ModelRow, info: ValidationInfo) -> None:
    """The 2.5 previews take their opt-in options on v1alpha only, which is never implied."""
    if row.v1alpha_options and info.data.get("api_version") != "v1alpha":
        raise Problem(
            f"true needs TALKBOX_API_VERSION=v1alpha with {row.name} (it is never switched "
            "for you)",
            show_input=False,
        )


def _read_instruction(path: Path) -> str:
    text = read_text(path).strip()
    if not text:
        raise Problem(f"{shown_path(path)} is empty", show_input=False)
    return text


class LiveFields(ConnectionFields):
    """Live: how talkbox reaches Gemini, what the session asks of the model, how long it lasts."""

    voice: str | None = setting(
        doc="Prebuilt voice name (e.g. Kore, Puck, Aoede). Empty: the model's default voice.",
        allowed="a voice name such as Kore",
    )
    language: str | None = setting(
        doc="Spoken language as a BCP-47 tag (e.g. en-US, de-DE). Empty: the model decides.",
        allowed="a BCP-47 tag such as en-US",
    )
    system_instruction: str = setting(
        DEFAULT_SYSTEM_INSTRUCTION,
        doc="What the model is told about its job.",
        allowed="non-empty text",
    )
    system_instruction_file: LocalPath | None = setting(
        doc="Absolute path of a file whose text replaces TALKBOX_SYSTEM_INSTRUCTION (for long "
        "instructions).",
        allowed="an absolute path to a readable, non-empty UTF-8 text file",
    )
    transcribe_input: bool = setting(
        True, doc="Ask the service for transcripts of what the person said.", allowed="true/false"
    )
    transcribe_output: bool = setting(
        True, doc="Ask the service for transcripts of the spoken answers.", allowed="true/false"
    )
    affective_dialog: bool = setting(
        False,
        doc="Let the model adapt its tone to the speaker's (only the 2.5 native-audio models "
        "offer it, on API version v1alpha).",
        allowed="true/false (true only where the model offers it)",
    )
    proactive_audio: bool = setting(
        False,
        doc="Let the model stay silent when speech was not meant for it (only the 2.5 "
        "native-audio models offer it, on API version v1alpha; 3.x models always do).",
        allowed="true/false (true only where the model offers it)",
    )
    thinking_level: Annotated[Literal["low", "medium", "high"], LowerCase] | None = setting(
        doc="How hard the model thinks before answering, for models that take a level "
        "(gemini-3.8-live-extended-thinking needs one: empty means low there, the quickest "
        "answer). Empty: none is sent.",
        allowed="low, medium or high, for a model that takes a thinking level",
    )
    google_search: bool = setting(
        False, doc="Let the model ground answers with Google Search.", allowed="true/false"
    )
    compression: bool = setting(
        True,
        doc="Context-window compression (sliding window): conversations may run on forever.",
        allowed="true/false",
    )
    compression_trigger_tokens: int | None = setting(
        doc="Compress when the context reaches this many tokens. Empty: 80 % of the window.",
        allowed="tokens, 1 up to the model's context window (131072 for the Live models)",
        ge=1,
    )
    compression_target_tokens: int | None = setting(
        doc="Tokens kept after compressing. Empty: half the trigger.",
        allowed="tokens, fewer than TALKBOX_COMPRESSION_TRIGGER_TOKENS",
        ge=1,
    )
    resume: bool = setting(
        True,
        doc="Resume the conversation after reconnects and restarts (session resumption).",
        allowed="true/false",
    )
    conversation_timeout_s: float = setting(
        1800.0,
        doc="After this long without a turn, the next press starts a fresh conversation.",
        allowed="seconds, more than 0",
        gt=0,
    )
    idle_disconnect_s: float = setting(
        120.0,
        doc="Close an idle connection after this long (the conversation is kept); 0 = never.",
        allowed="seconds, 0 or more (0 = never)",
        ge=0,
    )

    _system_instruction_text: str | None = PrivateAttr(default=None)

    # --- validators (field order matters: info.data holds the fields above) ---

    @field_validator("affective_dialog")
    @classmethod
    def _check_affective_dialog(cls, value: bool, info: ValidationInfo) -> bool:
        row = row_of(info)
        if value and row is not None:
            if not row.affective_dialog:
                raise Problem(
                    f"true is not offered by this model ({row.name}); set it to false",
                    show_input=False,
                )
            _check_v1alpha(row, info)
        return value

    @field_validator("proactive_audio")
    @classmethod
    def _check_proactive_audio(cls, value: bool, info: ValidationInfo) -> bool:
        row = row_of(info)
        if value and row is not None:
            if row.proactive_audio is ProactiveAudio.ALWAYS_ON:
                raise Problem(
                    f"true: proactive audio is always on for this model ({row.name}); "
                    "remove the setting",
                    show_input=False,
                )
            if row.proactive_audio is None:
                raise Problem(
                    f"true is not offered by this model ({row.name}); set it to false",
                    show_input=False,
                )
            _check_v1alpha(row, info)
        return value

    @field_validator("thinking_level")
    @classmethod
    def _check_thinking_level(
        cls, value: ThinkingLevel | None, info: ValidationInfo
    ) -> ThinkingLevel | None:
        row = row_of(info)
        if value is not None and row is not None and row.thinking is Thinking.REFUSED:
            raise Problem(
                f"is not offered by this model ({row.name}: it takes no thinking level); "
                "leave it empty"
            )
        return value

    @field_validator("voice")
    @classmethod
    def _check_voice(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not _VOICE.fullmatch(value):
            raise Problem("is not a voice name (letters, digits, '-', '_')")
        return value

    @field_validator("language")
    @classmethod
    def _check_language(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not _BCP47.fullmatch(value):
            raise Problem("is not a BCP-47 language tag")
        return value

    @field_validator("system_instruction")
    @classmethod
    def _check_instruction(cls, value: str) -> str:
        if not value.strip():
            raise Problem("is empty")
        return value.strip()

    @field_validator("system_instruction_file")
    @classmethod
    def _check_instruction_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            _read_instruction(value)
        return value

    @field_validator("compression_trigger_tokens")
    @classmethod
    def _check_trigger(cls, value: int | None, info: ValidationInfo) -> int | None:
        row = row_of(info)
        if value is not None and row is not None and value > row.context_window_tokens:
            raise Problem(
                f"is larger than the context window of {row.name} "
                f"({row.context_window_tokens} tokens)"
            )
        return value

    @field_validator("compression_target_tokens")
    @classmethod
    def _check_target(cls, value: int | None, info: ValidationInfo) -> int | None:
        row = row_of(info)
        if value is None or row is None:
            return value
        if "compression_trigger_tokens" not in info.data:
            return value  # the trigger is wrong itself and reported; comparing would mislead
        trigger = info.data["compression_trigger_tokens"]
        if trigger is None:
            trigger = int(row.context_window_tokens * DEFAULT_TRIGGER_FRACTION)
        if value >= trigger:
            raise Problem(f"is not below the compression trigger ({trigger} tokens)")
        return value

    @model_validator(mode="after")
    def _read_instruction_file(self) -> Self:
        if self.system_instruction_file is not None:
            self._system_instruction_text = _read_instruction(self.system_instruction_file)
        return self

    # --- derived values ---

    @property
    def model_row(self) -> ModelRow:
        """What the configured model accepts and how it behaves (`talkbox.config.models`)."""
        return model_row(self.model, backend=self.backend)

    @property
    def effective_api_version(self) -> str:
        """The API version to connect with: TALKBOX_API_VERSION, never switched implicitly."""
        return self.api_version if self.backend == "gemini" else "the SDK's own (Vertex)"

    @property
    def effective_thinking_level(self) -> ThinkingLevel | None:
        """The thinking level sent: the setting, or the model's default where one is required."""
        return self.model_row.thinking_level(self.thinking_level)

    @property
    def effective_system_instruction(self) -> str:
        """The system instruction: the file's text when TALKBOX_SYSTEM_INSTRUCTION_FILE is set."""
        if self._system_instruction_text is not None:
            return self._system_instruction_text
        return self.system_instruction

    def require_api_key(self) -> str:
        """The API key; raises ConfigError when it is needed and missing."""
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.backend == "vertex":
            raise ConfigError(
                [
                    "TALKBOX_BACKEND=vertex uses application default credentials, not an API "
                    "key: run `gcloud auth application-default login` or set "
                    "GOOGLE_APPLICATION_CREDENTIALS"
                ]
            )
        raise ConfigError([MISSING_KEY])

    # --- what the metadata cannot say ---

    def derived_sources(self, given: Set[str]) -> dict[str, str]:
        """The instruction file replaces the instruction; a key file or credential stands in."""
        found: dict[str, str] = {}
        if self.system_instruction_file is not None:
            found["system_instruction"] = "file (TALKBOX_SYSTEM_INSTRUCTION_FILE)"
        if "api_key" not in given and self.api_key is not None:
            # The same order _resolve_api_key takes: the variables, the key file, the credential.
            if self.api_key_file is not None:
                found["api_key"] = "file (TALKBOX_API_KEY_FILE)"
            else:
                found["api_key"] = f"credential ({CREDENTIAL_NAME})"
        return found

    def shown_values(self) -> dict[str, object]:
        """`check` shows the instruction in effect, which may be the file's."""
        return {"system_instruction": self.effective_system_instruction}

    def notes(self) -> list[str]:
        """A model the table does not know, or one that is on its way out."""
        row = self.model_row
        if not row.known:
            return [
                f"TALKBOX_MODEL={row.name} is not in talkbox's model table; it is set up "
                f"like {row.family} (check --online says whether the service takes it)"
            ]
        if row.stage in (Stage.DEPRECATED, Stage.LEGACY):
            return [
                f"TALKBOX_MODEL={row.name} is a {row.stage} model and may stop being "
                f"served; {row.replacement} is the current one"
            ]
        return []

    def unmet_needs(self) -> list[str]:
        """Loading succeeds without a key (the emulator needs none), but Gemini does not."""
        if self.backend == "gemini" and self.api_key is None:
            return [MISSING_KEY]
        return []
