"""What both ALSA threads share: opening a PCM and the loop of the thread that owns it.

`open_alsa_pcm` opens a device, `DeviceThread` runs the open / serve / report / back off /
reopen loop and reads back what the PCM really runs at.

A device that is missing, busy or vanishes is reported once as an `AudioDeviceError` (to
`on_status`, on the event loop, and as one ERROR line), then reopened with capped backoff;
when it comes back a `DeviceStatus` without error says so.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import errno
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

import alsaaudio

from talkbox.audio.alsa.liblog import route_alsa_lib_messages
from talkbox.audio.devices import DeviceStatus, Direction, StatusCallback, device_error
from talkbox.errors import AudioDeviceError

log = logging.getLogger(__name__)

EPIPE = errno.EPIPE
"""`read`/`write` return -EPIPE on an overrun or underrun (pyalsaaudio 0.11)."""
EBADFD = errno.EBADFD
"""`avail` returns -EBADFD once the stream was dropped (state SETUP; pyalsaaudio 0.11)."""


class Pcm(Protocol):
    """The part of `alsaaudio.PCM` the threads use (a test may stand in for the library)."""

    def info(self) -> dict[str, Any]:
        """What the device really runs at."""

    def read(self) -> tuple[int, bytes]:
        """One period of capture: (frames or -errno, bytes)."""

    def write(self, data: bytes) -> int:
        """Frames written, or -errno."""

    def avail(self) -> int:
        """Frames free in the playback buffer (or ready to read)."""

    def drop(self) -> int:
        """Discard what is buffered at once."""

    def close(self) -> None:
        """Release the device."""


class DeviceOptions(Protocol):
    """What both directions' options say about the device and reopening it."""

    @property
    def device(self) -> str:
        """The ALSA PCM name."""

    @property
    def reopen_min_s(self) -> float:
        """The first wait before reopening a failed device."""

    @property
    def reopen_max_s(self) -> float:
        """The longest wait between reopen attempts."""


PcmOpener = Callable[[Direction, str, int, int, int], Pcm]
"""(direction, device, rate Hz, period frames, periods) → an open PCM; raises ALSAAudioError."""


def open_alsa_pcm(
    direction: Direction, device: str, rate_hz: int, period_frames: int, periods: int
) -> Pcm:
    """Open `device` as a blocking mono S16_LE PCM; ALSA may adjust rate and period."""
    route_alsa_lib_messages()
    pcm_type = alsaaudio.PCM_CAPTURE if direction == "capture" else alsaaudio.PCM_PLAYBACK
    if re.match(r"(plug)?hw:", device):
        # A blocking open of a busy hw device waits until it is free, and pyalsaaudio holds
        # the GIL meanwhile: the whole daemon would stop. A non-blocking open fails at once
        # with "Device or resource busy" instead (this probe is closed straight away).
        alsaaudio.PCM(pcm_type, alsaaudio.PCM_NONBLOCK, device=device).close()
    pcm: Pcm = alsaaudio.PCM(
        pcm_type,
        alsaaudio.PCM_NORMAL,
        device=device,
        rate=rate_hz,
        channels=1,
        format=alsaaudio.PCM_FORMAT_S16_LE,
        periodsize=period_frames,
        periods=periods,
    )
    return pcm


def alsa_problem(err: BaseException) -> str:
    """ALSA's words without the ` [device]` pyalsaaudio appends (it has no errno)."""
    text = str(err.args[0]) if err.args else str(err)
    return re.sub(r"\s*\[[^\]]*\]$", "", text) or type(err).__name__


@dataclass(frozen=True, slots=True, kw_only=True)
class Opened:
    """What a PCM really runs at, read back from `pcm.info()`."""

    rate_hz: int
    channels: int
    period_frames: int
    buffer_frames: int


def _read_back(pcm: Pcm, direction: Direction, device: str) -> Opened:
    info = pcm.info()
    if info.get("format_name") != "S16_LE":
        raise device_error(direction, device, f"it runs as {info.get('format_name')}, not S16_LE")
    return Opened(
        rate_hz=int(info["rate"]),
        channels=int(info["channels"]),
        period_frames=int(info["period_size"]),
        buffer_frames=int(info["buffer_size"]),
    )


