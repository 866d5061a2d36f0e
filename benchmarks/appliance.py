"""Appliance benchmark: talkbox beside the seed's reference loop, on the ALSA stand-ins.

Run: .venv/bin/python benchmarks/appliance.py [--turns 200] [--barge-ins 20] [--taps 10]
     [--starts 5]
Prints a table and writes benchmarks/results/appliance.json.

Each box runs in a child process (benchmarks/_talkbox_box.py: `talkbox.appliance.app.Appliance`
on `talkbox.appliance.hardware.hardware_parts` with a MockFactory button;
benchmarks/reference_loop.py),
so the child's CPU time and RSS (from /proc) are the box's alone. The emulator
(gemini-3.8-live, real pacing) runs in this process's thread, the microphone is a FIFO this
process feeds in real time (the infile of an ALSA `file` PCM), and the speaker FIFO is
drained in real time by a subprocess that logs every read (benchmarks/_drainer.py). Every
time is CLOCK_MONOTONIC, shared by all the processes. `talkbox run` is started separately
for start → READY=1.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from _common import (
    FRAME,
    FRAME_S,
    Child,
    Drainer,
    StampedMic,
    first_bytes_after,
    last_sound_between,
    last_write_between,
    summary,
    wait_until,
)
from talkbox.audio.standins import asound_conf, file_pcm
from talkbox.emulator import EmulatorOptions, EmulatorThread
from talkbox.emulator.log import Record

HERE = Path(__file__).parent
DATA = HERE.parent / "tests" / "data"
RESULTS = HERE / "results" / "appliance.json"
SPEECH = json.loads((DATA / "speech.json").read_text(encoding="utf-8"))
QUESTION = "question-weather.wav"
WAKE_QUESTION = "wake/okay_nabu-question-en-gb.wav"
CLIPS = json.loads((DATA / "wake" / "clips.json").read_text(encoding="utf-8"))
MODEL = "gemini-3.8-live"
STEADY_AFTER = 10
"""RSS after this many turns is the steady figure; growth is measured from there."""

# DESIGN.md "Performance budget". End of speech -> activityEnd in tap mode has no budget
# there: it is the endpointer's hangover (VAD_END_MS) plus the hop, shown for reference.
BUDGETS: dict[str, dict[str, Any]] = {
    "release_activity_end_ms": {"stat": "p95", "max": 10.0},
    "first_chunk_to_alsa_ms": {"stat": "p95", "max": 10.0},
    "press_playback_dropped_ms": {"stat": "p95", "max": 30.0},
    # The same budget on the code's own time (the reference loop has no drop() to time).
    "press_drop_done_ms": {"stat": "p95", "max": 30.0},
    "cpu_percent": {"stat": "value", "max": 3.0},
    "rss_steady_mb": {"stat": "value", "max": 90.0},
    "rss_growth_mb_per_h": {"stat": "value", "max": 2.0},
    "start_ready_s": {"stat": "p95", "max": 2.5},
}


def recording(name: str) -> bytes:
    """A 16 kHz mono recording from tests/data."""
    with wave.open(str(DATA / name), "rb") as wav:
        assert wav.getframerate() == 16_000
        assert wav.getnchannels() == 1
        return wav.readframes(wav.getnframes())


def cut(pcm: bytes, start_s: float, end_s: float) -> bytes:
    """The part of 16 kHz mono `pcm` between two times, whole periods."""
    a, b = int(start_s / FRAME_S) * FRAME, int(end_s / FRAME_S) * FRAME
    return pcm[a:b]


class Log:
    """The emulator's event log, scanned forward only (it is long after 200 turns)."""

    def __init__(self, emu: EmulatorThread) -> None:
        self.emu = emu
        self.seen = 0
        self.activity_ends: list[float] = []
        self.activity_starts: list[float] = []
        self.chunks: list[float] = []
        self.turns_complete: list[float] = []

    def update(self) -> Log:
        records: list[Record] = self.emu.log.records
        for r in records[self.seen :]:
            if r.direction == "in" and r.kind == "realtime_input.activityEnd":
                self.activity_ends.append(r.t)
            elif r.direction == "in" and r.kind == "realtime_input.activityStart":
                self.activity_starts.append(r.t)
            elif r.direction == "out":
                content = r.message.get("serverContent") or {}
                if "modelTurn" in content:
                    # Taken just before the send began (link.py does the same).
                    self.chunks.append(r.t_send if r.t_send is not None else r.t)
                if content.get("turnComplete"):
                    self.turns_complete.append(r.t)
        self.seen = len(records)
        return self


