"""Settings: the only reader of the env file and the environment; validation and `talkbox check`."""

from __future__ import annotations

import difflib
import os
import re
import ssl
import sys
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from talkbox.__main__ import EXIT_CONFIG
from talkbox.envfile import EnvFile, read_env_file
from talkbox.errors import ConfigError

ENV_PREFIX = "TALKBOX_"
API_KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
CREDENTIAL_NAME = "gemini_api_key"
SYSTEM_STATE_DIR = Path("/var/lib/talkbox")
MISSING_KEY = (
    "GEMINI_API_KEY is not set: put it in /etc/talkbox/talkbox.env, point "
    "TALKBOX_API_KEY_FILE at a file holding it, or pass the systemd credential "
    f"{CREDENTIAL_NAME} (LoadCredential={CREDENTIAL_NAME}:/path/to/key)"
)
"""The one line that says where the Gemini API key goes (daemon start and `check`)."""

DEFAULT_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
DEFAULT_SYSTEM_INSTRUCTION = (
    "You are talkbox, a voice assistant on a kitchen table. Everything you say is spoken "
    "aloud, so answer in one to three short sentences of plain speech: no lists, markdown, "
    "emoji or web addresses. If a question is unclear, ask one short question back. When "
    "the person says goodbye or is done, say a brief goodbye and call end_conversation."
)

# Context windows from the Live guide: 128k tokens for native-audio models, 32k for the rest.
NATIVE_AUDIO_WINDOW_TOKENS = 131_072
OTHER_WINDOW_TOKENS = 32_768
# The service triggers compression at 80 % of the window when no trigger is given.
DEFAULT_TRIGGER_FRACTION = 0.8

_BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-[A-Za-z0-9]{5,8})*$")
_API_VERSION = re.compile(r"^v[0-9]+((alpha|beta)[0-9]*)?$")
_VOICE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_MODEL = re.compile(r"^(models/)?[a-z0-9][a-z0-9._-]{0,127}$")


def context_window_tokens(model: str) -> int:
    """The context window of a Live model, in tokens."""
    return NATIVE_AUDIO_WINDOW_TOKENS if "native-audio" in model else OTHER_WINDOW_TOKENS


def default_state_dir(
    environ: Mapping[str, str] | None = None, system_dir: Path = SYSTEM_STATE_DIR
) -> Path:
    """$STATE_DIRECTORY, else the system dir if writable, else the user's XDG state dir."""
    env = os.environ if environ is None else environ
    # systemd passes a colon-separated list when the unit names several state directories.
    given = env.get("STATE_DIRECTORY", "").split(":")[0]
    if given:
        return Path(given)
    if _is_writable_dir(system_dir):
        return system_dir
    xdg = env.get("XDG_STATE_HOME", "")
    # The XDG spec says relative paths are invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else _home(env) / ".local" / "state"
    return base / "talkbox"


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME", "")
    return Path(home) if home else Path.home()


def _is_writable_dir(path: Path) -> bool:
    """True when `path` is a directory we may write, or could be created where we may write."""
    if path.exists():
        return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
    parent = path.parent
    return parent.is_dir() and os.access(parent, os.W_OK | os.X_OK)


# The env file's values while load_settings builds a Settings: the file is read once, so a
# pipe (`--config <(...)`) works and the sources `check` shows are those Settings saw.
_FILE_VALUES: ContextVar[Mapping[str, str] | None] = ContextVar("_FILE_VALUES", default=None)


