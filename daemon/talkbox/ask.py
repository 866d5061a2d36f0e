"""`talkbox ask`: send text turns to the current conversation and save the spoken answers."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from google import genai

from talkbox.audio.format import ANSWER_RATE_HZ, seconds
from talkbox.audio.wav import write_wav
from talkbox.config import Settings
from talkbox.errors import LiveFatalError, UsageError
from talkbox.live.backoff import RetryPolicy
from talkbox.live.events import (
    AnswerAudioReceived,
    LinkDisconnected,
    LinkEvent,
    LinkFailed,
    TurnCompleted,
    TurnFailed,
    TurnResent,
)
from talkbox.live.link import LiveLink
from talkbox.live.session_config import build_client
from talkbox.live.tools import default_registry
from talkbox.sigterm import stop_on_sigterm
from talkbox.state_lock import holding

log = logging.getLogger(__name__)

# Generous: a turn may wait out a GoAway rotation and a few reconnects before it is answered.
TURN_TIMEOUT_S = 120.0
# Someone waits for `ask`: once connecting has failed for this long (the next attempt would
# start later), it gives up with one ERROR line. Counted from the start of the first failed
# attempt, and an attempt takes at most RetryPolicy.setup_timeout_s (15 s), so the ERROR
# comes within 45 s of the first failure. A GoAway rotation or a quick reconnect takes a
# second or two; 30 s is an outage, not a hiccup.
GIVE_UP_S = 30.0
# Only these characters of a conversation id go into a file name (handles.py checks the
# stored ids too; this keeps any id from naming a path outside --out-dir).
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")
# After the last answer the handle that includes it arrives; wait for it so the next `ask`
# continues the conversation, but never hang on a server that withholds it.
SETTLE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Answer:
    """One answered turn as `ask` reports it."""

    turn: int
    conversation: str
    transcript: str
    wav: Path
    audio_s: float
    first_audio_ms: float
    resumed: bool
    reconnects: int
    end_reason: str | None = None
    """Why the turn ended other than with a normal answer (a safety block, ...), if it did."""

    def as_json(self) -> str:
        """The --json line of this answer."""
        return json.dumps(
            {
                "turn": self.turn,
                "conversation": self.conversation,
                "transcript": self.transcript,
                "wav": str(self.wav),
                "audio_s": round(self.audio_s, 3),
                "first_audio_ms": round(self.first_audio_ms, 1),
                "resumed": self.resumed,
                "reconnects": self.reconnects,
                "end_reason": self.end_reason,
            }
        )


@dataclass(frozen=True, slots=True)
class Unanswered:
    """A turn `ask` got no answer to, and what that means for the turns after it."""

    message: str
    fatal: bool = False
    """The service refused us for good (bad key, model...): stop, exit 78."""
    stop: bool = False
    """Nothing came back in time: asking more would only wait again."""
    logged: bool = False
    """The link's ERROR line already said it: print nothing more."""


def answer_line(answer: Answer) -> str:
    """What `ask` prints for an answer: its transcript, or what it did when there is none."""
    if answer.transcript:
        return answer.transcript
    # Transcripts off (TALKBOX_TRANSCRIBE_OUTPUT=false) or none sent: a blank line says
    # nothing; the WAV is the answer.
    return f"(no transcript) {answer.audio_s:.1f}s of audio saved to {answer.wav}"


def answer_wav(out_dir: Path, conversation_id: str, turn: int) -> Path:
    """The WAV file of an answer: always a plain file name directly inside `out_dir`."""
    safe = _UNSAFE_IN_NAME.sub("_", conversation_id)[:64] or "conversation"
    return out_dir / f"talkbox-{safe}-{turn:03d}.wav"


