"""A local, protocol-faithful Gemini Live API (BidiGenerateContent) server.

It stands in for the service in tests, the demo and benchmarks, so it imports nothing from
the rest of talkbox and cannot share the client's assumptions.

    async with Emulator(EmulatorOptions(realtime=False)) as emu:   # or EmulatorThread(...)
        client = genai.Client(api_key="emu-test-key", http_options=types.HttpOptions(
            base_url=emu.base_url, api_version="v1beta",
            async_client_args={"ssl": emu.client_ssl_context()}))
        emu.arm("close:preset=internal@turn=2")
        ...
        emu.log.client_messages("realtime_input.activityEnd")

The setup's model picks the rules (`talkbox.emulator.catalog`: what each model accepts and
how it answers; `EmulatorOptions.models` or ``--model`` says which are served, every model
that is not retired by default). Every client message is checked against the public schema
(`talkbox.emulator.schema`) and refused 1007 in the service's words.

Faults share one grammar between Python (`Emulator.arm`) and the command line (`--fault`):
``KIND[:key=value,...][@TRIGGER]`` with TRIGGER items ``t=S``, ``msg=N``, ``turn=N``,
``conn=N`` (ranges ``A-B``, ``A-``) and ``times=K``; `talkbox.emulator.faults` documents
every kind.
"""

from talkbox.emulator.catalog import DEFAULT_MODELS, ModelRow, row_for
from talkbox.emulator.faults import CLOSE_PRESETS, Fault, Span, Trigger
from talkbox.emulator.log import EventLog, Record
from talkbox.emulator.options import EmulatorOptions
from talkbox.emulator.server import Emulator
from talkbox.emulator.thread import EmulatorThread

__all__ = [
    "CLOSE_PRESETS",
    "DEFAULT_MODELS",
    "Emulator",
    "EmulatorOptions",
    "EmulatorThread",
    "EventLog",
    "Fault",
    "ModelRow",
    "Record",
    "Span",
    "Trigger",
    "row_for",
]
