from __future__ import annotations

import re
from pathlib import Path

from talkbox.config import (
    AREAS,
    Settings,
    load_config,
    load_settings,
    variable_name,
    variable_names,
)
from talkbox.config.envfile import parse_env_file
from talkbox.config.fields import info_of

TEMPLATE = Path(__file__).resolve().parents[3] / "config" / "talkbox.env"
ASSIGNMENT = re.compile(r"^# ([A-Z][A-Z0-9_]*)=(.*)$")
RULE = re.compile(r"^# =+$")


def template_lines() -> list[str]:
    return TEMPLATE.read_text(encoding="utf-8").splitlines()


def template_assignments() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in template_lines():
        match = ASSIGNMENT.match(line)
        if match:
            assert match.group(1) not in found, f"{match.group(1)} is listed twice"
            found[match.group(1)] = line[2:]
    return found


def template_sections() -> list[tuple[str, list[str]]]:
    """Each section's header (its lines joined) and the variables listed under it, in order."""
    lines = template_lines()
    sections: list[tuple[str, list[str]]] = []
    index = 0
    while index < len(lines):
        if RULE.match(lines[index]):
            end = next(j for j in range(index + 1, len(lines)) if RULE.match(lines[j]))
            header = " ".join(line.removeprefix("# ") for line in lines[index + 1 : end])
            sections.append((header, []))
            index = end + 1
            continue
        match = ASSIGNMENT.match(lines[index])
        if match:
            assert sections, f"{match.group(1)} comes before the first section"
            sections[-1][1].append(match.group(1))
        index += 1
    return sections


def comment_above(lines: list[str], index: int) -> str:
    """The comment paragraph right above line `index`, joined into one line."""
    start = index
    while start > 0 and lines[start - 1].startswith("# ") and not RULE.match(lines[start - 1]):
        start -= 1
    return " ".join(line.removeprefix("# ") for line in lines[start:index])


def uncommented_template(tmp_path: Path) -> Path:
    path = tmp_path / "uncommented.env"
    path.write_text("\n".join(template_assignments().values()) + "\n", encoding="utf-8")
    return path


# --- the template and Settings agree ---


def test_the_template_lists_every_setting_and_nothing_else() -> None:
    assert set(template_assignments()) == set(variable_names().values())


def test_the_template_lists_the_settings_in_declaration_order() -> None:
    assert list(template_assignments()) == list(variable_names().values())


def test_every_template_variable_has_a_comment_line_above_it() -> None:
    lines = template_lines()
    for index, line in enumerate(lines):
        if ASSIGNMENT.match(line):
            above = lines[index - 1]
            assert above.startswith("# "), line
            assert not ASSIGNMENT.match(above), line


def test_the_template_has_one_section_per_area_headed_by_its_docstring() -> None:
    assert [header for header, _ in template_sections()] == [area.__doc__ for area in AREAS]


def test_each_variable_sits_in_the_section_of_its_area_in_the_areas_order() -> None:
    expected = [[variable_name(field) for field in area.model_fields] for area in AREAS]
    assert [names for _, names in template_sections()] == expected


def test_each_variable_is_explained_by_its_fields_doc() -> None:
    lines = template_lines()
    docs = {variable_name(name): info_of(info).doc for name, info in Settings.model_fields.items()}
    for index, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match:
            assert comment_above(lines, index) == docs[match.group(1)], match.group(1)


def test_the_template_defaults_are_the_settings_defaults(tmp_path: Path) -> None:
    from_template = load_settings(uncommented_template(tmp_path))
    assert from_template.model_dump() == load_settings().model_dump()


def test_the_template_writes_out_every_default_that_is_not_empty() -> None:
    values = parse_env_file("\n".join(template_assignments().values())).values
    for field, name in variable_names().items():
        default = Settings.model_fields[field].default
        # A default made by a factory depends on the machine: the template explains it instead.
        made = Settings.model_fields[field].default_factory is not None
        has_value = default is not None and not made
        assert (values[name] != "") == has_value, name


def test_the_uncommented_template_is_clean_for_systemd(tmp_path: Path) -> None:
    parsed = parse_env_file(uncommented_template(tmp_path).read_text(encoding="utf-8"))
    assert parsed.notes == []
    assert load_config(uncommented_template(tmp_path)).warnings == load_config().warnings


def test_the_commented_template_changes_nothing() -> None:
    assert parse_env_file(TEMPLATE.read_text(encoding="utf-8")).values == {}
    assert load_settings(TEMPLATE).model_dump() == load_settings().model_dump()
