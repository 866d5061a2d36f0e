from __future__ import annotations

from pathlib import Path

import pytest

from talkbox.appliance.control import (
    MAX_NESTING,
    Request,
    RequestError,
    Requests,
    candidates,
    nesting,
    parse_request,
    runtime_dir,
)
from talkbox.appliance.mute import MuteStore
from talkbox.conversation import ButtonPressed, MuteRequested, RingStopRequested


def test_a_say_request_carries_its_text_and_a_volume_request_its_percent() -> None:
    assert parse_request(b'{"command": "say", "text": " hi "}') == Request(command="say", text="hi")
    assert parse_request(b'{"command": "volume", "percent": 0}').percent == 0


def test_event_commands_become_the_conversation_events_a_person_would_cause() -> None:
    assert parse_request(b'{"command": "press"}').event() == ButtonPressed()
    assert parse_request(b'{"command": "mute"}').event() == MuteRequested(source="ctl")
    assert parse_request(b'{"command": "stop"}').event() == RingStopRequested(source="ctl")
    assert parse_request(b'{"command": "timers"}') == Request(command="timers")


@pytest.mark.parametrize(
    "line",
    [b"", b"{}", b'{"command": 3}', b'{"command": "volume", "percent": true}', b"\x80"],
)
def test_requests_that_cannot_be_understood_are_refused(line: bytes) -> None:
    with pytest.raises(RequestError):
        parse_request(line)


def test_a_handler_refusing_a_request_becomes_an_error_answer() -> None:
    def handler(request: Request) -> dict[str, object]:
        raise ValueError("volume must be 0..100 percent")

    assert Requests(handler).answer(b'{"command": "status"}') == {
        "ok": False,
        "error": "volume must be 0..100 percent",
    }


def test_the_runtime_dir_is_systemds_then_the_users_then_run_talkbox() -> None:
    assert runtime_dir({"RUNTIME_DIRECTORY": "/run/talkbox:/run/x"}) == Path("/run/talkbox")
    assert runtime_dir({"XDG_RUNTIME_DIR": "/run/user/1000"}) == Path("/run/user/1000/talkbox")
    assert runtime_dir({"XDG_RUNTIME_DIR": "relative"}) == Path("/run/talkbox")


def test_the_mute_is_stored_and_read_back(tmp_path: Path) -> None:
    store = MuteStore(tmp_path / "state")
    assert store.load() is False
    store.save(True)
    assert MuteStore(tmp_path / "state").load() is True
    store.save(False)
    assert store.load() is False


def test_a_damaged_mute_file_keeps_the_box_muted(tmp_path: Path) -> None:
    (tmp_path / "mute.json").write_text("{not json", encoding="utf-8")
    assert MuteStore(tmp_path).load() is True


def test_ctl_looks_in_the_services_run_talkbox_before_the_login_sessions_dir() -> None:
    session = {"XDG_RUNTIME_DIR": "/run/user/0"}
    assert candidates(session) == [
        Path("/run/talkbox/control.sock"),
        Path("/run/user/0/talkbox/control.sock"),
    ]
    assert candidates({}) == [Path("/run/talkbox/control.sock")]
    # systemd's (or a hand-set) RUNTIME_DIRECTORY is where the daemon is: nothing else.
    given = {"RUNTIME_DIRECTORY": "/tmp/rt", **session}
    assert candidates(given) == [Path("/tmp/rt/control.sock")]


@pytest.mark.parametrize(
    ("line", "depth"),
    [
        (b'{"command": "status"}', 1),
        (b'{"command": "say", "text": "[[{{ \\" ]]"}', 1),
        (b'[[[{"a": [1, {"b": 2}]}]]]', 6),
        (b"[" * 50_000, 50_000),
        (b"", 0),
    ],
)
def test_nesting_counts_brackets_outside_strings(line: bytes, depth: int) -> None:
    assert nesting(line) == depth


def test_a_request_nested_too_deeply_is_refused_before_the_parser_recurses() -> None:
    with pytest.raises(RequestError, match=f"nests deeper than {MAX_NESTING} levels"):
        parse_request(b"[" * 60_000)
    deep = b'{"command": "status", "x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    assert Requests(lambda request: {}).answer(deep) == {
        "ok": False,
        "error": f"the request nests deeper than {MAX_NESTING} levels",
    }