@dataclass
class Rig:
    """One box in its child process, with its own microphone, speaker and state."""

    name: str
    tmp: Path
    emu: EmulatorThread
    argv: list[str]
    mic: StampedMic = field(init=False)
    drainer: Drainer = field(init=False)
    child: Child = field(init=False)
    log: Log = field(init=False)

    def __post_init__(self) -> None:
        self.tmp.mkdir(parents=True)
        self.log = Log(self.emu).update()
        self.mic = StampedMic(self.tmp / "mic.fifo")
        self.drainer = Drainer(self.tmp / "speaker.fifo", self.tmp / "speaker.log")
        conf = asound_conf(
            self.tmp / "asound.conf",
            {
                "mic": file_pcm(output=Path("/dev/null"), infile=self.tmp / "mic.fifo"),
                "speaker": file_pcm(output=self.tmp / "speaker.fifo"),
            },
        )
        wait_until(self.drainer.listening, 10, "the drainer reads the speaker FIFO")
        env = dict(os.environ, ALSA_CONFIG_PATH=str(conf), PYTHONUNBUFFERED="1")
        self.child = Child(self.argv, env, self.tmp / "child.log")
        self.child.expect("ready", 90)

    def close(self) -> None:
        self.child.stop()
        self.drainer.stop()
        self.mic.close()

    def ended_after(self, ends: int) -> bool:
        """Whether more than `ends` activityEnd messages have arrived."""
        return len(self.log.update().activity_ends) > ends

    def settle(self) -> None:
        """Wait until the answer has played out (turnComplete, then the speaker quiet)."""
        done = len(self.log.update().turns_complete)
        wait_until(lambda: len(self.log.update().turns_complete) >= done, 20, "turnComplete")
        wait_until(lambda: self.drainer.quiet_for(0.3), 20, "the speaker to go quiet")
        time.sleep(0.1)

    def hold_turn(self, question: bytes) -> dict[str, float]:
        """Press, speak, release; when the release was and when activityEnd arrived."""
        ends = len(self.log.update().activity_ends)
        done = len(self.log.turns_complete)
        self.child.command("press", "pressed")
        time.sleep(0.15)  # the press reaches the box before the speech starts
        self.mic.say(question)
        wait_until(lambda: not self.mic.speaking, 15, "spoken")
        released = self.child.command("release", "released")
        wait_until(lambda: len(self.log.update().activity_ends) > ends, 10, "activityEnd")
        wait_until(lambda: len(self.log.update().turns_complete) > done, 20, "turnComplete")
        wait_until(lambda: self.drainer.quiet_for(0.3), 20, "the speaker to go quiet")
        time.sleep(0.1)
        return {"released": released, "activity_end": self.log.activity_ends[ends]}


def box_argv(name: str, emu: EmulatorThread, tmp: Path, mode: str = "hold") -> list[str]:
    """The child's command line."""
    if name == "talkbox":
        script = HERE / "_talkbox_box.py"
        return [
            sys.executable,
            str(script),
            emu.base_url,
            str(emu.ca_file),
            str(tmp / "state"),
            mode,
        ]
    return [sys.executable, str(HERE / "reference_loop.py"), emu.base_url, str(emu.ca_file)]


