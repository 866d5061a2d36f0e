"""The talkbox commands: each command's shell (arguments, output) around the code doing the work."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import pwd
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from talkbox.appliance.control import VERBS
from talkbox.errors import ConfigError, ExitCode
from talkbox.logs import REDACTOR, configure_logging, say

if TYPE_CHECKING:
    from talkbox.config import LoadedConfig, Settings

DEFAULT_CONFIG = Path("/etc/talkbox/talkbox.env")
DEFAULT_OUT_DIR = Path("out")
DEFAULT_DEMO_DIR = Path("demo-out")
DESCRIPTION = (
    "talkbox: a voice appliance for the Raspberry Pi. Press the button, speak, and hear Gemini "
    "answer through the Gemini Live API."
)


def default_config() -> Path | None:
    """The env file used without --config: /etc/talkbox/talkbox.env if this user can read it."""
    # Once it holds the key the file is root's alone (0600). The service never needs to read
    # it: systemd (as root) hands its settings over as the environment (EnvironmentFile=).
    if DEFAULT_CONFIG.is_file() and os.access(DEFAULT_CONFIG, os.R_OK):
        return DEFAULT_CONFIG
    return None


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid without a passwd entry (a container, DynamicUser=)
        return str(os.getuid())


def unread_default_config() -> str | None:
    """Why the default env file, which exists, was not read (None if it was or is absent)."""
    try:
        DEFAULT_CONFIG.stat()
    except FileNotFoundError:
        return None
    except OSError:
        pass  # /etc/talkbox itself is closed to this user: the file is there to someone else
    if default_config() is not None:
        return None
    return (
        f"{DEFAULT_CONFIG} cannot be read by user {_user()!r} (once it holds the key "
        "it is root's alone): only the environment was read; run this as root (sudo) to read "
        "the file too, or pass --config FILE"
    )


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
    parser = argparse.ArgumentParser(prog="talkbox", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="validate the configuration and show it")
    _add_config(check)
    check.add_argument(
        "--online",
        action="store_true",
        help="then open one Live setup with these settings (no audio, no turn) and print "
        "what the service answered",
    )

    ask = sub.add_parser("ask", help="send text turns to the current conversation")
    _add_config(ask)
    ask.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        metavar="DIR",
        help=f"where the answers are saved as WAV files (default: ./{DEFAULT_OUT_DIR})",
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object per answer")
    ask.add_argument("text", nargs="+", metavar="TEXT", help="turns to send; - reads stdin")

    demo = sub.add_parser(
        "demo",
        help="one turn of the whole appliance on its built-in stand-ins (no Pi, sound card "
        "or internet)",
        description="Press the mock button, speak a bundled question into an ALSA FIFO "
        "microphone, hear the answer on an ALSA file speaker: the real appliance against "
        "talkbox's Live API emulator (or Gemini with --live). Prints the LED timeline and "
        "the turn's figures and saves what was played as answer.wav.",
    )
    _add_config(demo)
    demo.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_DEMO_DIR,
        metavar="DIR",
        help=f"where answer.wav is saved (default: ./{DEFAULT_DEMO_DIR})",
    )
    demo.add_argument(
        "--live",
        action="store_true",
        help="send the recording to Gemini itself, with your settings (the API key as "
        "`talkbox ask` finds it; --config)",
    )
    demo.add_argument(
        "--wake",
        action="store_true",
        help='open the turn by saying the wake word "okay nabu" before the question, '
        "instead of pressing the button (TALKBOX_WAKE_WORD=okay_nabu)",
    )
    demo.add_argument(
        "--timer",
        action="store_true",
        help='ask for "a pasta timer for 3 seconds" instead: the timer is set through the '
        "tool path, rings on the stand-ins and a press stops it (ring.wav is saved)",
    )

    run = sub.add_parser("run", help="run the appliance (the daemon systemd starts)")
    _add_config(run)

    sub.add_parser("devices", help="list the ALSA devices and cards, with their config names")

    selftest = sub.add_parser(
        "selftest", help="try the microphone, speaker, LED and button, one step at a time"
    )
    _add_config(selftest)

    ctl = sub.add_parser("ctl", help="control the running daemon over its local socket")
    ctl.add_argument(
        "--socket",
        type=Path,
        default=None,
        metavar="PATH",
        help="the daemon's control socket (default: $RUNTIME_DIRECTORY/control.sock if set, "
        "else the service's /run/talkbox/control.sock, then $XDG_RUNTIME_DIR/talkbox/"
        "control.sock); exit 69 when no daemon answers",
    )
    verbs = ctl.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name, verb in VERBS.items():
        parser_of_verb = verbs.add_parser(name, help=verb.help)
        if verb.argument == "text":
            parser_of_verb.add_argument("text", nargs="+", metavar="TEXT")
        elif verb.argument == "percent":
            parser_of_verb.add_argument("percent", type=int, metavar="N", help="0 to 100")

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
    if hasattr(args, "config") and config is None:
        unread = unread_default_config()
        # Under systemd the settings came through EnvironmentFile=, which root read for us.
        if unread is not None and not (args.command == "run" and "INVOCATION_ID" in os.environ):
            _say(f"talkbox: warning: {unread}", sys.stderr, logging.WARNING)
    if args.command == "check":
        from talkbox.appliance.parts import box_notes
        from talkbox.config import check_report

        report = check_report(config, needs=_run_needs())
        _mask(report.secrets)
        for line in report.lines:
            _say(line, sys.stdout)
        notes = [] if report.settings is None else box_notes(report.settings)
        _report(report.problems, [*report.warnings, *notes])
        if report.problems or not args.online:
            return report.exit_code
        return _check_online(config)
    if args.command == "ask":
        return _ask(config, args.text, out_dir=args.out_dir, as_json=args.json)
    if args.command == "ctl":
        return _ctl(args)
    if args.command == "run":
        return _run(config)
    if args.command == "devices":
        return _devices()
    if args.command == "selftest":
        return _selftest(config)
    if args.command == "demo":
        if args.timer:
            return _timer_demo(args.out_dir, live=args.live, wake=args.wake)
        return _demo(config, out_dir=args.out_dir, live=args.live, wake=args.wake)
    raise AssertionError(f"unhandled command {args.command!r}")


def _ask(config: Path | None, texts: list[str], *, out_dir: Path, as_json: bool) -> int:
    """`talkbox ask`: load the settings, read the turns, run them (ConfigError etc. propagate)."""
    from talkbox.ask import ask, read_turns

    # Everything a turn needs is checked before connecting: nothing is asked only to be lost.
    turns = read_turns(texts, sys.stdin.buffer)
    out_dir = output_dir(out_dir)
    loaded = _load(config)
    if loaded is None:
        return ExitCode.CONFIG
    settings = loaded.settings
    configure_logging(settings.log_level)
    # A misspelled TALKBOX_ variable or an odd env-file line must not pass unnoticed.
    for warning in loaded.warnings:
        logging.getLogger("talkbox.ask").warning("config: %s", warning)
    return asyncio.run(ask(settings, turns, out_dir=out_dir, as_json=as_json, out=sys.stdout))


def _timer_demo(out_dir: Path, *, live: bool, wake: bool) -> int:
    """`talkbox demo --timer`: on the emulator only."""
    from talkbox.demo.timer import run_timer_demo

    if live or wake:
        print(
            "talkbox demo: --timer runs on the emulator alone, without --live or --wake",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    out_dir = output_dir(out_dir)
    configure_logging("INFO")
    return run_timer_demo(out_dir=out_dir)


def _demo(config: Path | None, *, out_dir: Path, live: bool, wake: bool) -> int:
    """`talkbox demo`: on the emulator, or (--live) on Gemini with the user's settings."""
    from talkbox.config import AREAS, SystemFields
    from talkbox.demo.run import bench_settings, run_demo
    from talkbox.demo.trigger import BUTTON_TAP, WAKE_WORD
    from talkbox.live.vertex_auth import credential_problems

    # What opens the turn: the mock button's press and release, or the spoken wake word.
    trigger = WAKE_WORD if wake else BUTTON_TAP
    settings = None
    if live:
        # As `talkbox run` checks them, with the bench's devices in place of the user's.
        loaded = _load(config, bench_settings(trigger))
        if loaded is None:
            return ExitCode.CONFIG
        # The demo keeps its state in a directory of its own: the state dir's needs do not apply.
        areas = [area for area in AREAS if area is not SystemFields]
        problems = [need for area in areas for need in area.unmet_needs(loaded.settings)]
        problems = problems or list(credential_problems(loaded.settings))
        if problems:
            # One line each, as `talkbox ask` says them (__main__ prints ConfigError).
            raise ConfigError(problems)
        settings = loaded.settings
        for warning in loaded.warnings:
            logging.getLogger("talkbox.demo").warning("config: %s", warning)
    out_dir = output_dir(out_dir)
    configure_logging(settings.log_level if settings is not None else "INFO")
    return run_demo(out_dir=out_dir, live=settings, trigger=trigger)


