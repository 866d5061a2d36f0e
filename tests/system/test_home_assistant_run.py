"""`talkbox run` as systemd runs it, with TALKBOX_HOME_ASSISTANT=esphome: HA's client drives it.

aioesphomeapi's APIClient (the client Home Assistant uses) connects over Noise to the daemon's
ESPHome API on loopback; its mute is the daemon's mute (`ctl status` says so, a `ctl press`
opens nothing), its unmute a person's; `talkbox check` refuses the same settings without a
key unless plaintext is chosen in writing.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aioesphomeapi import APIClient, TextSensorState

from talkbox.audio.standins import LiveMic
from talkbox.emulator import EmulatorThread

from .test_run import Daemon, daemon_env, emulator, wait_until

__all__ = ["emulator"]  # fixtures

pytestmark = pytest.mark.slow

KEY = base64.b64encode(bytes(range(32))).decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def ha_env(tmp_path: Path, emu: EmulatorThread, port: int, **extra: str) -> dict[str, str]:
    return daemon_env(
        tmp_path,
        emu,
        TALKBOX_HOME_ASSISTANT="esphome",
        TALKBOX_HOME_ASSISTANT_ADDRESSES="127.0.0.1",
        TALKBOX_HOME_ASSISTANT_PORT=str(port),
        TALKBOX_HOME_ASSISTANT_MDNS="false",
        **extra,
    )


def test_ha_mutes_and_unmutes_a_running_daemon_over_noise(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    port = free_port()
    mic = LiveMic(tmp_path / "mic.fifo")
    env = ha_env(tmp_path, emulator, port, TALKBOX_HOME_ASSISTANT_ENCRYPTION_KEY=KEY)
    daemon = Daemon(tmp_path, env)

    async def drive() -> list[str]:
        client = APIClient("127.0.0.1", port, None, noise_psk=KEY)
        await asyncio.wait_for(client.connect(login=True), 15)
        try:
            _, entities, _ = await client.device_info_and_list_entities()
            keys = {e.object_id: e.key for e in entities}
            states: list[str] = []
            client.subscribe_states(
                lambda s: states.append(s.state) if isinstance(s, TextSensorState) else None
            )
            client.switch_command(keys["mute"], True)
            await asyncio.to_thread(
                wait_until, lambda: daemon.status().get("muted") is True, 10, "muted"
            )
            assert daemon.ctl("press") == {"ok": True}  # accepted, and refused by the mute
            await asyncio.sleep(0.5)
            assert daemon.status().get("state") == "muted"
            client.switch_command(keys["mute"], False)
            await asyncio.to_thread(
                wait_until, lambda: daemon.status().get("state") == "idle", 10, "unmuted"
            )
            await asyncio.sleep(1.0)  # the last state reaches the client
            return states
        finally:
            await client.disconnect()

    try:
        wait_until(lambda: daemon.status().get("state") == "idle", 20, "idle")
        states = asyncio.run(drive())
        assert "muted" in states
        assert states[-1] == "idle"
        assert daemon.stop() == 0
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
        mic.close()
    log = daemon.log()
    assert "ESPHome API on 127.0.0.1" in log
    assert KEY not in log


def test_check_refuses_the_esphome_api_without_a_key_unless_plaintext_is_written(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    env = ha_env(tmp_path, emulator, free_port())
    (tmp_path / "run").mkdir()
    refused = subprocess.run(
        [sys.executable, "-m", "talkbox", "check"], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 78
    assert "TALKBOX_HOME_ASSISTANT_ENCRYPTION_KEY is not set" in refused.stdout + refused.stderr
    env["TALKBOX_HOME_ASSISTANT_PLAINTEXT"] = "true"
    allowed = subprocess.run(
        [sys.executable, "-m", "talkbox", "check"], env=env, capture_output=True, text=True
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr


def test_a_port_in_use_stops_the_start_with_one_line_naming_the_setting(
    tmp_path: Path, emulator: EmulatorThread
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = ha_env(tmp_path, emulator, port, TALKBOX_HOME_ASSISTANT_ENCRYPTION_KEY=KEY)
        mic = LiveMic(tmp_path / "mic.fifo")
        daemon = Daemon(tmp_path, env)
        try:
            code = daemon.process.wait(30)
        finally:
            if daemon.process.poll() is None:
                daemon.process.kill()
            mic.close()
    assert code == 75, daemon.log()
    assert f"the ESPHome API's port 127.0.0.1:{port} is in use" in daemon.log()
    assert "Traceback" not in daemon.log()
