"""Soak: the real appliance answers N hold turns with GoAways and dropped connections among them.

Run: .venv/bin/python benchmarks/soak.py [--turns 1000] [--goaway-every 20] [--drop-every 50]
     [--tracemalloc]
Prints a table and writes benchmarks/results/soak.json.

The box is benchmarks/_talkbox_box.py in a child process, as in appliance.py: its microphone a
FIFO fed in real time, its speaker a FIFO drained in real time. The emulator runs in fast mode
(answer audio sent as fast as it goes, `EmulatorOptions(realtime=False)`) and is armed up front
with its fault grammar: a GoAway (`goaway:time_left=0.5,then=close@turn=N`) every
--goaway-every turns and a dropped TCP connection (`abort@turn=N`) every --drop-every turns,
both right after the turn's first answer chunk. A turn is lost when its answer did not reach
the speaker (no turnComplete for it, or no sound after the release). RSS and open fds are read
from /proc at the start (after 10 turns), every 100 turns and at the end; CPU per turn is the
child's utime + stime over the turns.

--tracemalloc runs the child under tracemalloc (slower, more memory: its CPU and RSS figures are
not comparable then) and prints what grew most between the snapshot after 10 turns and the last.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import platform
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _common import first_bytes_after, last_sound_between, wait_until
from appliance import PERIODS, QUESTION, Rig, box_argv, cut, recording
from talkbox.conversation import State
from talkbox.emulator import EmulatorOptions, EmulatorThread
from talkbox.emulator.faults import Fault

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "soak.json"
START_AFTER = 10
"""The start figures are taken after this many turns (imports done, caches warm)."""


def fds(pid: int) -> int:
    """How many file descriptors the process has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def state(rig: Rig) -> State:
    """The box's conversation state."""
    return list(State)[int(float(rig.child.expect_answer("state")))]


def turn(rig: Rig, question: bytes) -> bool:
    """One hold turn; whether its answer was played. Returns once the box is idle again."""
    done = len(rig.log.update().turns_complete)
    rig.child.command("press", "pressed")
    time.sleep(0.1)
    rig.mic.say(question)
    wait_until(lambda: not rig.mic.speaking, 15, "spoken")
    released = rig.child.command("release", "released")
    answered = True
    try:
        wait_until(lambda: len(rig.log.update().turns_complete) > done, 15, "turnComplete")
        wait_until(
            lambda: first_bytes_after(rig.drainer.update(), released) is not None, 5, "audio"
        )
    except TimeoutError:
        answered = False
    # Idle again (a dropped connection may show offline or error for a while first).
    wait_until(lambda: state(rig) is State.IDLE, 60, "the box idle again")
    wait_until(lambda: rig.drainer.quiet_for(0.2), 20, "the speaker to go quiet")
    heard = last_sound_between(rig.drainer.update(), released, time.monotonic()) is not None
    return answered and heard


def arm_faults(emu: EmulatorThread, turns: int, goaway_every: int, drop_every: int) -> list[Fault]:
    """GoAways and drops at fixed turn numbers (the emulator counts turns across resumes)."""
    specs = []
    if goaway_every:
        specs += [
            f"goaway:time_left=0.5,then=close@turn={n}"
            for n in range(goaway_every // 2, turns + 1, goaway_every)
        ]
    if drop_every:
        specs += [f"abort@turn={n}" for n in range(drop_every - 3, turns + 1, drop_every)]
    return [emu.arm(spec) for spec in specs]


def growth(snapshots: list[Path], top: int = 15) -> list[dict[str, Any]]:
    """What grew most between the first and the last tracemalloc snapshot."""
    first, last = (tracemalloc.Snapshot.load(str(p)) for p in (snapshots[0], snapshots[-1]))
    keep = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, pickle.__file__),
    ]
    stats = last.filter_traces(keep).compare_to(first.filter_traces(keep), "traceback")
    out = []
    for stat in stats[:top]:
        out.append(
            {
                "size_diff_kb": stat.size_diff / 1024,
                "count_diff": stat.count_diff,
                "traceback": [f"{f.filename}:{f.lineno}" for f in stat.traceback][-6:],
            }
        )
    return out


