"""systemd's view (sd_notify on a bound NOTIFY_SOCKET) and `talkbox ctl`'s (the socket)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from talkbox.control import ask_daemon
from talkbox.conversation import State
from talkbox.daemon import serve
from talkbox.parts import CAPTURE, fake_parts, new_fake_world
from talkbox.systemd import Notifier

from .conftest import FAST_POLICY, MakeEmulator, Room, box_settings, recording, running_box, until


class NotifySocket:
    """A datagram socket standing in for systemd: keeps each message with its arrival time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.setblocking(False)
        self.messages: list[tuple[float, str]] = []

    def drain(self) -> list[tuple[float, str]]:
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return self.messages
            self.messages.append((time.monotonic(), data.decode()))

    def lines(self) -> list[str]:
        return [line for _, message in self.drain() for line in message.split("\n")]

    def times_of(self, line: str) -> list[float]:
        return [t for t, message in self.drain() if line in message.split("\n")]


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.sock.close()


async def test_ready_comes_once_the_devices_are_open_and_status_follows_the_state(
    make_emulator: MakeEmulator, tmp_path: Path, notify: NotifySocket
) -> None:
    emulator = await make_emulator(realtime=True)
    notifier = Notifier(address=str(notify.path), watchdog_s=None)
    async with running_box(emulator, tmp_path, notifier=notifier) as box:
        lines = notify.lines()
        assert lines[:2] == ["STATUS=starting", "READY=1"]
        await until(lambda: "STATUS=idle" in notify.lines(), within=2, what="STATUS=idle")
        box.world.button.press()
        await until(lambda: "STATUS=listening" in notify.lines(), within=2, what="listening")
    assert notify.lines()[-2:] == ["STOPPING=1", "STATUS=stopping"]


async def test_the_watchdog_is_pinged_at_its_interval_and_not_when_capture_stalls(
    make_emulator: MakeEmulator, tmp_path: Path, notify: NotifySocket
) -> None:
    emulator = await make_emulator(realtime=True)
    notifier = Notifier(address=str(notify.path), watchdog_s=0.25)
    async with running_box(emulator, tmp_path, notifier=notifier) as box:
        await until(lambda: len(notify.times_of("WATCHDOG=1")) >= 4, within=3, what="pings")
        pings = notify.times_of("WATCHDOG=1")
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        # Every watchdog_s, within what a loaded machine may delay or catch up.
        assert all(0.05 <= gap <= 1.0 for gap in gaps), gaps
        box.room.stalled = True

        def last_ping() -> float:
            return max(notify.times_of("WATCHDOG=1"))

        # Frames read before the stall may still be counted, so the pings stop a little after
        # it; once they have, none may come while capture stays stalled.
        await until(lambda: time.monotonic() - last_ping() > 0.75, within=5, what="pings stop")
        quiet_since = last_ping()
        await asyncio.sleep(1.0)
        assert last_ping() == quiet_since
        box.room.stalled = False
        await until(
            lambda: last_ping() > quiet_since,
            within=2,
            what="pings again",
        )


async def test_without_a_microphone_the_watchdog_is_still_pinged(
    make_emulator: MakeEmulator, tmp_path: Path, notify: NotifySocket
) -> None:
    # The microphone is missing (no card, no module): no frame ever comes. Its thread keeps
    # reopening it, the box is alive, and systemd must not restart it every 30 s for that.
    emulator = await make_emulator(realtime=True)
    notifier = Notifier(address=str(notify.path), watchdog_s=0.25)
    async with running_box(emulator, tmp_path, notifier=notifier) as box:
        box.room.stalled = True
        box.world.mic.fail()
        await until(
            lambda: CAPTURE in box.app.conversation.broken, within=2, what="the mic reported gone"
        )
        frames = box.app.counters.frames
        since = time.monotonic()
        await until(
            lambda: len([t for t in notify.times_of("WATCHDOG=1") if t > since + 0.5]) >= 3,
            within=5,
            what="pings without a microphone",
        )
        assert box.app.counters.frames - frames <= 2  # frames already on their way, at most


