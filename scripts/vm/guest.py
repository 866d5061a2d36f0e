"""check-vm's side inside the VM: spoken turns through the snd-aloop card, measured.

Run as root with the installed venv's Python (numpy and pyalsaaudio are there):

    /opt/talkbox/venv/bin/python guest.py status
    /opt/talkbox/venv/bin/python guest.py wait-idle --timeout 90
    /opt/talkbox/venv/bin/python guest.py turns --count 3 WAV
    /opt/talkbox/venv/bin/python guest.py barge WAV

It talks to the daemon's control socket directly (a `talkbox` command takes ~5 s to start under
TCG). The daemon captures `hw:Loopback,0,0`, which `aplay` feeds on `hw:Loopback,1,0`; it plays to
`hw:Loopback,0,1`, which this script records on `hw:Loopback,1,1`, stamping each 20 ms period with
the monotonic clock. The emulator answers a spoken turn with the echo of what it received
(resampled to 24 kHz), so an answer heard whole is the question found whole in the recording:
the normalized cross-correlation of the question's speech with the recording. Each command prints
one JSON object per result line and exits 0; a check that fails exits 1 with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path
from typing import Any

import alsaaudio
import numpy as np

SOCKET = Path("/run/talkbox/control.sock")
FEED = "hw:CARD=Loopback,DEV=1,SUBDEV=0"
LISTEN = "hw:CARD=Loopback,DEV=1,SUBDEV=1"
RATE = 24_000
PERIOD = 480  # 20 ms
MIN_CORRELATION = 0.9
"""An answer counts as heard whole when the question's whole speech correlates at least this."""
PLAYING_CORRELATION = 0.5
"""A 40 ms block of the recording still carries the answer above this correlation."""


def ask(command: str, **fields: Any) -> dict[str, Any]:
    """One request on the control socket, its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(SOCKET))
        s.sendall(json.dumps({"command": command, **fields}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    answer: dict[str, Any] = json.loads(data)
    if not answer.get("ok"):
        raise SystemExit(f"the daemon refused {command}: {answer}")
    return answer


def out(result: dict[str, Any]) -> None:
    """One result line on stdout, as JSON."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def state() -> str:
    """The box's state, as `talkbox ctl status` says it."""
    return str(ask("status")["state"])


def wait_state(wanted: set[str], timeout: float, *, poll: float = 0.05) -> tuple[str, float]:
    """Poll until the state is one of `wanted`; (state, monotonic time seen)."""
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        try:
            seen = state()
        except OSError:
            seen = "no socket"
        if seen in wanted:
            return seen, time.monotonic()
        time.sleep(poll)
    raise SystemExit(f"state {seen!r}, not {'/'.join(sorted(wanted))}, after {timeout:.0f} s")


