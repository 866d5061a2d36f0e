"""The Live area: how talkbox reaches Gemini and what the session asks of the model."""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Set
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import PrivateAttr, SecretStr, ValidationInfo, field_validator, model_validator

from talkbox.config.fields import (
    GIVEN,
    Area,
    LocalPath,
    LowerCase,
    Problem,
    check_local_path,
    setting,
    shown_path,
)
from talkbox.config.files import exists, problem_of, read_text
from talkbox.errors import ConfigError
from talkbox.live.models import (
    DEFAULT_MODEL,
    ModelRow,
    ProactiveAudio,
    Stage,
    Thinking,
    ThinkingLevel,
    model_row,
)

API_KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
CREDENTIAL_NAME = "gemini_api_key"
MISSING_KEY = (
    "GEMINI_API_KEY is not set: put it in /etc/talkbox/talkbox.env, point "
    "TALKBOX_API_KEY_FILE at a file holding it, or pass the systemd credential "
    f"{CREDENTIAL_NAME} (the unit loads /etc/credstore/{CREDENTIAL_NAME}, mode 0600)"
)
"""The one line that says where the Gemini API key goes (daemon start and `check`)."""

DEFAULT_SYSTEM_INSTRUCTION = (
    "You are talkbox, a voice assistant on a kitchen table. Everything you say is spoken "
    "aloud, so answer in one to three short sentences of plain speech: no lists, markdown, "
    "emoji or web addresses. If a question is unclear, ask one short question back. When "
    "the person says goodbye or is done, say a brief goodbye and call end_conversation."
)

# The service triggers compression at 80 % of the window when no trigger is given.
DEFAULT_TRIGGER_FRACTION = 0.8

_BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-[A-Za-z0-9]{5,8})*$")
_API_VERSION = re.compile(r"^v[0-9]+((alpha|beta)[0-9]*)?$")
_VOICE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_MODEL = re.compile(r"^(models/)?[a-z0-9][a-z0-9._-]{0,127}$")


def context_window_tokens(model: str, backend: Literal["gemini", "vertex"] = "gemini") -> int:
    """The context window of a Live model, in tokens (its row in `talkbox.live.models`)."""
    return model_row(model, backend=backend).context_window_tokens


def _row_of(info: ValidationInfo) -> ModelRow | None:
    """The model row of the settings validated so far (None: the model itself is wrong)."""
    model = info.data.get("model")
    backend = info.data.get("backend")
    if model is None or backend is None:
        return None
    return model_row(model, backend=backend)


MAX_KEY_LENGTH = 1024
"""The longest key accepted: far above a Gemini key (39) or an ephemeral token, far below the
8 KiB header limits servers apply (a 60,000-character key only ever earns HTTP 431)."""


def _read_secret(path: Path) -> str:
    """Read a key file: strip the trailing newline, refuse empty, unreadable or odd contents."""
    key = read_text(path).strip()
    if not key:
        raise Problem(f"{shown_path(path)} is empty", show_input=False)
    _check_key_shape(key, what=f"the key in {shown_path(path)}")
    return key


def _check_key_shape(key: str, *, what: str) -> None:
    """Refuse a key that cannot be sent as an HTTP header; never echo the key itself."""
    if len(key) > MAX_KEY_LENGTH:
        raise Problem(
            f"{what} is {len(key)} characters long, more than any key "
            f"(at most {MAX_KEY_LENGTH}; value not shown)",
            show_input=False,
        )
    # A header value is visible ASCII: a typographic quote pasted from a document or a
    # control character would make every connection fail, retried forever.
    for position, ch in enumerate(key, start=1):
        if not ("!" <= ch <= "~"):
            raise Problem(
                f"{what} holds {_kind_of(ch)} at character {position} of {len(key)}, which "
                "cannot be sent in an HTTP header (value not shown)",
                show_input=False,
            )


def _kind_of(ch: str) -> str:
    """What a person calls a character a key may not hold (the position says where)."""
    if ch.isspace():
        return "whitespace"
    if not ch.isprintable():
        return "a control character"
    return "a non-ASCII character such as a typographic quote"


CREDENTIAL_VARIABLE = f"$CREDENTIALS_DIRECTORY/{CREDENTIAL_NAME}"


