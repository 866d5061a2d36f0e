"""Noise suppression and automatic gain on the capture path (the only pyspeex_noise importer).

Usage, in the control task, before the VAD, the wake word and the uplink see a frame::

    denoiser = Denoiser(DenoiseOptions(noise_suppression=2, auto_gain_dbfs=-12.0))
    frame = denoiser.process(frame)  # 20 ms in, the same 20 ms cleaned out

pyspeex-noise wraps speex's preprocessor (spectral noise suppression and an automatic gain
control that adapts only while speech is heard), fixed at 16 kHz and 10 ms frames: its
`Process10ms` reads exactly 320 bytes whatever it is given (a shorter buffer would be read
past its end), so `process()` takes whole 10 ms frames and feeds them one at a time. The
output of a frame is returned at once, with no added delay. Off (the default) the frames pass
through untouched and speex is never loaded. It costs about 0.1 % of a core on x86
(`benchmarks/wake.py`).

Levels: TALKBOX_NOISE_SUPPRESSION 1 to 4 allows speex to take away at most 15, 30, 45 or
60 dB of noise (Home Assistant's scale for the same library). TALKBOX_AUTO_GAIN is speex's
loudness target in dBFS: speech comes out with peaks about 4 dB above it and an RMS about
14 dB below it (measured), e.g. -12 dBFS (speex's own default level, 8000) gives peaks near
-8 dBFS. Quieter targets push speech towards the endpointer's energy floor
(VAD_MIN_ENERGY, -45 dBFS by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from talkbox.audio.format import INPUT_RATE_HZ, SAMPLE_BYTES

CHUNK_BYTES = INPUT_RATE_HZ // 100 * SAMPLE_BYTES
"""Bytes in the 10 ms frames speex works on (160 samples of 16 kHz mono S16_LE)."""
DB_PER_LEVEL = 15
"""The most noise each noise suppression level may take away, in dB."""
LEVELS = range(1, 5)
"""The noise suppression levels (0 is off)."""
AUTO_GAIN_RANGE_DBFS = (-30.0, -6.0)
"""The automatic gain targets allowed."""

if TYPE_CHECKING:
    from pyspeex_noise import AudioProcessor


@dataclass(frozen=True, slots=True, kw_only=True)
class DenoiseOptions:
    """What to do to the microphone audio (TALKBOX_* in brackets)."""

    noise_suppression: int = 0
    """0 (off) or 1 to 4: at most 15 to 60 dB of noise taken away (NOISE_SUPPRESSION)."""
    auto_gain_dbfs: float | None = None
    """None (off) or the loudness target, -30 to -6 dBFS (AUTO_GAIN)."""

    def __post_init__(self) -> None:
        """Refuse values speex cannot use."""
        if self.noise_suppression != 0 and self.noise_suppression not in LEVELS:
            level = self.noise_suppression
            raise ValueError(f"noise suppression is off (0) or a level 1 to 4, not {level}")
        low, high = AUTO_GAIN_RANGE_DBFS
        if self.auto_gain_dbfs is not None and not low <= self.auto_gain_dbfs <= high:
            target = self.auto_gain_dbfs
            raise ValueError(f"the auto gain target must be {low} to {high} dBFS, not {target}")

    @property
    def enabled(self) -> bool:
        """Whether anything is done to the audio at all."""
        return self.noise_suppression != 0 or self.auto_gain_dbfs is not None


class Denoiser:
    """Speex noise suppression and automatic gain, 10 ms at a time; a no-op when off."""

    def __init__(self, options: DenoiseOptions) -> None:
        """Prepare speex for `options` (nothing is loaded when both are off)."""
        self.options = options
        self._speex = self._new() if options.enabled else None

    def process(self, frame: bytes) -> bytes:
        """The cleaned audio of `frame` (16 kHz mono S16_LE, a whole number of 10 ms)."""
        if len(frame) % CHUNK_BYTES:
            raise ValueError(f"speex takes whole 10 ms frames ({CHUNK_BYTES} bytes each)")
        if self._speex is None:
            return frame
        speex = self._speex
        return b"".join(
            speex.Process10ms(frame[i : i + CHUNK_BYTES]).audio
            for i in range(0, len(frame), CHUNK_BYTES)
        )

    def reset(self) -> None:
        """Forget the noise estimate and the gain (a new stream)."""
        if self._speex is not None:
            self._speex = self._new()

    def _new(self) -> AudioProcessor:
        # Imported here: a box without cleaning never loads speex (about 0.7 MB resident).
        from pyspeex_noise import AudioProcessor

        # speex: a suppression of 0 dB turns denoising off, a gain level of 0 turns AGC off;
        # the level is a linear sample amplitude.
        suppression_db = -DB_PER_LEVEL * self.options.noise_suppression
        target = self.options.auto_gain_dbfs
        level = 0.0 if target is None else 32768.0 * 10 ** (target / 20)
        return AudioProcessor(level, suppression_db)
