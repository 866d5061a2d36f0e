"""Print the pip requirements of Home Assistant integrations and of all they depend on.

Run inside the HA venv: `python requirements.py esphome demo ...`. HA installs an integration's
requirements when it first loads it (with uv, from PyPI); installing them with the root means a
run needs no registry. The platforms `demo` forwards its config entry to are read from its
COMPONENTS_WITH_* lists, because HA does not count them as demo's dependencies.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import homeassistant.components

COMPONENTS = Path(homeassistant.components.__path__[0])


def out(line: str) -> None:
    """One line to stdout (what the calling script shows)."""
    sys.stdout.write(line + "\n")


def demo_platforms() -> list[str]:
    """The integrations named in demo's COMPONENTS_WITH_* lists (Platform members or strings)."""
    tree = ast.parse((COMPONENTS / "demo" / "__init__.py").read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            target: ast.expr = node.targets[0]
        elif isinstance(node, ast.AnnAssign):
            target = node.target
        else:
            continue
        if not (isinstance(target, ast.Name) and target.id.startswith("COMPONENTS_WITH")):
            continue
        for element in getattr(node.value, "elts", []):
            if isinstance(element, ast.Attribute):
                names.append(element.attr.lower())
            elif isinstance(element, ast.Constant) and isinstance(element.value, str):
                names.append(element.value)
    return names


def requirements(roots: list[str]) -> tuple[list[str], list[str]]:
    """The requirements of `roots` and their (after-)dependencies, and the integrations seen."""
    todo = list(roots)
    seen: set[str] = set()
    found: set[str] = set()
    while todo:
        name = todo.pop()
        manifest = COMPONENTS / name / "manifest.json"
        if name in seen or not manifest.exists():
            continue
        seen.add(name)
        data = json.loads(manifest.read_text(encoding="utf-8"))
        found.update(data.get("requirements", []))
        todo += data.get("dependencies", []) + data.get("after_dependencies", [])
    return sorted(found), sorted(seen)


def main(argv: list[str]) -> int:
    """Print one requirement a line; the integrations walked go to stderr."""
    names = argv + (demo_platforms() if "demo" in argv else [])
    found, seen = requirements(names)
    out("\n".join(found))
    sys.stderr.write(f"{len(seen)} integrations: {' '.join(seen)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
