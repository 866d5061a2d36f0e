"""Wake word, VAD and noise suppression benchmark on synthesized speech (no appliance, no network).

Run: .venv/bin/python benchmarks/wake.py [--corpus DIR] [--remake]
Makes the corpus with `scripts/make-test-audio --corpus DIR` when DIR has none (espeak-ng and
sox needed; default benchmarks/results/wake-audio, ~90 MB, gitignored), then prints tables
and writes benchmarks/results/wake.json:

- detection rate on the positive set (each shipped wake word but hey_jarvis, eight voices,
  two speeds; clean, over a room and a fan, and over the box's own answer 12 and 6 dB below
  the person), with all three models listening at once, raw and with noise suppression;
- false activations per hour on half an hour of other speech fed as one stream, like a
  radio left on, and how many near-miss phrases fire;
- detection latency: the end of the wake word in the clip to the detection, in audio time;
- for both VADs: the share of frames of noise alone (room, fan, tone, chord) called speech,
  and whether the endpointer would start a turn on it;
- CPU per second of audio (process CPU time, so a library's own threads count) for the wake
  word, each VAD and speex, beside DESIGN.md's budget (wake word listening <= 5 % of a
  core), and the wake detector's wall time per 20 ms frame (it runs in the control task).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
import wave
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from _common import percentile
from talkbox.audio.denoise import DenoiseOptions, Denoiser
from talkbox.hearing.endpoint import Decision, Endpointer, EndpointOptions
from talkbox.hearing.vad import FRAME_BYTES, SpeechDetector, VadKind, make_vad
from talkbox.hearing.wake import WakeOptions, WakeWordDetector, WakeWordSpec
from talkbox.ports import Vad

ROOT = Path(__file__).parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "wake.json"
DEFAULT_CORPUS = ROOT / "benchmarks" / "results" / "wake-audio"
LISTENING = "okay_nabu,alexa,hey_mycroft"  # hey_jarvis does not hear espeak-ng's voices
NOISE_SUPPRESSION = DenoiseOptions(noise_suppression=2)
FRAME_S = 0.02
# A detection counts for the clip's wake word when it fires its model between the start of
# the word and this long after its end; anything else is a miss.
LATE_S = 1.0
BUDGETS = {"wake_cpu_percent": 5.0}  # DESIGN.md: CPU listening for the wake word, x86


def read(path: Path) -> bytes:
    """A clip in whole 20 ms frames, as the microphone delivers it."""
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16_000, 1, 2)
        pcm: bytes = wav.readframes(wav.getnframes())
    return pcm[: len(pcm) // FRAME_BYTES * FRAME_BYTES]


def frames(pcm: bytes) -> Iterable[bytes]:
    return (pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES))


def corpus(directory: Path, remake: bool) -> dict[str, dict[str, Any]]:
    manifest = directory / "corpus.json"
    if remake or not manifest.is_file():
        subprocess.run([ROOT / "scripts" / "make-test-audio", "--corpus", directory], check=True)
    clips: dict[str, dict[str, Any]] = json.loads(manifest.read_text(encoding="utf-8"))
    return clips


def detector() -> WakeWordDetector:
    return WakeWordDetector(
        WakeOptions(wake_words=tuple(WakeWordSpec(source=w) for w in LISTENING.split(",")))
    )


def cleaned(pcm: bytes, options: DenoiseOptions | None) -> bytes:
    if options is None:
        return pcm
    denoiser = Denoiser(options)
    return b"".join(denoiser.process(frame) for frame in frames(pcm))


def positives(
    directory: Path, clips: dict[str, dict[str, Any]], cleanup: DenoiseOptions | None
) -> dict[str, Any]:
    """Detection rate per model and condition, and the latency of each detection."""
    wake = detector()
    hits: dict[str, list[bool]] = defaultdict(list)
    latencies: dict[str, list[float]] = defaultdict(list)
    wrong = 0
    for name, facts in sorted(clips.items()):
        if facts["kind"] != "wake":
            continue
        wake.reset()
        found = [
            d for d in map(wake.process, frames(cleaned(read(directory / name), cleanup))) if d
        ]
        good = [
            d
            for d in found
            if d.model_id == facts["model"]
            and facts["wake_start_s"] <= d.audio_s <= facts["wake_end_s"] + LATE_S
        ]
        wrong += sum(d.model_id != facts["model"] for d in found)
        for key in ("all", facts["model"], facts["condition"], facts["voice"]):
            hits[key].append(bool(good))
        if good:
            latency = good[0].audio_s - facts["wake_end_s"]
            latencies["all"].append(latency)
            latencies[facts["model"]].append(latency)
    return {
        "detection_rate": {k: sum(v) / len(v) for k, v in hits.items()},
        "clips": {k: len(v) for k, v in hits.items()},
        "wrong_model_detections": wrong,
        "latency_s": {
            k: {
                "n": len(v),
                "p50": percentile(v, 50),
                "p95": percentile(v, 95),
                "min": min(v),
                "max": max(v),
            }
            for k, v in latencies.items()
        },
    }


def negatives(
    directory: Path, clips: dict[str, dict[str, Any]], cleanup: DenoiseOptions | None
) -> dict[str, Any]:
    """False activations on other speech as one stream, and near misses clip by clip."""
    wake = detector()
    denoiser = Denoiser(cleanup) if cleanup else None
    speech_s = 0.0
    activations: list[str] = []
    for name, facts in sorted(clips.items()):
        if facts["kind"] != "speech":
            continue
        pcm = read(directory / name)
        speech_s += len(pcm) / 32_000
        for frame in frames(pcm):
            if denoiser is not None:
                frame = denoiser.process(frame)
            if (found := wake.process(frame)) is not None:
                activations.append(f"{found.model_id} in {name}")
    near: dict[str, list[str]] = defaultdict(list)
    near_clips = 0
    for name, facts in sorted(clips.items()):
        if facts["kind"] != "near_miss":
            continue
        near_clips += 1
        wake.reset()
        pcm = cleaned(read(directory / name), cleanup)
        for found in filter(None, map(wake.process, frames(pcm))):
            near[str(facts["text"])].append(f"{found.model_id} ({facts['voice']})")
    return {
        "speech_minutes": speech_s / 60,
        "false_activations": len(activations),
        "false_activations_per_hour": len(activations) / speech_s * 3600,
        "activations": activations,
        "near_miss_clips": near_clips,
        "near_miss_clips_firing": sum(1 for v in near.values() for _ in v),
        "near_misses_firing": dict(sorted(near.items())),
    }


VADS: dict[str, Callable[[], Vad]] = {
    "webrtc 3": lambda: make_vad(VadKind.WEBRTC, aggressiveness=3),
    "webrtc 0": lambda: make_vad(VadKind.WEBRTC, aggressiveness=0),
    "silero": lambda: make_vad(VadKind.SILERO),
}


def vad_on_noise(directory: Path, clips: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per VAD and noise: the share of frames called speech; whether a turn would start."""
    out: dict[str, Any] = {}
    for name, facts in sorted(clips.items()):
        if facts["kind"] != "noise":
            continue
        pcm = read(directory / name)
        for kind, make in VADS.items():
            vad = make()
            called = sum(vad.is_speech(frame) for frame in frames(pcm))
            # The endpointer's own VAD instance: each adapts to the stream it is fed.
            detector = SpeechDetector(make(), Endpointer(EndpointOptions()))
            detector.endpointer.reset(no_speech_timeout_s=None)
            started = sum(detector.feed(frame) is Decision.STARTED for frame in frames(pcm))
            out[f"{facts['condition']}/{kind}"] = {
                "speech_frames_percent": 100 * called / (len(pcm) // FRAME_BYTES),
                "turn_started": bool(started),
            }
    return out


def vad_on_questions() -> dict[str, Any]:
    """Per VAD: when the endpointer (defaults) ends the turn after each committed question."""
    data = ROOT / "tests" / "data"
    speech = json.loads((data / "speech.json").read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    for kind, make in VADS.items():
        for name, facts in speech.items():
            detector = SpeechDetector(make(), Endpointer(EndpointOptions()))
            detector.endpointer.reset(no_speech_timeout_s=5.0)
            ended = None
            for i, frame in enumerate(frames(read(data / name))):
                if detector.feed(frame) is Decision.ENDED:
                    ended = (i + 1) * FRAME_S
                    break
            out[f"{name}/{kind}"] = None if ended is None else ended - facts["speech"][1]
    return out


def cpu_percent(work: Callable[[bytes], object], pcm: bytes) -> float:
    """Process CPU time per second of audio for `work` fed `pcm` in 20 ms frames, in %."""
    start = time.process_time()
    for frame in frames(pcm):
        work(frame)
    return 100 * (time.process_time() - start) / (len(pcm) / 32_000)


def cpu(directory: Path, clips: dict[str, dict[str, Any]], minutes: float) -> dict[str, Any]:
    """CPU per second of audio on `minutes` of other speech, and the wake word's frame time."""
    names = sorted(n for n, f in clips.items() if f["kind"] == "speech")
    pcm = b""
    for name in names:
        pcm += read(directory / name)
        if len(pcm) >= minutes * 60 * 32_000:
            break
    one = WakeWordDetector(WakeOptions(wake_words=(WakeWordSpec(source="okay_nabu"),)))
    three = detector()
    webrtc, silero = make_vad(VadKind.WEBRTC), make_vad(VadKind.SILERO)
    denoise = Denoiser(NOISE_SUPPRESSION)
    denoise_gain = Denoiser(DenoiseOptions(noise_suppression=2, auto_gain_dbfs=-12.0))
    figures = {
        "wake word, 1 model (okay_nabu)": cpu_percent(one.process, pcm),
        "wake words, 3 models": cpu_percent(three.process, pcm),
        "webrtcvad (mode 3)": cpu_percent(webrtc.is_speech, pcm),
        "silero VAD": cpu_percent(silero.is_speech, pcm),
        "speex noise suppression (level 2)": cpu_percent(denoise.process, pcm),
        "speex noise suppression + auto gain": cpu_percent(denoise_gain.process, pcm),
    }
    three.reset()
    walls = []
    for frame in frames(pcm):
        start = time.perf_counter()
        three.process(frame)
        walls.append((time.perf_counter() - start) * 1000)
    return {
        "audio_s": len(pcm) / 32_000,
        "cpu_percent_of_one_core": figures,
        "wake_frame_wall_ms": {
            "p50": percentile(walls, 50),
            "p99": percentile(walls, 99),
            "max": max(walls),
        },
    }


def main(directory: Path, remake: bool, cpu_minutes: float) -> dict[str, Any]:
    clips = corpus(directory, remake)
    return {
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0]},
        "listening": LISTENING,
        "raw": {
            "positives": positives(directory, clips, None),
            "negatives": negatives(directory, clips, None),
        },
        "noise_suppression_2": {
            "positives": positives(directory, clips, NOISE_SUPPRESSION),
            "negatives": negatives(directory, clips, NOISE_SUPPRESSION),
        },
        "vad_on_noise": vad_on_noise(directory, clips),
        "vad_end_after_speech_s": vad_on_questions(),
        "cpu": cpu(directory, clips, cpu_minutes),
        "budgets": BUDGETS,
    }


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(outcome: dict[str, Any]) -> str:
    raw, ns = outcome["raw"], outcome["noise_suppression_2"]
    keys = [
        "all",
        "okay_nabu",
        "alexa",
        "hey_mycroft",
        "clean",
        "room",
        "fan",
        "answer12",
        "answer6",
    ]
    detection: list[tuple[str, ...]] = [
        ("detection rate (all 3 listening)", "clips", "raw", "speex NS 2")
    ]
    for key in keys:
        detection.append(
            (
                key,
                str(raw["positives"]["clips"][key]),
                f"{100 * raw['positives']['detection_rate'][key]:.0f} %",
                f"{100 * ns['positives']['detection_rate'][key]:.0f} %",
            )
        )
    voices = sorted(k for k in raw["positives"]["clips"] if k.startswith("en"))
    for key in voices:
        detection.append(
            (
                f"voice {key}",
                str(raw["positives"]["clips"][key]),
                f"{100 * raw['positives']['detection_rate'][key]:.0f} %",
                f"{100 * ns['positives']['detection_rate'][key]:.0f} %",
            )
        )
    detection.append(
        (
            "detections of the wrong model",
            "",
            str(raw["positives"]["wrong_model_detections"]),
            str(ns["positives"]["wrong_model_detections"]),
        )
    )
    rn, nn = raw["negatives"], ns["negatives"]
    false: list[tuple[str, ...]] = [
        ("false activations", "audio", "raw", "speex NS 2"),
        (
            "other speech, one stream (per hour)",
            f"{rn['speech_minutes']:.1f} min",
            f"{rn['false_activations_per_hour']:.1f} ({rn['false_activations']})",
            f"{nn['false_activations_per_hour']:.1f} ({nn['false_activations']})",
        ),
        (
            "near-miss clips that fire",
            f"{rn['near_miss_clips']} clips",
            str(rn["near_miss_clips_firing"]),
            str(nn["near_miss_clips_firing"]),
        ),
    ]
    for phrase, fired in rn["near_misses_firing"].items():
        false.append(
            (
                f'  "{phrase}"',
                "",
                str(len(fired)),
                str(len(nn["near_misses_firing"].get(phrase, []))),
            )
        )
    latency: list[tuple[str, ...]] = [
        ("latency: word end -> detection (ms)", "n", "p50", "p95", "min", "max")
    ]
    for key in ("all", "okay_nabu", "alexa", "hey_mycroft"):
        got = raw["positives"]["latency_s"].get(key)
        if got:
            latency.append(
                (
                    key,
                    str(got["n"]),
                    *(f"{1000 * got[q]:.0f}" for q in ("p50", "p95", "min", "max")),
                )
            )
    vad: list[tuple[str, ...]] = [
        ("noise alone (20 s)", "VAD", "frames called speech", "turn would start")
    ]
    for key, got in outcome["vad_on_noise"].items():
        noise, kind = key.split("/")
        vad.append(
            (
                noise,
                kind,
                f"{got['speech_frames_percent']:.0f} %",
                "yes" if got["turn_started"] else "no",
            )
        )
    ends: list[tuple[str, ...]] = [
        ("turn end after the question (ms)", "VAD", "ended after the speech by")
    ]
    for key, got in outcome["vad_end_after_speech_s"].items():
        name, kind = key.split("/")
        ends.append((name, kind, "never" if got is None else f"{1000 * got:.0f}"))
    c = outcome["cpu"]
    load: list[tuple[str, ...]] = [
        (f"CPU per second of audio ({c['audio_s'] / 60:.1f} min)", "% of one core", "budget")
    ]
    for key, value in c["cpu_percent_of_one_core"].items():
        budget = f"<= {BUDGETS['wake_cpu_percent']:.0f}" if key.startswith("wake") else ""
        load.append((key, f"{value:.2f}", budget))
    w = c["wake_frame_wall_ms"]
    load.append(
        (
            "wake words, 3 models: wall ms per 20 ms frame",
            f"p50 {w['p50']:.3f}  p99 {w['p99']:.3f}  max {w['max']:.1f}",
            "",
        )
    )
    return "\n\n".join(table(t) for t in (detection, false, latency, vad, ends, load))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--remake", action="store_true", help="make the corpus again")
    parser.add_argument("--cpu-minutes", type=float, default=5.0)
    args = parser.parse_args()
    outcome = main(args.corpus, args.remake, args.cpu_minutes)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(outcome, indent=2) + "\n")
    print(report(outcome))
    print(f"\nwritten to {RESULTS}")