def _load(config: Path | None, overrides: Mapping[str, Any] | None = None) -> LoadedConfig | None:
    """The settings, or None once every problem is printed (the caller exits 78).

    From here on every line printed or logged masks the key, SDK errors quoting it included.
    """
    from talkbox.config import ConfigProblems, load_or_problems

    loaded = load_or_problems(config, overrides or {})
    _mask(loaded.secrets)
    if isinstance(loaded, ConfigProblems):
        _report(loaded.problems, loaded.notes)
        return None
    return loaded


def _mask(secrets: Sequence[str]) -> None:
    for secret in secrets:
        REDACTOR.add(secret)


def _say(line: str, stream: TextIO, level: int = logging.ERROR) -> None:
    # The project's one redaction rule (logs.REDACTOR) covers what the commands print too.
    say(line, stream=stream, level=level)


def _report(problems: Sequence[str], warnings: Sequence[str]) -> None:
    """Every config problem, their count and the warnings, one line each on stderr."""
    for problem in problems:
        _say(f"talkbox: config error: {problem}", sys.stderr)
    if problems:
        count = len(problems)
        _say(f"talkbox: {count} problem{'s' if count != 1 else ''} to fix", sys.stderr)
    for warning in warnings:
        _say(f"talkbox: warning: {warning}", sys.stderr, logging.WARNING)


