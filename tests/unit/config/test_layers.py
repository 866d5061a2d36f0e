from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import talkbox.config

PACKAGE = Path(talkbox.config.__file__).parent
# config is read by everything above it, so it may lean only on these.
ALLOWED = {"talkbox.errors", "talkbox.envfile"}


def talkbox_imports(path: Path) -> set[str]:
    """The talkbox modules a config module imports (config's own modules left out)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names.add(node.module or "")
    return {
        name
        for name in names
        if name.split(".")[0] == "talkbox"
        and name != "talkbox.config"
        and not name.startswith("talkbox.config.")
    }


def test_config_imports_only_errors_and_envfile_from_talkbox() -> None:
    sources = sorted(PACKAGE.glob("*.py"))
    assert len(sources) >= 6
    offenders = {
        f"{path.name}: {name}" for path in sources for name in talkbox_imports(path) - ALLOWED
    }
    assert offenders == set()


def test_the_import_scan_sees_a_higher_layer(tmp_path: Path) -> None:
    module = tmp_path / "mod.py"
    module.write_text("from talkbox.__main__ import x\nimport talkbox.cli\n", encoding="utf-8")
    assert talkbox_imports(module) == {"talkbox.__main__", "talkbox.cli"}


def test_importing_config_loads_neither_the_entry_point_nor_the_commands() -> None:
    code = (
        "import sys, talkbox.config; "
        "loaded = {'talkbox.__main__', 'talkbox.cli'} & set(sys.modules); "
        "assert not loaded, loaded"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