def run_hold(
    name: str, emu: EmulatorThread, tmp: Path, turns: int, barge_ins: int
) -> dict[str, Any]:
    """Figures 1, 2, 3, 5 and 6 for one box."""
    rig = Rig(name, tmp, emu, box_argv(name, emu, tmp))
    short = cut(recording(QUESTION), 0.6, 1.4)
    long = cut(recording(QUESTION), 0.6, 2.7)
    try:
        rss_ready = rig.child.rss_mb()
        cpu0, wall0 = rig.child.cpu_s(), time.monotonic()
        rss: list[float] = []
        hold: list[dict[str, float]] = []
        t_steady = t_last = wall0
        cpu_last = cpu0
        died: str | None = None
        for n in range(turns):
            try:
                hold.append(rig.hold_turn(short))
            except TimeoutError:
                if rig.child.process.poll() is None:
                    raise
                # The get-started loop does not rotate on GoAway: the emulator's connection
                # lifetime (600 s, as the service's ~10 min) ends it. Measure what it did.
                died = f"the box exited during turn {n + 1} (see its stderr)"
                logging.warning("%s: %s", name, died)
                break
            rss.append(rig.child.rss_mb())
            t_last = time.monotonic()
            cpu_last = rig.child.cpu_s()
            if n + 1 == STEADY_AFTER:
                t_steady = time.monotonic()
            if (n + 1) % 50 == 0:
                logging.warning("%s: %d turns", name, n + 1)
        # A box that died is measured over the turns it answered.
        cpu1, wall1 = (cpu_last, t_last) if died else (rig.child.cpu_s(), time.monotonic())
        barge: list[dict[str, float]] = []
        for _ in range(0 if died else barge_ins):
            barge.append(barge_in(rig, long))
        reads = rig.drainer.update()
        chunks = rig.log.update().chunks
    finally:
        rig.close()
    release_ms = [(t["activity_end"] - t["released"]) * 1000 for t in hold]
    to_alsa_ms: list[float] = []
    for turn in hold:
        chunk = next((c for c in chunks if c > turn["activity_end"]), None)
        arrived = None if chunk is None else first_bytes_after(reads, chunk)
        if chunk is not None and arrived is not None:
            to_alsa_ms.append((arrived - chunk) * 1000)
    rss = rss or [rss_ready]
    steady = rss[STEADY_AFTER - 1] if len(rss) >= STEADY_AFTER else rss[-1]
    growth_turns = len(rss) - STEADY_AFTER
    growth_h = t_last - t_steady
    return {
        "turns": turns,
        "turns_done": len(hold),
        "died": died,
        "release_activity_end_ms": summary(release_ms),
        "first_chunk_to_alsa_ms": summary(to_alsa_ms),
        "press_playback_dropped_ms": summary([b["stopped_ms"] for b in barge]),
        "press_last_sound_ms": summary([b["last_sound_ms"] for b in barge]),
        "press_drop_done_ms": summary([b["dropped_ms"] for b in barge if "dropped_ms" in b]),
        "cpu": {
            "cpu_s": cpu1 - cpu0,
            "wall_s": wall1 - wall0,
            "percent_of_one_core": 100 * (cpu1 - cpu0) / (wall1 - wall0) if wall1 > wall0 else None,
        },
        "rss": {
            "ready_mb": rss_ready,
            "steady_mb": steady,
            "after_turns_mb": rss[-1],
            "growth_mb_per_turn": (rss[-1] - steady) / growth_turns if growth_turns > 0 else None,
            "growth_mb_per_h": (rss[-1] - steady) / growth_h * 3600 if growth_turns > 0 else None,
        },
    }


def barge_in(rig: Rig, question: bytes) -> dict[str, float]:
    """Ask, then press 0.7 s into the answer and hold 1 s: when the playback stopped."""
    ends = len(rig.log.update().activity_ends)
    rig.child.command("press", "pressed")
    time.sleep(0.15)
    rig.mic.say(question)
    wait_until(lambda: not rig.mic.speaking, 15, "spoken")
    released = rig.child.command("release", "released")
    wait_until(lambda: len(rig.log.update().activity_ends) > ends, 10, "activityEnd")
    wait_until(lambda: first_bytes_after(rig.drainer.update(), released) is not None, 10, "audio")
    start = first_bytes_after(rig.drainer.reads, released)
    assert start is not None
    time.sleep(max(0.0, start + 0.7 - time.monotonic()))
    pressed = rig.child.command("press", "pressed")
    time.sleep(1.0)
    rig.child.command("release", "released")
    window_end = time.monotonic()
    rig.settle()
    reads = rig.drainer.update()
    stopped = last_write_between(reads, pressed, window_end) or pressed
    sound = last_sound_between(reads, pressed, window_end) or pressed
    figures = {"stopped_ms": (stopped - pressed) * 1000, "last_sound_ms": (sound - pressed) * 1000}
    if rig.name == "talkbox":
        answer = rig.child.expect_answer("flushed", within=5.0)
        if answer != "None":
            figures["dropped_ms"] = (float(answer) - pressed) * 1000
    return figures


