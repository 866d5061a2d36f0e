"""The box's MAC, HA's unique id for it, stays the same from one start to the next."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from talkbox.homeassistant.bridge import box_mac


def test_the_interfaces_mac_is_used_as_esphome_writes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uuid, "getnode", lambda: 0xDCA632123456)
    assert box_mac() == "DC:A6:32:12:34:56"


def test_without_one_a_stable_local_address_comes_from_the_machine_id(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    machine_id = tmp_path / "machine-id"
    machine_id.write_text("0123456789abcdef0123456789abcdef\n", encoding="ascii")
    randoms = iter([0x010000000001, 0x01ABCDEF0002])  # uuid's made-up nodes differ each time
    monkeypatch.setattr(uuid, "getnode", lambda: next(randoms))
    first, second = box_mac(machine_id), box_mac(machine_id)
    assert first == second
    octet = int(first[:2], 16)
    assert octet & 0x02  # locally administered
    assert not octet & 0x01  # unicast
