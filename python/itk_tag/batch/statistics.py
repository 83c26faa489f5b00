"""Label statistics of a mask over its CT: voxels, physical sizes and HU statistics, one pass per label.

The numbers are those of SimpleITK's ``LabelShapeStatisticsImageFilter``
(``GetNumberOfPixels``, ``GetPhysicalSize`` of the mask and of each 2D slice)
and ``LabelIntensityStatisticsImageFilter`` with one histogram bin per int16
value (``GetMean``, ``GetStandardDeviation``, ``GetMinimum``, ``GetMaximum``,
``GetMedian``), bit for bit: ``test_statistics.py`` holds them to those
filters on random and real masks.

Why our own code and not those filters: they compute, for every label, what
``measure`` does not report (perimeter, moments and principal axes, skewness,
kurtosis, a 65,536-bin histogram per label, a physical point per voxel), and
cost 9 times the CT's own decoding above it (bench/RESULTS.md, issue 25). Here:
a ``bincount`` of the labels, then per label a gather of its HU and a radix
sort (``numpy.sort(kind="stable")`` of 16-bit values), which gives minimum,
maximum and median; the sums are exact integers, so the mean and SD computed
from them in ITK's formulas are ITK's doubles. Where that exactness does not
hold (HU that are not whole numbers, or do not fit int16, or sums beyond
2**53) the SimpleITK filter computes the HU statistics, as it always did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import SimpleITK

BINS = 1 << 16
"""Histogram bins of the SimpleITK fallback: one per value of a 16-bit image."""

_EXACT = 1 << 53
"""Integers below this are exact doubles: ITK's sums in double are then the exact sums."""


@dataclass(frozen=True)
class Intensity:
    """HU statistics inside one label: mean, SD (n - 1), minimum, maximum, median."""

    mean: float
    sd: float
    minimum: float
    maximum: float
    median: float


@dataclass(frozen=True)
class LabelStatistics:
    """The statistics of every label (not 0) present in a mask; see :func:`label_statistics`."""

    voxels: dict[int, int]
    """Label -> its number of voxels."""
    size: dict[int, float]
    """Label -> voxels x the product of the spacings (mm² for a 2D image, mm³ for 3D)."""
    slice_sizes: list[dict[int, float]]
    """Per slice k (z order of the voxels): label -> its area in that slice, mm² (labels present there)."""
    intensity: dict[int, Intensity] | None
    """Label -> its HU statistics; None without a CT."""


def _voxel_size(spacing: tuple[float, ...]) -> float:
    # ITK's ShapeLabelMapFilter: size per pixel = 1 * s0 * s1 (* s2), in that order.
    size = 1.0
    for value in spacing:
        size *= value
    return size


def _hounsfield(ct: SimpleITK.Image, where: Path) -> SimpleITK.Image:
    """The CT as int16 when its values are whole numbers that fit (the median is then exact), else float64."""
    import SimpleITK

    extremes = SimpleITK.MinimumMaximumImageFilter()
    extremes.Execute(ct)
    integer = "integer" in ct.GetPixelIDTypeAsString()
    if integer and -32768 <= extremes.GetMinimum() and extremes.GetMaximum() <= 32767:
        # With one histogram bin per int16 value, ITK's median is the exact one.
        return SimpleITK.Cast(ct, SimpleITK.sitkInt16)
    return SimpleITK.Cast(ct, SimpleITK.sitkFloat64)


def _filter_intensity(mask: SimpleITK.Image, ct: SimpleITK.Image, where: Path) -> dict[int, Intensity]:
    """HU statistics from SimpleITK's LabelIntensityStatisticsImageFilter (the fallback)."""
    import SimpleITK

    intensity = SimpleITK.LabelIntensityStatisticsImageFilter()
    intensity.SetNumberOfBins(BINS)
    intensity.Execute(mask, _hounsfield(ct, where))
    return {
        int(value): Intensity(
            float(intensity.GetMean(value)),
            float(intensity.GetStandardDeviation(value)),
            float(intensity.GetMinimum(value)),
            float(intensity.GetMaximum(value)),
            float(intensity.GetMedian(value)),
        )
        for value in intensity.GetLabels()
    }


