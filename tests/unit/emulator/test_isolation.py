"""The emulator stands in for the service, so it must not share code with the client."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import talkbox.emulator

PACKAGE = Path(talkbox.emulator.__file__).parent


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
                names.add(node.module)
    return names


def package_of(path: Path) -> str:
    """The package a module file of talkbox.emulator belongs to (itself for __init__)."""
    parts = ["talkbox", "emulator", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1])


def outside_the_emulator(name: str) -> bool:
    in_talkbox = name == "talkbox" or name.startswith("talkbox.")
    return in_talkbox and not (name == "talkbox.emulator" or name.startswith("talkbox.emulator."))


def test_the_emulator_imports_nothing_from_the_rest_of_talkbox() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) >= 8
    offenders = {
        f"{path.name}: {name}"
        for path in sources
        for name in imported_modules(path.read_text(encoding="utf-8"), package_of(path))
        if outside_the_emulator(name)
    }
    assert offenders == set()


def test_the_import_scan_sees_a_talkbox_import_when_there_is_one() -> None:
    source = "from talkbox.live import link\nimport talkbox.config\n"
    assert {"talkbox.live", "talkbox.config"} <= imported_modules(source, "talkbox.emulator")


def test_the_import_scan_resolves_parent_relative_imports_out_of_the_emulator() -> None:
    names = imported_modules("from ..config import x\nfrom .. import ask\n", "talkbox.emulator")
    assert names == {"talkbox.config", "talkbox.ask"}
    assert all(outside_the_emulator(name) for name in names)


def test_the_import_scan_keeps_sibling_relative_imports_inside_the_emulator() -> None:
    names = imported_modules("from .protocol import x\nfrom . import model\n", "talkbox.emulator")
    assert names == {"talkbox.emulator.protocol", "talkbox.emulator.model"}
    assert not any(outside_the_emulator(name) for name in names)
    assert package_of(PACKAGE / "__init__.py") == "talkbox.emulator"
    assert package_of(PACKAGE / "server.py") == "talkbox.emulator"
