"""One process owns a state dir: the flock, its note naming the holder, the bounded wait."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from talkbox.errors import ConfigError, StateBusyError
from talkbox.state_lock import (
    LOCK_FILE_NAME,
    Holder,
    StateLock,
    busy_message,
    holding,
    read_holder,
)


def test_a_second_lock_on_the_same_dir_is_refused_until_the_first_is_released(
    tmp_path: Path,
) -> None:
    first = StateLock(tmp_path, command="ask")
    second = StateLock(tmp_path, command="ask")
    assert first.try_acquire()
    # flock belongs to the open file, so even the same process is refused a second one.
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_the_holder_leaves_its_pid_and_command_in_the_lock_file(tmp_path: Path) -> None:
    lock = StateLock(tmp_path, command="run")
    assert lock.try_acquire()
    assert read_holder(tmp_path / LOCK_FILE_NAME) == Holder(os.getpid(), "run")
    lock.release()


@pytest.mark.parametrize(
    "content",
    [b"", b"not json", b"[]", json.dumps({"pid": "1", "command": "x\ny"}).encode()],
)
def test_an_unreadable_note_names_an_unknown_talkbox(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / LOCK_FILE_NAME
    path.write_bytes(content)
    assert read_holder(path) == Holder(None, "talkbox")


def test_the_refusal_says_who_holds_the_dir_and_sends_ask_to_a_running_daemon(
    tmp_path: Path,
) -> None:
    assert busy_message(tmp_path, Holder(42, "ask")) == (
        f"talkbox ask (pid 42) is using the state dir {tmp_path}; try again when it has finished"
    )
    daemon = busy_message(tmp_path, Holder(7, "run"))
    assert "daemon (pid 7)" in daemon
    assert "send turns to the running daemon" in daemon


async def test_a_held_dir_is_waited_for_only_so_long_then_refused_naming_the_holder(
    tmp_path: Path,
) -> None:
    holder = StateLock(tmp_path, command="run")
    assert holder.try_acquire()
    with pytest.raises(StateBusyError, match=rf"daemon \(pid {os.getpid()}\)"):
        async with holding(tmp_path, command="ask", wait_s=0.2):
            pytest.fail("the body ran without the lock")
    holder.release()
    async with holding(tmp_path, command="ask", wait_s=0.0):
        assert read_holder(tmp_path / LOCK_FILE_NAME).command == "ask"
    # Released on the way out: the next one gets it at once.
    again = StateLock(tmp_path, command="ask")
    assert again.try_acquire()
    again.release()


async def test_a_state_dir_that_cannot_hold_a_lock_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"TALKBOX_STATE_DIR .* cannot be locked"):
        async with holding(blocker / "state", command="ask", wait_s=0.0):
            pytest.fail("locked a dir under a file")


def test_a_symlink_planted_as_the_lock_file_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    state = tmp_path / "state"
    state.mkdir()
    (state / LOCK_FILE_NAME).symlink_to(victim)
    with pytest.raises(OSError, match="symbolic links"):
        StateLock(state, command="ask").try_acquire()
    assert victim.read_text() == "keep me"
