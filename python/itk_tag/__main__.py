"""``python -m itk_tag`` and the ``itk-tag`` command: the command line, stoppable from its first instant."""

import signal
import sys
import threading
from types import FrameType
from typing import Optional


def _stopped(number: int, _frame: Optional[FrameType]) -> None:
    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, signal.SIG_IGN)
    print("itk-tag: interrupted", file=sys.stderr)
    raise SystemExit(128 + number)


def main() -> int:
    """Run the command line; a SIGINT or SIGTERM while it loads ends it quietly (status 128 + signal).

    The handlers are set before the command line's imports (a third of a
    second, more on a busy machine), which a signal would otherwise end with
    a traceback (SIGINT) or no word at all (SIGTERM); ``cli.main`` then sets
    the batch runner's own handling.
    """
    if threading.current_thread() is threading.main_thread():
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, _stopped)
    from .cli import main as command_line

    return command_line()


if __name__ == "__main__":
    sys.exit(main())