def run_tap(emu: EmulatorThread, tmp: Path, taps: int) -> list[float]:
    """End of the spoken samples fed into the FIFO → activityEnd on the wire (talkbox, tap)."""
    rig = Rig("talkbox", tmp, emu, box_argv("talkbox", emu, tmp, "tap"))
    question = recording(QUESTION)
    _, end_s = SPEECH[QUESTION]["speech"]
    period = min(int(end_s / FRAME_S), len(question) // FRAME - 1)
    samples: list[float] = []
    try:
        for _ in range(taps):
            ends = len(rig.log.update().activity_ends)
            rig.child.command("press", "pressed")
            time.sleep(0.1)
            rig.child.command("release", "released")
            time.sleep(0.2)  # a tap opens listening
            rig.mic.say(question)
            wait_until(partial(rig.ended_after, ends), 20, "activityEnd")
            wait_until(lambda: not rig.mic.speaking, 15, "spoken")
            # The period holding the last spoken sample was delivered when it was complete.
            speech_end = rig.mic.written[period] - ((period + 1) * FRAME_S - end_s)
            samples.append((rig.log.activity_ends[ends] - speech_end) * 1000)
            rig.settle()
    finally:
        rig.close()
    return samples


def run_wake(emu: EmulatorThread, tmp: Path, wakes: int) -> dict[str, dict[str, float]]:
    """End of the wake word fed into the FIFO → activityStart on the wire (talkbox, wake)."""
    rig = Rig("talkbox", tmp, emu, box_argv("talkbox", emu, tmp, "wake"))
    clip = recording(WAKE_QUESTION)
    facts = CLIPS[Path(WAKE_QUESTION).name]
    word_period = int(facts["wake_end_s"] / FRAME_S)
    speech_period = int(facts["question_start_s"] / FRAME_S)
    to_start: list[float] = []
    speech_to_start: list[float] = []
    try:
        for _ in range(wakes):
            starts = len(rig.log.update().activity_starts)
            ends = len(rig.log.activity_ends)
            rig.mic.say(clip)
            wait_until(partial(rig.ended_after, ends), 20, "activityEnd")
            wait_until(lambda: not rig.mic.speaking, 15, "spoken")
            started = rig.log.activity_starts[starts]
            # A period is delivered when complete: back from its stamp to the moment inside it.
            word_end = rig.mic.written[word_period] - (
                (word_period + 1) * FRAME_S - facts["wake_end_s"]
            )
            speech = rig.mic.written[speech_period] - (
                (speech_period + 1) * FRAME_S - facts["question_start_s"]
            )
            to_start.append((started - word_end) * 1000)
            speech_to_start.append((started - speech) * 1000)
            rig.settle()
            time.sleep(2.0)  # past the refractory time
    finally:
        rig.close()
    return {
        "wake_end_activity_start_ms": summary(to_start),
        "wake_speech_start_activity_start_ms": summary(speech_to_start),
    }


def run_starts(emu: EmulatorThread, tmp: Path, starts: int) -> list[float]:
    """`talkbox run` as a subprocess: Popen → READY=1 on NOTIFY_SOCKET, in seconds."""
    tmp.mkdir(parents=True)
    mic = StampedMic(tmp / "mic.fifo")
    conf = asound_conf(
        tmp / "asound.conf",
        {
            "mic": file_pcm(output=Path("/dev/null"), infile=tmp / "mic.fifo"),
            "speaker": file_pcm(output=tmp / "played.raw"),
        },
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TALKBOX_", "NOTIFY_", "WATCHDOG_", "GEMINI_", "GOOGLE_"))
    }
    env.update(
        ALSA_CONFIG_PATH=str(conf),
        GEMINI_API_KEY="emu-test-key",
        TALKBOX_BASE_URL=emu.base_url,
        TALKBOX_CA_FILE=str(emu.ca_file),
        TALKBOX_MODEL=MODEL,
        TALKBOX_CAPTURE_DEVICE="mic",
        TALKBOX_PLAYBACK_DEVICE="speaker",
        STATE_DIRECTORY=str(tmp / "state"),
        RUNTIME_DIRECTORY=str(tmp / "run"),
        NOTIFY_SOCKET=str(tmp / "notify"),
    )
    samples: list[float] = []
    try:
        for n in range(starts):
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.bind(str(tmp / "notify"))
                sock.settimeout(0.5)
                with (tmp / f"run-{n}.log").open("wb") as err:
                    started = time.monotonic()
                    daemon = subprocess.Popen(
                        [sys.executable, "-m", "talkbox", "run"], env=env, stderr=err, stdout=err
                    )
                    try:
                        samples.append(ready_after(sock, daemon, started))
                    finally:
                        daemon.send_signal(signal.SIGTERM)
                        try:
                            daemon.wait(5)
                        except subprocess.TimeoutExpired:
                            daemon.kill()
                            daemon.wait(5)
            (tmp / "notify").unlink()
    finally:
        mic.close()
    return samples


def ready_after(sock: socket.socket, daemon: subprocess.Popen[bytes], started: float) -> float:
    """Seconds from `started` to READY=1 (at most 30 s)."""
    deadline = started + 30
    while time.monotonic() < deadline and daemon.poll() is None:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        if "READY=1" in data.decode().split("\n"):
            return time.monotonic() - started
    raise TimeoutError("talkbox run did not say READY=1 within 30 s")


def figures(side: dict[str, Any]) -> dict[str, Any]:
    """The budgeted figures of one side, flat."""
    out: dict[str, Any] = {
        k: side.get(k)
        for k in (
            "release_activity_end_ms",
            "first_chunk_to_alsa_ms",
            "press_playback_dropped_ms",
            "press_last_sound_ms",
            "press_drop_done_ms",
            "tap_speech_end_activity_end_ms",
            "start_ready_s",
            "wake_end_activity_start_ms",
            "wake_speech_start_activity_start_ms",
        )
    }
    out["turns_done"] = float(side["turns_done"])
    out["cpu_percent"] = side["cpu"]["percent_of_one_core"]
    out["rss_steady_mb"] = side["rss"]["steady_mb"]
    out["rss_after_turns_mb"] = side["rss"]["after_turns_mb"]
    out["rss_growth_mb_per_turn"] = side["rss"]["growth_mb_per_turn"]
    out["rss_growth_mb_per_h"] = side["rss"]["growth_mb_per_h"]
    return out


def value(figure: Any, stat: str) -> float | None:
    """A figure's number for `stat` (p50, p95 or value); None when it has none."""
    if figure is None:
        return None
    if isinstance(figure, dict):
        v = figure.get(stat if stat != "value" else "p95")
        return None if v is None or v != v else float(v)
    return float(figure)


def verdicts(flat: dict[str, Any]) -> dict[str, Any]:
    """Pass/fail of each budgeted figure."""
    out: dict[str, Any] = {}
    for key, budget in BUDGETS.items():
        v = value(flat.get(key), budget["stat"])
        out[key] = {"budget": budget, "value": v, "pass": None if v is None else v <= budget["max"]}
    return out


def main(turns: int, barge_ins: int, taps: int, starts: int, wakes: int) -> dict[str, Any]:
    result: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine()}
    with (
        tempfile.TemporaryDirectory(prefix="talkbox-bench-") as tmp_s,
        EmulatorThread(EmulatorOptions(realtime=True, log_audio=False)) as emu,
    ):
        tmp = Path(tmp_s)
        talkbox = run_hold("talkbox", emu, tmp / "talkbox", turns, barge_ins)
        reference = run_hold("reference", emu, tmp / "reference", turns, barge_ins)
        talkbox["tap_speech_end_activity_end_ms"] = summary(run_tap(emu, tmp / "tap", taps))
        talkbox["start_ready_s"] = summary(run_starts(emu, tmp / "start", starts))
        talkbox.update(run_wake(emu, tmp / "wake", wakes))
    result["talkbox"] = figures(talkbox)
    result["reference"] = figures(reference)
    result["talkbox_raw"] = talkbox
    result["reference_raw"] = reference
    result["budgets"] = BUDGETS
    result["talkbox_verdicts"] = verdicts(result["talkbox"])
    result["reference_verdicts"] = verdicts(result["reference"])
    return result


