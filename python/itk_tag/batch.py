"""Running one function over many files.

In-process or in worker processes, with a progress bar on a terminal, and
every file's outcome collected, failures included.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Callable, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")


def _in_process(work: Callable[[Task], Result], tasks: list[Task]) -> Iterator[Result]:
    for task in tasks:
        yield work(task)


def _ignore_interrupts() -> None:
    # Ctrl-C reaches every process of the terminal's group: the workers leave
    # it to the parent, which stops handing out tasks and lets the running
    # ones finish (each writes its output atomically, or not at all).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _in_workers(work: Callable[[Task], Result], tasks: list[Task], jobs: int) -> Iterator[Result]:
    # Spawned, not forked: a fork of a process whose ITK thread pool is running can deadlock.
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_interrupts
    )
    try:
        pending: set[Future[Result]] = set()
        queue = iter(tasks)
        # A bounded window of submitted tasks keeps memory flat for long runs
        # and leaves little to cancel when the run is stopped.
        for task in queue:
            pending.add(pool.submit(work, task))
            if len(pending) >= 2 * jobs:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
                task = next(queue, None)
                if task is not None:
                    pending.add(pool.submit(work, task))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def run(
    work: Callable[[Task], Result],
    tasks: Iterable[Task],
    jobs: int = 1,
    progress: bool | None = None,
    description: str = "",
) -> Iterator[Result]:
    """Yield ``work(task)`` for every task, in the order they finish.

    ``work`` must report a failing task in its result rather than raise: a
    raising task stops the run. ``jobs`` > 1 runs tasks in that many worker
    processes (``work`` and tasks must be picklable). ``progress`` shows a bar
    with an ETA on stderr; by default only when stderr is a terminal.
    """
    tasks = list(tasks)
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, not {jobs}")
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    results = _in_process(work, tasks) if jobs == 1 or len(tasks) <= 1 else _in_workers(work, tasks, jobs)
    with tqdm(total=len(tasks), disable=not show, desc=description, unit="file", file=sys.stderr) as bar:
        for result in results:
            bar.update(1)
            yield result


def note(message: str) -> None:
    """Print a line on stderr without breaking a progress bar that is showing."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)
