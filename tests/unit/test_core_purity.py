"""The pure core stays pure: no clock, no threads, no I/O, no hardware library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import talkbox

PACKAGE = Path(talkbox.__file__).parent

#: pure module → the only modules it may import (besides typing helpers listed below).
PURE = {
    "actions": {"talkbox.appliance_events", "talkbox.audio.format"},
    "appliance_events": set(),
    "conversation": {
        "talkbox.actions",
        "talkbox.appliance_events",
        "talkbox.events",
        "talkbox.memory",
        "talkbox.transitions",
    },
    "endpoint": set(),
    "leds": {"talkbox.actions", "talkbox.conversation"},
    "memory": {"talkbox.actions"},
    "ports": {"talkbox.actions", "talkbox.conversation"},
    "transitions": {
        "talkbox.actions",
        "talkbox.appliance_events",
        "talkbox.events",
        "talkbox.memory",
    },
}
HARMLESS = {"__future__", "collections", "collections.abc", "dataclasses", "enum", "typing"}


def imports_of(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", sorted(PURE))
def test_a_pure_module_imports_only_data_and_the_pure_modules_below_it(module: str) -> None:
    assert imports_of(module) - HARMLESS <= PURE[module]


def test_the_adapters_import_their_library_and_the_pure_core() -> None:
    assert "webrtcvad" in imports_of("vad")
    assert "gpiozero" in imports_of("gpio")
    assert "talkbox.leds" in imports_of("gpio")
