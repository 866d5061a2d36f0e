from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from talkbox.audio.devices import CaptureOptions, DeviceStatus, PlaybackOptions, device_error


def test_the_defaults_are_valid_options() -> None:
    assert CaptureOptions().period_ms == 20
    assert PlaybackOptions().volume == 80


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: CaptureOptions(period_ms=25), "10, 20 or 30 ms"),
        (lambda: CaptureOptions(gain_db=40), "-20..30 dB"),
        (lambda: CaptureOptions(device=" "), "must not be empty"),
        (lambda: CaptureOptions(rate_hz=1000), "8000..192000 Hz"),
        (lambda: PlaybackOptions(volume=120), "0..100 percent"),
        (lambda: PlaybackOptions(mixer=""), "leave it unset"),
        (lambda: PlaybackOptions(max_queue_s=0.5), "1..3600 s"),
        (lambda: PlaybackOptions(reopen_min_s=2, reopen_max_s=1), "0 < min <= max"),
    ],
)
def test_an_option_out_of_range_is_refused_with_its_range(
    make: Callable[[], object], words: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        make()


def test_a_device_error_names_the_device_and_where_to_look() -> None:
    err = device_error("capture", "plughw:CARD=Device,DEV=0", "No such device")
    assert str(err) == (
        "capture device 'plughw:CARD=Device,DEV=0' cannot be used: No such device"
        " (`talkbox devices` lists the devices that exist)"
    )
    assert not DeviceStatus(direction="capture", device="x", error=err).ok
    assert DeviceStatus(direction="capture", device="x", rate_hz=16_000).ok
