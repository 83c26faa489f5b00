"""The bare SimpleITK loops the batch benchmark compares itk-tag against (one process, one cohort).

``convert``: for each pair, ``ReadImage`` of the DICOM and of the tag, then
``WriteImage`` of the mask (compressed .nrrd). ``measure``: ``ReadImage`` of
both, the mask resampled onto the CT's grid (nearest neighbour; the tag's
header keeps 4 decimals), and ``LabelStatisticsImageFilter`` on the pair.
``decode``: the CT alone, read as ``measure`` reads it (``GDCMImageIO`` named:
no second header parse by ITK's factory) -- the floor of a measurement.
SimpleITK reads the ``.tag`` through the itk-tag plugin (``import itk_tag`` first)::

    .venv/bin/python bench/baseline.py convert|measure|decode COHORT OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import itk_tag  # noqa: F401 - before SimpleITK: the plugin that reads .tag
import SimpleITK as sitk  # noqa: N813 - the name SimpleITK users write


def main() -> None:
    task, cohort, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    for number, tag in enumerate(sorted(cohort.rglob("*.tag"))):
        if task == "decode":
            sitk.ReadImage(str(tag.with_suffix("")), imageIO="GDCMImageIO")
            continue
        ct = sitk.ReadImage(str(tag.with_suffix("")))
        mask = sitk.ReadImage(str(tag))
        if task == "convert":
            sitk.WriteImage(mask, str(out / f"{number}.nrrd"), True)
        else:
            mask = sitk.Resample(mask, ct, sitk.Transform(), sitk.sitkNearestNeighbor, 0, mask.GetPixelID())
            statistics = sitk.LabelStatisticsImageFilter()
            statistics.Execute(ct, mask)
            [statistics.GetMean(label) for label in statistics.GetLabels()]


if __name__ == "__main__":
    main()
