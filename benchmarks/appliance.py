"""Appliance benchmark: talkbox beside the seed's reference loop, on the ALSA stand-ins.

Run: .venv/bin/python benchmarks/appliance.py [--blocks 3] [--turns 20] [--idle-s 20]
     [--barge-ins 10] [--taps 10] [--starts 5] [--wakes 10]
Prints a table and writes benchmarks/results/appliance.json.

The CPU figures come from paired blocks: each block starts one box afresh, measures it idle
(capture running, no turn) for --idle-s, then answers --turns hold turns; talkbox's block and
the reference's alternate (`--blocks` pairs, the order swapped every pair) so both see the same
machine. Each box's microphone FIFO is written one period of the box's own size per period
(`LiveMic(period_frames=...)`): the `file` plugin hands a read one whole period per write, so
20 ms writes would run the reference's 1024-frame reads at 3.2x real time. Each box says how
many frames its microphone gave; a block whose rate is off real time by more than 3 % is
marked unfair in the table and the JSON.

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
import bisect
import json
import logging
import os
import platform
import signal
import socket
import statistics
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
from talkbox.audio.devices import CaptureOptions
from talkbox.audio.format import INPUT_RATE_HZ
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
PERIODS = {
    "talkbox": CaptureOptions().period_ms * INPUT_RATE_HZ // 1000,
    "reference": 1024,  # reference_loop.CHUNK_SIZE, the get-started example's
}
"""Each box's microphone period in frames: the FIFO is written one such period per period."""
FAIR_RATE = 0.03
"""A box's microphone may be this far (relative) off 16,000 frames/s for a fair block."""
SETTLE_S = 3.0
"""After `ready`, before measuring: the FIFO's backlog read, the connection quiet."""

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
        self.seen = float("-inf")
        """The time of the last record scanned."""
        self.activity_ends: list[float] = []
        self.activity_starts: list[float] = []
        self.chunks: list[float] = []
        self.turns_complete: list[float] = []

    def update(self) -> Log:
        records: list[Record] = list(self.emu.log.records)
        # By time, not index: a log with max_records drops its oldest records in batches.
        for r in records[bisect.bisect_right(records, self.seen, key=lambda r: r.t) :]:
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
        if records:
            self.seen = records[-1].t
        return self


@dataclass(frozen=True)
class Meter:
    """A box's CPU seconds, the monotonic time and its microphone's frames, at one moment."""

    cpu_s: float
    t: float
    frames: float


def span(a: Meter, b: Meter, turns: int = 0) -> dict[str, Any]:
    """CPU and microphone rate between two meters; per turn too when `turns`."""
    wall = b.t - a.t
    cpu = b.cpu_s - a.cpu_s
    rate = (b.frames - a.frames) / wall if wall > 0 else float("nan")
    out: dict[str, Any] = {
        "cpu_s": cpu,
        "wall_s": wall,
        "percent_of_one_core": 100 * cpu / wall if wall > 0 else None,
        "mic_frames_per_s": rate,
        "fair": abs(rate / INPUT_RATE_HZ - 1) <= FAIR_RATE,
    }
    if turns:
        out["turns"] = turns
        out["cpu_ms_per_turn"] = 1000 * cpu / turns
    return out


@dataclass
class Rig:
    """One box in its child process, with its own microphone, speaker and state."""

    name: str
    tmp: Path
    emu: EmulatorThread
    argv: list[str]
    period_frames: int
    mic: StampedMic = field(init=False)
    drainer: Drainer = field(init=False)
    child: Child = field(init=False)
    log: Log = field(init=False)

    def __post_init__(self) -> None:
        self.tmp.mkdir(parents=True)
        self.log = Log(self.emu).update()
        self.mic = StampedMic(self.tmp / "mic.fifo", period_frames=self.period_frames)
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

    def meter(self) -> Meter:
        """The child's CPU, the time and its microphone's frames so far."""
        frames = float(self.child.expect_answer("mic_frames"))
        return Meter(self.child.cpu_s(), time.monotonic(), frames)

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


