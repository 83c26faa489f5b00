"""``--reference auto`` in a series folder: what finding each tag's CT among 500 slices costs.

A tag named unlike any DICOM (``L3.tag`` beside ``IM-0001.dcm`` ... ``IM-0500.dcm``)
makes ``--reference auto`` read the headers of the folder's DICOM files (once per
folder and process) to find the slice the tag lies on. The contenders, whole
``itk-tag measure --reference auto`` processes timed from outside, in the same run:

* baseline: TAGS tags, each beside its same-name CT (no folder is indexed);
* series, TAGS tags: the same TAGS tags in one folder holding a 500-slice series;
* baseline, 1 tag: one tag beside its same-name CT;
* series, 1 tag: one tag in the series folder (the whole index for one file: the worst case),
  compared with "baseline, 1 tag".

The series is copies of the real barbell2-10.dcm (pydicom), 1 mm apart, with
their own SOP Instance UIDs; the tags are copies of barbell2-10.tag, which lies
on the slice at the original position. Ratios are per round, then the median::

    .venv/bin/python bench/pairing.py [--slices 500] [--tags 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DATA = BENCH.parent / "test" / "data"
ITK_TAG = [sys.executable, "-m", "itk_tag"]


def write_series(folder: Path, slices: int) -> None:
    """Write ``slices`` copies of barbell2-10.dcm, 1 mm apart, the original position among them."""
    import pydicom
    from pydicom.uid import generate_uid

    dataset = pydicom.dcmread(DATA / "barbell2-10.dcm")
    x, y, z = (float(v) for v in dataset.ImagePositionPatient)
    dataset.SeriesInstanceUID = generate_uid()
    folder.mkdir(parents=True)
    for k in range(slices):
        dataset.ImagePositionPatient = [x, y, z + (k - slices // 2)]
        dataset.InstanceNumber = k + 1
        dataset.SOPInstanceUID = generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.save_as(folder / f"IM-{k + 1:04d}.dcm", enforce_file_format=True)


def write_cases(root: Path, slices: int, tags: int) -> dict[str, Path]:
    """The input folder of each contender."""
    pairs, series, single = root / "pairs", root / "series", root / "single"
    for number in range(tags):
        folder = pairs / f"p{number:03d}"
        folder.mkdir(parents=True)
        shutil.copy(DATA / "barbell2-10.dcm", folder / "ct.dcm")
        shutil.copy(DATA / "barbell2-10.tag", folder / "ct.dcm.tag")
    write_series(series, slices)
    for number in range(tags):
        shutil.copy(DATA / "barbell2-10.tag", series / f"L3-{number:03d}.tag")
    single.mkdir()
    for path in series.glob("*.dcm"):
        os.link(path, single / path.name)
    shutil.copy(DATA / "barbell2-10.tag", single / "L3.tag")
    return {
        "baseline": pairs,
        "series, TAGS tags": series,
        "baseline, 1 tag": pairs / "p000",
        "series, 1 tag": single,
    }


def timed(folder: Path, out: Path) -> float:
    out.unlink(missing_ok=True)
    command = [*ITK_TAG, "measure", str(folder), "--reference", "auto", "--labels", "alberta", "-o", str(out)]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--slices", type=int, default=500)
    parser.add_argument("--tags", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    (BENCH / "out").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=BENCH / "out") as temporary:
        root = Path(temporary)
        cases = write_cases(root, args.slices, args.tags)
        for folder in cases.values():  # warm-up: page cache, lazy imports
            timed(folder, root / "m.csv")
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, folder in cases.items():
                times[name].append(timed(folder, root / "m.csv"))
    print(
        f"{args.slices}-slice series folder, {args.tags} tags, {args.rounds} rounds, "
        "measure --reference auto -j 1"
    )
    print("| contender | s (median) | vs its baseline (median of per-round ratios) |")
    print("| --- | --- | --- |")
    for name, runs in times.items():
        baseline = times["baseline, 1 tag" if name.endswith("1 tag") else "baseline"]
        ratio = statistics.median(t / b for t, b in zip(runs, baseline))
        print(f"| {name.replace('TAGS', str(args.tags))} | {statistics.median(runs):.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
