"""Running one job per file: the files in, the jobs in this process or in workers, the report.

Interrupts (SIGINT: Ctrl-C, which reaches the parent and its workers;
SIGTERM: ``timeout``, job schedulers, ``kill``) are handled the same with any
``jobs``: the first one stops handing out work and ends the jobs that run --
each job unwinds, so its output's temporary file is removed (see
:mod:`.writers`) -- then :class:`~itk_tag.errors.RunInterrupted` is raised.
Signals after the first do nothing, so a second Ctrl-C cannot hang or break
the shutdown. Workers are spawned, not forked (a fork of a process whose ITK
thread pool runs can deadlock), by ``concurrent.futures``; a worker that dies
does not end the run (see :func:`run`).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections import Counter, deque
from collections.abc import Generator, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Optional, TypeVar

from ..errors import RunInterrupted, UsageError
from . import itk_warnings
from .allocator import keep_freed_memory

Task = TypeVar("Task")
Result = TypeVar("Result")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_CHUNK = 8
"""The most tasks a worker is handed at a time (see :func:`chunk_size`)."""
_DEATHS = 3
"""Workers dying on this many files in a row end a run (the rest are failed, not run)."""
_GRACE = 30.0
"""Seconds the jobs running at an interrupt get to unwind before their workers are killed."""


def existing_inputs(inputs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Return the inputs as paths; UsageError when there is none or one does not exist."""
    sources = [Path(p) for p in inputs]
    if not sources:
        raise UsageError("no input given")
    for source in sources:
        if not source.exists():
            raise UsageError(f"{source}: no such file or folder")
    return sources


def _walk(
    folder: Path, accept: Callable[[Path], bool], skip: Path | None
) -> Iterator[tuple[Path, Path, Path]]:
    """The files under ``folder`` that ``accept`` takes: (file, its folder below ``folder``, real path)."""
    # Real paths are joined, not resolved (a resolve is a system call per
    # component: a third of planning 2,000 files): os.walk enters no linked
    # folder, so below the real path of ``folder`` only a linked file differs.
    real = Path(os.path.realpath(folder))
    for root, folders, files in os.walk(folder):
        here = Path(root)
        relative = here.relative_to(folder)
        real_here = real / relative
        folders[:] = sorted(f for f in folders if not f.startswith(".") and real_here / f != skip)
        for name in sorted(files):
            # Hidden files: our temporary files, macOS "._name" companions.
            if not name.startswith(".") and accept(here / name):
                file = here / name
                yield file, relative, file.resolve() if file.is_symlink() else real_here / name


def input_files(
    inputs: Sequence[str | os.PathLike[str]],
    accept: Callable[[Path], bool],
    wanted: str = ".tag files",
    skip: Path | None = None,
) -> list[tuple[Path, Path]]:
    """Find the files a run reads: (file, its folder relative to the input folder it was found in).

    A file input is taken as it is; a folder is searched recursively, in name
    order, for the files ``accept`` takes, hidden files and the folder ``skip``
    (the output, a resolved path) left out. Each file comes once. Raises
    UsageError when an input does not exist or nothing is found (``wanted``
    names what was looked for).
    """
    sources = existing_inputs(inputs)
    found: list[tuple[Path, Path]] = []
    seen: set[Path] = set()
    for source in sources:
        files = _walk(source, accept, skip) if source.is_dir() else [(source, Path(), source.resolve())]
        for file, relative, real in files:
            if real not in seen:
                seen.add(real)
                found.append((file, relative))
    if not found:
        raise UsageError(f"no {wanted} found in {', '.join(map(str, sources))}")
    return found


@dataclass(frozen=True)
class Outcome:
    """What became of one file: ``written``/``measured``, ``skipped`` (the output exists) or ``failed``."""

    source: Path
    destination: Path
    status: str
    reason: str = ""
    notes: tuple[str, ...] = ()

    def message(self) -> str:
        """``path: reason`` -- the reason alone when it already names the file."""
        if str(self.source) in self.reason:
            return self.reason
        return f"{self.source}: {self.reason}"


