"""Write a cohort of (CT, mask) pairs for the batch benchmark: copies of the two real pairs.

Each copy gets its own PatientID, Study, Series and SOP Instance UIDs (pydicom),
so that it is another patient's file as far as DICOM is concerned; the tag is
copied as it is. Pairs go into ``patientNNNN/`` folders, as a cohort on disk is
often laid out::

    .venv/bin/python bench/cohort.py OUT [--pairs 200]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "test" / "data"
REAL_PAIRS = (("barbell2-10.tag", "barbell2-10.dcm"), ("sandbox-test01.dcm.tag", "sandbox-test01.dcm"))
SOURCES = ("both", "barbell2", "sandbox")


def write_cohort(root: Path, pairs: int, source: str = "both") -> list[Path]:
    """Write ``pairs`` pairs under ``root``; return the tags, in the order written.

    ``source``: ``both`` real pairs in turn, or only the one whose tag name starts with it
    (``barbell2``: JPEG Lossless, decoded on one thread; ``sandbox``: JPEG 2000, which
    GDCM decodes with OpenJPEG on four threads).
    """
    import pydicom
    from pydicom.uid import generate_uid

    chosen = [pair for pair in REAL_PAIRS if source == "both" or pair[0].startswith(source)]
    if not chosen:
        raise ValueError(f"no real pair named {source!r}")
    sources = [(DATA / tag, pydicom.dcmread(DATA / dicom)) for tag, dicom in chosen]
    tags = []
    for number in range(pairs):
        tag, dataset = sources[number % len(sources)]
        folder = root / f"patient{number:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        dataset.PatientID = f"COHORT{number:04d}"
        dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
        dataset.SOPInstanceUID = generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.save_as(folder / "ct.dcm", enforce_file_format=True)
        shutil.copy(tag, folder / "ct.dcm.tag")
        tags.append(folder / "ct.dcm.tag")
    return tags


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path, help="the folder to write (created)")
    parser.add_argument("--pairs", type=int, default=200, help="how many pairs (default 200)")
    parser.add_argument("--source", choices=SOURCES, default="both", help="which real pair(s) to copy")
    args = parser.parse_args()
    print(f"{len(write_cohort(args.out, args.pairs, args.source))} pairs in {args.out}")


if __name__ == "__main__":
    main()
