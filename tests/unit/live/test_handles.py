"""The conversation and its handle store: atomic saves, the age rule, damaged files."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest

from talkbox.live import handles
from talkbox.live.handles import (
    HANDLE_LIFETIME_S,
    HandleStore,
    StoredConversation,
    StoredHandle,
    handle_max_age,
    too_old,
)

NOW = 1_800_000_000.0
STORED = StoredHandle(handle="Cgxra2o3bHc1bWVmaG8", conversation_id="c-1", saved_at=NOW, turns=3)


def store_in(directory: Path, max_age_s: float = 600.0) -> HandleStore:
    return HandleStore(directory, max_age_s=max_age_s)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != handles.HANDLE_FILE_NAME)


def test_the_lifetime_keeps_a_margin_below_the_services_two_hours() -> None:
    assert 100 * 60 <= HANDLE_LIFETIME_S < 2 * 3600


def test_the_max_age_is_the_sooner_of_lifetime_and_conversation_timeout() -> None:
    assert handle_max_age(1800) == 1800
    assert handle_max_age(86_400) == HANDLE_LIFETIME_S


def test_a_saved_handle_loads_back(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.save(STORED)
    assert store.load(now=NOW + 10) == STORED


def test_nothing_stored_loads_as_none(tmp_path: Path) -> None:
    assert store_in(tmp_path / "never-created").load(now=NOW) is None


def test_save_creates_the_directory(tmp_path: Path) -> None:
    store = store_in(tmp_path / "a" / "b")
    store.save(STORED)
    assert store.load(now=NOW) == STORED


def test_a_newer_save_replaces_the_older(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.save(STORED)
    newer = StoredHandle(handle="h2", conversation_id="c-1", saved_at=NOW + 60, turns=4)
    store.save(newer)
    assert store.load(now=NOW + 61) == newer
    assert leftovers(tmp_path) == []


def test_the_file_is_private(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # the most permissive umask must not widen the mode
    try:
        store_in(tmp_path).save(STORED)
    finally:
        os.umask(old_umask)
    mode = stat.S_IMODE((tmp_path / handles.HANDLE_FILE_NAME).stat().st_mode)
    assert mode == 0o600


def test_a_handle_is_too_old_only_past_its_max_age() -> None:
    assert not too_old(600.0, 600.0)
    assert too_old(600.001, 600.0)


def test_a_handle_exactly_at_its_max_age_is_still_loaded(tmp_path: Path) -> None:
    store = store_in(tmp_path, max_age_s=600)
    store.save(STORED)
    assert store.load(now=NOW + 600) == STORED


def test_a_handle_older_than_the_max_age_is_not_tried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_in(tmp_path, max_age_s=600)
    store.save(STORED)
    assert store.load(now=NOW + 600) == STORED
    with caplog.at_level(logging.INFO, logger="talkbox.live.handles"):
        assert store.load(now=NOW + 601) is None
    (record,) = caplog.records
    assert record.levelno == logging.INFO
    assert "601 s old" in record.getMessage()
    assert not (tmp_path / handles.HANDLE_FILE_NAME).exists()


def test_a_handle_from_the_future_is_not_trusted(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.save(STORED)
    assert store.load(now=NOW - 1) == STORED  # small clock steps are tolerated
    assert store.load(now=NOW - 3600) is None


def test_load_uses_the_wall_clock_by_default(tmp_path: Path) -> None:
    import time

    store = store_in(tmp_path)
    fresh = StoredHandle(handle="h", conversation_id="c", saved_at=time.time(), turns=0)
    store.save(fresh)
    assert store.load() == fresh


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"version": 1}',
        b'{"version": 1, "handle": "", "conversation_id": "c", "saved_at": 1.0, "turns": 0}',
        b'{"version": 1, "handle": "h", "conversation_id": "c", "saved_at": "1", "turns": 0}',
        b'{"version": 1, "handle": "h", "conversation_id": "c", "saved_at": 1.0, "turns": -1}',
        b'{"version": 9, "handle": "h", "conversation_id": "c", "saved_at": 1.0, "turns": 0}',
    ],
)
def test_a_damaged_file_is_removed_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    path = tmp_path / handles.HANDLE_FILE_NAME
    path.write_bytes(content)
    store = store_in(tmp_path)
    with caplog.at_level(logging.INFO, logger="talkbox.live.handles"):
        assert store.load(now=NOW) is None
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert not path.exists()
    aside = tmp_path / (handles.HANDLE_FILE_NAME + handles.SET_ASIDE_SUFFIX)
    assert aside.read_bytes() == content
    assert store.load(now=NOW) is None


def stored_json(**fields: object) -> bytes:
    values: dict[str, object] = {
        "version": 1,
        "handle": "Cgxra2o3bHc1bWVmaG8",
        "conversation_id": "3f2a9c0d11e4",
        "saved_at": NOW,
        "turns": 2,
    }
    values.update(fields)
    return json.dumps(values).encode()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"conversation_id": "../../x"}, "conversation_id"),
        ({"conversation_id": "c1\n2026-12-01 INFO forged line"}, "conversation_id"),
        ({"conversation_id": "a" * 300}, "conversation_id"),
        ({"conversation_id": ""}, "conversation_id"),
        ({"conversation_id": "sp ace"}, "conversation_id"),
        ({"handle": "h" * (handles.MAX_HANDLE_CHARS + 1)}, "handle"),
        ({"handle": "line\nbreak"}, "handle"),
        ({"turns": 10**12}, "turns"),
    ],
    ids=["traversal", "newline", "300-chars", "empty", "space", "huge-handle", "ctl", "turns"],
)
def test_a_stored_conversation_that_fails_its_checks_is_set_aside_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fields: dict[str, object], problem: str
) -> None:
    path = tmp_path / handles.HANDLE_FILE_NAME
    path.write_bytes(stored_json(**fields))
    conversation = conversation_in(tmp_path)
    with caplog.at_level(logging.INFO, logger="talkbox.live.handles"):
        conversation.load(now=NOW)
    (warning,) = caplog.records
    assert warning.levelno == logging.WARNING
    assert problem in warning.getMessage()
    assert "set aside" in warning.getMessage()
    assert "\n" not in warning.getMessage()
    assert conversation.handle is None
    assert conversation.turns == 0
    assert not path.exists()


def test_ids_and_handles_of_the_usual_shapes_pass_the_checks(tmp_path: Path) -> None:
    for conversation_id in ("3f2a9c0d11e4", "old-conversation", "c_1", "A" * 64):
        (tmp_path / handles.HANDLE_FILE_NAME).write_bytes(
            stored_json(conversation_id=conversation_id, handle="a/b+c=_-.~" * 50)
        )
        loaded = store_in(tmp_path).load(now=NOW)
        assert loaded is not None
        assert loaded.conversation_id == conversation_id


def make_fifo(path: Path) -> None:
    os.mkfifo(path)


def make_zero_link(path: Path) -> None:
    path.symlink_to("/dev/zero")


def make_link_to_a_good_file(path: Path) -> None:
    good = path.with_name("elsewhere.json")
    good.write_bytes(stored_json())
    path.symlink_to(good)


def make_huge(path: Path) -> None:
    with path.open("wb") as f:
        f.truncate(200 * 1024 * 1024)  # sparse: 200 MB that nobody should read


def make_directory(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (make_fifo, "not a regular file"),
        (make_zero_link, "symbolic link"),
        (make_link_to_a_good_file, "symbolic link"),
        (make_huge, "209715200 bytes"),
        (make_directory, "not a regular file"),
    ],
    ids=["fifo", "dev-zero-link", "link", "200-MB", "directory"],
)
def test_a_handle_file_of_the_wrong_type_or_size_is_set_aside_unread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, make: object, problem: str
) -> None:
    path = tmp_path / handles.HANDLE_FILE_NAME
    assert callable(make)
    make(path)
    store = store_in(tmp_path)
    with caplog.at_level(logging.INFO, logger="talkbox.live.handles"):
        assert store.load(now=NOW) is None
    (warning,) = caplog.records
    assert warning.levelno == logging.WARNING
    assert problem in warning.getMessage()
    assert not os.path.lexists(path)
    assert os.path.lexists(tmp_path / (handles.HANDLE_FILE_NAME + handles.SET_ASIDE_SUFFIX))
    # The next save works as if nothing had been there.
    store.save(STORED)
    assert store.load(now=NOW) == STORED


def test_the_file_is_plain_json_with_a_version(tmp_path: Path) -> None:
    store_in(tmp_path).save(STORED)
    data = json.loads((tmp_path / handles.HANDLE_FILE_NAME).read_text(encoding="utf-8"))
    assert data == {
        "version": 1,
        "handle": STORED.handle,
        "conversation_id": "c-1",
        "saved_at": NOW,
        "turns": 3,
    }


def test_clear_forgets_the_handle_and_tolerates_nothing_stored(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.clear()
    store.save(STORED)
    store.clear()
    assert store.load(now=NOW) is None


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = store_in(tmp_path)
    store.save(STORED)
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        # The new bytes are already written when the disk fails: the crash point that matters.
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    newer = StoredHandle(handle="h2", conversation_id="c-2", saved_at=NOW + 5, turns=0)
    with caplog.at_level(logging.WARNING, logger="talkbox.live.handles"):
        store.save(newer)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert store.load(now=NOW + 6) == STORED
    assert leftovers(tmp_path) == []
    assert "No space left on device" in caplog.text


def test_a_rename_that_fails_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_in(tmp_path)
    store.save(STORED)

    def failing_replace(src: str, dst: Path) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", failing_replace)
    store.save(StoredHandle(handle="h2", conversation_id="c-2", saved_at=NOW, turns=0))
    monkeypatch.undo()
    assert store.load(now=NOW) == STORED
    assert leftovers(tmp_path) == []


def test_an_unusable_directory_is_a_warning_not_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    store = store_in(blocker / "state")
    with caplog.at_level(logging.WARNING, logger="talkbox.live.handles"):
        store.save(STORED)
        assert store.load(now=NOW) is None
    assert "cannot save resumption handle" in caplog.text


def test_the_rename_is_made_durable_by_syncing_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bool] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    store_in(tmp_path).save(STORED)
    assert synced == [False, True]  # the file first, then its directory


def test_temp_files_left_by_a_crash_are_removed_on_load(tmp_path: Path) -> None:
    import time

    store = store_in(tmp_path)
    store.save(STORED)
    stale = tmp_path / f".{handles.HANDLE_FILE_NAME}.crashed.tmp"
    fresh = tmp_path / f".{handles.HANDLE_FILE_NAME}.writing.tmp"
    stale.write_text("{", encoding="utf-8")
    fresh.write_text("{", encoding="utf-8")
    now = time.time()
    os.utime(stale, (now - 3600, now - 3600))
    assert store.load(now=NOW) == STORED
    assert leftovers(tmp_path) == [fresh.name]  # another process may be writing this one


def test_an_invalid_handle_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    store = store_in(tmp_path)
    store.save(STORED)
    with pytest.raises(ValueError, match="handle"):
        store.save(StoredHandle(handle="", conversation_id="c", saved_at=NOW, turns=0))
    assert store.load(now=NOW) == STORED
    assert leftovers(tmp_path) == []


# ---------------------------------------------------------------- the conversation


def conversation_in(directory: Path, *, resume: bool = True) -> StoredConversation:
    return StoredConversation(store_in(directory), max_age_s=600.0, resume=resume)


def test_a_conversation_continues_the_stored_one_with_its_id_and_turns(tmp_path: Path) -> None:
    store_in(tmp_path).save(STORED)
    conversation = conversation_in(tmp_path)
    conversation.load(now=NOW + 10)
    assert (conversation.id, conversation.turns) == ("c-1", 3)
    assert conversation.usable_handle(now=NOW + 10) == STORED.handle


def test_a_handle_that_grew_too_old_in_memory_is_forgotten_with_its_conversation(
    tmp_path: Path,
) -> None:
    store_in(tmp_path).save(STORED)
    conversation = conversation_in(tmp_path)
    conversation.load(now=NOW)
    assert conversation.usable_handle(now=NOW + 601) is None
    assert conversation.id != "c-1"
    assert conversation.turns == 0
    assert conversation.handle is None
    assert not (tmp_path / handles.HANDLE_FILE_NAME).exists()


def test_an_adopted_handle_is_stored_with_the_conversation_and_its_turns(tmp_path: Path) -> None:
    conversation = conversation_in(tmp_path)
    conversation.turns = 2
    conversation.adopt("h-2", now=NOW)
    stored = store_in(tmp_path).load(now=NOW)
    assert stored == StoredHandle(
        handle="h-2", conversation_id=conversation.id, saved_at=NOW, turns=2
    )


def test_without_resumption_no_handle_is_offered(tmp_path: Path) -> None:
    conversation = conversation_in(tmp_path, resume=False)
    conversation.adopt("h-1", now=NOW)
    assert conversation.usable_handle(now=NOW) is None


def test_forgetting_starts_a_new_conversation_and_clears_the_store(tmp_path: Path) -> None:
    conversation = conversation_in(tmp_path)
    conversation.adopt("h-1", now=NOW)
    conversation.turns = 4
    conversation.context_shrank(900)
    old_id = conversation.id
    conversation.forget()
    assert conversation.id != old_id
    assert (conversation.turns, conversation.handle, conversation.prompt_tokens) == (0, None, None)
    assert store_in(tmp_path).load(now=NOW) is None


def test_a_fresh_connection_after_answered_turns_leaves_the_conversation(tmp_path: Path) -> None:
    conversation = conversation_in(tmp_path)
    first_id = conversation.id
    conversation.context_shrank(500)
    assert conversation.connected_fresh() is None  # nothing answered yet: the same one
    assert conversation.id == first_id
    conversation.turns = 2
    conversation.context_shrank(800)
    assert conversation.connected_fresh() == (first_id, 2)
    assert conversation.id != first_id
    assert conversation.turns == 0
    # The fresh session's smaller context is no compression.
    assert conversation.context_shrank(160) is None


def test_a_smaller_prompt_than_the_last_one_says_the_context_was_compressed() -> None:
    conversation = StoredConversation(None, max_age_s=600.0, resume=True)
    assert conversation.context_shrank(1000) is None
    assert conversation.context_shrank(1200) is None
    assert conversation.context_shrank(300) == 1200
    assert conversation.context_shrank(300) is None


def test_a_background_store_syncs_on_a_thread_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link's store: no fsync on the caller's thread (the event loop), on disk after flush."""
    import threading

    syncing: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        syncing.append(threading.current_thread().name)
        real_fsync(fd)

    monkeypatch.setattr(handles.os, "fsync", fsync)
    store = HandleStore(tmp_path, max_age_s=600.0, background=True)
    store.save(STORED)
    assert store.flush(timeout=10)
    assert syncing
    assert threading.current_thread().name not in syncing
    assert store_in(tmp_path).load(now=NOW) == STORED


def test_a_background_store_ends_with_the_newest_save_or_clear(tmp_path: Path) -> None:
    store = HandleStore(tmp_path, max_age_s=600.0, background=True)
    for turns in range(1, 30):
        store.save(
            StoredHandle(handle=f"h{turns}", conversation_id="c-1", saved_at=NOW, turns=turns)
        )
    assert store.flush(timeout=10)
    stored = store_in(tmp_path).load(now=NOW)
    assert stored is not None
    assert stored.turns == 29
    store.save(STORED)
    store.clear()
    assert store.flush(timeout=10)
    assert not (tmp_path / handles.HANDLE_FILE_NAME).exists()
    # load() waits for what is pending: it never reads an older file than the newest save.
    store.save(STORED)
    assert store.load(now=NOW + 1) == STORED
    assert leftovers(tmp_path) == []
