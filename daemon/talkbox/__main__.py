"""Entry point: parse the command line, run the command, map failures to exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from talkbox.errors import (
    ConfigError,
    DaemonUnreachableError,
    ExitCode,
    LiveFatalError,
    StateBusyError,
    UsageError,
)
from talkbox.logs import say

log = logging.getLogger("talkbox")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the talkbox command line and return its exit code."""
    from talkbox import cli

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return cli.dispatch(args)
    except ConfigError as exc:
        for problem in exc.problems:
            say(f"talkbox: config error: {problem}")
        return ExitCode.CONFIG
    except UsageError as exc:
        say(f"talkbox: {exc}")
        return ExitCode.USAGE
    except StateBusyError as exc:
        say(f"talkbox: {exc}")
        return ExitCode.BUSY
    except DaemonUnreachableError as exc:
        say(f"talkbox: {exc}")
        return ExitCode.UNAVAILABLE
    except LiveFatalError as exc:
        say(f"talkbox: {exc.reason}")
        return ExitCode.CONFIG
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception:  # the one place where an unexpected crash becomes an exit code
        log.exception("talkbox crashed")
        return ExitCode.CRASH


if __name__ == "__main__":
    sys.exit(main())
