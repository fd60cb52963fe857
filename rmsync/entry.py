"""The console script and `python -m rmsync`: catch Ctrl-C before anything heavy loads.

Owns: installing the signal handlers first, so that a Ctrl-C or SIGTERM while click and the
rest load still ends as "Interrupted (SIGINT): nothing was changed." and 130, never a
traceback. Must not: import anything but rmsync.interrupts before the handlers are in place.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from rmsync import interrupts


def main() -> NoReturn:
    interrupts.install()
    try:
        from rmsync.cli import main as run
    except interrupts.Interrupted as exc:
        print(f"\nInterrupted ({exc}): nothing was changed.", file=sys.stderr)
        sys.exit(exc.exit_code)
    run()
