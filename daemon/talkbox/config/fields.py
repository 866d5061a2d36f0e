"""The vocabulary of every settings area: `setting()`, its metadata, `Problem`, shared types.

A field's metadata says everything the generic code needs to know about it, so loading,
`check` and the template never test a field's name:

    api_key: SecretStr | None = setting(
        doc="Gemini API key ...",            # the template comment
        allowed="the key, without spaces",  # ends each problem about it
        secret=True,                        # never shown: masked in problems and in `check`
        env=("GEMINI_API_KEY", "GOOGLE_API_KEY"),  # its variables instead of TALKBOX_API_KEY
        applies_when={"backend": "gemini"},  # otherwise a warning says it is ignored
    )
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import AfterValidator, AliasChoices, BaseModel, BeforeValidator, Field
from pydantic.fields import FieldInfo

ENV_PREFIX = "TALKBOX_"


class Given:
    """The `applies_when` condition "the other setting is set", whatever its value."""

    def __repr__(self) -> str:
        return "GIVEN"


GIVEN: Final = Given()
"""Use as `applies_when={"base_url": GIVEN}`: the setting matters only when base_url is set."""


@dataclass(frozen=True)
class SettingInfo:
    """What `setting()` records about a field beyond its type and default."""

    doc: str
    """The template's comment for the field."""
    allowed: str
    """What the field accepts, worded for the end of a problem message."""
    secret: bool = False
    """The value is never shown: not in problems, not in `check`."""
    env: tuple[str, ...] = ()
    """Variables that set the field instead of TALKBOX_<NAME> (which works too); first is shown."""
    applies_when: Mapping[str, object] = field(default_factory=dict)
    """Other fields and the value (a tuple: any of them; GIVEN: any value) each must have."""


def setting(
    default: Any = None,
    *,
    doc: str,
    allowed: str,
    secret: bool = False,
    env: tuple[str, ...] = (),
    applies_when: Mapping[str, object] | None = None,
    **constraints: Any,
) -> Any:
    """A settings field: pydantic's constraints (ge=, default_factory=) plus its SettingInfo."""
    info = SettingInfo(
        doc=doc, allowed=allowed, secret=secret, env=env, applies_when=dict(applies_when or {})
    )
    if env:
        constraints["validation_alias"] = AliasChoices(*env)
    if "default_factory" in constraints:
        made: FieldInfo = Field(description=doc, **constraints)
    else:
        made = Field(default, description=doc, **constraints)
    # pydantic keeps unknown metadata objects on the field and ignores them when validating.
    made.metadata.append(info)
    return made


def info_of(field_info: FieldInfo) -> SettingInfo:
    """The SettingInfo `setting()` attached to a field."""
    for item in field_info.metadata:
        if isinstance(item, SettingInfo):
            return item
    raise TypeError("a settings field must be declared with setting()")


def variable_of(name: str, field_info: FieldInfo) -> str:
    """The variable `check`, problems and the template name a field by."""
    env = info_of(field_info).env
    return env[0] if env else ENV_PREFIX + name.upper()


def variables_of(name: str, field_info: FieldInfo) -> tuple[str, ...]:
    """Every variable that sets a field, the shown one first."""
    env = info_of(field_info).env
    # validate_by_name lets TALKBOX_<NAME> set a field that has its own variables too.
    return (*env, ENV_PREFIX + name.upper()) if env else (ENV_PREFIX + name.upper(),)


class Problem(ValueError):
    """A validation problem worded for a person; it may name its own variable."""

    def __init__(
        self, message: str, *, variable: str | None = None, show_input: bool = True
    ) -> None:
        super().__init__(message)
        # A credential is not a setting, so it names itself instead of the field's variable.
        self.variable = variable
        # Messages about files name the file themselves; repeating the raw value adds nothing.
        self.show_input = show_input


def _lower(value: object) -> object:
    # systemd users write `Server` or `HIGH`; choices are not case-sensitive.
    return value.strip().lower() if isinstance(value, str) else value


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


SHOWN_LIMIT: Final = 60
"""The most characters of a value a problem or `check` line shows before cutting it."""


def shown(value: object, limit: int = SHOWN_LIMIT) -> str:
    """`value` safe to print inside one line: control characters escaped, a long value cut.

    Every message that quotes a value or a path goes through here, so a TALKBOX_CA_FILE holding
    a newline cannot split a problem over two lines, nor a 60,000-character value flood a terminal.
    """
    text = value if isinstance(value, str) else str(value)
    # ascii() spells \n, \x00, \u2028 and the like the way Python would accept them back.
    escaped = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    if len(escaped) <= limit:
        return escaped
    return f"{escaped[: limit - 3]}... ({len(text)} characters)"


PATH_LIMIT: Final = 240
"""Paths are cut later than values: a whole path is what a person needs to find the file."""


def shown_path(path: object) -> str:
    """A path shown safely on one line, cut only when absurdly long."""
    return shown(path, limit=PATH_LIMIT)


def check_local_path(value: Path, *, absolute: bool) -> Path:
    """Refuse what no path may hold, `~`, and (when asked) a path relative to the cwd."""
    text = str(value)
    if "\x00" in text:
        # The OS refuses it only when the path is first used: `ask`, not `check`.
        raise Problem("contains a NUL character, which no path can hold")
    # systemd passes "~" through literally; expanding it here would make `check` pass a
    # path the daemon then cannot find.
    if text.startswith("~"):
        raise Problem("starts with ~, which is not expanded here or by systemd")
    if absolute and not value.is_absolute():
        raise Problem(
            "is not an absolute path: the daemon runs from / under systemd, so a relative path "
            "would name another file there than here"
        )
    return value


def _local_path(value: Path) -> Path:
    return check_local_path(value, absolute=True)


LowerCase: Final = BeforeValidator(_lower)
"""Accept a choice in any case: `Annotated[Literal["local", "server"], LowerCase]`."""
UpperCase: Final = BeforeValidator(_upper)
"""Like LowerCase, for choices spelled in capitals (log levels)."""
LocalPath = Annotated[Path, AfterValidator(_local_path)]
"""A path as systemd passes it: absolute, no `~` (systemd expands none), no NUL byte."""


class Area(BaseModel):
    """A group of settings; `Settings` composes the areas, keeping their flat TALKBOX_* names.

    An area may override the hooks below for what its metadata cannot say. The hooks are
    called per area (`LiveFields.notes(settings)`), so two areas never shadow each other.
    """

    def derived_sources(self, given: Set[str]) -> dict[str, str]:
        """Where values came from that the fields' own variables (`given`) did not set."""
        return {}

    def shown_values(self) -> dict[str, object]:
        """Values in effect where another setting replaces a field's own (`check` shows these)."""
        return {}

    def notes(self) -> list[str]:
        """Warnings about allowed but probably unmeant combinations, beyond `applies_when`."""
        return []

    def unmet_needs(self) -> list[str]:
        """Problems that let Settings load but stop the daemon (`check` reports them)."""
        return []