class DeviceThread(abc.ABC):
    """The open / serve / report / back off / reopen loop both directions share.

    A subclass opens its PCM in `_open` (with `_open_at`) and serves it in `_serve` until
    the device fails (raise `AudioDeviceError`, e.g. `_failed(err)`) or `_stopping` is set.
    """

    def __init__(
        self,
        direction: Direction,
        options: DeviceOptions,
        *,
        on_status: StatusCallback | None,
        open_pcm: PcmOpener,
    ) -> None:
        self.direction: Direction = direction
        self.device = options.device
        self._reopen = (options.reopen_min_s, options.reopen_max_s)
        self._on_status = on_status
        self._open_pcm = open_pcm
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._status: DeviceStatus | None = None
        self.reopens = 0
        """How many times the device was opened again after a failure."""

    @property
    def status(self) -> DeviceStatus | None:
        """The latest status (None until the first open attempt ends)."""
        return self._status

    def start(self) -> None:
        """Start the thread; call from the event loop that will use the device."""
        self._start(asyncio.get_running_loop())

    def close(self) -> None:
        """Stop the thread (within about one period) and release the device."""
        self._stop(2.0)

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._thread is not None:
            raise RuntimeError(f"the {self.direction} thread is already running")
        self._loop = loop
        self._thread = threading.Thread(
            target=self._run, name=f"talkbox-{self.direction}", daemon=True
        )
        self._thread.start()

    def _stop(self, timeout_s: float) -> None:
        self._stopping.set()
        self._wake()
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                # A read blocked in the driver returns within a period on real hardware;
                # the thread is a daemon and closes its PCM itself when it does.
                log.warning("the %s thread did not stop within %.1f s", self.direction, timeout_s)

    def _wake(self) -> None:  # noqa: B027 -- a hook: only playback waits idle; capture reads
        """Wake the thread from an idle wait (stop or new work)."""

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        # The loop may have closed while the thread was finishing: nobody is left to tell.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(callback, *args)

    def _report(self, status: DeviceStatus) -> None:
        previous, self._status = self._status, status
        changed = previous is None or previous.ok != status.ok
        if status.error is not None:
            # One ERROR line per outage; the reopen attempts after it log at debug only.
            if changed:
                log.error("%s", status.error)
            else:
                log.debug("%s still failing: %s", self.direction, status.error)
        elif previous is not None:
            log.info("%s device %r is back (%d Hz)", self.direction, self.device, status.rate_hz)
        else:
            log.info("%s device %r opened at %d Hz", self.direction, self.device, status.rate_hz)
        if self._on_status is not None and changed:
            self._post(self._on_status, status)

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            pcm: Pcm | None = None
            try:
                pcm, opened = self._open()
                if failures:
                    self.reopens += 1
                self._report(
                    DeviceStatus(
                        direction=self.direction, device=self.device, rate_hz=opened.rate_hz
                    )
                )
                failures = 0
                self._serve(pcm, opened)
            except AudioDeviceError as err:
                # The reopen loop is the one place a device failure is handled: release the
                # device, report it once, wait, and try again until it is back or we stop.
                # Released first, not after the wait: a dead handle kept through the backoff
                # still holds the device, and a file-plugin FIFO's peer would find its stale
                # end open, then see it close under it (docs/platform.md §2.4).
                if pcm is not None:
                    self._close(pcm)
                    pcm = None
                failures += 1
                self._report(DeviceStatus(direction=self.direction, device=self.device, error=err))
                low, high = self._reopen
                self._stopping.wait(min(high, low * 2 ** (failures - 1)))
            finally:
                if pcm is not None:
                    self._close(pcm)

    @abc.abstractmethod
    def _open(self) -> tuple[Pcm, Opened]:
        """Open this direction's PCM (in the thread), and what it really runs at."""

    @abc.abstractmethod
    def _serve(self, pcm: Pcm, opened: Opened) -> None:
        """Read or write until stopped; AudioDeviceError when the device fails."""

    def _close(self, pcm: Pcm) -> None:
        try:
            if self.direction == "playback":
                # close() drains what is buffered first; drop() makes it return at once.
                pcm.drop()
            pcm.close()
        except alsaaudio.ALSAAudioError as err:
            log.debug("closing %s device %r: %s", self.direction, self.device, alsa_problem(err))

    def _open_at(self, rate_hz: int, period_ms: int, periods: int) -> tuple[Pcm, Opened]:
        period_frames = rate_hz * period_ms // 1000
        try:
            pcm = self._open_pcm(self.direction, self.device, rate_hz, period_frames, periods)
        except alsaaudio.ALSAAudioError as err:
            raise device_error(self.direction, self.device, alsa_problem(err)) from err
        try:
            return pcm, _read_back(pcm, self.direction, self.device)
        except BaseException:
            self._close(pcm)
            raise

    def _failed(self, err: alsaaudio.ALSAAudioError) -> AudioDeviceError:
        return device_error(self.direction, self.device, alsa_problem(err))
