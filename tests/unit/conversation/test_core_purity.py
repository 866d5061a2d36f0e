"""The pure core stays pure: no clock, no threads, no I/O, no hardware library.

The whole `talkbox.conversation` package is checked, module by module (a new module is
checked without being listed), and so are the pure modules outside it: the endpointer and
the ports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import talkbox

PACKAGE = Path(talkbox.__file__).parent
CORE = PACKAGE / "conversation"

#: What the core may import besides itself: the link's events and audio's format.
CORE_MAY_IMPORT = {"talkbox.live.events", "talkbox.audio.format"}
#: Pure modules outside the core → the only talkbox modules they may import.
ALSO_PURE = {
    "hearing/endpoint.py": set(),
    "timers/table.py": set(),
    "ports.py": {"talkbox.conversation", "talkbox.conversation.actions"},
}
HARMLESS = {"__future__", "collections", "collections.abc", "dataclasses", "enum", "typing"}


def imports_of_text(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def imports_of(path: Path) -> set[str]:
    return imports_of_text(path.read_text(encoding="utf-8"))


CORE_MODULES = sorted(path.name for path in CORE.glob("*.py"))


def test_the_core_is_the_package_it_says() -> None:
    assert {"machine.py", "actions.py", "events.py", "memory.py", "transitions.py"} <= set(
        CORE_MODULES
    )


@pytest.mark.parametrize("name", CORE_MODULES)
def test_each_core_module_imports_only_data_and_the_core(name: str) -> None:
    imports = imports_of(CORE / name) - HARMLESS
    outside = {
        module
        for module in imports
        if not (module == "talkbox.conversation" or module.startswith("talkbox.conversation."))
    }
    assert outside <= CORE_MAY_IMPORT


@pytest.mark.parametrize("name", sorted(ALSO_PURE))
def test_the_pure_modules_outside_the_core_import_only_data(name: str) -> None:
    assert imports_of(PACKAGE / name) - HARMLESS <= ALSO_PURE[name]


def test_a_clock_or_a_thread_in_the_core_would_be_seen() -> None:
    # Guards the check against passing vacuously: it reads what a module imports.
    source = "import time\nfrom threading import Thread\nfrom talkbox.conversation import x\n"
    assert imports_of_text(source) - HARMLESS == {"time", "threading", "talkbox.conversation"}


def test_the_adapters_import_their_library_and_the_pure_core() -> None:
    assert "webrtcvad" in imports_of(PACKAGE / "hearing" / "vad.py")
    assert "gpiozero" in imports_of(PACKAGE / "gpio.py")
    assert "talkbox.conversation" in imports_of(PACKAGE / "gpio.py")  # the core's face