@dataclass
class Report:
    """The outcomes of a :func:`itk_tag.convert` run."""

    outcomes: list[Outcome] = field(default_factory=list)
    done: str = "written"
    """The status of a job that did its work."""
    total: int = 0
    """How many files the run was given (0: as many as there are outcomes)."""
    interrupted: int = 0
    """The signal that stopped the run (0: it ran to its end)."""

    def count(self, status: str) -> int:
        """How many jobs ended with ``status``."""
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def failed(self) -> list[Outcome]:
        """The jobs that failed."""
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]

    @property
    def ok(self) -> bool:
        """True when no job failed and the run was not interrupted (skipped outputs are not failures)."""
        return not self.failed and not self.interrupted

    @property
    def not_done(self) -> int:
        """How many files an interrupt left untouched."""
        return max(self.total - len(self.outcomes), 0)

    def summary(self) -> str:
        """``N written, N skipped (output exists), N failed`` (``measured`` for :func:`itk_tag.measure`).

        After an interrupt: ``, N not done (interrupted)``, last.
        """
        counts = Counter(outcome.status for outcome in self.outcomes)
        skipped = ""
        if counts["skipped"]:
            skipped = f", {counts['skipped']} skipped (output exists; --overwrite replaces)"
        text = f"{counts[self.done]} {self.done}{skipped}, {counts['failed']} failed{self.details()}"
        return f"{text}, {self.not_done} not done (interrupted)" if self.interrupted else text

    def details(self) -> str:
        """What a kind of run adds to its summary's counts (nothing here)."""
        return ""


class _JobInterrupted(BaseException):
    """Raised in a running job by the first signal; a BaseException: no ``except Exception`` takes it."""


class _Stop:
    """The interrupt state of a process: the first signal, and whether a run or a job is under way."""

    def __init__(self) -> None:
        self.signal = 0
        self.running = False
        self.in_job = False

    def handle(self, number: int, _frame: Optional[FrameType]) -> None:
        if self.signal:
            return  # later signals: the shutdown under way must not be broken
        self.signal = number
        if not self.running:
            raise RunInterrupted(number)  # before or after a run: stop where the process is
        if self.in_job:
            self.in_job = False  # raise once: the job's cleanup must not be interrupted in turn
            raise _JobInterrupted

    def perform(self, job: Callable[[Task], Result], task: Task) -> Optional[Result]:
        """``job(task)``, or None when the job was not run or was ended by an interrupt."""
        result = None
        try:
            if not self.signal:
                self.in_job = True
                result = job(task)
                self.in_job = False
        except _JobInterrupted:
            pass
        finally:
            self.in_job = False
        return result


_STOP = _Stop()


def handle_signals() -> None:
    """Handle SIGINT and SIGTERM the runner's way for the life of this process (the command line's choice).

    The first one raises RunInterrupted where the process is, or, during a
    run, stops it as :func:`run` says; later ones are ignored, so that the
    run's shutdown and its last line are not broken. Main thread only.
    """
    for number in SIGNALS:
        signal.signal(number, _STOP.handle)


@contextmanager
def _handling_signals() -> Iterator[None]:
    """Route SIGINT and SIGTERM to this process' :class:`_Stop` while a run lasts (main thread only)."""
    _STOP.signal = 0
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set there; the caller's own handling stays
        return
    previous = {number: signal.getsignal(number) for number in SIGNALS}
    handle_signals()
    _STOP.running = True
    try:
        yield
    finally:
        _STOP.running = False
        for number, handler in previous.items():
            if handler != _STOP.handle:  # the command line's stay for good
                signal.signal(number, handler)


@contextmanager
def _signals_blocked() -> Iterator[None]:
    # A worker spawned now inherits the blocked signals through exec, and so
    # cannot be killed by a Ctrl-C before its handlers are set (_start_worker).
    if not hasattr(signal, "pthread_sigmask"):
        yield  # Windows: no signal masks
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _start_worker() -> None:
    _STOP.running = True  # a worker's life is the run's
    itk_warnings.follow()
    handle_signals()
    keep_freed_memory()
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)


def _perform_all(job: Callable[[Task], Result], tasks: Sequence[Task]) -> list[Result]:
    """A worker's share: ``job`` on each task until a signal; the results of those that ran."""
    results = []
    for task in tasks:
        result = _STOP.perform(job, task)
        if result is None:
            break
        results.append(result)
    return results


