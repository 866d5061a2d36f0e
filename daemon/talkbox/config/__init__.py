"""Settings: the only reader of the env file and the environment, one module per area.

    settings = load_settings(Path("/etc/talkbox/talkbox.env"))  # or raises ConfigError
    settings.model, settings.turn_detection, settings.state_dir  # flat, as TALKBOX_* names them

Areas: `live` (LiveFields), `turns` (TurnFields), `audio` (AudioFields), `hands_free`
(HandsFreeFields), `echo` (EchoFields), `gpio` (GpioFields), `system` (SystemFields),
composed into one `Settings` in `settings`; a consumer that needs one area may type just
that area. A new setting goes into its area with `fields.setting()`, into
`config/talkbox.env` in that area's section, and nowhere else: its metadata drives problems,
masking, provenance and warnings (`loading`) and what `talkbox check` shows (`check`).

Every value a message quotes goes through `fields.shown` (control characters escaped, long
values cut), every look at the filesystem through `files` (any OS refusal becomes a Problem of
the setting, exit 78), and the values of secret fields are handed to the commands
(`LoadedConfig.secrets`), which mask them with the one redactor of `talkbox.logs`.
"""

from talkbox.config.audio import AudioFields
from talkbox.config.check import CheckReport, check_report
from talkbox.config.credentials import API_KEY_VARIABLES, CREDENTIAL_NAME, MISSING_KEY
from talkbox.config.fields import ENV_PREFIX, Area, SettingInfo, setting, shown
from talkbox.config.gpio import HAT_NAMES, GpioFields
from talkbox.config.hands_free import (
    BUILTIN_WAKE_WORDS,
    HandsFreeFields,
    wake_word_choices,
    wake_word_key,
    wake_words_label,
)
from talkbox.config.live import DEFAULT_SYSTEM_INSTRUCTION, LiveFields, context_window_tokens
from talkbox.config.loading import (
    ConfigProblems,
    LoadedConfig,
    load_config,
    load_or_problems,
    load_settings,
    variable_name,
    variable_names,
)
from talkbox.config.models import DEFAULT_MODEL
from talkbox.config.settings import AREAS, Settings
from talkbox.config.system import SYSTEM_STATE_DIR, SystemFields, default_state_dir
from talkbox.config.turns import TurnFields

__all__ = [
    "API_KEY_VARIABLES",
    "AREAS",
    "BUILTIN_WAKE_WORDS",
    "CREDENTIAL_NAME",
    "DEFAULT_MODEL",
    "DEFAULT_SYSTEM_INSTRUCTION",
    "ENV_PREFIX",
    "HAT_NAMES",
    "MISSING_KEY",
    "SYSTEM_STATE_DIR",
    "Area",
    "AudioFields",
    "CheckReport",
    "ConfigProblems",
    "GpioFields",
    "HandsFreeFields",
    "LiveFields",
    "LoadedConfig",
    "SettingInfo",
    "Settings",
    "SystemFields",
    "TurnFields",
    "check_report",
    "context_window_tokens",
    "default_state_dir",
    "load_config",
    "load_or_problems",
    "load_settings",
    "setting",
    "shown",
    "variable_name",
    "variable_names",
    "wake_word_choices",
    "wake_word_key",
    "wake_words_label",
]
