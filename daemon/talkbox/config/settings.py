"""`Settings`: the areas composed into one model that reads TALKBOX_* as systemd passes them."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from talkbox.config.audio import AudioFields
from talkbox.config.echo import EchoFields
from talkbox.config.envfile import read_env_file
from talkbox.config.fields import ENV_PREFIX, Area
from talkbox.config.gpio import GpioFields
from talkbox.config.hands_free import HandsFreeFields
from talkbox.config.home_assistant import HomeAssistantFields
from talkbox.config.live import LiveFields
from talkbox.config.system import SystemFields
from talkbox.config.timers import TimerFields
from talkbox.config.turns import TurnFields

AREAS: tuple[type[Area], ...] = (
    LiveFields,
    TurnFields,
    AudioFields,
    HandsFreeFields,
    EchoFields,
    GpioFields,
    TimerFields,
    SystemFields,
    HomeAssistantFields,
)
"""The areas in the order `check` and the template list them."""

# The env file's values while load_settings builds a Settings: the file is read once, so a
# pipe (`--config <(...)`) works and the sources `check` shows are those Settings saw.
FILE_VALUES: ContextVar[Mapping[str, str] | None] = ContextVar("FILE_VALUES", default=None)


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


# pydantic lists the fields of the last base first, so the areas are named here in reverse
# of AREAS; a test holds the two orders together.
class Settings(
    HomeAssistantFields,
    SystemFields,
    TimerFields,
    GpioFields,
    EchoFields,
    HandsFreeFields,
    AudioFields,
    TurnFields,
    LiveFields,
    BaseSettings,
):
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
            settings_cls, values=FILE_VALUES.get(), env_file=env_file
        )
        return (init_settings, env_settings, file_source)
