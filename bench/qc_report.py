"""How long a 2,000-file qc report takes to become usable in a browser (goal: under 2 s).

Writes a cohort of real (CT, mask) pairs (``cohort.py``), runs ``itk-tag qc`` on it once, then
opens its ``index.html`` from disk in Debian's headless Chromium (``test/python/browser.py``,
each round a fresh browser in a child process) and reports, as medians over the rounds:

* DOMContentLoaded: the page is parsed and its script ran (sorting and "flagged only" work);
* load: also every thumbnail in view has loaded (the others are lazy);
* the time a sort by a column and the "flagged only" switch take in the page (its own clock,
  with the layout they cause), and the first sort seen from outside (WebDriver's round trips).

    .venv/bin/python bench/qc_report.py [--pairs 2000] [--rounds 5] [--keep] [--report QCDIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cohort import write_cohort

BENCH = Path(__file__).resolve().parent
BROWSER = BENCH.parent / "test" / "python" / "browser.py"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", default="2", help="qc's --jobs while making the report (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the cohort and the report")
    parser.add_argument("--report", type=Path, help="measure this qc folder's page (a kept one) instead")
    args = parser.parse_args()
    (BENCH / "out").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="qc-report-", dir=BENCH / "out"))
    try:
        made_line = "(not made: --report)"
        if args.report is None:
            write_cohort(work / "cohort", args.pairs)
            began = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "itk_tag", "qc", str(work / "cohort"), "--reference", "auto",
                 "--labels", "alberta", "-j", args.jobs, "--no-progress", "-o", str(work / "qc")],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(f"itk-tag qc failed:\n{done.stderr}")
            made_line = f"{time.perf_counter() - began:.0f} s ({done.stdout.strip()})"
        page = (args.report if args.report is not None else work / "qc") / "index.html"
        size = page.stat().st_size
        rounds = []
        for _ in range(args.rounds):
            seen = subprocess.run(
                [sys.executable, str(BROWSER), str(page), "--no-thumbnails"],
                capture_output=True, text=True, timeout=600, check=True,
            )  # fmt: skip
            rounds.append(json.loads(seen.stdout))
        errors = [e for r in rounds for e in r["console"] if e.get("level") == "SEVERE"]

        def median(values: list[float]) -> float:
            return statistics.median(values)

        content = median([r["navigation_ms"]["content"] for r in rounds])
        load = median([r["navigation_ms"]["load"] for r in rounds])
        files = page.read_text(encoding="utf-8").count("<tr data-file=")
        print(f"qc report of {files} files (index.html {size / 1e6:.1f} MB), {args.rounds} rounds, "
              f"load average {os.getloadavg()[0]:.1f}:")  # fmt: skip
        print(f"  making it: itk-tag qc -j {args.jobs}: {made_line}")
        print(f"  DOMContentLoaded (usable: script ran): {content:.0f} ms (goal < 2000 ms)")
        print(f"  load (thumbnails in view loaded):      {load:.0f} ms")
        print(f"  sort by a column, in the page:         {median([r['sort_ms'] for r in rounds]):.0f} ms")
        print(f"  'flagged only' switch, in the page:    {median([r['filter_ms'] for r in rounds]):.0f} ms")
        first = median([r["first_sort_seconds"] for r in rounds]) * 1000
        print(f"  first sort seen through WebDriver:     {first:.0f} ms")
        print(f"  console errors: {len(errors)}")
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