class Recorder:
    """Records the daemon's speaker (the loopback's other side) in a thread, time-stamped."""

    def __init__(self) -> None:
        self.chunks: list[tuple[float, bytes]] = []
        self.overruns = 0
        """Periods this recorder itself lost (its read said -EPIPE): a gap that is not the box's."""
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self.pcm = alsaaudio.PCM(
            type=alsaaudio.PCM_CAPTURE,
            device=LISTEN,
            channels=1,
            rate=RATE,
            format=alsaaudio.PCM_FORMAT_S16_LE,
            periodsize=PERIOD,
            periods=8,
        )
        self.rate = self.pcm.info()["rate"] if hasattr(self.pcm, "info") else RATE
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                n, data = self.pcm.read()
                t = time.monotonic()
                if n > 0:
                    self.chunks.append((t, data))
                elif n < 0:
                    self.overruns += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            self.error = exc

    def close(self) -> None:
        """Stop recording and close the device."""
        self._stop.set()
        self._thread.join(2)
        self.pcm.close()

    def samples(self, since: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """The recording from `since` on: samples and each sample's monotonic time."""
        pcm = []
        times = []
        for t, data in list(self.chunks):
            s = np.frombuffer(data, dtype="<i2").astype(np.float64)
            if t < since:
                continue
            pcm.append(s)
            times.append(t - (len(s) - 1 - np.arange(len(s))) / self.rate)
        if not pcm:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(pcm), np.concatenate(times)


def question(path: Path) -> tuple[np.ndarray, float, float]:
    """The question's samples at 16 kHz and its speech span (from tests/data/speech.json)."""
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    spans = json.loads((path.parent / "speech.json").read_text())
    start, end = spans[path.name]["speech"]
    return pcm, float(start), float(end)


def reference(path: Path) -> np.ndarray:
    """The question's speech at 24 kHz, as the emulator's echo carries it."""
    pcm, start, end = question(path)
    speech = pcm[int(start * 16000) : int(end * 16000)]
    count = round(speech.size * RATE / 16000)
    ref: np.ndarray = np.interp(np.arange(count) * (16000 / RATE), np.arange(speech.size), speech)
    return ref


def best_match(recording: np.ndarray, ref: np.ndarray) -> tuple[float, int]:
    """The highest normalized cross-correlation of `ref` in `recording`, and where."""
    if recording.size < ref.size:
        return 0.0, 0
    n = 1 << int(np.ceil(np.log2(recording.size + ref.size)))
    corr = np.fft.irfft(np.fft.rfft(recording, n) * np.conj(np.fft.rfft(ref, n)), n)
    corr = corr[: recording.size - ref.size + 1]
    energy = np.cumsum(np.concatenate([[0.0], recording**2]))
    window = energy[ref.size :] - energy[: -ref.size]
    norm = np.sqrt(np.maximum(window, 1e-9)) * np.sqrt(np.sum(ref**2))
    score = corr / norm
    score[window < 1e-3 * np.sum(ref**2)] = 0.0  # near-silence correlates by accident
    at = int(np.argmax(score))
    return float(score[at]), at


def feed(path: Path) -> None:
    """Play the question into the daemon's microphone, as a person speaking."""
    subprocess.run(["aplay", "-q", "-D", FEED, str(path)], check=True, timeout=60)


def turn(rec: Recorder, wav: Path, number: int) -> dict[str, Any]:
    """One tapped turn: press, speak, wait for the answer to be played out; measured."""
    ref = reference(wav)
    wait_state({"idle"}, 30)
    status = ask("status")
    before, devices_before = status["frames"], status.get("devices") or {}
    overruns = rec.overruns
    t_press = time.monotonic()
    ask("press")
    ask("release")
    _, t_listening = wait_state({"listening"}, 15, poll=0.02)
    t_feed = time.monotonic()
    feed(wav)
    t_fed = time.monotonic()
    _, t_answer = wait_state({"speaking"}, 40, poll=0.02)
    _, t_idle = wait_state({"idle"}, 60)
    time.sleep(0.3)
    after = ask("status")
    frames = {
        k: after["frames"][k] - before[k] for k in ("frames", "frames_dropped", "frames_sent")
    }
    samples, times = rec.samples(since=t_press)
    score, at = best_match(samples, ref)
    # Where an answer is not whole: each half of the question on its own, the microphone's
    # frames (20 ms each) against the wall clock, and what the daemon says it received.
    half = ref.size // 2
    return {
        "turn": number,
        "question": wav.name,
        "correlation": round(score, 4),
        "press_to_listening_s": round(t_listening - t_press, 2),
        "speech_end_to_speaking_s": round(t_answer - t_fed, 2),
        "speaking_s": round(t_idle - t_answer, 2),
        "answer_heard_at_s": round(float(times[at]) - t_feed, 2) if samples.size else None,
        "ok": score >= MIN_CORRELATION,
        "halves": [
            round(best_match(samples, ref[:half])[0], 3),
            round(best_match(samples, ref[half:])[0], 3),
        ],
        "mic_realtime_ratio": round(frames["frames"] / max(0.001, t_idle - t_press) / 50, 3),
        "mic_frames_dropped": frames["frames_dropped"],
        "uplink_frames": frames["frames_sent"],
        "answer_audio_s": (after.get("last_turn") or {}).get("audio_s"),
        "recorder_overruns": rec.overruns - overruns,
        # The daemon's own devices: audio its card lost (capture) or gaps it played.
        "capture_overruns": _grew(devices_before, after, "capture", "overruns"),
        "playback_underruns": _grew(devices_before, after, "playback", "underruns"),
    }


def _grew(before: dict[str, Any], after: dict[str, Any], device: str, counter: str) -> int | None:
    """How much a device counter of `ctl status` grew (None: a daemon without them)."""
    now = (after.get("devices") or {}).get(device, {}).get(counter)
    then = before.get(device, {}).get(counter)
    return None if now is None or then is None else now - then


def cmd_turns(args: argparse.Namespace) -> int:
    """`count` turns in a row, each answer heard whole."""
    rec = Recorder()
    failed = 0
    try:
        for number in range(1, args.count + 1):
            result = turn(rec, args.wav, number)
            out(result)
            failed += not result["ok"]
    finally:
        rec.close()
    if rec.error is not None:
        out({"recorder_error": repr(rec.error)})
        return 1
    return 1 if failed else 0


def cmd_barge(args: argparse.Namespace) -> int:
    """A press one second into an answer: the time from it to the answer's silence."""
    rec = Recorder()
    try:
        ref = reference(args.wav)
        wait_state({"idle"}, 30)
        t0 = time.monotonic()
        ask("press")
        ask("release")
        wait_state({"listening"}, 15, poll=0.02)
        feed(args.wav)
        _, t_answer = wait_state({"speaking"}, 40, poll=0.02)
        time.sleep(args.after)
        t_press = time.monotonic()
        ask("press")
        ask("release")
        time.sleep(3.0)
        after = state()
        samples, times = rec.samples(since=t0)
    finally:
        rec.close()
    # Where the answer sits in the recording: its first second matched against the recording
    # up to the press (the part that surely played).
    head = ref[: RATE // 2]
    played = times < t_press
    score, at = best_match(samples[played], head)
    result: dict[str, Any] = {
        "question": args.wav.name,
        "answer_start_correlation": round(score, 3),
        "press_after_speaking_s": round(t_press - t_answer, 2),
        "state_after": after,
    }
    if score < MIN_CORRELATION:
        result["ok"] = False
        result["why"] = "the answer was not heard before the press"
        out(result)
        return 1
    # Block by block (40 ms), does the recording still carry the answer where the answer would be?
    block = RATE // 25
    last_playing = None
    for i in range(0, ref.size - block, block):
        j = at + i
        if j + block > samples.size:
            break
        r = ref[i : i + block]
        s = samples[j : j + block]
        if np.sum(r**2) < 1e-4 * np.sum(ref**2) / (ref.size / block):
            continue  # a pause in the question: nothing to hear there
        c = float(np.dot(r, s) / (np.sqrt(np.sum(r**2) * np.sum(s**2)) + 1e-9))
        if c > PLAYING_CORRELATION:
            last_playing = float(times[j + block - 1])
    answer_end = float(times[min(at + ref.size, samples.size - 1)])
    if last_playing is None:
        result.update(ok=False, why="no block of the answer found")
    else:
        latency = last_playing - t_press
        result.update(
            press_to_silence_ms=round(latency * 1000),
            answer_would_have_ended_after_press_s=round(answer_end - t_press, 2),
            ok=latency < args.bound and answer_end - t_press > 1.0,
        )
        if not result["ok"]:
            result["why"] = f"the answer went on {latency:.2f} s after the press"
    out(result)
    return 0 if result["ok"] else 1


def cmd_status(args: argparse.Namespace) -> int:
    """The daemon's status."""
    out(ask("status"))
    return 0


def cmd_wait_idle(args: argparse.Namespace) -> int:
    """Wait for the box to be idle; its link then."""
    t0 = time.monotonic()
    seen, t = wait_state({"idle"}, args.timeout, poll=0.2)
    status = ask("status")
    out({"state": seen, "after_s": round(t - t0, 1), "link": status.get("link")})
    return 0


def cmd_home(args: argparse.Namespace) -> int:
    """Home Assistant's side: find the box over mDNS, connect over Noise, mute it and back."""
    return asyncio.run(_home(args.key, args.within))


async def _home(key: str, within: float) -> int:
    # The libraries Home Assistant itself uses; the installed venv has them (talkbox's own).
    from aioesphomeapi.client import APIClient
    from zeroconf import ServiceStateChange, Zeroconf
    from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

    service = "_esphomelib._tcp.local."
    result: dict[str, Any] = {}
    zc = AsyncZeroconf()  # every interface, as HA browses its LAN
    found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_change(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Added and not found.done():
            found.set_result(name)

    browser = AsyncServiceBrowser(zc.zeroconf, service, handlers=[on_change])
    try:
        t0 = time.monotonic()
        name = await asyncio.wait_for(found, within)
        info = AsyncServiceInfo(service, name)
        if not await info.async_request(zc.zeroconf, 5000) or info.port is None:
            raise SystemExit(f"mDNS: {name} found, but not where it listens")
        addresses = info.parsed_addresses()
        result["mdns"] = {
            "name": name,
            "port": info.port,
            "addresses": addresses,
            "found_after_s": round(time.monotonic() - t0, 2),
        }
        # Connect where the advertisement says, as HA's config flow does.
        client = APIClient(addresses[0], info.port, None, noise_psk=key, client_info="check-vm")
        await asyncio.wait_for(client.connect(login=True), within)
        try:
            device, entities, _ = await asyncio.wait_for(
                client.device_info_and_list_entities(), within
            )
            keys = {entity.object_id: entity.key for entity in entities}
            result["device"] = device.name
            result["entity_count"] = len(keys)
            result["entities"] = sorted(keys)
            for muted in (True, False):
                client.switch_command(keys["mute"], muted)
                deadline = time.monotonic() + within
                while ask("status").get("muted") is not muted:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"HA's mute {muted}: ctl status never followed")
                    await asyncio.sleep(0.1)
            result["mute_from_ha"] = "on and off, ctl status followed"
        finally:
            await client.disconnect()
    finally:
        await browser.async_cancel()
        await zc.async_close()
    out(result)
    return 0


def main() -> int:
    """Run one command."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("status")
    p = sub.add_parser("wait-idle")
    p.add_argument("--timeout", type=float, default=90)
    p = sub.add_parser("turns")
    p.add_argument("--count", type=int, default=3)
    p.add_argument("wav", type=Path)
    p = sub.add_parser("barge")
    p.add_argument("--after", type=float, default=1.0)
    p.add_argument("--bound", type=float, default=0.5, help="longest press → silence (s)")
    p.add_argument("wav", type=Path)
    p = sub.add_parser("home")
    p.add_argument("--key", required=True, help="the box's Noise key (base64)")
    p.add_argument("--within", type=float, default=30, help="seconds each step may take")
    args = parser.parse_args()
    handler = {
        "status": cmd_status,
        "wait-idle": cmd_wait_idle,
        "turns": cmd_turns,
        "barge": cmd_barge,
        "home": cmd_home,
    }[args.cmd]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