class _SystemdEnvFileSource(DotEnvSettingsSource):
    """pydantic-settings' env file source, reading the file with systemd's rules."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        *,
        values: Mapping[str, str] | None,
        env_file: Any,
    ) -> None:
        self._given = values
        super().__init__(settings_cls, env_file=env_file)

    def _normalise(self, values: Mapping[str, str]) -> dict[str, str | None]:
        return {
            (name if self.case_sensitive else name.lower()): value
            for name, value in values.items()
            if not (self.env_ignore_empty and value == "")
        }

    def _load_env_vars(self) -> Mapping[str, str | None]:
        if self._given is not None:
            return self._normalise(self._given)
        return super()._load_env_vars()

    def _read_env_file(self, file_path: Path) -> Mapping[str, str | None]:
        return self._normalise(read_env_file(file_path).values)


class _Problem(ValueError):
    """A validation problem worded for a person; it may name its own variable."""

    def __init__(
        self, message: str, *, variable: str | None = None, show_input: bool = True
    ) -> None:
        super().__init__(message)
        # A credential is not a setting, so it names itself instead of the field's variable.
        self.variable = variable
        # Messages about files name the file themselves; repeating the raw value adds nothing.
        self.show_input = show_input


def _read_text(path: Path, *, errors: str = "strict") -> str:
    """A small text file's contents, or a _Problem saying why it cannot be had."""
    try:
        return path.read_text(encoding="utf-8", errors=errors)
    except FileNotFoundError:
        raise _Problem(f"{path} does not exist", show_input=False) from None
    except IsADirectoryError:
        raise _Problem(f"{path} is a directory, not a file", show_input=False) from None
    except UnicodeDecodeError:
        raise _Problem(f"{path} is not UTF-8 text", show_input=False) from None
    except OSError as exc:
        raise _Problem(f"{path} cannot be read ({exc.strerror})", show_input=False) from None


def _read_secret(path: Path) -> str:
    """Read a key file: strip the trailing newline, refuse empty, unreadable or odd contents."""
    key = _read_text(path).strip()
    if not key:
        raise _Problem(f"{path} is empty", show_input=False)
    _check_key_shape(key, what=f"the key in {path}")
    return key


def _check_key_shape(key: str, *, what: str) -> None:
    """Refuse keys that would break an HTTP header; never echo the key itself."""
    if any(ch.isspace() or not ch.isprintable() for ch in key):
        raise _Problem(
            f"{what} contains whitespace or control characters (value not shown)",
            show_input=False,
        )


def _setting(default: Any = None, *, doc: str, allowed: str, **kwargs: Any) -> Any:
    """A settings field: `doc` is the template comment, `allowed` ends each error message."""
    extra: dict[str, Any] = {"allowed": allowed}
    if "default_factory" in kwargs:
        return Field(description=doc, json_schema_extra=extra, **kwargs)
    return Field(default, description=doc, json_schema_extra=extra, **kwargs)