ROWS = [
    ("hold turns answered (of --turns)", "turns_done"),
    ("button release -> activityEnd on the wire (ms, hold)", "release_activity_end_ms"),
    ("first answer chunk sent -> bytes in the speaker FIFO (ms)", "first_chunk_to_alsa_ms"),
    ("press during playback -> last write to the speaker FIFO (ms)", "press_playback_dropped_ms"),
    ("press during playback -> last answer sound at the drainer (ms)", "press_last_sound_ms"),
    ("press during playback -> drop() called by the playback thread (ms)", "press_drop_done_ms"),
    ("end of speech -> activityEnd on the wire (ms, tap)", "tap_speech_end_activity_end_ms"),
    ("end of the wake word -> activityStart on the wire (ms)", "wake_end_activity_start_ms"),
    (
        "  start of the question after it -> activityStart (ms)",
        "wake_speech_start_activity_start_ms",
    ),
    ("start -> READY=1 (s)", "start_ready_s"),
    ("CPU during the turns (% of one core)", "cpu_percent"),
    ("RSS steady (MB)", "rss_steady_mb"),
    ("RSS after the turns (MB)", "rss_after_turns_mb"),
    ("RSS growth per turn (MB)", "rss_growth_mb_per_turn"),
    ("RSS growth per hour of turns (MB/h)", "rss_growth_mb_per_h"),
]


