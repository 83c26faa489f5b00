"""itk-tag batch benchmark: ``convert`` per format and ``measure``, with -j 1 and -j 2, against the
bare SimpleITK loops of ``baseline.py`` on the same cohort, in the same run.

Every contender is a whole process (``itk-tag ...`` or ``baseline.py``) timed from outside,
startup included, over the whole cohort; contenders are interleaved round by round and each
ratio is taken within a round, then the median over rounds, so that the load of a shared
machine hits both sides alike. The load average is printed with the table, and each
contender's CPU time (user + system of the process and its workers) over its wall time: the
cores it kept busy, which bounds what ``-j 2`` can gain on two cores::

    .venv/bin/python bench/batch.py [--pairs 200] [--rounds 3] [--markdown bench/out/batch.md]

``SimpleITK loop: CT decode`` reads only the CTs, as ``measure`` reads them: its ratio to the
measure loop is the decode's own share, the floor of ``measure``. ``qc -j 1`` is timed against
the measure loop when the installed ``itk-tag`` has a ``qc`` command.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cohort import SOURCES, write_cohort

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
ITK_TAG = [PYTHON, "-m", "itk_tag"]
FORMATS = ("seg.nrrd", "nrrd", "nii.gz", "mha", "dcm")
TARGETS = {"measure -j 1": 0.7, "qc -j 1": 0.9, "SimpleITK loop: CT decode": None}
"""Issue 25's targets against the measure loop (the decode has none: it is the floor)."""


def has_qc() -> bool:
    """True when the installed itk-tag has a ``qc`` command (issue 25, item 1)."""
    return subprocess.run([*ITK_TAG, "qc", "--help"], capture_output=True).returncode == 0


def contenders(cohort: Path, out: Path, before: Path | None = None) -> dict[str, tuple[str, list[str]]]:
    """name -> (the baseline it is compared with, command); baselines compare with themselves."""
    convert = [*ITK_TAG, "convert", str(cohort), "--reference", "auto", "--labels", "alberta"]
    measure = [*ITK_TAG, "measure", str(cohort), "--reference", "auto", "--labels", "alberta"]
    table: dict[str, tuple[str, list[str]]] = {
        "SimpleITK loop: convert": (
            "",
            [PYTHON, str(BENCH / "baseline.py"), "convert", str(cohort), str(out)],
        ),
        "SimpleITK loop: measure": (
            "",
            [PYTHON, str(BENCH / "baseline.py"), "measure", str(cohort), str(out)],
        ),
        "SimpleITK loop: CT decode": (
            "SimpleITK loop: measure",
            [PYTHON, str(BENCH / "baseline.py"), "decode", str(cohort), str(out)],
        ),
    }
    for output_format in FORMATS:
        for jobs in ("1", "2") if output_format in ("seg.nrrd", "nrrd") else ("1",):
            table[f"convert --format {output_format} -j {jobs}"] = (
                "SimpleITK loop: convert",
                [*convert, "--format", output_format, "-j", jobs, "-o", str(out)],
            )
    for jobs in ("1", "2"):
        table[f"measure -j {jobs}"] = (
            "SimpleITK loop: measure",
            [*measure, "-j", jobs, "-o", str(out / "m.csv")],
        )
    if before is not None:
        # The same command on an earlier itk_tag package folder (PYTHONPATH goes first).
        table["measure -j 1, before"] = (
            "SimpleITK loop: measure",
            ["env", f"PYTHONPATH={before}", *measure, "-j", "1", "-o", str(out / "m.csv")],
        )
    if has_qc():
        table["qc -j 1"] = (
            "SimpleITK loop: measure",
            [
                *ITK_TAG,
                "qc",
                str(cohort),
                "--reference",
                "auto",
                "--labels",
                "alberta",
                "-o",
                str(out / "qc"),
            ],
        )
    return table


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], out: Path) -> tuple[float, float]:
    """Run ``command`` once: (wall s, CPU s of it and its child processes)."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cpu = _children_cpu()
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return elapsed, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument(
        "--only",
        metavar="TEXT[,TEXT...]",
        help="only the contenders whose name holds one of the TEXTs (and their loops)",
    )
    parser.add_argument(
        "--no-warm-up",
        dest="warm_up",
        action="store_false",
        help="no warm-up run of each contender (the cohort was just written: in the page cache)",
    )
    parser.add_argument(
        "--before",
        type=Path,
        metavar="DIR",
        help="also time measure with the itk_tag package folder in DIR (an earlier version) on PYTHONPATH",
    )
    parser.add_argument(
        "--source", choices=SOURCES, default="both", help="which real pair(s) the cohort copies (cohort.py)"
    )
    args = parser.parse_args()
    (BENCH / "out").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BENCH / "out") as folder:
        cohort, out = Path(folder) / "cohort", Path(folder) / "out"
        write_cohort(cohort, args.pairs, args.source)
        every = contenders(cohort, out, args.before)
        wanted = {
            name for name in every if args.only is None or any(text in name for text in args.only.split(","))
        }
        wanted |= {every[name][0] for name in wanted if every[name][0]}  # and their loops
        table = {name: entry for name, entry in every.items() if name in wanted}
        for command in table.values() if args.warm_up else ():  # page cache, lazy imports
            timed(command[1], out)
        times: dict[str, list[float]] = {name: [] for name in table}
        cores: dict[str, list[float]] = {name: [] for name in table}
        loads = [os.getloadavg()[0]]
        for _ in range(args.rounds):
            for name, (_, command) in table.items():
                wall, cpu = timed(command, out)
                times[name].append(wall)
                cores[name].append(cpu / wall)
            loads.append(os.getloadavg()[0])
    copies = "the two real 512x512 pairs" if args.source == "both" else f"the real {args.source} pair"
    lines = [
        f"{args.pairs} pairs (copies of {copies}), {args.rounds} rounds, "
        f"load average {min(loads):.1f} to {max(loads):.1f} (1 min, sampled between rounds)",
        "",
        "| contender | ms per file (median of rounds) | vs its SimpleITK loop (median of per-round ratios) "
        "| cores busy (CPU / wall, median) |",
        "| --- | --- | --- | --- |",
    ]
    for name, (baseline, _) in table.items():
        per_file = statistics.median(times[name]) / args.pairs * 1000
        ratio = (
            f"{statistics.median(t / b for t, b in zip(times[name], times[baseline])):.2f}x"
            if baseline
            else "1"
        )
        target = TARGETS.get(name)
        if target is not None and args.source == "both":
            ratio += f" (target ≤ {target}: {'met' if float(ratio[:-1]) <= target else 'missed'})"
        lines.append(f"| {name} | {per_file:.1f} | {ratio} | {statistics.median(cores[name]):.2f} |")
    lines.append("")
    for one in (name for name in table if " -j 1" in name and name.replace(" -j 1", " -j 2") in table):
        two = statistics.median(a / b for a, b in zip(times[one], times[one.replace(" -j 1", " -j 2")]))
        # A -j 1 run already busy on c cores (the decoders' own threads) gains at most N / c on N cores.
        lines.append(
            f"-j 2 speed-up, {one.replace(' -j 1', '')}: {two:.2f}x (ceiling on {os.cpu_count()} cores: "
            f"{(os.cpu_count() or 1) / statistics.median(cores[one]):.2f}x)"
        )
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
