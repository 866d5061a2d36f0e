"""`talkbox emulator`: run the Live API emulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, get_args

from talkbox.emulator import catalog, faults
from talkbox.emulator.faults import Fault
from talkbox.emulator.options import MAX_CHUNK_MS, BadKeyMode, EmulatorOptions
from talkbox.emulator.server import Emulator

EXIT_OK = 0
EXIT_USAGE = 2
#: The command line keeps this many newest log records in memory by default: a long-running
#: emulator (audio in every record) must not grow without bound.
DEFAULT_LOG_MAX_RECORDS = 100_000
#: The command line's defaults are EmulatorOptions' own.
_DEFAULTS = EmulatorOptions()


class _UsageError(Exception):
    """A bad command line; the message is the one line printed."""


class _Exit(Exception):
    """--help (or --version) was handled; leave with this status."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise _Exit(status)


def _fault(spec: str) -> str:
    try:
        Fault.parse(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad --fault {spec!r}: {exc}") from None
    return spec


def _seconds(text: str) -> float:
    """A number of seconds; its range is EmulatorOptions' to check."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None


def _whole(text: str) -> int:
    """A whole number; its range is EmulatorOptions' to check."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The emulator's own argument parser (its help documents the fault grammar)."""
    parser = _Parser(
        prog="talkbox emulator",
        description="Run a local, protocol-faithful Gemini Live API server over TLS. "
        "Prints one line when ready, runs until SIGINT/SIGTERM.",
        epilog=catalog.describe() + "\n\n" + (faults.__doc__ or ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default=_DEFAULTS.host, help="address to listen on (%(default)s)")
    parser.add_argument(
        "--port", type=_whole, default=_DEFAULTS.port, help="port (0 = any free port)"
    )
    parser.add_argument(
        "--ca-out",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the CA PEM here (default: a temporary file)",
    )
    parser.add_argument(
        "--api-key",
        default=_DEFAULTS.api_key,
        metavar="KEY",
        help="the accepted API key (default %(default)s)",
    )
    parser.add_argument("--any-key", action="store_true", help="accept any non-empty key")
    parser.add_argument(
        "--bad-key",
        choices=get_args(BadKeyMode),
        default=_DEFAULTS.bad_key_mode,
        help="how a wrong key is refused (default %(default)s)",
    )
    parser.add_argument(
        "--connection-lifetime",
        type=_seconds,
        default=_DEFAULTS.connection_lifetime_s,
        metavar="S",
        help="seconds before a connection is cut (default %(default)s)",
    )
    parser.add_argument(
        "--go-away-lead",
        type=_seconds,
        default=_DEFAULTS.go_away_lead_s,
        metavar="S",
        help="GoAway this many seconds before the cut (default %(default)s)",
    )
    parser.add_argument(
        "--handle-lifetime",
        type=_seconds,
        default=_DEFAULTS.handle_lifetime_s,
        metavar="S",
        help="handle validity after a session's last close (default %(default)s)",
    )
    parser.add_argument(
        "--context-window",
        type=_whole,
        default=_DEFAULTS.context_window,
        metavar="TOKENS",
        help="context window size (default %(default)s)",
    )
    parser.add_argument(
        "--event-log",
        type=Path,
        default=None,
        metavar="PATH",
        help="append every frame and event as JSON lines",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="send answer audio as possible, not at real time",
    )
    parser.add_argument(
        "--chunk-ms",
        type=_whole,
        default=_DEFAULTS.chunk_ms,
        metavar="MS",
        help=f"length of each answer audio chunk, at most {MAX_CHUNK_MS} (default %(default)s)",
    )
    parser.add_argument(
        "--silence-ms",
        type=_whole,
        default=_DEFAULTS.silence_ms,
        metavar="MS",
        help="silence that ends a turn under automatic detection, unless setup says (%(default)s)",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="NAME",
        help="serve this model (repeatable; replaces the default: every model of the table "
        "below that is not retired; a retired one named here is served with its old rules)",
    )
    parser.add_argument(
        "--fast-audio-factor",
        type=_seconds,
        default=_DEFAULTS.fast_audio_factor,
        metavar="F",
        help="how much faster than real time gemini-3.8-live sends answer audio "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--v1",
        choices=("refuse", "serve"),
        default=_DEFAULTS.v1_live,
        help="API version v1 (the SDK 3.x default): refuse it during setup with 1008 "
        "'not found for API version v1', or serve it like v1beta (default %(default)s)",
    )
    parser.add_argument(
        "--no-log-audio",
        action="store_true",
        help="leave audio payloads out of the event log",
    )
    parser.add_argument(
        "--log-max-records",
        type=_whole,
        default=DEFAULT_LOG_MAX_RECORDS,
        metavar="N",
        help="keep about the newest N log records in memory (default %(default)s)",
    )
    parser.add_argument(
        "--seed", type=_whole, default=_DEFAULTS.seed, help="seed for handles and call ids"
    )
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="SPEC",
        help="arm a fault (repeatable); grammar below",
    )
    return parser


def options_from(args: argparse.Namespace) -> EmulatorOptions:
    """EmulatorOptions from parsed arguments."""
    models: tuple[str, ...] = (
        tuple(m.removeprefix("models/") for m in args.model) if args.model else _DEFAULTS.models
    )
    return EmulatorOptions(
        models=models,
        fast_audio_factor=args.fast_audio_factor,
        v1_live=args.v1,
        host=args.host,
        port=args.port,
        api_key=None if args.any_key else args.api_key,
        ca_out=args.ca_out,
        bad_key_mode=args.bad_key,
        connection_lifetime_s=args.connection_lifetime,
        go_away_lead_s=args.go_away_lead,
        handle_lifetime_s=args.handle_lifetime,
        context_window=args.context_window,
        event_log_path=args.event_log,
        realtime=not args.fast,
        chunk_ms=args.chunk_ms,
        silence_ms=args.silence_ms,
        log_audio=not args.no_log_audio,
        log_max_records=args.log_max_records,
        seed=args.seed,
        faults=list(args.fault),
    )


async def serve_until_signalled(options: EmulatorOptions) -> None:
    """Run the emulator, print the ready line, stop on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Emulator(options) as emulator:
        sys.stdout.write(
            f"talkbox emulator listening on {emulator.base_url} ca={emulator.ca_file}\n"
        )
        sys.stdout.flush()
        await stop.wait()


def main(argv: Sequence[str]) -> int:
    """Entry point for `talkbox emulator ...`; returns the exit code."""
    parser = build_parser()
    try:
        options = options_from(parser.parse_args(list(argv)))
    except (_UsageError, ValueError) as exc:
        sys.stderr.write(f"talkbox emulator: error: {exc}\n")
        return EXIT_USAGE
    except _Exit as exc:
        return exc.status
    try:
        asyncio.run(serve_until_signalled(options))
    except OSError as exc:
        sys.stderr.write(f"talkbox emulator: error: {exc}\n")
        return EXIT_USAGE
    return EXIT_OK
