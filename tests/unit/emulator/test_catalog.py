"""The emulator's model table: which row a name gets, and what each row refuses at setup."""

from __future__ import annotations

from typing import Any

import pytest

from talkbox.emulator import catalog
from talkbox.emulator.catalog import row_for, setup_refusal
from talkbox.emulator.protocol import INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("gemini-3.8-live", "3.8"),
        ("gemini-3.8-live-extended-thinking", "3.8-thinking"),
        ("gemini-3.8-live-extended-thinking-preview-01-2027", "3.8-thinking"),
        ("gemini-3.8-live-preview-x", "3.8"),
        ("gemini-3.9-flash-live", "3.1"),
        ("gemini-2.5-flash-native-audio-latest", "2.5"),
        ("my-model", "2.5"),
    ],
)
def test_a_name_gets_its_row_or_the_nearest_familys(name: str, family: str) -> None:
    assert row_for(name).family == family
    assert row_for(name).name == name


def test_only_the_retired_rows_are_left_out_of_the_default_models() -> None:
    retired = {row.name for row in catalog.ROWS if row.retired}
    assert retired.isdisjoint(catalog.DEFAULT_MODELS)
    assert all(row_for(name).replacement == "gemini-3.8-live" for name in retired)


def setup(**generation: Any) -> dict[str, Any]:
    return {"model": "models/m", "generationConfig": generation}


@pytest.mark.parametrize(
    ("name", "body", "refusal"),
    [
        ("gemini-3.8-live", setup(), None),
        ("gemini-3.8-live", setup(thinkingConfig={}), (1007, catalog.THINKING_REFUSED)),
        (
            "gemini-3.8-live-extended-thinking",
            setup(thinkingConfig={"thinkingLevel": "HIGH", "thinkingBudget": 10}),
            (1007, INVALID_ARGUMENT),
        ),
        (
            "gemini-3.8-live-extended-thinking",
            setup(thinkingConfig={"thinkingLevel": "XHIGH"}),
            (1007, "Thinking level XHIGH is not supported for this model"),
        ),
        (
            "gemini-3.1-flash-live-preview",
            setup(thinkingConfig={"thinkingLevel": "MINIMAL"}),
            None,
        ),
        ("gemini-3.8-live", setup(enableAffectiveDialog=False), (1007, INVALID_ARGUMENT)),
        ("gemini-2.5-flash-native-audio-latest", setup(enableAffectiveDialog=True), None),
        ("gemini-2.5-flash-native-audio-latest", setup(responseModalities=["TEXT"]), None),
        (
            "gemini-3.8-live",
            {"model": "m", "sessionResumption": {"handle": None}},
            (1007, INVALID_ARGUMENT),
        ),
        ("gemini-3.8-live", {"model": "m", "sessionResumption": {}}, None),
        (
            "gemini-2.5-flash-native-audio-latest",
            {"model": "m", "sessionResumption": {"handle": None}},
            None,
        ),
        (
            "gemini-3.8-live-extended-thinking",
            {
                "model": "m",
                "generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}},
                "tools": [{"functionDeclarations": [{"name": "f", "behavior": "BLOCKING"}]}],
            },
            (1007, catalog.BLOCKING_REFUSED),
        ),
    ],
)
def test_each_row_refuses_what_its_model_refuses(
    name: str, body: dict[str, Any], refusal: tuple[int, str] | None
) -> None:
    assert setup_refusal(row_for(name), body) == refusal


def test_the_description_has_a_line_per_row() -> None:
    lines = catalog.describe().splitlines()
    assert len([line for line in lines if line.startswith("  gemini-")]) == len(catalog.ROWS)