def read_turns(texts: Sequence[str], stdin: BinaryIO) -> list[str]:
    """The turns to send: each TEXT, `-` replaced by the non-blank lines of stdin (UTF-8)."""
    turns: list[str] = []
    for number, text in enumerate(texts, 1):
        if text != "-":
            turns.append(_turn_text(text, f"TEXT {number}"))
            continue
        for line_number, raw in enumerate(stdin, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise UsageError(f"stdin line {line_number} is not UTF-8 text") from None
            if line.strip():
                turns.append(_turn_text(line.strip(), f"stdin line {line_number}"))
    if not turns:
        raise UsageError("nothing to ask: every TEXT and stdin line was empty")
    return turns


def _turn_text(text: str, where: str) -> str:
    """`text` checked to be something the service can be sent."""
    if not text.strip():
        raise UsageError(f"{where} is empty: give the question as text")
    try:
        # Undecodable command-line bytes arrive as lone surrogates, which JSON cannot carry.
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{where} is not UTF-8 text") from None
    return text.strip()


async def ask(
    settings: Settings,
    turns: Iterable[str],
    *,
    out_dir: Path,
    as_json: bool,
    out: TextIO,
    client: genai.Client | None = None,
    policy: RetryPolicy | None = None,
    turn_timeout_s: float = TURN_TIMEOUT_S,
) -> int:
    """Send each turn, save and print each answer; 0 when all were answered, else 1.

    SIGTERM stops it like Ctrl-C, with the connection closed in order and the stored
    conversation kept (exit 143).
    """
    return await stop_on_sigterm(
        _holding_and_asking(
            settings,
            turns,
            out_dir=out_dir,
            as_json=as_json,
            out=out,
            client=client,
            policy=policy or RetryPolicy(give_up_after_s=GIVE_UP_S),
            turn_timeout_s=turn_timeout_s,
        ),
        stopped=lambda: log.info("stopped (SIGTERM); the conversation is kept for the next ask"),
    )


async def _holding_and_asking(settings: Settings, turns: Iterable[str], **how: Any) -> int:
    async with holding(settings.state_dir, command="ask"):
        return await _ask(settings, turns, **how)


async def _ask(
    settings: Settings,
    turns: Iterable[str],
    *,
    out_dir: Path,
    as_json: bool,
    out: TextIO,
    client: genai.Client | None,
    policy: RetryPolicy,
    turn_timeout_s: float,
) -> int:
    # Credentials are checked before anything connects, so a missing key is a config error.
    client = client or build_client(settings)
    events: asyncio.Queue[LinkEvent] = asyncio.Queue()
    # The model's end_conversation ends the link's conversation once its goodbye is heard;
    # the registry is made before the link it is handed to, so the call finds it by name.
    tools = default_registry(on_end_conversation=lambda: link.new_conversation(after_turn=True))
    link = LiveLink(settings, events.put_nowait, client=client, policy=policy, tools=tools)
    failed = 0
    fatal: str | None = None
    async with asyncio.TaskGroup() as tg:
        runner = tg.create_task(link.run(), name="live-link")
        try:
            for text in turns:
                match await _ask_one(link, events, text, out_dir, turn_timeout_s):
                    case Answer() as answer:
                        print(answer.as_json() if as_json else answer_line(answer), file=out)
                        out.flush()
                        if answer.end_reason is not None:
                            # Saved and shown, but not an answer: the exit code says so.
                            failed += 1
                            print(  # noqa: T201
                                f"talkbox: turn {text!r} ended abnormally: {answer.end_reason}",
                                file=sys.stderr,
                            )
                    case Unanswered(message=message, fatal=True):
                        fatal = message
                        break
                    case Unanswered(message=message, stop=stop, logged=logged):
                        failed += 1
                        if not logged:
                            print(f"talkbox: {message}", file=sys.stderr)  # noqa: T201
                        if stop:
                            break
            if fatal is None and not failed:
                # The next `ask` resumes from the stored handle; make sure it is the newest.
                try:
                    async with asyncio.timeout(SETTLE_TIMEOUT_S):
                        await link.settled()
                except TimeoutError:
                    log.warning(
                        "the service did not confirm the conversation; the next ask may "
                        "not continue it"
                    )
        finally:
            # The link runs until cancelled; `ask` is done with it.
            runner.cancel()
    if fatal is not None:
        raise LiveFatalError(fatal)
    return 1 if failed else 0


async def _ask_one(
    link: LiveLink,
    events: asyncio.Queue[LinkEvent],
    text: str,
    out_dir: Path,
    timeout_s: float,
) -> Answer | Unanswered:
    reconnects_before = link.status().reconnects
    turn_id = link.send_text(text)
    audio = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                match await events.get():
                    case AnswerAudioReceived(turn_id=tid, pcm=pcm) if tid == turn_id:
                        audio += pcm
                    case TurnResent(turn_id=tid) if tid == turn_id:
                        # The turn is asked again after a lost connection; only the answer
                        # to the repeated question is complete.
                        audio.clear()
                    case TurnFailed(turn_id=tid, reason=reason) if tid == turn_id:
                        return Unanswered(f"turn {text!r} failed: {reason}")
                    case LinkFailed(reason=reason):
                        return Unanswered(reason, fatal=True)
                    case LinkDisconnected(gave_up=True, reason=reason):
                        return Unanswered(reason, stop=True, logged=True)
                    case TurnCompleted(turn_id=tid) as done if tid == turn_id:
                        break
                    case _:
                        pass
    except TimeoutError:
        return Unanswered(f"turn {text!r} not answered within {timeout_s:g}s", stop=True)
    status = link.status()
    wav = answer_wav(out_dir, status.conversation_id, done.conversation_turn)
    write_wav(wav, bytes(audio), ANSWER_RATE_HZ)
    return Answer(
        turn=done.conversation_turn,
        conversation=status.conversation_id,
        transcript=done.transcript,
        wav=wav,
        audio_s=seconds(audio, ANSWER_RATE_HZ),
        first_audio_ms=(done.first_audio_s or 0.0) * 1000,
        resumed=status.resumed,
        reconnects=status.reconnects - reconnects_before,
        end_reason=done.end_reason,
    )
