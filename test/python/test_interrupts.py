"""Stopping a batch run: SIGINT (Ctrl-C, to the whole process group) once or twice, and SIGTERM
(a scheduler, ``timeout``, ``kill``), at random points of ``-j 1`` and ``-j 2`` runs, in child processes.

Nothing may hang (every wait is bounded), no temporary or partial file may survive, the exit
status must say the run was interrupted and the last line count what was done.
"""

from __future__ import annotations

import csv
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tag_samples import finish_cli, run_cli, start_cli, write_cohort

FILES = 120
SCENARIOS = {
    "one SIGINT": [(signal.SIGINT, True)],
    "two SIGINTs": [(signal.SIGINT, True), (signal.SIGINT, True)],
    "SIGTERM to the parent": [(signal.SIGTERM, False)],
    "SIGTERM to the group": [(signal.SIGTERM, True)],
}
REPEATS = 3
BARE = re.compile(r" \(\d+ without a reference image: areas only, no HU\)")
INTERRUPTED = re.compile(r"^(\d+) (written|measured), 0 failed, (\d+) not done \(interrupted\)$")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 tags of 256 x 256 in six folders."""
    return write_cohort(tmp_path_factory.mktemp("cohort") / "tags", FILES, 20)


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def interrupt(args: list[str], signals: list[tuple[int, bool]], delay: float) -> tuple[int, str, str]:
    """Run ``itk-tag ARGS`` in its own process group, signal it after ``delay`` s; (status, out, err)."""
    process = start_cli(args)
    time.sleep(delay)
    for number, group in signals:
        try:
            (os.killpg if group else os.kill)(process.pid, number)
        except ProcessLookupError:
            pass  # it had finished
        time.sleep(random.uniform(0.0, 0.05))
    return finish_cli(process, f"{signals}")


def check_ending(status: int, out: str, err: str, signals: list[tuple[int, bool]], done: str) -> int | None:
    """Check the exit status and last line; return how many files were done (None: the run was complete)."""
    first = signals[0][0]
    assert "Traceback" not in err, err
    if status == 128 + first and not out.strip():
        # Stopped while loading or planning, before the run: nothing to count.
        assert err.strip().endswith("itk-tag: interrupted"), err
        return 0
    last = BARE.sub("", out.strip().splitlines()[-1])
    if status == 128 + first:
        match = INTERRUPTED.match(last)
        assert match is not None and match.group(2) == done, (last, err)
        assert int(match.group(1)) + int(match.group(3)) == FILES, last
        assert "interrupted" in err
        return int(match.group(1))
    # The signal came after the last file: a complete run (killed at exit by a late signal at most).
    assert status in (0, -first), (status, out, err)
    assert last == f"{FILES} {done}, 0 failed", last
    return None


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_convert_stopped_at_random_points(cohort: Path, tmp_path: Path, jobs: str, scenario: str) -> None:
    signals = SCENARIOS[scenario]
    for attempt in range(REPEATS):
        out = tmp_path / f"out{attempt}"
        args = ["convert", str(cohort), "-o", str(out), "--format", "seg.nrrd", "-j", jobs]
        status, stdout, stderr = interrupt(args, signals, random.uniform(0.3, 3.0))
        written = check_ending(status, stdout, stderr, signals, "written")
        outputs = files_in(out)
        assert not [p for p in outputs if p.name.startswith(".")], "temporary file left"
        for path in outputs:
            assert path.read_bytes()[:4] == b"NRRD", path
        if written is not None:
            # A job ended by the signal just after its rename is not counted: at most one per worker.
            assert written <= len(outputs) <= written + int(jobs), (written, len(outputs))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_measure_stopped_keeps_its_rows_and_resumes(cohort: Path, tmp_path: Path, jobs: str) -> None:
    for attempt, scenario in enumerate(("two SIGINTs", "SIGTERM to the parent")):
        table = tmp_path / f"m{attempt}.csv"
        args = ["measure", str(cohort), "--labels", "alberta", "-o", str(table), "-j", jobs]
        signals = SCENARIOS[scenario]
        status, stdout, stderr = interrupt(args, signals, random.uniform(0.3, 2.5))
        measured = check_ending(status, stdout, stderr, signals, "measured")
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary file left"
        rows = []
        if table.exists():  # not when stopped before the run
            with table.open() as file:
                rows = list(csv.DictReader(file))
        files = {row["file"] for row in rows}
        assert all(row["status"] == "measured" for row in rows)
        assert len(files) == (FILES if measured is None else measured)
        assert len(rows) == 4 * len(files)  # every file measured has its four Alberta rows
        resumed = run_cli(*args)
        assert resumed.returncode == 0, resumed.stderr
        kept = f"; {len(files)} kept from the earlier run" if files else ""
        assert BARE.sub("", resumed.stdout.strip()) == f"{FILES - len(files)} measured, 0 failed{kept}"
        with table.open() as file:
            rows = list(csv.DictReader(file))
        order = [row["file"] for row in rows[::4]]
        assert len(set(order)) == FILES and order == sorted(order)  # input order: the folder's, sorted


def test_a_killed_run_leaves_temporaries_the_next_run_sweeps(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    folder = out / "patient00"
    folder.mkdir(parents=True)
    # Of our naming: one of a process that is gone, one of a process that runs (this one).
    gone = folder / ".s000.seg.nrrd.4194999-0123abcd.partial.seg.nrrd"
    alive = folder / f".s001.seg.nrrd.{os.getpid()}-0123abcd.partial.seg.nrrd"
    other = folder / ".notes.txt"
    for path in (gone, alive, other):
        path.write_bytes(b"")
    process = subprocess.Popen(
        [sys.executable, "-m", "itk_tag", "convert", str(cohort), "-o", str(out), "--format", "seg.nrrd"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None and len(files_in(out)) < 13:
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)  # no cleanup can run: what it was writing stays
    assert process.wait(timeout=60) in (-signal.SIGKILL, 0)  # 0: it had finished
    result = run_cli("convert", cohort, "-o", out, "--format", "seg.nrrd")
    assert result.returncode == 0, result.stderr
    hidden = sorted(p.name for p in files_in(out) if p.name.startswith("."))
    assert hidden == sorted([alive.name, other.name])
    shutil.rmtree(out)