def _whole_int16(hu: np.ndarray) -> np.ndarray | None:
    """``hu`` as whole-number int16 values (a view when it is int16), or None when they are not all that."""
    if hu.dtype == np.int16:
        return hu
    if hu.dtype.kind not in "iu" or hu.size == 0:
        return None
    if hu.dtype.itemsize == 1:
        return hu.astype(np.int16)
    low, high = int(hu.min()), int(hu.max())
    return hu.astype(np.int16) if -32768 <= low and high <= 32767 else None


def _exact_intensity(values: np.ndarray) -> Intensity | None:
    """ITK's HU statistics of the int16 ``values`` of one label (not empty); None if its doubles round.

    ITK (StatisticsLabelMapFilter) sums v and v² in double, in voxel order:
    exact while the sums stay below 2**53, so they equal the int64 sums here.
    Its median, from one histogram bin per int16 value, is the middle value
    (odd count) or the mean of the two middle ones (even count).
    """
    ordered = np.sort(values, kind="stable")  # radix sort for 16-bit values
    count = int(ordered.size)
    low, high = int(ordered[0]), int(ordered[-1])
    if count * max(abs(low), abs(high)) ** 2 >= _EXACT:
        return None  # sum of squares beyond exact doubles: ITK's result depends on its order
    wide = ordered.astype(np.int64)
    total, squares = float(int(wide.sum())), float(int(np.dot(wide, wide)))
    mean = total / count
    variance = (squares - total * total / count) / (count - 1) if count > 1 else 0.0
    if count % 2:
        median = float(ordered[count // 2])
    else:
        median = (float(ordered[count // 2 - 1]) + float(ordered[count // 2])) * 0.5
    return Intensity(mean, math.sqrt(variance), float(low), float(high), median)


def label_statistics(mask: SimpleITK.Image, ct: SimpleITK.Image | None, where: Path) -> LabelStatistics:
    """Count, size and HU statistics of every label of ``mask`` (a 3D label image), over ``ct``.

    ``mask`` must lie on ``ct``'s grid (same size; its spacing is the one used).
    Sizes are as ITK's: voxels x spacing product (``slice_sizes``: x and y
    spacing). HU are ``ct``'s values as SimpleITK read them (GDCM applies
    RescaleSlope and RescaleIntercept). Raises ValueError naming ``where``
    when ``ct`` is not a one-component image of the mask's size.
    """
    import SimpleITK

    labels = SimpleITK.GetArrayViewFromImage(mask)  # (z, y, x), no copy
    spacing = tuple(float(v) for v in mask.GetSpacing())
    per_voxel, per_pixel = _voxel_size(spacing), _voxel_size(spacing[:2])
    counts = np.bincount(labels.ravel()) if labels.size else np.zeros(1, np.intp)
    present = [int(v) for v in np.flatnonzero(counts[1:]) + 1]
    voxels = {value: int(counts[value]) for value in present}
    if labels.shape[0] == 1:
        slices = [counts]
    else:
        slices = [np.bincount(plane.ravel(), minlength=counts.size) for plane in labels]
    slice_sizes = [{v: float(plane[v]) * per_pixel for v in present if plane[v]} for plane in slices]
    size = {value: float(count) * per_voxel for value, count in voxels.items()}
    intensity = None
    if ct is not None:
        if ct.GetNumberOfComponentsPerPixel() != 1:
            raise ValueError(f"{where}: {ct.GetNumberOfComponentsPerPixel()} components per pixel, not a CT")
        hu = SimpleITK.GetArrayViewFromImage(ct)
        if hu.size != labels.size:
            raise ValueError(f"{where}: {ct.GetSize()} pixels, the mask has {mask.GetSize()}")
        hu = hu.reshape(labels.shape)
        whole = _whole_int16(hu)
        found = {} if whole is not None else None
        for value in present if found is not None else ():
            statistics = _exact_intensity(whole[labels == value])  # type: ignore[index]
            if statistics is None:
                found = None
                break
            found[value] = statistics  # type: ignore[index]
        intensity = found if found is not None else _filter_intensity(mask, ct, where)
    return LabelStatistics(voxels, size, slice_sizes, intensity)