def cell(figure: Any) -> str:
    if figure is None:
        return "n/a"
    if isinstance(figure, dict):
        if not figure["n"]:
            return "n/a"
        return f"{figure['p50']:.2f} / {figure['p95']:.2f}"
    return f"{figure:.3f}" if abs(figure) < 1 else f"{figure:.2f}"


def ratio(ours: Any, theirs: Any) -> str:
    a, b = value(ours, "p95"), value(theirs, "p95")
    if a is None or b is None or a == 0:
        return "n/a"
    return f"{b / a:.1f}x"


def table(result: dict[str, Any]) -> str:
    """The figures side by side, with the budget and each box's pass/fail."""
    t, r = result["talkbox"], result["reference"]
    rows = [
        (
            "figure (p50 / p95 where a latency)",
            "talkbox",
            "reference",
            "ref/talkbox",
            "budget",
            "talkbox, reference",
        )
    ]
    for name, key in ROWS:
        budget = BUDGETS.get(key)
        limit = verdict = ""
        if budget is not None:
            stat = "" if budget["stat"] == "value" else budget["stat"] + " "
            limit = f"{stat}<= {budget['max']:g}"
            verdict = ", ".join(
                mark(result[side][key]["pass"])
                for side in ("talkbox_verdicts", "reference_verdicts")
            )
        rows.append(
            (
                name,
                cell(t.get(key)),
                cell(r.get(key)),
                ratio(t.get(key), r.get(key)),
                limit,
                verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def mark(ok: bool | None) -> str:
    """pass, FAIL or n/a."""
    return "n/a" if ok is None else ("pass" if ok else "FAIL")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="hold turns per box (CPU, RSS)")
    parser.add_argument("--barge-ins", type=int, default=20)
    parser.add_argument("--taps", type=int, default=10)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--wakes", type=int, default=10, help="wake word turns (talkbox)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    outcome = main(args.turns, args.barge_ins, args.taps, args.starts, args.wakes)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(outcome, indent=2) + "\n")
    print(table(outcome))
    print(f"\nwritten to {RESULTS}")