async def test_ctl_drives_the_box_and_status_tells_the_state_link_and_last_turn(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    path = tmp_path / "run" / "control.sock"
    async with running_box(
        emulator, tmp_path, control_socket=path, button_mode="hold", world=new_fake_world()
    ) as box:
        assert path.stat().st_mode & 0o777 == 0o660
        assert (await ask_daemon(path, {"command": "press"})) == {"ok": True}
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording("question-weather.wav")[:32_000])
        await until(lambda: not box.room.speaking, within=3, what="spoken")
        await ask_daemon(path, {"command": "release"})
        await box.state_is(State.IDLE, within=10)
        status = await ask_daemon(path, {"command": "status"})
        assert status["ok"] is True
        assert status["state"] == "idle"
        assert status["link"]["connected"] is True
        assert status["last_turn"]["answered"] is True
        assert status["last_turn"]["audio_s"] > 0.5
        assert await ask_daemon(path, {"command": "volume", "percent": 35}) == {
            "ok": True,
            "volume": 35,
        }
        assert box.world.speaker.volume == 35
        await ask_daemon(path, {"command": "mute"})
        await box.state_is(State.MUTED, within=2)
        await ask_daemon(path, {"command": "unmute"})
        await box.state_is(State.IDLE, within=2)


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"not json\n", "the request is not a JSON object"),
        (b"[1, 2]\n", "the request is not a JSON object"),
        (b'{"command": "explode"}\n', "unknown command 'explode'"),
        (b'{"command": "volume", "percent": 101}\n', "volume needs a percent"),
        (b'{"command": "say", "text": "  "}\n', "say needs a non-empty text"),
        (b'{"command": "press", "force": true}\n', "unknown field(s) force"),
        (b"\xff\xfe\n", "the request is not a JSON object"),
    ],
)
async def test_a_malformed_request_gets_a_json_error_and_the_box_goes_on(
    make_emulator: MakeEmulator, tmp_path: Path, line: bytes, error: str
) -> None:
    emulator = await make_emulator()
    path = tmp_path / "control.sock"
    async with running_box(emulator, tmp_path, control_socket=path) as box:
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(line)
        await writer.drain()
        async with asyncio.timeout(5):
            answer = json.loads(await reader.readline())
        writer.close()
        assert answer["ok"] is False
        assert answer["error"].startswith(error)
        assert (await ask_daemon(path, {"command": "status"}))["state"] == str(box.app.state)


async def test_ctl_say_asks_a_text_question_whose_answer_is_spoken(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    path = tmp_path / "control.sock"
    async with running_box(emulator, tmp_path, control_socket=path) as box:
        assert await ask_daemon(path, {"command": "say", "text": "what time is it"}) == {"ok": True}
        await box.state_is(State.THINKING, within=2)
        await box.state_is(State.SPEAKING, within=5)
        await box.state_is(State.IDLE, within=10)
        assert box.world.speaker.audio
        await ask_daemon(path, {"command": "mute"})
        await box.state_is(State.MUTED, within=2)
        refused = await ask_daemon(path, {"command": "say", "text": "hello"})
        assert refused == {"ok": False, "error": "say needs the box idle; it is in the muted state"}


async def test_sigterm_stops_the_box_within_two_seconds_led_off_pins_released(
    make_emulator: MakeEmulator, tmp_path: Path, notify: NotifySocket
) -> None:
    emulator = await make_emulator(realtime=True)
    world = new_fake_world()
    settings = box_settings(emulator, tmp_path / "state")
    notifier = Notifier(address=str(notify.path), watchdog_s=None)
    room = Room(world.mic)
    feeder = asyncio.create_task(room.run())
    daemon = asyncio.create_task(
        serve(
            settings,
            fake_parts(world),
            notifier=notifier,
            control_socket=tmp_path / "control.sock",
            policy=FAST_POLICY,
        )
    )
    try:
        await until(lambda: "STATUS=idle" in notify.lines(), within=10, what="idle")
        signalled = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(2.0):
            code = await daemon
        assert time.monotonic() - signalled < 2.0
    finally:
        feeder.cancel()
    assert code == 0
    assert "STOPPING=1" in notify.lines()
    assert world.indicator.shown is None
    assert world.indicator.closed
    assert world.button.closed
    assert not (tmp_path / "control.sock").exists()


@pytest.mark.parametrize("log_transcripts", [False, True])
async def test_ctl_status_shows_the_answer_s_words_only_when_transcripts_are_on(
    make_emulator: MakeEmulator, tmp_path: Path, log_transcripts: bool
) -> None:
    emulator = await make_emulator(realtime=False)
    path = tmp_path / "run" / "control.sock"
    async with running_box(
        emulator,
        tmp_path,
        control_socket=path,
        button_mode="hold",
        log_transcripts=log_transcripts,
    ) as box:
        await ask_daemon(path, {"command": "press"})
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording("question-weather.wav")[:32_000])
        await until(lambda: not box.room.speaking, within=3, what="spoken")
        await ask_daemon(path, {"command": "release"})
        await until(
            lambda: box.app.last_turn is not None and box.app.last_turn.answered,
            within=10,
            what="the answer",
        )
        status = await ask_daemon(path, {"command": "status"})
    assert box.app.last_turn is not None
    assert box.app.last_turn.transcript  # the link heard words either way
    if log_transcripts:
        assert status["last_turn"]["transcript"] == box.app.last_turn.transcript
    else:
        assert "transcript" not in status["last_turn"]