def chunk_size(tasks: int, jobs: int) -> int:
    """How many tasks a worker gets at a time.

    One task per round trip costs the parent a pickled task and result and
    two wake-ups per file: for 2000 conversions of 6 ms, 2 s of CPU taken
    from the workers' two cores, 0.8 s with 8 per round trip (bench/RESULTS.md,
    "What changed after run F"). The cap keeps the last chunks short, so that
    workers end together, and the progress bar moving.
    """
    return max(1, min(_CHUNK, tasks // (jobs * 8)))


def _in_process(job: Callable[[Task], Result], tasks: Iterable[Task]) -> Iterator[Optional[Result]]:
    for task in tasks:
        if _STOP.signal:
            return
        yield _STOP.perform(job, task)


def _pool(jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker
    )


def _end(running: Iterable[Future[list[Result]]], workers: set[BaseProcess]) -> Iterator[Result]:
    """After an interrupt: end the running jobs, wait for them (bounded), and yield what they did.

    Only the run's own ``workers`` are signalled: a program calling
    :func:`itk_tag.convert` may have child processes of its own.
    """
    for future in running:
        future.cancel()  # those not started yet
    if os.name == "posix":
        # The workers may not have had the signal (kill PID, a scheduler): pass it on.
        for worker in workers:
            try:
                os.kill(worker.pid, signal.SIGTERM)  # type: ignore[arg-type]
            except ProcessLookupError:
                pass
    done, stuck = wait(running, timeout=_GRACE)
    for future in done:
        if not future.cancelled() and future.exception() is None:
            yield from future.result()
    if stuck:
        for worker in workers:
            worker.kill()


def _hand_out(
    pool: ProcessPoolExecutor, job: Callable[[Task], Result], tasks: Sequence[Task], workers: set[BaseProcess]
) -> Optional[Future[list[Result]]]:
    """Hand ``tasks`` to ``pool`` as one chunk; None when the pool is broken (a worker died).

    Signals are blocked meanwhile, so that a worker the pool starts now cannot
    be killed before its handlers are set (:func:`_start_worker`). The pool
    starts its workers on hand-out: they are added to ``workers``, the
    processes an interrupt ends.
    """
    before = set(multiprocessing.active_children())
    try:
        with _signals_blocked():
            future = pool.submit(_perform_all, job, tasks)
    except BrokenProcessPool:
        return None
    workers.update(set(multiprocessing.active_children()) - before)
    return future


def _in_pool(
    job: Callable[[Task], Result], chunks: deque[Sequence[Task]], jobs: int
) -> Generator[Result, None, list[Task]]:
    """Run ``chunks`` in a pool of ``jobs`` workers until they are done, a signal, or a worker is lost.

    Returns the tasks whose results were lost: all those handed out when a
    worker died (killed, or crashed by a file) and took the pool down with
    it, and the rest of a chunk whose worker alone was stopped by a signal
    (the run was not); [] when none were.
    """
    pool = _pool(jobs)
    workers: set[BaseProcess] = set()
    running: dict[Future[list[Result]], Sequence[Task]] = {}
    lost: list[Task] = []
    broken = False

    def submit(count: int) -> None:
        nonlocal broken
        for _ in range(min(count, len(chunks))):
            future = _hand_out(pool, job, chunks[0], workers)
            if future is None:  # a worker died while results were being handed on
                broken = True
                return
            running[future] = chunks.popleft()

    def collect(done: Iterable[Future[list[Result]]]) -> Iterator[Result]:
        nonlocal broken
        for future in done:
            chunk = running.pop(future)
            error = future.exception()
            if isinstance(error, BrokenProcessPool):
                broken = True
                lost.extend(chunk)
            elif error is None or not _STOP.signal:
                results = future.result()
                yield from results
                if len(results) < len(chunk) and not _STOP.signal:
                    lost.extend(chunk[len(results) :])

    try:
        # A bounded window of submitted chunks keeps memory flat for long runs
        # and leaves little to cancel when the run is stopped.
        submit(2 * jobs)
        while running and not _STOP.signal and not lost and not broken:
            # A timeout, so that a signal (whose handler only takes note) is seen soon.
            done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            yield from collect(done)
            if not lost and not _STOP.signal:
                submit(len(done))
        if (lost or broken) and running and not _STOP.signal:
            # A dead worker fails every chunk handed out, soon; a live one ends its chunk.
            done, _ = wait(running, timeout=_GRACE)
            yield from collect(done)
            lost.extend(task for chunk in running.values() for task in chunk)
        if _STOP.signal:
            yield from _end(running, workers)
    finally:
        if broken:
            # A worker killed while it sent its results held the results queue's
            # lock: the others wait for it forever, deaf to the SIGTERM with which
            # the pool ends them (they handle it), and the pool's shutdown with them.
            for worker in workers:
                worker.kill()
        pool.shutdown(wait=True, cancel_futures=True)
    return lost


def _death(worker: Optional[BaseProcess]) -> str:
    """How a worker process ended, for a report: the signal that killed it, when known."""
    code = worker.exitcode if worker is not None else None
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return "ended abruptly" if code is None else f"ended with status {code}"


def _alone(
    job: Callable[[Task], Result], tasks: deque[Task], failure: Callable[[Task, str], Result]
) -> Generator[Result, None, bool]:
    """Run ``tasks`` one at a time in one worker: a task whose worker dies is the one that kills it.

    Such a task becomes ``failure(task, reason)``, and the next one gets a new
    worker. Returns False when _DEATHS workers in a row died (every file
    kills them: the rest would too), True otherwise.
    """
    deaths = 0
    while tasks and not _STOP.signal:
        pool = _pool(1)
        workers: set[BaseProcess] = set()
        try:
            while tasks and not _STOP.signal:
                future = _hand_out(pool, job, [tasks[0]], workers)
                if future is None:
                    break  # the worker died between two tasks: a new one
                while not wait([future], timeout=0.2).done and not _STOP.signal:
                    pass
                if _STOP.signal:
                    yield from _end([future], workers)
                    return True
                if not isinstance(future.exception(), BrokenProcessPool):
                    results = future.result()
                    if not results:
                        break  # its worker alone was stopped by a signal: a new one
                    tasks.popleft()
                    deaths = 0
                    yield from results
                    continue
                task = tasks.popleft()
                # After the pool's own threads have reaped the worker: its exit status is known.
                pool.shutdown(wait=True)
                yield failure(
                    task, f"the worker process working on it was {_death(next(iter(workers), None))}"
                )
                deaths += 1
                if deaths == _DEATHS:
                    return False
                break  # a new pool, for a new worker
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return True


def _in_workers(
    job: Callable[[Task], Result],
    tasks: Sequence[Task],
    jobs: int,
    failure: Callable[[Task, str], Result],
) -> Iterator[Result]:
    size = chunk_size(len(tasks), jobs)
    chunks = deque(tasks[start : start + size] for start in range(0, len(tasks), size))
    while chunks and not _STOP.signal:
        lost = deque((yield from _in_pool(job, chunks, jobs)))
        if lost:
            # Else its files done twice look like an earlier run's (a conversion skips them).
            note(f"itk-tag: a worker process ended early: {len(lost)} files run again, one at a time")
        if lost and not (yield from _alone(job, lost, failure)):
            reason = f"not run: worker processes died on {_DEATHS} files in a row"
            for task in [*lost, *(task for chunk in chunks for task in chunk)]:
                yield failure(task, reason)
            return


def run(
    job: Callable[[Task], Result],
    tasks: Sequence[Task],
    failure: Callable[[Task, str], Result],
    jobs: int = 1,
    progress: bool | None = None,
    description: str = "",
) -> Iterator[Result]:
    """Yield ``job(task)`` for every task, in the order they finish.

    ``job`` must report a failing task in its result rather than raise: a
    raising task stops the run. ``jobs`` > 1 runs tasks in that many worker
    processes (``job`` and tasks must be picklable), a few tasks to a worker at
    a time (:func:`chunk_size`). ``progress`` shows a bar with an ETA on
    stderr; by default only when stderr is a terminal.

    A worker that dies (a crash in a library on some file, the kernel's
    out-of-memory killer, ``kill -9``) takes the tasks it and the other workers
    held with it; those are run again, one at a time in a worker of their own,
    and a task whose worker dies again is ``failure(task, reason)``. A task
    already done before the death is done again (a conversion then finds its
    output, complete, and skips it). Workers dying on _DEATHS tasks in a row
    end the run: the remaining tasks are failures, not run. A worker stopped
    alone by a signal (the run was not) ends its task; its unfinished tasks
    run again the same way.

    On SIGINT or SIGTERM, no task is handed out any more, the running ones are
    ended (their results are yielded when they had finished), and
    RunInterrupted is raised (with ``report`` None: the caller sets it).

    Each worker keeps freed memory for the next task (glibc:
    :func:`~itk_tag.batch.allocator.keep_freed_memory`); this process does
    only when its program asked for it (``itk-tag`` does): a library call
    leaves its caller's allocator as it was.
    """
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    with _handling_signals():
        results = (
            _in_process(job, tasks)
            if jobs == 1 or len(tasks) <= 1
            else _in_workers(job, tasks, jobs, failure)
        )
        with tqdm(total=len(tasks), disable=not show, desc=description, unit="file", file=sys.stderr) as bar:
            for result in results:
                if result is not None:
                    bar.update(1)
                    yield result
        if _STOP.signal:
            raise RunInterrupted(_STOP.signal)


def note(message: str) -> None:
    """Print a line on stderr without breaking a progress bar that is showing."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def tally(report: Report, results: Iterator[Any], record: Callable[[Any], None]) -> None:
    """Pass every result of :func:`run` to ``record``; on an interrupt, put the report in the exception."""
    try:
        for result in results:
            record(result)
    except RunInterrupted as interrupted:
        report.interrupted = interrupted.signal
        interrupted.report = report
        raise
