"""The emulator stands in for the service, so it must not share code with the client."""

from __future__ import annotations

import ast
from pathlib import Path

import talkbox.emulator

PACKAGE = Path(talkbox.emulator.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.add("talkbox.emulator" + "." * node.level + (node.module or ""))
            elif node.module:
                names.add(node.module)
    return names


def test_the_emulator_imports_nothing_from_the_rest_of_talkbox() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) >= 8
    offenders = {
        f"{path.name}: {name}"
        for path in sources
        for name in imported_modules(path)
        if (name == "talkbox" or name.startswith("talkbox."))
        and not name.startswith("talkbox.emulator")
    }
    assert offenders == set()


def test_the_import_scan_sees_a_talkbox_import_when_there_is_one(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from talkbox.live import link\nimport talkbox.config\n", encoding="utf-8")
    assert {"talkbox.live", "talkbox.config"} <= imported_modules(bad)
