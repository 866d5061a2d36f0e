"""The timer store: atomic, and a damaged file is set aside, not trusted."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from talkbox.timers.store import FILE_NAME, TimerStore
from talkbox.timers.table import TimerTable


def test_a_saved_table_is_loaded_back(tmp_path: Path) -> None:
    store = TimerStore(tmp_path / "state")
    assert store.load() == TimerTable()
    table, _ = TimerTable().add_timer(1000.0, 60, "pasta")
    store.save(table)
    assert TimerStore(tmp_path / "state").load() == table
    assert [p.name for p in (tmp_path / "state").iterdir()] == [FILE_NAME]  # no temp left


def test_a_damaged_file_is_set_aside_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / FILE_NAME).write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert TimerStore(tmp_path).load() == TimerTable()
    assert "damaged" in caplog.text
    assert (tmp_path / (FILE_NAME + ".rejected")).exists()
    assert not (tmp_path / FILE_NAME).exists()


def test_a_store_that_cannot_be_written_warns_and_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        TimerStore(blocker / "state").save(TimerTable())
    assert "cannot store the timers" in caplog.text
