"""The talkbox commands: argument parsing and dispatch to the module that does the work."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

DEFAULT_CONFIG = Path("/etc/talkbox/talkbox.env")


def default_config() -> Path | None:
    """The env file used when --config is not given: /etc/talkbox/talkbox.env if it exists."""
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def configure_logging(level: str = "INFO") -> None:
    """Log plain lines to stderr (the journal formatting arrives with the daemon)."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # websockets logs every connection open/close at INFO; talkbox logs its own one line per
    # connection event, so the library's lines would only double them.
    logging.getLogger("websockets").setLevel(max(logging.WARNING, logging.root.level))


def _add_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help=f"env file to read (default: {DEFAULT_CONFIG} if it exists)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command except `emulator`, which parses its own."""
    parser = argparse.ArgumentParser(prog="talkbox", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="validate the configuration and show it")
    _add_config(check)

    ask = sub.add_parser("ask", help="send text turns to the current conversation")
    _add_config(ask)
    ask.add_argument("--out-dir", type=Path, default=Path.cwd(), metavar="DIR")
    ask.add_argument("--json", action="store_true", help="print one JSON object per answer")
    ask.add_argument("text", nargs="+", metavar="TEXT", help="turns to send; - reads stdin")

    demo = sub.add_parser("demo", help="run talkbox on its built-in stand-ins")
    demo.add_argument("--out-dir", type=Path, default=Path("out"), metavar="DIR")

    sub.add_parser("emulator", help="run the local Live API emulator (see: emulator --help)")
    return parser


def dispatch(argv: Sequence[str]) -> int:
    """Run one command and return its exit code."""
    if argv and argv[0] == "emulator":
        # The emulator stands in for the service, so it owns its whole command line.
        from talkbox.emulator.cli import main as emulator_main

        return emulator_main(list(argv[1:]))

    args = build_parser().parse_args(argv)
    config = args.config if getattr(args, "config", None) else default_config()
    if args.command == "check":
        from talkbox.config import check_report

        report = check_report(config)
        for line in report.lines:
            print(line)
        for problem in report.problems:
            print(f"talkbox: config error: {problem}", file=sys.stderr)
        if report.problems:
            count = len(report.problems)
            print(f"talkbox: {count} problem{'s' if count != 1 else ''} to fix", file=sys.stderr)
        for warning in report.warnings:
            print(f"talkbox: warning: {warning}", file=sys.stderr)
        return report.exit_code
    if args.command == "ask":
        from talkbox.ask import run_ask

        texts: list[str] = args.text
        return run_ask(config, texts, out_dir=args.out_dir, as_json=args.json)
    if args.command == "demo":
        from talkbox.demo import run_demo

        configure_logging("INFO")
        return run_demo(out_dir=args.out_dir)
    raise AssertionError(f"unhandled command {args.command!r}")
