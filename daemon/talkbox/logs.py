"""Logging setup: plain, timestamped lines on stderr (journal priorities come with the daemon)."""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    """Log plain lines to stderr at `level`."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # websockets logs every connection open/close at INFO; talkbox logs its own one line per
    # connection event, so the library's lines would only double them.
    logging.getLogger("websockets").setLevel(max(logging.WARNING, logging.root.level))
