"""A local, protocol-faithful Gemini Live API (BidiGenerateContent) server.

It stands in for the service in tests, the demo and benchmarks, so it imports nothing from
the rest of talkbox and cannot share the client's assumptions. See `faults` for the fault
grammar shared by Python (`Emulator.arm`) and the command line (`--fault`).
"""

from talkbox.emulator.faults import CLOSE_PRESETS, Fault, Span, Trigger
from talkbox.emulator.log import EventLog, Record
from talkbox.emulator.options import DEFAULT_MODELS, EmulatorOptions
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
    "Record",
    "Span",
    "Trigger",
]
