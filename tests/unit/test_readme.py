"""The README speaks of what exists: its settings are in the template, its log lines in the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TEMPLATE = (ROOT / "config" / "talkbox.env").read_text(encoding="utf-8")
# Application code and the installer, as one text; the emulator is not what a user reads.
SOURCES = "\n".join(
    path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "daemon" / "talkbox").rglob("*.py"))
    if "emulator" not in path.parts
)


def troubleshooting_lines() -> list[str]:
    section = README.split("### Troubleshooting", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [re.match(r"\| `(.+?)`", row).group(1) for row in rows]  # type: ignore[union-attr]


def test_every_setting_the_readme_names_is_in_the_template() -> None:
    named = set(re.findall(r"TALKBOX_[A-Z_]+[A-Z]", README)) - {"TALKBOX_"}
    assert named
    missing = {name for name in named if not re.search(rf"^# {name}=", TEMPLATE, re.M)}
    # TALKBOX_BASE_URL etc. are real settings; a name the template lacks is a README mistake.
    assert missing == set()


def test_every_troubleshooting_line_is_a_line_the_code_logs() -> None:
    lines = troubleshooting_lines()
    assert len(lines) >= 6
    for line in lines:
        fragments = [f.strip(" :()'") for f in line.split("...")]
        for fragment in fragments:
            if len(fragment) >= 8:
                assert fragment in SOURCES, f"README line {line!r}: {fragment!r} not in the code"
