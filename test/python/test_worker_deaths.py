"""A worker process of a ``--jobs`` run that dies: killed (the kernel's out-of-memory killer,
``kill -9``) or crashed by a file (a segfault in a library). Real processes and real signals.

The run must go on and end with its summary, not a traceback; a file that kills its worker
every time must be the one failed, and said so; no temporary file may be left.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from itk_tag.batch import runner
from tag_samples import finish_cli, start_cli, write_cohort

FILES = 300
POISONED = 37


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 tags of 256 x 256 in ten folders."""
    return write_cohort(tmp_path_factory.mktemp("cohort") / "tags", FILES, 30)


def workers_of(pid: int) -> list[int]:
    """The pids of the multiprocessing workers among the children of ``pid`` (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"spawn_main" in command:
                found.append(int(child))
    return found


def kill_a_worker(
    args: list[str], started: Path, number: int = signal.SIGKILL
) -> subprocess.CompletedProcess:
    """Run ``itk-tag ARGS``; once ``started`` exists, send one of its workers signal ``number``; wait."""
    process = start_cli(args)
    deadline = time.monotonic() + 60
    killed = False
    while not killed and time.monotonic() < deadline and process.poll() is None:
        workers = workers_of(process.pid)
        if workers and started.exists():
            os.kill(workers[0], number)
            killed = True
        time.sleep(0.002)
    status, out, err = finish_cli(process, "a worker was killed", timeout=120)
    assert killed, "the run ended before a worker could be killed"
    return subprocess.CompletedProcess(args, status, out, err)


# SIGTERM to one worker alone (a scheduler, kill PID): it ends its job, the run goes on.
@pytest.mark.parametrize("number", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_convert_goes_on_when_a_worker_is_killed(cohort: Path, tmp_path: Path, number: int) -> None:
    out = tmp_path / "out"
    result = kill_a_worker(
        ["convert", str(cohort), "-o", str(out), "--format", "seg.nrrd", "-j", "2"],
        out / "patient00" / "s000.seg.nrrd",
        number,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "a worker process ended early" in result.stderr, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    written, _, rest = last.partition(" written")
    # The jobs the dead worker and its partner held are run again: those done before come out skipped.
    skipped = int(rest.split(", ")[1].split()[0]) if "skipped" in rest else 0
    assert int(written) + skipped == FILES and last.endswith(", 0 failed"), last
    outputs = sorted(p for p in out.rglob("*") if p.is_file())
    assert not [p for p in outputs if p.name.startswith(".")], "temporary file left"
    assert len(outputs) == FILES
    assert all(p.read_bytes()[:4] == b"NRRD" for p in outputs)


def test_measure_goes_on_when_a_worker_is_killed(cohort: Path, tmp_path: Path) -> None:
    table = tmp_path / "m.csv"
    result = kill_a_worker(
        ["measure", str(cohort), "--labels", "alberta", "-o", str(table), "-j", "2"], table
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith(f"{FILES} measured, 0 failed"), result.stdout
    with table.open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 4 * FILES and all(row["status"] == "measured" for row in rows)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary file left"


def poisoned(task: int) -> int:
    """A job that crashes its process on task POISONED, as a segfault in a library would."""
    if task == POISONED:
        os.kill(os.getpid(), signal.SIGSEGV)
    return task


def deadly(task: int) -> int:
    """A job that kills its process on every task."""
    os.kill(os.getpid(), signal.SIGKILL)
    return task


def failure(task: int, reason: str) -> tuple[int, str]:
    return task, reason


def test_the_task_that_crashes_its_worker_is_the_one_failed() -> None:
    results = list(runner.run(poisoned, list(range(100)), failure, jobs=2))
    assert [r for r in results if isinstance(r, tuple)] == [
        (POISONED, "the worker process working on it was killed by SIGSEGV")
    ]
    assert sorted(r for r in results if isinstance(r, int)) == [t for t in range(100) if t != POISONED]


def test_workers_dying_on_every_task_end_the_run() -> None:
    started = time.monotonic()
    results = list(runner.run(deadly, list(range(40)), failure, jobs=2))
    assert sorted(task for task, _ in results) == list(range(40))
    reasons = [reason for _, reason in results]
    assert reasons.count("the worker process working on it was killed by SIGKILL") == 3
    assert reasons.count("not run: worker processes died on 3 files in a row") == 37
    assert time.monotonic() - started < 60


CALLER = """
import multiprocessing, sys, time
import itk_tag
from itk_tag.errors import RunInterrupted

if __name__ == "__main__":
    child = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(60,))
    child.start()
    try:
        itk_tag.convert(sys.argv[1], sys.argv[2], format="seg.nrrd", jobs=2)
    except RunInterrupted:
        print("interrupted")
    print("child alive" if child.is_alive() else f"child ended {child.exitcode}")
    child.kill()
"""


def test_an_interrupt_ends_the_run_s_workers_not_the_caller_s_children(cohort: Path, tmp_path: Path) -> None:
    """itk_tag.convert(jobs=2) in a program with a child process of its own, stopped by SIGTERM."""
    script = tmp_path / "caller.py"
    script.write_text(CALLER)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, str(script), str(cohort), str(out)], stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out / "patient00" / "s000.seg.nrrd").exists():
        time.sleep(0.002)
    process.send_signal(signal.SIGTERM)
    stdout, _ = process.communicate(timeout=120)
    assert stdout.split() == ["interrupted", "child", "alive"], stdout
