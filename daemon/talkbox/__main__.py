"""Entry point: parse the command line, run the command, map failures to exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from talkbox.errors import ConfigError, LiveFatalError

EXIT_OK = 0
EXIT_CRASH = 1
EXIT_USAGE = 2
EXIT_CONFIG = 78  # EX_CONFIG from sysexits.h; systemd's RestartPreventExitStatus can name it.

log = logging.getLogger("talkbox")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the talkbox command line and return its exit code."""
    from talkbox import cli

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return cli.dispatch(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"talkbox: config error: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    except LiveFatalError as exc:
        print(f"talkbox: {exc.reason}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    except Exception:  # the one place where an unexpected crash becomes an exit code
        log.exception("talkbox crashed")
        return EXIT_CRASH


if __name__ == "__main__":
    sys.exit(main())