def run_block(
    name: str, emu: EmulatorThread, tmp: Path, turns: int, idle_s: float, barge_ins: int
) -> dict[str, Any]:
    """One box started afresh: idle for `idle_s`, then `turns` hold turns, then barge-ins."""
    rig = Rig(name, tmp, emu, box_argv(name, emu, tmp), PERIODS[name])
    short = cut(recording(QUESTION), 0.6, 1.4)
    long = cut(recording(QUESTION), 0.6, 2.7)
    try:
        rss_ready = rig.child.rss_mb()
        time.sleep(SETTLE_S)
        before_idle = rig.meter()
        time.sleep(idle_s)
        after_idle = last = rig.meter()
        hold: list[dict[str, float]] = []
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
            last = rig.meter()
        rss_after = rig.child.rss_mb() if died is None else float("nan")
        barge: list[dict[str, float]] = []
        for _ in range(0 if died else barge_ins):
            barge.append(barge_in(rig, long))
        reads = rig.drainer.update()
        chunks = rig.log.update().chunks
    finally:
        rig.close()
    to_alsa_ms: list[float] = []
    for turn in hold:
        chunk = next((c for c in chunks if c > turn["activity_end"]), None)
        arrived = None if chunk is None else first_bytes_after(reads, chunk)
        if chunk is not None and arrived is not None:
            to_alsa_ms.append((arrived - chunk) * 1000)
    return {
        "turns": turns,
        "turns_done": len(hold),
        "died": died,
        "idle": span(before_idle, after_idle),
        "during_turns": span(after_idle, last, len(hold)),
        "rss_ready_mb": rss_ready,
        "rss_after_turns_mb": rss_after,
        "release_ms": [(t["activity_end"] - t["released"]) * 1000 for t in hold],
        "to_alsa_ms": to_alsa_ms,
        "barge": barge,
    }


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max of per-block figures."""
    finite = [v for v in values if v == v]
    if not finite:
        return {"n": 0, "median": float("nan"), "min": float("nan"), "max": float("nan")}
    return {
        "n": len(finite),
        "median": statistics.median(finite),
        "min": min(finite),
        "max": max(finite),
    }


def combine(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """One box's blocks as its figures: latencies pooled, CPU and RSS as median [min-max]."""
    barge = [b for block in blocks for b in block["barge"]]
    return {
        "blocks": len(blocks),
        "turns_done": sum(b["turns_done"] for b in blocks),
        "died": [b["died"] for b in blocks if b["died"]],
        "release_activity_end_ms": summary([v for b in blocks for v in b["release_ms"]]),
        "first_chunk_to_alsa_ms": summary([v for b in blocks for v in b["to_alsa_ms"]]),
        "press_playback_dropped_ms": summary([b["stopped_ms"] for b in barge]),
        "press_last_sound_ms": summary([b["last_sound_ms"] for b in barge]),
        "press_drop_done_ms": summary([b["dropped_ms"] for b in barge if "dropped_ms" in b]),
        "cpu_ms_per_turn": spread(
            [b["during_turns"].get("cpu_ms_per_turn", nan()) for b in blocks]
        ),
        "cpu_turns_percent": spread(
            [b["during_turns"]["percent_of_one_core"] or nan() for b in blocks]
        ),
        "idle_percent": spread([b["idle"]["percent_of_one_core"] or nan() for b in blocks]),
        "mic_frames_per_s": spread(
            [b[part]["mic_frames_per_s"] for b in blocks for part in ("idle", "during_turns")]
        ),
        "fair": all(b[part]["fair"] for b in blocks for part in ("idle", "during_turns")),
        "rss_ready_mb": spread([b["rss_ready_mb"] for b in blocks]),
        "rss_after_turns_mb": spread([b["rss_after_turns_mb"] for b in blocks]),
    }


def nan() -> float:
    """Not a number: a figure a block did not have."""
    return float("nan")


