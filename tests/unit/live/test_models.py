"""The model table: each row's rules, retired names, and unknown names built like a family."""

from __future__ import annotations

import pytest

from talkbox.config.models import (
    DEFAULT_MODEL,
    ROWS,
    Family,
    ProactiveAudio,
    Stage,
    Thinking,
    model_row,
    nearest_family,
)


def test_the_default_is_gemini_3_8_live_a_stable_row_that_takes_no_options() -> None:
    row = model_row(DEFAULT_MODEL, backend="gemini")
    assert (row.name, row.stage, row.known) == ("gemini-3.8-live", Stage.STABLE, True)
    assert row.thinking is Thinking.REFUSED
    assert row.thinking_level("high") is None
    assert not row.affective_dialog
    assert row.proactive_audio is ProactiveAudio.ALWAYS_ON
    assert row.api_versions == {"v1beta"}
    assert row.blocking_tools
    assert row.scheduling
    assert row.fast_audio
    assert row.ends_at_idle


def test_extended_thinking_needs_a_level_and_takes_only_non_blocking_tools() -> None:
    row = model_row("gemini-3.8-live-extended-thinking", backend="gemini")
    assert row.thinking is Thinking.REQUIRED
    assert row.thinking_level(None) == "low"
    assert row.thinking_level("high") == "high"
    assert (row.blocking_tools, row.scheduling, row.fast_audio) == (False, False, False)


def test_the_2_5_previews_are_deprecated_and_offer_their_options_on_v1alpha() -> None:
    for name in (
        "gemini-2.5-flash-native-audio-latest",
        "gemini-2.5-flash-native-audio-preview-12-2025",
    ):
        row = model_row(name, backend="gemini")
        assert row.stage is Stage.DEPRECATED
        assert row.replacement == DEFAULT_MODEL
        assert row.affective_dialog
        assert row.proactive_audio is ProactiveAudio.OFFERED
        assert row.v1alpha_options
        assert row.api_versions == {"v1beta", "v1alpha"}
        assert not row.ends_at_idle


def test_3_1_is_a_legacy_preview_with_an_optional_level() -> None:
    row = model_row("models/gemini-3.1-flash-live-preview", backend="gemini")
    assert (row.stage, row.thinking) == (Stage.LEGACY, Thinking.OPTIONAL)
    assert row.thinking_level(None) is None
    assert row.thinking_level("medium") == "medium"


@pytest.mark.parametrize(
    "name",
    [
        "gemini-2.5-flash-native-audio-preview-09-2025",
        "gemini-live-2.5-flash-preview",
        "gemini-2.0-flash-live-001",
    ],
)
def test_retired_models_are_rows_naming_their_replacement(name: str) -> None:
    row = model_row(name, backend="gemini")
    assert row.known
    assert (row.stage, row.replacement) == (Stage.RETIRED, "gemini-3.8-live")


def test_vertex_has_its_own_rows_and_the_native_audio_one_is_regional() -> None:
    live = model_row("gemini-3.8-live", backend="vertex")
    assert live.known
    assert live.backend == "vertex"
    assert live.family is Family.LIVE_38
    native = model_row("gemini-live-2.5-flash-native-audio", backend="vertex")
    assert native.known
    assert native.regional
    assert native.stage is Stage.STABLE
    assert native.affective_dialog
    assert not native.v1alpha_options
    # A Developer API name is not a Vertex row: it is built like its family.
    assert not model_row("gemini-3.8-live-extended-thinking", backend="vertex").known


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("gemini-3.9-live", Family.LIVE_38),
        ("gemini-4.0-live-extended-thinking-preview", Family.EXTENDED_THINKING),
        ("gemini-3.1-flash-live-preview-02-2027", Family.FLASH_31),
        ("gemini-2.5-flash-native-audio-preview-03-2027", Family.NATIVE_AUDIO_25),
        ("someone-elses-model", Family.LIVE_38),
    ],
)
def test_an_unknown_name_is_built_like_its_nearest_family(name: str, family: Family) -> None:
    assert nearest_family(name) is family
    row = model_row(name, backend="gemini")
    assert (row.name, row.known, row.family, row.stage) == (name, False, family, Stage.STABLE)


def test_every_row_is_unique_per_backend_and_retired_rows_name_a_served_replacement() -> None:
    keys = [(row.backend, row.name) for row in ROWS]
    assert len(keys) == len(set(keys))
    served = {row.name for row in ROWS if row.stage is not Stage.RETIRED}
    for row in ROWS:
        if row.stage is not Stage.STABLE:
            assert row.replacement in served, row.name
