"""A box with Home Assistant off never loads its libraries (about 0.6 s and 25 MB at start)."""

from __future__ import annotations

import subprocess
import sys


def test_the_daemon_imports_no_esphome_protobuf_zeroconf_or_noise() -> None:
    code = (
        "import sys, talkbox.cli, talkbox.appliance.app, talkbox.appliance.serve, "
        "talkbox.appliance.hardware, talkbox.appliance.tools\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('aioesphomeapi', 'zeroconf', 'noise', 'ifaddr')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