def paired_ratios(
    talkbox: list[dict[str, Any]], reference: list[dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """talkbox ÷ reference for each pair of blocks: CPU per turn, during turns and idle."""
    ratios: dict[str, list[float]] = {
        "cpu_ms_per_turn": [],
        "cpu_turns_percent": [],
        "idle_percent": [],
    }
    for t, r in zip(talkbox, reference, strict=True):
        pairs = {
            "cpu_ms_per_turn": (
                t["during_turns"].get("cpu_ms_per_turn"),
                r["during_turns"].get("cpu_ms_per_turn"),
            ),
            "cpu_turns_percent": (
                t["during_turns"]["percent_of_one_core"],
                r["during_turns"]["percent_of_one_core"],
            ),
            "idle_percent": (t["idle"]["percent_of_one_core"], r["idle"]["percent_of_one_core"]),
        }
        for key, (a, b) in pairs.items():
            ratios[key].append(a / b if a is not None and b else nan())
    return {key: spread(values) for key, values in ratios.items()}


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
    rig = Rig("talkbox", tmp, emu, box_argv("talkbox", emu, tmp, "tap"), PERIODS["talkbox"])
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


def run_wake(emu: EmulatorThread, tmp: Path, wakes: int, idle_s: float) -> dict[str, Any]:
    """Idle CPU with the wake word listening; end of the word → activityStart (talkbox)."""
    rig = Rig("talkbox", tmp, emu, box_argv("talkbox", emu, tmp, "wake"), PERIODS["talkbox"])
    clip = recording(WAKE_QUESTION)
    facts = CLIPS[Path(WAKE_QUESTION).name]
    word_period = int(facts["wake_end_s"] / FRAME_S)
    speech_period = int(facts["question_start_s"] / FRAME_S)
    to_start: list[float] = []
    speech_to_start: list[float] = []
    try:
        time.sleep(SETTLE_S)
        before = rig.meter()
        time.sleep(idle_s)
        idle = span(before, rig.meter())
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
        "wake_idle": idle,
        "wake_end_activity_start_ms": summary(to_start),
        "wake_speech_start_activity_start_ms": summary(speech_to_start),
    }


def run_starts(
    emu: EmulatorThread, tmp: Path, starts: int, *, bytecode: bool = False
) -> dict[str, dict[str, float]]:
    """`talkbox run` as a subprocess: Popen → READY=1 on NOTIFY_SOCKET and → the emulator's
    setupComplete (s), and the daemon's RSS when it said READY=1 (MB).

    With `bytecode`, the child keeps its compiled modules (in a cache of `tmp`, written by
    one start not counted), as an installed box does: `pip install` compiles them. Without
    it, the child inherits this environment (PYTHONDONTWRITEBYTECODE, if set, makes each
    start compile every talkbox module again).
    """
    tmp.mkdir(parents=True)
    mic = StampedMic(tmp / "mic.fifo", period_frames=PERIODS["talkbox"])
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
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    samples: list[float] = []
    rss_at_ready: list[float] = []
    connected: list[float] = []
    try:
        for n in range(-1 if bytecode else 0, starts):
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.bind(str(tmp / "notify"))
                sock.settimeout(0.5)
                with (tmp / f"run-{n}.log").open("wb") as err:
                    started = time.monotonic()
                    daemon = subprocess.Popen(
                        [sys.executable, "-m", "talkbox", "run"], env=env, stderr=err, stdout=err
                    )
                    try:
                        ready = ready_after(sock, daemon, started)
                        rss = rss_mb(daemon.pid)
                        setup = setup_after(emu, started)
                        if n >= 0:  # n = -1: the start that writes the bytecode
                            samples.append(ready)
                            rss_at_ready.append(rss)
                            connected.append(setup)
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
    suffix = "_bytecode" if bytecode else ""
    return {
        f"start_ready_s{suffix}": summary(samples),
        f"rss_at_ready_mb{suffix}": summary(rss_at_ready),
        f"start_connected_s{suffix}": summary(connected),
    }


def rss_mb(pid: int) -> float:
    """A process's resident set, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for {pid}")


def setup_after(emu: EmulatorThread, started: float) -> float:
    """Seconds from `started` to the emulator's first setupComplete after it (at most 30 s)."""
    deadline = started + 30
    while time.monotonic() < deadline:
        sent = [r.t for r in emu.log.server_messages("setupComplete") if r.t > started]
        if sent:
            return min(sent) - started
        time.sleep(0.02)
    raise TimeoutError("no setupComplete within 30 s of the start")


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
    """The budgeted and compared figures of one side, flat."""
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
            "rss_at_ready_mb",
            "start_connected_s",
            "start_ready_s_bytecode",
            "rss_at_ready_mb_bytecode",
            "start_connected_s_bytecode",
            "wake_end_activity_start_ms",
            "wake_speech_start_activity_start_ms",
            "cpu_ms_per_turn",
            "cpu_turns_percent",
            "idle_percent",
            "mic_frames_per_s",
            "rss_ready_mb",
            "rss_after_turns_mb",
        )
    }
    out["turns_done"] = float(side["turns_done"])
    out["cpu_percent"] = side["cpu_turns_percent"]["median"]
    out["rss_steady_mb"] = side["rss_after_turns_mb"]["median"]
    wake = side.get("wake_idle")
    out["wake_idle_percent"] = None if wake is None else wake["percent_of_one_core"]
    out["wake_idle_cpu_s_per_minute"] = None if wake is None else wake["percent_of_one_core"] * 0.6
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