def _check_online(config: Path | None) -> int:
    """`talkbox check --online`: the service's answer to one setup, as one line."""
    from talkbox.appliance.tools import declared_registry
    from talkbox.config import load_settings
    from talkbox.live.probe import probe_setup

    # Every tool the running box declares, so the service checks each declaration now.
    settings = load_settings(config)
    result = asyncio.run(probe_setup(settings, tools=declared_registry(settings)))
    if result.accepted:
        _say(result.line, sys.stdout)
    else:
        _say(f"talkbox: {result.line}", sys.stderr)
    return result.exit_code


def _ctl(args: argparse.Namespace) -> int:
    """`talkbox ctl VERB`: one request to the daemon, its answer printed as JSON."""
    from talkbox.appliance.control import ask_daemon, candidates

    # DaemonUnreachableError (exit 69) names each socket tried and why it did not answer.
    paths = [args.socket] if args.socket else candidates()
    request: dict[str, object] = {"command": args.verb}
    match VERBS[args.verb].argument:
        case "text":
            request["text"] = " ".join(args.text)
        case "percent":
            request["percent"] = args.percent
        case None:
            pass
    answer = asyncio.run(ask_daemon(paths, request))
    _say(json.dumps(answer, indent=2 if args.verb == "status" else None), sys.stdout)
    if not answer.get("ok"):
        _say(f"talkbox: {answer.get('error', 'the daemon refused the request')}", sys.stderr)
        return 1
    return 0


def _run(config: Path | None) -> int:
    """`talkbox run`: every setting checked before anything opens, then the daemon."""
    from talkbox.appliance.hardware import hardware_parts
    from talkbox.appliance.parts import box_notes
    from talkbox.appliance.serve import serve
    from talkbox.config import AREAS

    loaded = _load(config)
    if loaded is None:
        return ExitCode.CONFIG
    settings = loaded.settings
    problems = [need for area in AREAS for need in area.unmet_needs(settings)]
    # The same needs `check` reports, in the same order: what run refuses, check refused first.
    problems = problems or [problem for need in _run_needs() for problem in need(settings)]
    if problems:
        # Before READY=1: systemd's RestartPreventExitStatus=78 keeps the unit failed.
        _report(problems, [])
        return ExitCode.CONFIG
    configure_logging(settings.log_level)
    for warning in [*loaded.warnings, *box_notes(settings)]:
        logging.getLogger("talkbox.run").warning("config: %s", warning)
    return asyncio.run(serve(settings, hardware_parts(settings)))


def _run_needs() -> tuple[Callable[[Settings], Sequence[str]], ...]:
    """What `run` needs beyond valid settings (`check` asks the same): key, wiring, files."""
    from talkbox.appliance.hardware import preflight
    from talkbox.live.vertex_auth import credential_problems

    return (credential_problems, preflight)


def _devices() -> int:
    """`talkbox devices`: the ALSA PCMs and cards, with the names the config takes."""
    from talkbox.audio.alsa import list_devices

    found = list_devices()
    _say("Capture PCMs (TALKBOX_CAPTURE_DEVICE):", sys.stdout)
    for name in found.capture:
        _say(f"  {name}", sys.stdout)
    _say("Playback PCMs (TALKBOX_PLAYBACK_DEVICE):", sys.stdout)
    for name in found.playback:
        _say(f"  {name}", sys.stdout)
    _say("Cards (name a card by its id; its mixers for TALKBOX_MIXER):", sys.stdout)
    for card in found.cards:
        mixers = ", ".join(found.mixers.get(card, ())) or "none"
        _say(f"  {card}: plughw:CARD={card},DEV=0  (mixers: {mixers})", sys.stdout)
    if not found.cards:
        _say("  none found", sys.stdout)
    return ExitCode.OK


def _selftest(config: Path | None) -> int:
    """`talkbox selftest`: microphone, speaker, LED and button, each PASS, FAIL or SKIP."""
    from talkbox.selftest import selftest

    loaded = _load(config)
    if loaded is None:
        return ExitCode.CONFIG
    configure_logging("WARNING")
    return asyncio.run(selftest(loaded.settings, sys.stdout))


def output_dir(path: Path) -> Path:
    """`path` made and checked to be a writable directory (ConfigError naming --out-dir if not)."""
    shown = ascii(str(path))[1:-1]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError([f"--out-dir {shown} is a file, not a directory"]) from None
    except OSError as exc:
        raise ConfigError([f"--out-dir {shown} cannot be created: {exc.strerror}"]) from None
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError([f"--out-dir {shown} is not writable: {exc.strerror}"]) from None
    return path.resolve()
