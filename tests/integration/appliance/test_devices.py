"""Devices that fail, a link that cannot answer: the box says so and recovers by itself."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from talkbox.appliance.systemd import Notifier
from talkbox.conversation import Earcon, State
from talkbox.live.backoff import RetryPolicy

from .conftest import MakeEmulator, recording, running_box, until

QUESTION = "question-weather.wav"


async def test_a_vanished_microphone_is_an_error_until_it_returns(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path) as box:
        await box.state_is(State.IDLE)
        box.world.mic.fail("No such device")
        await box.state_is(State.ERROR, within=2)
        assert box.app.status_line() == "error: capture device: No such device"
        box.world.button.press()  # refused: the LED already says why
        await until(
            lambda: box.world.speaker.earcons[-1:] == [Earcon.ERROR], within=2, what="earcon"
        )
        assert box.app.state is State.ERROR
        box.world.mic.recover()
        await box.state_is(State.IDLE, within=2)
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)


async def test_a_speaker_failing_during_an_answer_ends_the_turn_in_error_then_recovers(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path, button_mode="hold") as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording(QUESTION)[: 2 * 32_000])
        await until(lambda: not box.room.speaking, within=5, what="spoken")
        box.world.button.release()
        await box.state_is(State.SPEAKING)
        box.world.speaker.fail("Input/output error")
        await box.state_is(State.ERROR, within=2)
        assert "playback device" in box.app.status_line()
        box.world.speaker.recover()
        await box.state_is(State.IDLE, within=2)


async def test_a_turn_closed_while_the_service_is_unreachable_fails_after_the_answer_timeout(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    # The connection drops while the person speaks, and every reconnect is refused.
    emulator = await make_emulator(
        realtime=True, faults=["abort@msg=20", "reject_upgrade:status=503@conn=2-"]
    )
    # Offline after a scaled minute of failures (README: 60 s).
    policy = RetryPolicy(
        base_s=0.05, cap_s=0.4, fatal_retry_s=30.0, stable_after_s=5.0, offline_after_s=3.0
    )
    async with running_box(
        emulator, tmp_path, policy=policy, button_mode="hold", answer_timeout_s=1.5
    ) as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording(QUESTION)[:32_000])
        await until(lambda: not box.room.speaking, within=3, what="spoken")
        box.world.button.release()
        await box.state_is(State.THINKING, within=2)
        await box.state_is(State.ERROR, within=6)
        assert box.world.speaker.earcons[-1] is Earcon.ERROR
        await box.state_is(State.OFFLINE, within=8)
        assert box.app.status_line().startswith("offline: retrying in ")
        box.world.button.press()  # offline: an earcon, never a turn answered later
        await until(
            lambda: (
                box.world.speaker.earcons[-1:] == [Earcon.ERROR]
                and len(box.world.speaker.earcons) >= 4
            ),
            within=2,
            what="the refusal earcon",
        )
        assert box.app.state is State.OFFLINE


async def test_a_microphone_missing_at_start_is_what_status_and_systemd_say_once_connected(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    notify = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.setblocking(False)
    notifier = Notifier(address=str(notify), watchdog_s=None)
    try:
        async with running_box(emulator, tmp_path, notifier=notifier, connected=False) as box:
            box.world.mic.fail("No such device")
            await until(lambda: box.app.link.status().connected, within=10, what="connected")
            await asyncio.sleep(0.2)
            assert box.app.status()["status"] == "error: capture device: No such device"
            statuses = [
                line
                for message in iter(lambda: _recv(sock), None)
                for line in message.split("\n")
                if line.startswith("STATUS=")
            ]
            assert statuses[-1] == "STATUS=error: capture device: No such device"
    finally:
        sock.close()


def _recv(sock: socket.socket) -> str | None:
    try:
        return sock.recv(4096).decode()
    except BlockingIOError:
        return None


async def test_a_turn_cut_by_a_failing_speaker_is_not_called_answered(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emulator = await make_emulator(realtime=True)
    async with running_box(emulator, tmp_path, button_mode="hold") as box:
        box.world.button.press()
        await box.state_is(State.LISTENING, within=2)
        box.room.say(recording(QUESTION)[: 2 * 32_000])
        await until(lambda: not box.room.speaking, within=5, what="spoken")
        box.world.button.release()
        await box.state_is(State.SPEAKING)
        box.world.speaker.fail("Input/output error")
        await box.state_is(State.ERROR, within=2)
        # The service finishes its answer; nobody heard it.
        await until(lambda: box.app.link.status().pending_turns == 0, within=10, what="done")
        last = box.app.status()["last_turn"]
        assert last["answered"] is False
        assert last["reason"].startswith("abandoned: the playback device failed")
        assert box.app.status()["status"] == "error: playback device: Input/output error"