def main(
    blocks: int, turns: int, idle_s: float, barge_ins: int, taps: int, starts: int, wakes: int
) -> dict[str, Any]:
    result: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine()}
    runs: dict[str, list[dict[str, Any]]] = {"talkbox": [], "reference": []}
    with (
        tempfile.TemporaryDirectory(prefix="talkbox-bench-") as tmp_s,
        EmulatorThread(EmulatorOptions(realtime=True, log_audio=False)) as emu,
    ):
        tmp = Path(tmp_s)
        for rep in range(blocks):
            order = ("talkbox", "reference") if rep % 2 == 0 else ("reference", "talkbox")
            for name in order:
                last = rep == blocks - 1
                block = run_block(
                    name, emu, tmp / f"{name}-{rep}", turns, idle_s, barge_ins if last else 0
                )
                runs[name].append(block)
                logging.warning(
                    "%s block %d: %.1f ms CPU per turn, idle %.2f %%, mic %.0f frames/s",
                    name,
                    rep + 1,
                    block["during_turns"].get("cpu_ms_per_turn", nan()),
                    block["idle"]["percent_of_one_core"] or nan(),
                    block["during_turns"]["mic_frames_per_s"],
                )
        talkbox = combine(runs["talkbox"])
        reference = combine(runs["reference"])
        talkbox["tap_speech_end_activity_end_ms"] = summary(run_tap(emu, tmp / "tap", taps))
        talkbox.update(run_starts(emu, tmp / "start", starts))
        talkbox.update(run_starts(emu, tmp / "start-bytecode", starts, bytecode=True))
        talkbox.update(run_wake(emu, tmp / "wake", wakes, idle_s))
    result["talkbox"] = figures(talkbox)
    result["reference"] = figures(reference)
    result["ratios"] = paired_ratios(runs["talkbox"], runs["reference"])
    result["talkbox_raw"] = talkbox
    result["reference_raw"] = reference
    result["blocks"] = runs
    result["budgets"] = BUDGETS
    result["talkbox_verdicts"] = verdicts(result["talkbox"])
    result["reference_verdicts"] = verdicts(result["reference"])
    return result


ROWS = [
    ("hold turns answered", "turns_done"),
    ("microphone frames/s each box got (16000 is real time)", "mic_frames_per_s"),
    ("CPU per turn (ms)", "cpu_ms_per_turn"),
    ("CPU during the turns (% of one core)", "cpu_turns_percent"),
    ("CPU idle, capture running (% of one core)", "idle_percent"),
    ("CPU idle with the wake word listening (% of one core)", "wake_idle_percent"),
    ("  the same as CPU-s per idle minute", "wake_idle_cpu_s_per_minute"),
    ("RSS when ready (MB)", "rss_ready_mb"),
    ("RSS after the turns (MB)", "rss_after_turns_mb"),
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
    ("RSS at READY=1 (MB)", "rss_at_ready_mb"),
    ("start -> setupComplete of the first connection (s)", "start_connected_s"),
    ("start -> READY=1, modules compiled as installed (s)", "start_ready_s_bytecode"),
    ("  RSS at READY=1 (MB)", "rss_at_ready_mb_bytecode"),
    ("  start -> setupComplete (s)", "start_connected_s_bytecode"),
]
"""Rows of the table: CPU and RSS as median [min-max] over blocks, latencies p50 / p95."""


def cell(figure: Any) -> str:
    """A figure as text: median [min-max], p50 / p95, or one number."""
    if figure is None:
        return "n/a"
    if isinstance(figure, dict):
        if not figure["n"]:
            return "n/a"
        if "median" in figure:
            return f"{num(figure['median'])} [{num(figure['min'])}-{num(figure['max'])}]"
        return f"{figure['p50']:.2f} / {figure['p95']:.2f}"
    return num(figure)


def num(v: float) -> str:
    """A number, with three decimals below one."""
    return f"{v:.3f}" if abs(v) < 1 else f"{v:.2f}" if abs(v) < 1000 else f"{v:.0f}"


def ratio(key: str, ours: Any, theirs: Any, paired: dict[str, Any]) -> str:
    """talkbox ÷ reference: paired per block for the CPU figures, else of the p95s."""
    if key in paired:
        return cell(paired[key]) + "x"
    a, b = value(ours, "p95"), value(theirs, "p95")
    if a is None or b is None or b == 0 or key == "mic_frames_per_s":
        return "n/a"
    return f"{a / b:.2f}x"


def table(result: dict[str, Any]) -> str:
    """The figures side by side, the paired ratio, the budget and each box's pass/fail."""
    t, r = result["talkbox"], result["reference"]
    rows = [
        ("figure", "talkbox", "reference", "talkbox / reference", "budget", "talkbox, reference")
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
                ratio(key, t.get(key), r.get(key), result["ratios"]),
                limit,
                verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for side in ("talkbox_raw", "reference_raw"):
        if not result[side]["fair"]:
            lines.append(f"UNFAIR: {side[:-4]}'s microphone was off real time by more than 3 %")
    return "\n".join(lines)


def mark(ok: bool | None) -> str:
    """pass, FAIL or n/a."""
    return "n/a" if ok is None else ("pass" if ok else "FAIL")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=3, help="paired blocks per box")
    parser.add_argument("--turns", type=int, default=20, help="hold turns per block")
    parser.add_argument("--idle-s", type=float, default=20.0, help="idle seconds per block")
    parser.add_argument("--barge-ins", type=int, default=10, help="in each box's last block")
    parser.add_argument("--taps", type=int, default=10)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--wakes", type=int, default=10, help="wake word turns (talkbox)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    outcome = main(
        args.blocks, args.turns, args.idle_s, args.barge_ins, args.taps, args.starts, args.wakes
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(outcome, indent=2) + "\n")
    print(table(outcome))
    print(f"\nwritten to {args.out}")
