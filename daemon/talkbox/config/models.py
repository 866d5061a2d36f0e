"""What each Live model accepts and how it behaves: one table, pure data.

    row = model_row("gemini-3.8-live", backend="gemini")
    row.thinking, row.affective_dialog, row.blocking_tools, row.ends_at_idle

The facts are `docs/live-models.md` §1-§4. `talkbox.config` checks the settings against the
row (a retired model, an option the model refuses, a thinking level it needs), and
`talkbox.live.session_config` builds only what the row accepts. A name the table does not
know is allowed (new models appear) and built like its nearest family (`nearest_family`);
`config` warns about it once. This module imports nothing from talkbox and no SDK, so the
configuration layer may read it (`tests/unit/test_layers.py`).

Decided because `docs/live-models.md` §6 marks the fact unverified (the same list is kept
there):

1. `gemini-2.5-flash-native-audio-preview-09-2025` is retired (no Google page gives its
   shutdown date): `check` refuses it and names `gemini-3.8-live`.
2. The SDK's default API version `v1` does not serve Live (its exact refusal is unknown):
   the Developer API is pinned to `v1beta`; `v1` is a configuration problem on every row.
3. Affective dialog and proactive audio: never sent to a 3.x model (Developer API or
   Vertex, whose page says both are on by default). On the 2.5 Developer API previews they
   stay offered, on `v1alpha` only, which the person must set: it is never chosen for them.
   On Vertex `gemini-live-2.5-flash-native-audio` they are offered on Vertex's own version.
4. `thinkingBudget` is never sent; a thinking level only where the row takes one:
   required on extended thinking (LOW when TALKBOX_THINKING_LEVEL is empty: the quickest
   spoken answer), optional on 3.1, refused on `gemini-3.8-live` and the 2.5 rows.
5. No `scheduling` on extended thinking's function responses.
6. The scheduling value is the SDK's `INTERRUPT` (the docs' `INTERRUPTED` is not sent).
7. An interaction status other than IN_PROGRESS and IDLE (e.g. `WAITING_FOR_INPUT`) ends
   nothing by itself; a bounded wait turns a missing end into a turn failure.
8. `custom_vocabulary` is not used.
9. `gemini-3.8-live` may omit `interactionStatus` or `usageMetadata`: the end falls back
   to `turnComplete`, and nothing depends on usage.
10. Extended thinking is not assumed on Vertex: the name is unknown there (one warning,
    built like the Developer API row).
11. Vertex regions for `gemini-3.8-live` are not checked; only `global` is refused, and
    only for `gemini-live-2.5-flash-native-audio`.
12. Scheduling on the 2.5 and 3.1 rows: accepted, as on 3.8 (the emulator's rule too).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

DEFAULT_MODEL = "gemini-3.8-live"
"""The service's default Live model since 2026-09-15 (docs/live-models.md §1.1)."""

Backend = Literal["gemini", "vertex"]
ThinkingLevel = Literal["low", "medium", "high"]


class Stage(StrEnum):
    """Where a model stands in its life (docs/live-models.md §1)."""

    STABLE = "stable"
    """Served with no shutdown announced."""
    LEGACY = "legacy preview"
    """Still served; its page says to move on (a warning)."""
    DEPRECATED = "deprecated"
    """Still served, to be shut down (a warning)."""
    RETIRED = "retired"
    """No longer served: setup is closed 1008 "not found" (a configuration problem)."""


class Family(StrEnum):
    """The kinds of Live model whose rules differ; an unknown name is built like one."""

    LIVE_38 = "gemini-3.8-live"
    EXTENDED_THINKING = "gemini-3.8-live-extended-thinking"
    FLASH_31 = "gemini-3.1-flash-live"
    NATIVE_AUDIO_25 = "gemini-2.5-native-audio"


class Thinking(StrEnum):
    """What a model does with `generationConfig.thinkingConfig`."""

    REFUSED = "refused"
    """A thinking config closes setup 1007: none is sent."""
    OPTIONAL = "optional"
    """A level is sent only when TALKBOX_THINKING_LEVEL is set."""
    REQUIRED = "required"
    """A level is always sent (setup is closed 1007 without one)."""