def main(turns: int, goaway_every: int, drop_every: int, trace: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "turns": turns,
        "tracemalloc": trace,
    }
    question = cut(recording(QUESTION), 0.6, 1.2)
    options = EmulatorOptions(realtime=False, log_audio=False, log_max_records=20_000)
    with (
        tempfile.TemporaryDirectory(prefix="talkbox-soak-") as tmp_s,
        EmulatorThread(options) as emu,
    ):
        tmp = Path(tmp_s)
        faults = arm_faults(emu, turns, goaway_every, drop_every)
        result["faults"] = [str(f) for f in faults]
        if trace:
            os.environ["BENCH_TRACEMALLOC"] = str(tmp / "snap")
        rig = Rig(
            "talkbox", tmp / "box", emu, box_argv("talkbox", emu, tmp / "box"), PERIODS["talkbox"]
        )
        pid = rig.child.process.pid
        lost: list[int] = []
        samples: list[dict[str, float]] = []
        start: dict[str, float] = {}
        snapshots: list[Path] = []
        try:
            for n in range(1, turns + 1):
                if not turn(rig, question):
                    lost.append(n)
                    logging.warning("turn %d lost", n)
                if n in (START_AFTER, turns) or n % 100 == 0:
                    sample = {
                        "turn": n,
                        "t": time.monotonic(),
                        "cpu_s": rig.child.cpu_s(),
                        "rss_mb": rig.child.rss_mb(),
                        "fds": fds(pid),
                    }
                    samples.append(sample)
                    if n == START_AFTER:
                        start = sample
                    if trace and n in (START_AFTER, turns):
                        taken = int(float(rig.child.expect_answer("snapshot", within=120)))
                        snapshots.append(tmp / f"snap-{taken}.pickle")
                    logging.warning(
                        "turn %d: RSS %.1f MB, %d fds, %d lost",
                        n,
                        sample["rss_mb"],
                        sample["fds"],
                        len(lost),
                    )
            fired = sum(f.fired for f in faults)
            result["growth"] = growth(snapshots) if len(snapshots) >= 2 else []
        finally:
            rig.close()
    end = samples[-1]
    span_turns = end["turn"] - start.get("turn", 0)
    result.update(
        {
            "turns_lost": len(lost),
            "lost": lost,
            "faults_fired": fired,
            "samples": samples,
            "rss_start_mb": start.get("rss_mb"),
            "rss_end_mb": end["rss_mb"],
            "fds_start": start.get("fds"),
            "fds_end": end["fds"],
            "cpu_ms_per_turn": 1000 * (end["cpu_s"] - start["cpu_s"]) / span_turns
            if span_turns
            else None,
            "rss_growth_mb_per_h": (end["rss_mb"] - start["rss_mb"])
            / (end["t"] - start["t"])
            * 3600
            if span_turns
            else None,
        }
    )
    return result


def table(result: dict[str, Any]) -> str:
    """The soak's figures."""
    rows = [
        ("turns (lost)", f"{result['turns']} ({result['turns_lost']})"),
        ("faults armed / fired", f"{len(result['faults'])} / {result['faults_fired']}"),
        (
            "RSS after 10 turns -> at the end (MB)",
            f"{result['rss_start_mb']:.1f} -> {result['rss_end_mb']:.1f}",
        ),
        ("RSS growth (MB/h of turns)", f"{result['rss_growth_mb_per_h']:.2f}"),
        ("open fds after 10 turns -> at the end", f"{result['fds_start']} -> {result['fds_end']}"),
        ("CPU per turn (ms)", f"{result['cpu_ms_per_turn']:.1f}"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{name.ljust(width)}  {v}" for name, v in rows]
    for g in result["growth"]:
        where = " <- ".join(reversed(g["traceback"]))
        lines.append(f"  +{g['size_diff_kb']:.1f} KiB ({g['count_diff']:+d}) {where}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--goaway-every", type=int, default=20, help="0: none")
    parser.add_argument("--drop-every", type=int, default=50, help="0: none")
    parser.add_argument("--tracemalloc", action="store_true", help="hunt memory growth (slower)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.turns <= START_AFTER:
        parser.error(f"--turns must be more than {START_AFTER}")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    outcome = main(args.turns, args.goaway_every, args.drop_every, args.tracemalloc)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(outcome, indent=2) + "\n")
    print(table(outcome))
    print(f"\nwritten to {args.out}")
