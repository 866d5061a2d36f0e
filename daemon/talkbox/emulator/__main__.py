"""`python -m talkbox.emulator ...`: the same as `talkbox emulator ...`."""

import sys

from talkbox.emulator.cli import main

raise SystemExit(main(sys.argv[1:]))