class ProactiveAudio(StrEnum):
    """What a model does with the `proactivity` block."""

    OFFERED = "offered"
    """Opt-in with TALKBOX_PROACTIVE_AUDIO."""
    ALWAYS_ON = "always on"
    """Always on: the block is refused, so the setting is a problem."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRow:
    """What one Live model accepts and how it behaves."""

    name: str
    backend: Backend
    family: Family
    stage: Stage
    known: bool = True
    """False: a name the table does not know, built like `family`."""
    replacement: str | None = None
    """What to use instead (retired, deprecated and legacy rows)."""
    api_versions: frozenset[str] = frozenset({"v1beta"})
    """Developer API versions that serve the model with an API key (Vertex keeps its own)."""
    thinking: Thinking = Thinking.REFUSED
    default_thinking_level: ThinkingLevel | None = None
    """The level sent when the row requires one and TALKBOX_THINKING_LEVEL is empty."""
    affective_dialog: bool = False
    """`enableAffectiveDialog` is offered (else the setting is a problem)."""
    proactive_audio: ProactiveAudio | None = None
    """None: not offered at all (the setting is a problem)."""
    v1alpha_options: bool = False
    """Affective dialog and proactive audio need TALKBOX_API_VERSION=v1alpha."""
    blocking_tools: bool = True
    """Declarations may say BLOCKING (else every tool is declared NON_BLOCKING)."""
    scheduling: bool = True
    """Function responses may carry `scheduling`."""
    ends_at_idle: bool = True
    """`interactionStatus` IDLE ends an interaction; turnComplete + IN_PROGRESS does not."""
    fast_audio: bool = False
    """Answer audio arrives faster than real time, turnComplete paced to playback later."""
    context_window_tokens: int = 131_072
    regional: bool = False
    """Vertex: not served on the `global` location."""

    @property
    def thinking_levels(self) -> tuple[ThinkingLevel, ...]:
        """The levels TALKBOX_THINKING_LEVEL may take with this model (none if refused)."""
        return () if self.thinking is Thinking.REFUSED else ("low", "medium", "high")

    def thinking_level(self, setting: ThinkingLevel | None) -> ThinkingLevel | None:
        """The level to send: the setting where one is taken, the default where required."""
        if self.thinking is Thinking.REFUSED:
            return None
        if setting is None and self.thinking is Thinking.REQUIRED:
            return self.default_thinking_level
        return setting


_LIVE_38 = ModelRow(
    name=DEFAULT_MODEL,
    backend="gemini",
    family=Family.LIVE_38,
    stage=Stage.STABLE,
    proactive_audio=ProactiveAudio.ALWAYS_ON,
    fast_audio=True,
)
_EXTENDED = replace(
    _LIVE_38,
    name="gemini-3.8-live-extended-thinking",
    family=Family.EXTENDED_THINKING,
    thinking=Thinking.REQUIRED,
    default_thinking_level="low",
    blocking_tools=False,
    scheduling=False,
    # Measured at real time (docs/live-models.md §4 "Pacing").
    fast_audio=False,
)
_FLASH_31 = replace(
    _LIVE_38,
    name="gemini-3.1-flash-live-preview",
    family=Family.FLASH_31,
    stage=Stage.LEGACY,
    replacement=DEFAULT_MODEL,
    thinking=Thinking.OPTIONAL,
    fast_audio=False,
)
_NATIVE_AUDIO = ModelRow(
    name="gemini-2.5-flash-native-audio-preview-12-2025",
    backend="gemini",
    family=Family.NATIVE_AUDIO_25,
    stage=Stage.DEPRECATED,
    replacement=DEFAULT_MODEL,
    api_versions=frozenset({"v1beta", "v1alpha"}),
    affective_dialog=True,
    proactive_audio=ProactiveAudio.OFFERED,
    v1alpha_options=True,
    # The 2.5 models send turnComplete without an interaction status.
    ends_at_idle=False,
)
_RETIRED = replace(_NATIVE_AUDIO, stage=Stage.RETIRED, replacement=DEFAULT_MODEL)

ROWS: tuple[ModelRow, ...] = (
    _LIVE_38,
    _EXTENDED,
    _FLASH_31,
    replace(_NATIVE_AUDIO, name="gemini-2.5-flash-native-audio-latest"),
    _NATIVE_AUDIO,
    replace(_RETIRED, name="gemini-2.5-flash-native-audio-preview-09-2025"),
    replace(_RETIRED, name="gemini-live-2.5-flash-preview"),
    replace(_RETIRED, name="gemini-2.0-flash-live-001"),
    replace(_LIVE_38, backend="vertex"),
    replace(
        _NATIVE_AUDIO,
        name="gemini-live-2.5-flash-native-audio",
        backend="vertex",
        stage=Stage.STABLE,
        replacement=None,
        regional=True,
        # Vertex keeps its own API version; the options need nothing more there.
        v1alpha_options=False,
    ),
)
"""Every model the table knows, Developer API rows first."""

_BY_KEY: dict[tuple[Backend, str], ModelRow] = {(row.backend, row.name): row for row in ROWS}
_FAMILY_ROWS: dict[Family, ModelRow] = {
    Family.LIVE_38: _LIVE_38,
    Family.EXTENDED_THINKING: _EXTENDED,
    Family.FLASH_31: _FLASH_31,
    Family.NATIVE_AUDIO_25: _NATIVE_AUDIO,
}


def bare_name(model: str) -> str:
    """The model name without the `models/` prefix the setup message adds."""
    return model.removeprefix("models/")


def nearest_family(model: str) -> Family:
    """The family an unknown name is built like: by its version, else like 3.8 Live.

    3.8 Live's rules are the strictest (no thinking config, no affective dialog, no
    proactivity block), so an unrecognised name sends the least the service could refuse.
    """
    name = bare_name(model)
    if "extended-thinking" in name:
        return Family.EXTENDED_THINKING
    if name.startswith(("gemini-3.1", "gemini-3.0")):
        return Family.FLASH_31
    if "2.5" in name and "native-audio" in name:
        return Family.NATIVE_AUDIO_25
    return Family.LIVE_38


def model_row(model: str, *, backend: Backend) -> ModelRow:
    """The row of `model` on `backend`, or one built like its nearest family (`known` False)."""
    name = bare_name(model)
    row = _BY_KEY.get((backend, name))
    if row is not None:
        return row
    like = _FAMILY_ROWS[nearest_family(name)]
    return replace(
        like,
        name=name,
        backend=backend,
        known=False,
        stage=Stage.STABLE,
        replacement=None,
        # On Vertex the Developer API's version rules do not apply.
        v1alpha_options=like.v1alpha_options and backend == "gemini",
    )
