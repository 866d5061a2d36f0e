"""The model's side of a connection: user turns queue up and are answered in order.

Each answer goes, as in the recorded sessions (the connection's model row shapes it):

1. ``sessionResumptionUpdate {}`` (resumption on), ``inputTranscription`` (if asked for; in
   chunks with ``finished`` on the last on the 3.x rows, which also sent
   ``interimInputTranscription`` while the user spoke);
2. extended thinking only: a spoken filler, ``generationComplete``, then ``turnComplete``
   with ``interactionStatus: IN_PROGRESS`` (the interaction goes on);
3. ``toolCall`` when the turn names a declared function, or a text turn asks for a timer
   (``model.timer_call``: the call and arguments a model makes), or a text turn is a home
   request ("turn on the kitchen light") and a function for the home takes a request in words
   (``model.home_call``: the words are its argument), or a ``tool_call`` fault says so;
   a BLOCKING call waits for its ``toolResponse``, a NON_BLOCKING one (declared so, or by the
   model's default: NON_BLOCKING on 3.8) does not, and its late result starts a turn of its
   own: WHEN_IDLE after the current answer, INTERRUPT at once (on 3.8 only once the user
   stops speaking), SILENT never (it only joins the context). ``willContinue`` responses
   keep a call open until the last one;
4. ``modelTurn`` audio chunks (the echo, or a tone phrase for text), paced at real time, or
   ``fast_audio_factor`` times faster on gemini-3.8-live; ``outputTranscription`` after the
   first chunk, or (3.x rows) in pieces inside the first chunks' messages;
5. ``generationComplete``; ``turnComplete`` with ``usageMetadata`` (and ``interactionStatus:
   IDLE`` on the 3.x rows) once the client has played the audio; then a resumable
   ``sessionResumptionUpdate`` with a fresh handle.

A barge-in (``activityStart``, speech, ``text`` or ``clientContent`` during 2-5) stops the
audio and sends ``toolCallCancellation`` (pending BLOCKING calls), ``interrupted``,
``turnComplete``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from talkbox.emulator import catalog, model
from talkbox.emulator.faults import Fault
from talkbox.emulator.protocol import INVALID_ARGUMENT, NOT_FOUND, JsonDict, encode_b64
from talkbox.emulator.session import Tokens, TurnRecord, audio_tokens
from talkbox.emulator.session import text_tokens as count_text
from talkbox.emulator.side import ConnectionSide


@dataclass
class TurnState:
    """The answer being produced: enough to finish it properly if it is interrupted."""

    number: int
    user: Tokens
    sent_seconds: float = 0.0
    reply_text_tokens: int = 0
    pending_calls: dict[str, asyncio.Future[JsonDict]] = field(default_factory=dict)
    interruptible: bool = True
    interrupted: bool = False
    text_reply: bool = False
    faults: list[Fault] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    #: When the client will have played all answer audio sent so far (monotonic), if paced.
    play_until: float = 0.0

    def has(self, kind: str) -> Fault | None:
        """The shape fault of that kind armed for this turn, if any."""
        return next((f for f in self.faults if f.kind == kind), None)


class Responder:
    """Answers a connection's user turns one at a time; interrupts the answer on barge-in."""

    def __init__(self, conn: ConnectionSide) -> None:
        """Answer on behalf of `conn` (its setup, session, faults and socket)."""
        self.conn = conn
        self.turns: asyncio.Queue[model.UserTurn] = asyncio.Queue()
        self.current: TurnState | None = None
        #: Calls of NON_BLOCKING functions still waiting for their response: id -> name.
        self.async_calls: dict[str, str] = {}
        #: INTERRUPT results held while the user speaks (polite interruption).
        self.deferred: list[model.UserTurn] = []

    async def tool_response(self, body: Any) -> None:
        """Match function responses to pending calls; late NON_BLOCKING results start turns.

        A response with ``willContinue`` leaves its call open for more; the last one (without
        it) closes the call.
        """
        responses = body.get("functionResponses") if isinstance(body, dict) else None
        state = self.current
        row = self.conn.row
        for response in responses or []:
            if not isinstance(response, dict):
                continue
            if not row.scheduling and response.get("scheduling") is not None:
                await self.conn.close(1007, catalog.SCHEDULING_REFUSED)
            call_id = str(response.get("id", ""))
            more = bool(response.get("willContinue"))
            if call_id in self.async_calls:
                name = self.async_calls[call_id] if more else self.async_calls.pop(call_id)
                self._late_tool_result(name, response)
                continue
            future = state.pending_calls.get(call_id) if state is not None else None
            if future is None or future.done():
                self.conn.emu.log.add(
                    self.conn.id, "event", "unknown_tool_response", {"id": call_id}
                )
                if self.conn.options.unknown_tool_response == "close":
                    await self.conn.close(1008, NOT_FOUND)
                continue
            if more:
                # An interim result: the model keeps waiting for the last one.
                assert state is not None
                state.user = state.user + _response_tokens(response)
                continue
            future.set_result(response)

    def _late_tool_result(self, name: str, response: JsonDict) -> None:
        """A NON_BLOCKING function answered: its `scheduling` says what the model does.

        WHEN_IDLE (the default) speaks it after the current answer; INTERRUPT stops the
        answer and speaks it at once, or, on models with polite interruption, once the user
        stops speaking; SILENT only adds it to the context.
        """
        tokens = _response_tokens(response)
        scheduling = str(response.get("scheduling") or "WHEN_IDLE").upper()
        if scheduling == "SILENT":
            if self.conn.session is not None:
                conversation = self.conn.session.conversation
                conversation.pending = conversation.pending + tokens
            return
        turn = model.UserTurn("text", text=f"result of {name}", tokens=tokens, tool_result=name)
        if scheduling == "INTERRUPT":
            if self.conn.row.polite_interrupt and self.conn.listener.activity is not None:
                self.deferred.append(turn)
                return
            self.barge_in()
        self.turns.put_nowait(turn)

    # ---- turns -------------------------------------------------------------------------

    def end_turn(self, turn: model.UserTurn) -> None:
        """A user turn ended: count its tokens and queue it for an answer."""
        if turn.kind == "audio":
            turn.tokens = Tokens(
                audio=audio_tokens(turn.seconds, self.conn.options.audio_tokens_per_s)
            )
        elif not turn.tokens.total:
            turn.tokens = Tokens(text=count_text(turn.text))
        # The user stopped speaking: results that politely waited are spoken first.
        for waiting in self.deferred:
            self.turns.put_nowait(waiting)
        self.deferred.clear()
        self.turns.put_nowait(turn)

    def barge_in(self) -> None:
        """New user activity: stop the current answer, unless setup said NO_INTERRUPTION."""
        state = self.current
        if state is None or not state.interruptible or not self.conn.facts.interrupts:
            return
        state.interrupted = True
        state.interruptible = False
        if state.task is not None:
            state.task.cancel()

    async def run(self) -> None:
        """Answer queued turns in order, for as the connection lives."""
        while True:
            turn = await self.turns.get()
            assert self.conn.session is not None
            conversation = self.conn.session.conversation
            conversation.turns += 1
            state = TurnState(conversation.turns, turn.tokens + conversation.pending)
            conversation.pending = Tokens()
            state.faults = self.conn.emu.turn_faults(self.conn.id, state.number)
            state.text_reply = self.conn.facts.text_modality
            self.current = state
            state.task = self.conn.spawn(self._answer(turn, state))
            await asyncio.wait([state.task])
            self.current = None
            if state.task.cancelled() and state.interrupted:
                await self._interrupted_tail(state)

    async def _answer(self, turn: model.UserTurn, state: TurnState) -> None:
        await self._fit_context(state)
        if self.conn.facts.resumption and not state.has("withhold_updates"):
            await self.conn.send({"sessionResumptionUpdate": {}})
        if self.conn.facts.input_transcription and turn.tool_result is None:
            await self._input_transcript(model.input_transcript(turn))
        if self.conn.row.filler and turn.tool_result is None and not state.text_reply:
            # Extended thinking: a filler, ended as an utterance, while it goes on thinking.
            if await self._stream(model.filler(), state):
                return
            await self.conn.send({"serverContent": {"generationComplete": True}})
            await self._wait_playback(state)
            await self.conn.send(
                {"serverContent": {"turnComplete": True, "interactionStatus": "IN_PROGRESS"}}
            )
        reply = model.answer(turn)
        called = await self._maybe_call_tool(turn, state)
        if called:
            reply = model.Answer(reply.pcm, f"{reply.description} after calling {called}")
        delay = state.has("first_audio_delay")
        if delay is not None:
            await asyncio.sleep(float(delay.params["s"]))
        if await self._stream(reply, state):
            return
        if not state.has("omit_generation_complete"):
            await self.conn.send({"serverContent": {"generationComplete": True}})
        await self._turn_instant_faults(state, moment="generated")
        # turnComplete comes when the client has played the answer (a barge-in meanwhile
        # still interrupts it).
        await self._wait_playback(state)
        state.interruptible = False
        await self._finish(state, interrupted=False)

    async def _wait_playback(self, state: TurnState) -> None:
        # Only the fast rows wait: a real-time stream has played out when it is sent.
        fast = (self.conn.row.audio_speed or self.conn.options.fast_audio_factor) > 1
        if fast and self.conn.options.realtime:
            await asyncio.sleep(max(0.0, state.play_until - time.monotonic()))

    async def _input_transcript(self, text: str) -> None:
        """The user's words: one message, or (combined-parts models) chunks, the last finished."""
        if not self.conn.row.combined_parts:
            await self.conn.send({"serverContent": {"inputTranscription": {"text": text}}})
            return
        pieces = model.text_chunks(text, 8)
        for i, piece in enumerate(pieces):
            transcription: JsonDict = {"text": piece}
            if i == len(pieces) - 1:
                transcription["finished"] = True
            await self.conn.send({"serverContent": {"inputTranscription": transcription}})

    async def _fit_context(self, state: TurnState) -> None:
        assert self.conn.session is not None
        conversation = self.conn.session.conversation
        window = self.conn.options.context_window
        compression = self.conn.facts.compression
        if compression is not None:
            trigger = int(compression.get("triggerTokens") or int(window * 0.8))
            sliding = compression.get("slidingWindow") or {}
            target = int(sliding.get("targetTokens") or trigger // 2)
            before = (conversation.context() + state.user).total
            dropped = conversation.compress(state.user, trigger, target)
            if dropped:
                after = (conversation.context() + state.user).total
                data = {"dropped_turns": dropped, "before": before, "after": after}
                self.conn.emu.log.add(self.conn.id, "event", "compression", data)
        elif (conversation.context() + state.user).total > window:
            await self.conn.close(1007, INVALID_ARGUMENT)

    async def _maybe_call_tool(self, turn: model.UserTurn, state: TurnState) -> str | None:
        if turn.tool_result is not None:
            return None
        scripted = state.has("tool_call")
        if scripted is not None:
            name, args = str(scripted.params["name"]), scripted.args
        else:
            declarations = self.conn.facts.declarations
            declared = list(declarations)
            request = model.input_transcript(turn)
            # A timer request is called with its arguments, as the model would make them.
            asked = model.timer_call(request, declared) if turn.kind == "text" else None
            found = model.named_function(request, declared)
            home = model.home_call(turn.text, declarations) if turn.kind == "text" else None
            if asked is not None:
                name, args = asked
            elif found is not None:
                name, args = found, {}
            elif home is not None:
                name, args = home[0], dict(home[1])
            else:
                return None
        call_id = f"function-call-{self.conn.emu.rng.getrandbits(64)}"
        future: asyncio.Future[JsonDict] = asyncio.get_running_loop().create_future()
        state.pending_calls[call_id] = future
        call = {"id": call_id, "name": name, "args": args}
        await self.conn.send({"toolCall": {"functionCalls": [call]}})
        if self.conn.facts.non_blocking(name):
            # The model goes on talking; the response, when it comes, starts its own turn.
            del state.pending_calls[call_id]
            self.async_calls[call_id] = name
            return None
        if state.has("tool_call_cancellation"):
            del state.pending_calls[call_id]
            await self.conn.send({"toolCallCancellation": {"ids": [call_id]}})
            return None
        response = await future
        del state.pending_calls[call_id]
        state.user = state.user + _response_tokens(response)
        return name

    async def _stream(self, reply: model.Answer, state: TurnState) -> bool:
        """Send the answer; True when an `interrupt` fault cut it and finished the turn.

        Paced (``realtime``) at the model's speed: real time, or several times faster on the
        fast rows, whose client plays the audio later (``play_until``).
        """
        interrupt = state.has("interrupt")
        if state.text_reply:
            await self._stream_text(model.output_transcript(state.number, reply), state)
            return False
        conn = self.conn
        pieces = model.chunks(reply.pcm, conn.options.chunk_ms)
        speed = conn.row.audio_speed or conn.options.fast_audio_factor
        transcript = model.output_transcript(state.number, reply)
        if reply.description == model.FILLER_TEXT:
            transcript = model.FILLER_TEXT
        combined = conn.row.combined_parts and conn.facts.output_transcription
        words = model.spread(transcript, len(pieces)) if combined else []
        start = time.monotonic()
        state.play_until = max(state.play_until, start)
        sent_here = 0.0
        for i, piece in enumerate(pieces):
            if conn.options.realtime:
                await asyncio.sleep(max(0.0, start + sent_here / speed - time.monotonic()))
            data = encode_b64(piece, urlsafe=conn.switches.urlsafe)
            part = {"inlineData": {"mimeType": model.OUTPUT_MIME, "data": data}}
            content: JsonDict = {"modelTurn": {"parts": [part]}}
            if i < len(words):
                # The transcript leads its audio: a piece rides with each first chunk.
                content["outputTranscription"] = {"text": words[i]}
                if i == len(words) - 1:
                    content["outputTranscription"]["finished"] = True
            await conn.send({"serverContent": content})
            seconds = len(piece) / 2 / model.OUTPUT_RATE
            state.sent_seconds += seconds
            sent_here += seconds
            state.play_until += seconds
            if i == 0:
                if conn.facts.output_transcription and not combined:
                    await conn.send(
                        {"serverContent": {"outputTranscription": {"text": transcript}}}
                    )
                await self._turn_instant_faults(state)
            if interrupt is not None and state.sent_seconds * 1000 >= interrupt.params["after_ms"]:
                state.interruptible = False
                await self._interrupted_tail(state)
                return True
        return False

    async def _stream_text(self, text: str, state: TurnState) -> None:
        sent = ""
        for i, piece in enumerate(model.text_chunks(text)):
            await self.conn.send({"serverContent": {"modelTurn": {"parts": [{"text": piece}]}}})
            sent += piece
            state.reply_text_tokens = count_text(sent)
            if i == 0:
                await self._turn_instant_faults(state)

    async def _turn_instant_faults(self, state: TurnState, moment: str = "first_audio") -> None:
        faults = self.conn.emu.faults_for(self.conn.id, turn=state.number, moment=moment)
        for fault in faults:
            await self.conn.fire(fault)

    def _model_tokens(self, state: TurnState) -> Tokens:
        count = audio_tokens(state.sent_seconds, self.conn.options.audio_tokens_per_s)
        if state.text_reply:
            return Tokens(text=state.reply_text_tokens)
        return Tokens(audio=count)

    async def _complete(
        self, state: TurnState, *, model_tokens: Tokens, interrupted: bool = False
    ) -> None:
        """Send turnComplete with usageMetadata in the same message, as every recording does."""
        assert self.conn.session is not None
        prompt = self.conn.session.conversation.context() + state.user
        usage = {
            "promptTokenCount": prompt.total,
            "responseTokenCount": model_tokens.total,
            "totalTokenCount": prompt.total + model_tokens.total,
            "promptTokensDetails": prompt.details(),
            "responseTokensDetails": model_tokens.details(),
        }
        content: JsonDict = {}
        if interrupted and state.has("interrupted_with_turn_complete"):
            content["interrupted"] = True
        if not state.has("no_turn_complete"):
            content["turnComplete"] = True
        reason = state.has("turn_complete_reason")
        if reason is not None:
            content["turnCompleteReason"] = reason.params["reason"]
        if state.has("waiting_for_input"):
            content["waitingForInput"] = True
        status = state.has("interaction_status")
        if status is not None:
            content["interactionStatus"] = status.params["status"]
        elif (
            self.conn.row.interaction_status
            and "turnComplete" in content
            and not state.has("no_interaction_status")
        ):
            # Sent with every turnComplete by the models that have it: the interaction is over.
            content["interactionStatus"] = "IDLE"
        message: JsonDict = {"serverContent": content} if content else {}
        if not state.has("omit_usage"):
            if message and state.has("usage_separate"):
                await self.conn.send(message)
                message = {}
            message["usageMetadata"] = usage
        if message:
            await self.conn.send(message)

    async def _interrupted_tail(self, state: TurnState) -> None:
        if state.pending_calls:
            ids = list(state.pending_calls)
            state.pending_calls.clear()
            await self.conn.send({"toolCallCancellation": {"ids": ids}})
        if not state.has("interrupted_with_turn_complete"):
            await self.conn.send({"serverContent": {"interrupted": True}})
        await self._finish(state, interrupted=True)

    async def _finish(self, state: TurnState, *, interrupted: bool) -> None:
        """Send turnComplete with usage, keep the turn in the history, issue a fresh handle."""
        assert self.conn.session is not None
        model_tokens = self._model_tokens(state)
        await self._complete(state, model_tokens=model_tokens, interrupted=interrupted)
        self.conn.session.conversation.history.append(
            TurnRecord(state.number, state.user, model_tokens)
        )
        await self._handle_update(state)

    async def _handle_update(self, state: TurnState) -> None:
        if not self.conn.facts.resumption or state.has("withhold_updates"):
            return
        if state.has("unresumable"):
            await self.conn.send({"sessionResumptionUpdate": {}})
            return
        assert self.conn.session is not None
        handle = self.conn.emu.handles.issue(self.conn.session)
        await self.conn.send({"sessionResumptionUpdate": {"newHandle": handle, "resumable": True}})


def _response_tokens(response: JsonDict) -> Tokens:
    """What a function response adds to the prompt: its `response` object as text."""
    return Tokens(text=count_text(json.dumps(response.get("response", {}), sort_keys=True)))
