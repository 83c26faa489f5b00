"""Label statistics of a mask over its CT: voxels, physical sizes and HU statistics, one pass per label.

The numbers are those of SimpleITK's ``LabelShapeStatisticsImageFilter``
(``GetNumberOfPixels``, ``GetPhysicalSize`` of the mask and of each 2D slice)
and ``LabelIntensityStatisticsImageFilter`` with one histogram bin per int16
value (``GetMean``, ``GetStandardDeviation``, ``GetMinimum``, ``GetMaximum``,
``GetMedian``), bit for bit: ``test_statistics.py`` holds them to those
filters on random and real masks.

Why our own code and not those filters: they compute, for every label, what
``measure`` does not report (perimeter, moments and principal axes, skewness,
kurtosis, a 65,536-bin histogram per label, a physical point per voxel): in
a profile of ``measure``, three quarters of the time spent reading the CT and
the tag (bench/RESULTS.md, issue 25), 13 times what this module takes. Here:
the voxels of each label counted, then per label a gather of its HU and a
histogram of them (one bin per value, as ITK's), which gives the median and
exact integer sums, so the mean and SD computed from them in ITK's formulas
are ITK's doubles. Where that exactness does not
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

_FEW = 20
"""Up to this largest label, labels are counted one value at a time (see :func:`_counts`)."""


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
    """ITK's HU statistics of the whole-number ``values`` of one label (not empty); None if its doubles round.

    ITK (StatisticsLabelMapFilter) sums v and v² in double, in voxel order:
    exact while the sums stay below 2**53, so they equal the integer sums
    here, taken over a histogram of the values (one bin per value, as ITK's).
    Its median is the middle value (odd count) or the mean of the two middle
    ones (even count).
    """
    low, high = int(values.min()), int(values.max())
    count = int(values.size)
    if count * max(abs(low), abs(high)) ** 2 >= _EXACT:
        return None  # sum of squares beyond exact doubles: ITK's result depends on its order
    histogram = np.bincount(values.astype(np.intp) - low, minlength=high - low + 1)
    levels = np.arange(low, high + 1, dtype=np.int64)
    total, squares = float(int(histogram @ levels)), float(int(histogram @ (levels * levels)))
    mean = total / count
    variance = (squares - total * total / count) / (count - 1) if count > 1 else 0.0
    # The value of rank r (1-based) is the first level whose cumulative count reaches r.
    below = np.cumsum(histogram)
    middle = low + int(np.searchsorted(below, count // 2 + 1))
    if count % 2:
        median = float(middle)
    else:
        median = (float(low + int(np.searchsorted(below, count // 2))) + float(middle)) * 0.5
    return Intensity(mean, math.sqrt(variance), float(low), float(high), median)


def _counts(flat: np.ndarray) -> dict[int, int]:
    """Label -> voxels, for the labels (not 0) present in ``flat``, in increasing order."""
    top = int(flat.max()) if flat.size else 0
    if top <= _FEW:
        # A few vectorised passes (==, count) beat bincount, which makes an intp copy of the labels.
        counts = {value: int(np.count_nonzero(flat == value)) for value in range(1, top + 1)}
        return {value: count for value, count in counts.items() if count}
    counts = np.bincount(flat)
    return {int(value): int(counts[value]) for value in np.flatnonzero(counts[1:]) + 1}


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
    flat = labels.reshape(-1)
    spacing = tuple(float(v) for v in mask.GetSpacing())
    per_voxel, per_pixel = _voxel_size(spacing), _voxel_size(spacing[:2])
    voxels = _counts(flat)
    size = {value: float(count) * per_voxel for value, count in voxels.items()}
    if labels.shape[0] == 1:
        slice_sizes = [{value: float(count) * per_pixel for value, count in voxels.items()}]
    else:
        depth = labels.shape[0]
        planes = {v: np.count_nonzero((flat == v).reshape(depth, -1), axis=1) for v in voxels}
        slice_sizes = [
            {v: float(planes[v][k]) * per_pixel for v in voxels if planes[v][k]} for k in range(depth)
        ]
    intensity = None
    if ct is not None:
        if ct.GetNumberOfComponentsPerPixel() != 1:
            raise ValueError(f"{where}: {ct.GetNumberOfComponentsPerPixel()} components per pixel, not a CT")
        hu = SimpleITK.GetArrayViewFromImage(ct)
        if hu.size != labels.size:
            raise ValueError(f"{where}: {ct.GetSize()} pixels, the mask has {mask.GetSize()}")
        whole = _whole_int16(hu.reshape(-1))
        found = {} if whole is not None else None
        for value in voxels if found is not None else ():
            statistics = _exact_intensity(whole[flat == value])  # type: ignore[index]
            if statistics is None:
                found = None
                break
            found[value] = statistics  # type: ignore[index]
        intensity = found if found is not None else _filter_intensity(mask, ct, where)
    return LabelStatistics(voxels, size, slice_sizes, intensity)