CREDSTORE = Path("/etc/credstore")
"""Where the unit's `LoadCredential=gemini_api_key` reads the key from (docs/platform.md §5.2)."""


def credential_path() -> Path | None:
    """The key's credential file: systemd's $CREDENTIALS_DIRECTORY, else /etc/credstore's.

    Outside systemd (`sudo talkbox check`, `ask`) the file the unit would load is read
    directly, so what the service will use is what is checked; only root may read it.
    """
    directory = os.environ.get("CREDENTIALS_DIRECTORY", "")
    if not directory:
        stored = CREDSTORE / CREDENTIAL_NAME
        return stored if os.access(stored, os.R_OK) else None
    path = Path(directory) / CREDENTIAL_NAME
    try:
        # A credential directory without our credential is normal: the unit may pass others.
        return path if exists(path) else None
    except Problem as exc:
        raise Problem(str(exc), variable=CREDENTIAL_VARIABLE, show_input=False) from None


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


class LiveFields(Area):
    """Live: how talkbox reaches Gemini, what the session asks of the model, how long it lasts."""

    # A plain Path: its own validator words every problem without showing the value, which
    # may be the key itself pasted into the wrong variable.
    api_key_file: Path | None = setting(
        doc="Absolute path of a file holding the Gemini API key (one line); used when "
        "GEMINI_API_KEY is not set.",
        allowed="an absolute path to a readable, non-empty file",
    )
    api_key: SecretStr | None = setting(
        doc=(
            "Gemini API key (GOOGLE_API_KEY works too): plain ASCII, no spaces or typographic "
            "quotes. Better: TALKBOX_API_KEY_FILE or the systemd credential gemini_api_key "
            "(the unit loads /etc/credstore/gemini_api_key, mode 0600)."
        ),
        allowed="the key: visible ASCII characters, at most 1024",
        secret=True,
        env=API_KEY_VARIABLES,
        # Vertex authenticates with application default credentials.
        applies_when={"backend": "gemini"},
    )
    backend: Annotated[Literal["gemini", "vertex"], LowerCase] = setting(
        "gemini",
        doc="gemini: Gemini Developer API with an API key; vertex: Vertex AI with application "
        "default credentials (`talkbox check` looks them up).",
        allowed="gemini or vertex",
    )
    vertex_project: str | None = setting(
        doc="Google Cloud project (backend vertex only; required there).",
        allowed="a Google Cloud project id",
        applies_when={"backend": "vertex"},
    )
    vertex_location: str = setting(
        "us-central1",
        doc="Google Cloud region (backend vertex only).",
        allowed="a Google Cloud region such as us-central1",
        applies_when={"backend": "vertex"},
    )
    model: str = setting(
        DEFAULT_MODEL,
        doc="Live model name (gemini-3.8-live-extended-thinking reasons before it answers; "
        "`talkbox check` says what the model accepts).",
        allowed="a Live model name such as " + DEFAULT_MODEL,
    )
    api_version: str = setting(
        "v1beta",
        doc="Gemini API version, pinned to v1beta, the one that serves Live; v1alpha only for "
        "the 2.5 previews' affective dialog and proactive audio, never chosen for you "
        "(backend vertex keeps the SDK's own version).",
        allowed="v1beta, or v1alpha for the 2.5 previews",
        applies_when={"backend": "gemini"},
    )
    base_url: str | None = setting(
        doc="Service URL override: the emulator or a proxy. Empty: the real service.",
        allowed="an http:// or https:// URL",
    )
    ca_file: LocalPath | None = setting(
        doc="CA bundle (PEM, absolute path) to trust for TALKBOX_BASE_URL, e.g. the emulator's "
        "test CA.",
        allowed="an absolute path to a readable PEM file holding a certificate",
        applies_when={"base_url": GIVEN},
    )
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

    @field_validator("api_key_file")
    @classmethod
    def _check_key_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if "/" not in str(value):
            # Putting the key itself here is an easy mistake; never echo it into a log.
            raise Problem(
                "is not the path of a key file (value not shown: it may be the key itself)",
                show_input=False,
            )
        try:
            check_local_path(value, absolute=False)
        except Problem as exc:
            raise Problem(f"{shown_path(value)} {exc}", show_input=False) from None
        if not value.is_absolute():
            # An ephemeral token (auth_tokens/...) holds a slash: still not shown.
            raise Problem(
                "is not an absolute path, and the daemon runs from / under systemd (value not "
                "shown: it may be the key itself)",
                show_input=False,
            )
        _read_secret(value)
        return value

    @field_validator("api_key")
    @classmethod
    def _resolve_api_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        key = value.get_secret_value().strip() if value is not None else ""
        if key:
            _check_key_shape(key, what="the key")
            return SecretStr(key)
        key_file: Path | None = info.data.get("api_key_file")
        if key_file is not None:
            return SecretStr(_read_secret(key_file))
        credential = credential_path()
        if credential is not None:
            try:
                return SecretStr(_read_secret(credential))
            except Problem as exc:
                raise Problem(str(exc), variable=CREDENTIAL_VARIABLE, show_input=False) from None
        return None

    @field_validator("vertex_project")
    @classmethod
    def _check_vertex_project(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = value.strip() if value else None
        if info.data.get("backend") == "vertex" and not value:
            raise Problem(
                "is not set; it is required when TALKBOX_BACKEND=vertex", show_input=False
            )
        return value

    @field_validator("vertex_location")
    @classmethod
    def _check_vertex_location(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", value.strip()):
            raise Problem("is not a region name")
        return value.strip()

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not _MODEL.fullmatch(value):
            raise Problem("is not a model name (lower-case letters, digits, '.', '-', '_')")
        backend = info.data.get("backend")
        if backend is None:
            return value
        row = model_row(value, backend=backend)
        if row.stage is Stage.RETIRED:
            # The service closes its setup 1008 "not found" (docs/live-models.md §1.3).
            raise Problem(f"is retired and no longer served; use {row.replacement}")
        if row.regional and info.data.get("vertex_location") == "global":
            raise Problem(
                f"{row.name} is not served on the global location "
                "(docs/live-models.md §1.2); use a region such as us-central1",
                variable="TALKBOX_VERTEX_LOCATION",
                show_input=False,
            )
        return value

    @field_validator("api_version")
    @classmethod
    def _check_api_version(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if not _API_VERSION.fullmatch(value):
            raise Problem("is not an API version")
        row = _row_of(info)
        if row is not None and row.backend == "gemini" and value not in row.api_versions:
            # The service answers a wrong version with the same 1008 as a retired model.
            served = " or ".join(sorted(row.api_versions, reverse=True))
            raise Problem(f"does not serve {row.name} over Live; it is served on {served}")
        return value

    @field_validator("affective_dialog")
    @classmethod
    def _check_affective_dialog(cls, value: bool, info: ValidationInfo) -> bool:
        row = _row_of(info)
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
        row = _row_of(info)
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
        row = _row_of(info)
        if value is not None and row is not None and row.thinking is Thinking.REFUSED:
            raise Problem(
                f"is not offered by this model ({row.name}: it takes no thinking level); "
                "leave it empty"
            )
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Problem("is not an http:// or https:// URL with a host")
        try:
            _ = parts.port  # raises on a port that is not a number or out of range
        except ValueError:
            raise Problem("has an invalid port") from None
        return value

    @field_validator("ca_file")
    @classmethod
    def _check_ca_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        # PEM bundles may carry non-ASCII comments; only the markers matter here.
        text = read_text(value, errors="replace")
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise Problem(f"{shown_path(value)} holds no PEM certificate", show_input=False)
        try:
            # The link trusts exactly this file; a damaged one would otherwise surface only
            # as a TLS failure at the first connect.
            ssl.create_default_context(cafile=str(value))
        except ssl.SSLError as exc:
            raise Problem(
                f"{shown_path(value)} holds no usable certificate "
                f"({exc.reason or 'damaged PEM data'})",
                show_input=False,
            ) from None
        except OSError as exc:  # the file changed or vanished between the two reads
            raise problem_of(value, exc) from None
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
        row = _row_of(info)
        if value is not None and row is not None and value > row.context_window_tokens:
            raise Problem(
                f"is larger than the context window of {row.name} "
                f"({row.context_window_tokens} tokens)"
            )
        return value

    @field_validator("compression_target_tokens")
    @classmethod
    def _check_target(cls, value: int | None, info: ValidationInfo) -> int | None:
        row = _row_of(info)
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
        """What the configured model accepts and how it behaves (`talkbox.live.models`)."""
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