class Settings(BaseSettings):
    """Every talkbox setting, validated; built from the environment and the env file."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file_encoding="utf-8",
        # Empty means "unset", as in the template's `# TALKBOX_VOICE=` lines.
        env_ignore_empty=True,
        # Unknown names become warnings (with a suggestion) in load_config: `check` prints
        # them and the commands log them once logging is set up.
        extra="ignore",
        validate_default=True,
        validate_by_name=True,
        validate_by_alias=True,
        allow_inf_nan=False,
        frozen=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Overrides, then the environment, then the env file: systemd's precedence."""
        env_file = getattr(dotenv_settings, "env_file", None)
        file_source = _SystemdEnvFileSource(
            settings_cls, values=_FILE_VALUES.get(), env_file=env_file
        )
        return (init_settings, env_settings, file_source)

    api_key_file: Path | None = _setting(
        doc="File holding the Gemini API key (one line); used when GEMINI_API_KEY is not set.",
        allowed="a readable, non-empty file",
    )
    api_key: SecretStr | None = _setting(
        doc=(
            "Gemini API key (GOOGLE_API_KEY works too). Better: TALKBOX_API_KEY_FILE or the "
            "systemd credential gemini_api_key (LoadCredential=gemini_api_key:/path)."
        ),
        allowed="the key, without spaces",
        validation_alias=AliasChoices(*API_KEY_VARIABLES),
    )
    backend: Literal["gemini", "vertex"] = _setting(
        "gemini",
        doc="gemini: Gemini Developer API with an API key; vertex: Vertex AI with application "
        "default credentials.",
        allowed="gemini or vertex",
    )
    vertex_project: str | None = _setting(
        doc="Google Cloud project (backend vertex only; required there).",
        allowed="a Google Cloud project id",
    )
    vertex_location: str = _setting(
        "us-central1",
        doc="Google Cloud region (backend vertex only).",
        allowed="a Google Cloud region such as us-central1",
    )
    model: str = _setting(
        DEFAULT_MODEL,
        doc="Live model name.",
        allowed="a Live model name such as " + DEFAULT_MODEL,
    )
    api_version: str = _setting(
        "v1beta",
        doc="Gemini API version, pinned; affective dialog and proactive audio need v1alpha and "
        "switch to it (backend vertex keeps the SDK's own version).",
        allowed="v1, v1beta, v1alpha, ...",
    )
    base_url: str | None = _setting(
        doc="Service URL override: the emulator or a proxy. Empty: the real service.",
        allowed="an http:// or https:// URL",
    )
    ca_file: Path | None = _setting(
        doc="CA bundle (PEM) to trust for TALKBOX_BASE_URL, e.g. the emulator's test CA.",
        allowed="a readable PEM file holding at least one certificate",
    )
    voice: str | None = _setting(
        doc="Prebuilt voice name (e.g. Kore, Puck, Aoede). Empty: the model's default voice.",
        allowed="a voice name such as Kore",
    )
    language: str | None = _setting(
        doc="Spoken language as a BCP-47 tag (e.g. en-US, de-DE). Empty: the model decides.",
        allowed="a BCP-47 tag such as en-US",
    )
    system_instruction: str = _setting(
        DEFAULT_SYSTEM_INSTRUCTION,
        doc="What the model is told about its job.",
        allowed="non-empty text",
    )
    system_instruction_file: Path | None = _setting(
        doc="File whose text replaces TALKBOX_SYSTEM_INSTRUCTION (for long instructions).",
        allowed="a readable, non-empty UTF-8 text file",
    )
    transcribe_input: bool = _setting(
        True, doc="Ask the service for transcripts of what the person said.", allowed="true/false"
    )
    transcribe_output: bool = _setting(
        True, doc="Ask the service for transcripts of the spoken answers.", allowed="true/false"
    )
    affective_dialog: bool = _setting(
        False,
        doc="Let the model adapt its tone to the speaker's (native-audio models, v1alpha).",
        allowed="true/false",
    )
    proactive_audio: bool = _setting(
        False,
        doc="Let the model stay silent when speech was not meant for it (native audio, v1alpha).",
        allowed="true/false",
    )
    google_search: bool = _setting(
        False, doc="Let the model ground answers with Google Search.", allowed="true/false"
    )
    turn_detection: Literal["local", "server"] = _setting(
        "local",
        doc="local: talkbox decides when a turn starts and ends (button, local VAD); server: "
        "the service's own voice activity detection.",
        allowed="local or server",
    )
    # high/high are the service's own defaults for the Developer API (live-protocol.md §4.4).
    vad_start_sensitivity: Literal["high", "low"] = _setting(
        "high",
        doc="Server VAD: how readily speech counts as started (server mode only).",
        allowed="high or low",
    )
    vad_end_sensitivity: Literal["high", "low"] = _setting(
        "high",
        doc="Server VAD: how readily a pause counts as the end of speech (server mode only).",
        allowed="high or low",
    )
    vad_prefix_padding_ms: int | None = _setting(
        doc="Server VAD: speech needed before a start is committed (server mode only). "
        "Empty: service default.",
        allowed="milliseconds, 0 to 5000",
        ge=0,
        le=5000,
    )
    vad_silence_ms: int | None = _setting(
        doc="Server VAD: silence that ends a turn (server mode only). Empty: service default.",
        allowed="milliseconds, 1 to 10000",
        ge=1,
        le=10_000,
    )
    compression: bool = _setting(
        True,
        doc="Context-window compression (sliding window): conversations may run on forever.",
        allowed="true/false",
    )
    compression_trigger_tokens: int | None = _setting(
        doc="Compress when the context reaches this many tokens. Empty: 80 % of the window.",
        allowed="tokens, 1 up to the model's context window (131072 native audio, else 32768)",
        ge=1,
    )
    compression_target_tokens: int | None = _setting(
        doc="Tokens kept after compressing. Empty: half the trigger.",
        allowed="tokens, fewer than TALKBOX_COMPRESSION_TRIGGER_TOKENS",
        ge=1,
    )
    resume: bool = _setting(
        True,
        doc="Resume the conversation after reconnects and restarts (session resumption).",
        allowed="true/false",
    )
    state_dir: Path = _setting(
        doc="Where the resumption handle is kept. Empty: $STATE_DIRECTORY, else "
        "/var/lib/talkbox if writable, else $XDG_STATE_HOME/talkbox (~/.local/state/talkbox).",
        allowed="an absolute directory path",
        default_factory=default_state_dir,
    )
    conversation_timeout_s: float = _setting(
        1800.0,
        doc="After this long without a turn, the next press starts a fresh conversation.",
        allowed="seconds, more than 0",
        gt=0,
    )
    idle_disconnect_s: float = _setting(
        120.0,
        doc="Close an idle connection after this long (the conversation is kept); 0 = never.",
        allowed="seconds, 0 or more (0 = never)",
        ge=0,
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _setting(
        "INFO", doc="Log level.", allowed="DEBUG, INFO, WARNING or ERROR"
    )
    log_transcripts: bool = _setting(
        False,
        doc="Write what was said (both sides) to the log. Off: the journal holds no speech.",
        allowed="true/false",
    )

    _system_instruction_text: str | None = PrivateAttr(default=None)

    # --- per-field validators (field order matters: info.data holds the fields above) ---

    @field_validator(
        "backend", "turn_detection", "vad_start_sensitivity", "vad_end_sensitivity", mode="before"
    )
    @classmethod
    def _lower_choice(cls, value: object) -> object:
        # systemd users write `Server` or `HIGH`; choices are not case-sensitive.
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("api_key_file", "system_instruction_file", "ca_file", "state_dir")
    @classmethod
    def _refuse_tilde(cls, value: Path | None) -> Path | None:
        # systemd passes "~" through literally; expanding it here would make `check` pass a
        # path the daemon then cannot find.
        if value is not None and str(value).startswith("~"):
            raise _Problem("starts with ~, which is not expanded here or by systemd")
        return value

    @field_validator("api_key_file")
    @classmethod
    def _check_key_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if "/" not in str(value) and not value.exists():
            # Putting the key itself here is an easy mistake; never echo it into a log.
            raise _Problem(
                "is not the path of a key file (value not shown: it may be the key itself)",
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
        credential = _credential_path()
        if credential is not None:
            variable = f"$CREDENTIALS_DIRECTORY/{CREDENTIAL_NAME}"
            try:
                return SecretStr(_read_secret(credential))
            except _Problem as exc:
                raise _Problem(str(exc), variable=variable, show_input=False) from None
        return None

    @field_validator("vertex_project")
    @classmethod
    def _check_vertex_project(cls, value: str | None, info: ValidationInfo) -> str | None:
        value = value.strip() if value else None
        if info.data.get("backend") == "vertex" and not value:
            raise _Problem(
                "is not set; it is required when TALKBOX_BACKEND=vertex", show_input=False
            )
        return value

    @field_validator("vertex_location")
    @classmethod
    def _check_vertex_location(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9-]*[a-z0-9]", value.strip()):
            raise _Problem("is not a region name")
        return value.strip()

    @field_validator("model")
    @classmethod
    def _check_model(cls, value: str) -> str:
        value = value.strip()
        if not _MODEL.fullmatch(value):
            raise _Problem("is not a model name (lower-case letters, digits, '.', '-', '_')")
        return value

    @field_validator("api_version")
    @classmethod
    def _check_api_version(cls, value: str) -> str:
        value = value.strip()
        if not _API_VERSION.fullmatch(value):
            raise _Problem("is not an API version")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _Problem("is not an http:// or https:// URL with a host")
        try:
            _ = parts.port  # raises on a port that is not a number or out of range
        except ValueError:
            raise _Problem("has an invalid port") from None
        return value

    @field_validator("ca_file")
    @classmethod
    def _check_ca_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        # PEM bundles may carry non-ASCII comments; only the markers matter here.
        text = _read_text(value, errors="replace")
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise _Problem(f"{value} holds no PEM certificate", show_input=False)
        try:
            # The link trusts exactly this file; a damaged one would otherwise surface only
            # as a TLS failure at the first connect.
            ssl.create_default_context(cafile=str(value))
        except ssl.SSLError as exc:
            raise _Problem(
                f"{value} holds no usable certificate ({exc.reason or 'damaged PEM data'})",
                show_input=False,
            ) from None
        return value

    @field_validator("voice")
    @classmethod
    def _check_voice(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not _VOICE.fullmatch(value):
            raise _Problem("is not a voice name (letters, digits, '-', '_')")
        return value

    @field_validator("language")
    @classmethod
    def _check_language(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not _BCP47.fullmatch(value):
            raise _Problem("is not a BCP-47 language tag")
        return value

    @field_validator("system_instruction")
    @classmethod
    def _check_instruction(cls, value: str) -> str:
        if not value.strip():
            raise _Problem("is empty")
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
        model = info.data.get("model")
        if value is not None and model is not None and value > context_window_tokens(model):
            raise _Problem(
                f"is larger than the context window of {model} "
                f"({context_window_tokens(model)} tokens)"
            )
        return value

    @field_validator("compression_target_tokens")
    @classmethod
    def _check_target(cls, value: int | None, info: ValidationInfo) -> int | None:
        model = info.data.get("model")
        if value is None or model is None:
            return value
        if "compression_trigger_tokens" not in info.data:
            return value  # the trigger is wrong itself and reported; comparing would mislead
        trigger = info.data["compression_trigger_tokens"]
        if trigger is None:
            trigger = int(context_window_tokens(model) * DEFAULT_TRIGGER_FRACTION)
        if value >= trigger:
            raise _Problem(f"is not below the compression trigger ({trigger} tokens)")
        return value

    @field_validator("state_dir")
    @classmethod
    def _check_state_dir(cls, value: Path) -> Path:
        if not value.is_absolute():
            raise _Problem("is not an absolute path")
        if value.exists() and not value.is_dir():
            raise _Problem(f"{value} exists and is not a directory", show_input=False)
        return value

    @model_validator(mode="after")
    def _read_instruction_file(self) -> Settings:
        if self.system_instruction_file is not None:
            self._system_instruction_text = _read_instruction(self.system_instruction_file)
        return self

    # --- derived values ---

    @property
    def effective_api_version(self) -> str:
        """The API version to connect with: v1alpha when a v1alpha-only feature is on."""
        if self.backend == "gemini" and (self.affective_dialog or self.proactive_audio):
            return "v1alpha"
        return self.api_version

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


def _credential_path() -> Path | None:
    directory = os.environ.get("CREDENTIALS_DIRECTORY", "")
    if not directory:
        return None
    path = Path(directory) / CREDENTIAL_NAME
    # A credential directory without our credential is normal: the unit may pass others.
    return path if path.exists() or path.is_symlink() else None


def _read_instruction(path: Path) -> str:
    text = _read_text(path).strip()
    if not text:
        raise _Problem(f"{path} is empty", show_input=False)
    return text


# --- names, sources and problems ---


def variable_name(field: str) -> str:
    """The environment variable that sets a Settings field."""
    return API_KEY_VARIABLES[0] if field == "api_key" else ENV_PREFIX + field.upper()


def variable_names() -> dict[str, str]:
    """Every Settings field mapped to its variable, in declaration order."""
    return {name: variable_name(name) for name in Settings.model_fields}


def _names_of(field: str) -> tuple[str, ...]:
    # TALKBOX_API_KEY works too (validate_by_name), so it is not reported as unknown.
    if field == "api_key":
        return (*API_KEY_VARIABLES, ENV_PREFIX + "API_KEY")
    return (variable_name(field),)


def _field_of(loc: tuple[int | str, ...]) -> str | None:
    if not loc:
        return None
    first = str(loc[0])
    if first in Settings.model_fields:
        return first
    for field in Settings.model_fields:
        if first.upper() in _names_of(field):
            return field
    return None


def _shown(field: str | None, value: object) -> str:
    if field == "api_key":
        return "(value not shown)"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def _message(error: Mapping[str, Any]) -> str:
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, BaseException):
        return str(cause)
    msg = str(error.get("msg", "is invalid"))
    return re.sub(r"^Input should", "should", msg)


def _problems_of(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        field = _field_of(tuple(error.get("loc", ())))
        cause = (error.get("ctx") or {}).get("error")
        variable = getattr(cause, "variable", None) or (
            variable_name(field) if field else ".".join(str(p) for p in error.get("loc", ()))
        )
        allowed = ""
        if field is not None:
            extra = Settings.model_fields[field].json_schema_extra
            if isinstance(extra, dict):
                allowed = str(extra.get("allowed", ""))
        parts = [f"{variable}: "]
        if getattr(cause, "show_input", True):
            parts.append(f"{_shown(field, error.get('input'))} ")
        parts.append(_message(error))
        raw = error.get("input")
        if isinstance(raw, str) and " #" in raw and field != "api_key":
            parts.append(" (a # after a value is part of the value, not a comment)")
        if allowed:
            parts.append(f"; allowed: {allowed}")
        problems.append("".join(parts))
    return problems


@dataclass(frozen=True)
class LoadedConfig:
    """Settings plus what `check` shows about them: where each value came from, warnings."""

    settings: Settings
    sources: dict[str, str]
    warnings: list[str]


def _read_config_file(config_file: Path) -> tuple[EnvFile, list[str]]:
    """The env file's variables and notes, or the problem that stops us reading it."""
    empty = EnvFile(values={}, notes=[])
    if not config_file.exists():
        return empty, [f"{config_file}: the config file does not exist"]
    if config_file.is_dir():
        return empty, [f"{config_file}: the config file is a directory"]
    try:
        return read_env_file(config_file), []
    except UnicodeDecodeError:
        return empty, [f"{config_file}: the config file is not UTF-8 text"]
    except OSError as exc:
        return empty, [f"{config_file}: the config file cannot be read ({exc.strerror})"]


def _load(config_file: Path | None, overrides: Mapping[str, Any]) -> LoadedConfig:
    loaded = _load_or_problems(config_file, overrides)
    if isinstance(loaded, list):
        raise ConfigError(loaded)
    return loaded


def _load_or_problems(
    config_file: Path | None, overrides: Mapping[str, Any]
) -> LoadedConfig | list[str]:
    """The loaded configuration, or every problem that stops it loading."""
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        # Overrides come from code, so a wrong name is a bug, not a configuration problem.
        raise TypeError(f"unknown setting(s) {', '.join(unknown)}")
    env_file = EnvFile(values={}, notes=[])
    problems: list[str] = []
    if config_file is not None:
        env_file, problems = _read_config_file(config_file)
    settings: Settings | None = None
    token = _FILE_VALUES.set(env_file.values)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems.extend(_problems_of(exc))
    finally:
        _FILE_VALUES.reset(token)
    if problems or settings is None:
        return problems
    sources = _sources(settings, env_file.values, overrides)
    notes = [f"{config_file}: {note}" for note in env_file.notes]
    warnings = notes + _warnings(settings, [*os.environ, *env_file.values])
    return LoadedConfig(settings=settings, sources=sources, warnings=warnings)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read the environment and the optional env file; raise ConfigError listing every problem."""
    return _load(config_file, overrides).settings


def load_config(config_file: Path | None = None, **overrides: Any) -> LoadedConfig:
    """Like load_settings, plus each value's source and the warnings `check` prints."""
    return _load(config_file, overrides)


def _present(names: Iterable[str], values: Mapping[str, str]) -> str | None:
    # Blank counts as unset, as it does for the values themselves.
    upper = {key.upper(): key for key, value in values.items() if value.strip()}
    for name in names:
        if name in upper:
            return upper[name]
    return None


def _is_given(value: object) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None


def _sources(
    settings: Settings, file_values: Mapping[str, str], overrides: Mapping[str, Any]
) -> dict[str, str]:
    """Where each field's value came from, named the way `check` prints it."""
    sources: dict[str, str] = {}
    for field in Settings.model_fields:
        names = _names_of(field)
        in_env = _present(names, os.environ)
        in_file = _present(names, file_values)
        # A blank key override falls through to the key file, as in _resolve_api_key.
        if field in overrides and (field != "api_key" or _is_given(overrides[field])):
            source = "override"
        elif field == "system_instruction" and settings.system_instruction_file is not None:
            source = "file (TALKBOX_SYSTEM_INSTRUCTION_FILE)"
        elif in_env is not None:
            source = "environment" if field != "api_key" else f"environment ({in_env})"
        elif in_file is not None:
            source = "env file" if field != "api_key" else f"env file ({in_file})"
        elif field == "api_key" and settings.api_key is not None:
            # The same order _resolve_api_key takes: the variables, the key file, the credential.
            if settings.api_key_file is not None:
                source = "file (TALKBOX_API_KEY_FILE)"
            else:
                source = f"credential ({CREDENTIAL_NAME})"
        elif field == "state_dir" and os.environ.get("STATE_DIRECTORY"):
            source = "default ($STATE_DIRECTORY)"
        else:
            source = "default"
        sources[field] = source
    return sources


# Settings that only one backend uses, listed under the backend that ignores them.
_BACKEND_ONLY: dict[str, tuple[str, ...]] = {
    "gemini": ("vertex_project", "vertex_location"),
    # Vertex authenticates with application default credentials and keeps its own API version.
    "vertex": ("api_key", "api_version"),
}


def _warnings(settings: Settings, names_seen: Iterable[str]) -> list[str]:
    """Things that are allowed but probably not meant."""
    found: list[str] = []
    known = {name for field in Settings.model_fields for name in _names_of(field)}
    for name in sorted({n.upper() for n in names_seen if n.upper().startswith(ENV_PREFIX)}):
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            found.append(f"{name} is not a talkbox setting and is ignored{hint}")
    for field in _BACKEND_ONLY[settings.backend]:
        if getattr(settings, field) != Settings.model_fields[field].default:
            found.append(
                f"{variable_name(field)} is ignored with TALKBOX_BACKEND={settings.backend}"
            )
    if settings.turn_detection == "local":
        for field in (
            "vad_start_sensitivity",
            "vad_end_sensitivity",
            "vad_prefix_padding_ms",
            "vad_silence_ms",
        ):
            if getattr(settings, field) != Settings.model_fields[field].default:
                found.append(
                    f"{variable_name(field)} is ignored: it applies only with "
                    "TALKBOX_TURN_DETECTION=server"
                )
    if settings.ca_file is not None and settings.base_url is None:
        found.append("TALKBOX_CA_FILE is ignored: it applies only with TALKBOX_BASE_URL")
    if (settings.affective_dialog or settings.proactive_audio) and "native-audio" not in (
        settings.model
    ):
        found.append(
            "TALKBOX_AFFECTIVE_DIALOG and TALKBOX_PROACTIVE_AUDIO need a native-audio model; "
            f"{settings.model} is not one"
        )
    if not _is_writable_dir(settings.state_dir):
        found.append(
            f"TALKBOX_STATE_DIR {settings.state_dir} is not writable: conversations will not "
            "survive a restart"
        )
    return found


def _display(field: str, settings: Settings) -> str:
    value = getattr(settings, field)
    if field == "system_instruction":
        value = settings.effective_system_instruction
    if field == "api_key":
        if value is None:
            return "(not set)"
        return f"********** ({len(value.get_secret_value())} characters)"
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    text = " ".join(str(value).split())  # one line per setting, even for long instructions
    return text if len(text) <= 70 else text[:67] + "..."


def run_check(config_file: Path | None, out: TextIO, err: TextIO | None = None) -> int:
    """`talkbox check`: print every problem and return 78, or the effective settings and 0."""
    errors = sys.stderr if err is None else err
    loaded = _load_or_problems(config_file, {})
    if isinstance(loaded, list):
        problems = loaded
    elif loaded.settings.backend == "gemini" and loaded.settings.api_key is None:
        # Loading succeeds without a key (the emulator and `devices` need none), but the
        # daemon cannot reach Gemini: for `check` that is a problem, not a warning.
        problems = [MISSING_KEY]
    else:
        problems = []
    if problems or isinstance(loaded, list):
        for problem in problems:
            print(f"talkbox: config error: {problem}", file=errors)
        count = len(problems)
        print(f"talkbox: {count} problem{'s' if count != 1 else ''} to fix", file=errors)
        return EXIT_CONFIG
    settings = loaded.settings
    print(f"env file: {config_file if config_file is not None else '(none)'}", file=out)
    width = max(len(name) for name in variable_names().values())
    for field, name in variable_names().items():
        print(f"{name:<{width}} = {_display(field, settings)}  [{loaded.sources[field]}]", file=out)
    print(f"{'effective API version':<{width}} = {settings.effective_api_version}", file=out)
    for warning in loaded.warnings:
        print(f"talkbox: warning: {warning}", file=errors)
    return 0
