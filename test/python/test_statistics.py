"""itk_tag.batch.statistics against SimpleITK's label statistics filters: the same doubles, bit for bit.

The oracle is what ``measure`` computed before it had its own statistics:
``LabelShapeStatisticsImageFilter`` on the mask and on each of its 2D slices,
and ``LabelIntensityStatisticsImageFilter`` with 65,536 bins over the CT cast
to int16 (whole-number values that fit) or float64 (the others).
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import itk_tag  # noqa: F401 - before SimpleITK: the plugin that reads .tag
import numpy as np
import pytest
import SimpleITK as sitk  # noqa: N813 - the name SimpleITK users write
from conftest import DATA, REAL_TAGS, run_python
from itk_tag.batch.measure import measure_file
from itk_tag.batch.statistics import Intensity, LabelStatistics, label_statistics

INTENSITY = ("GetMean", "GetStandardDeviation", "GetMinimum", "GetMaximum", "GetMedian")


def oracle(mask: sitk.Image, ct: sitk.Image | None) -> LabelStatistics:
    """The statistics as SimpleITK's filters give them."""
    shape = sitk.LabelShapeStatisticsImageFilter()
    shape.Execute(mask)
    labels = [int(v) for v in shape.GetLabels()]
    slices = []
    for k in range(mask.GetSize()[2]):
        shape_k = sitk.LabelShapeStatisticsImageFilter()
        shape_k.Execute(mask[:, :, k])
        slices.append({int(v): shape_k.GetPhysicalSize(v) for v in shape_k.GetLabels()})
    intensity = None
    if ct is not None:
        extremes = sitk.MinimumMaximumImageFilter()
        extremes.Execute(ct)
        fits = -32768 <= extremes.GetMinimum() and extremes.GetMaximum() <= 32767
        whole = "integer" in ct.GetPixelIDTypeAsString() and fits
        statistics = sitk.LabelIntensityStatisticsImageFilter()
        statistics.SetNumberOfBins(1 << 16)
        statistics.Execute(mask, sitk.Cast(ct, sitk.sitkInt16 if whole else sitk.sitkFloat64))
        intensity = {
            int(v): Intensity(*(float(getattr(statistics, name)(v)) for name in INTENSITY))
            for v in statistics.GetLabels()
        }
    return LabelStatistics(
        {v: shape.GetNumberOfPixels(v) for v in labels},
        {v: shape.GetPhysicalSize(v) for v in labels},
        slices,
        intensity,
    )


def assert_identical(found: LabelStatistics, expected: LabelStatistics) -> None:
    """Equal as the table writes them: the same doubles (repr), the same label sets."""
    assert found.voxels == expected.voxels
    assert repr(found.size) == repr(expected.size)
    assert repr(found.slice_sizes) == repr(expected.slice_sizes)
    assert repr(found.intensity) == repr(expected.intensity)


def image(array: np.ndarray, spacing: tuple[float, float, float]) -> sitk.Image:
    result = sitk.GetImageFromArray(array)
    result.SetSpacing(spacing)
    result.SetOrigin((-12.5, 3.25, 7.0))
    return result


def random_pair(
    seed: int, shape: tuple[int, int, int], label_dtype: type, hu_dtype: type, low: float, high: float
) -> tuple[sitk.Image, sitk.Image]:
    rng = np.random.default_rng(seed)
    values = [0, 1, 5, 7] + ([300] if label_dtype == np.uint16 else [])
    labels = rng.choice(values, size=shape).astype(label_dtype)
    # A label of one voxel (SD 0): the largest value, or a small one (labels counted one by one).
    labels[0, 0, 0] = np.iinfo(label_dtype).max if seed % 2 else 19
    labels.ravel()[[3, 10, 17, 40]] = 2  # one of four voxels: an even count, two middles
    if np.dtype(hu_dtype).kind == "f":
        hu = rng.uniform(low, high, size=shape).astype(hu_dtype)
    else:
        hu = rng.integers(int(low), int(high), size=shape, endpoint=True).astype(hu_dtype)
    spacing = (float(rng.uniform(0.5, 1.0)), 0.7421875, float(rng.uniform(1.0, 5.0)))
    return image(labels, spacing), image(hu, spacing)


@pytest.mark.parametrize(
    "seed, shape, label_dtype, hu_dtype, low, high",
    [
        (1, (1, 64, 80), np.uint8, np.int16, -1024, 3071),  # one CT slice as GDCM reads it
        (2, (1, 33, 17), np.uint8, np.int16, -32768, 32767),  # the whole int16 range
        (10, (4, 40, 30), np.uint8, np.int16, -1024, 2000),  # several slices
        (3, (3, 40, 30), np.uint8, np.int16, -1024, 2000),
        (4, (3, 20, 25), np.uint16, np.int16, -200, 200),  # SHORT tags
        (5, (1, 50, 50), np.uint8, np.uint16, 0, 4095),  # unsigned stored values, no rescale
        (6, (1, 50, 50), np.uint8, np.int32, -1024, 3071),  # int32 that fits int16: exact path
        (7, (1, 50, 50), np.uint8, np.int32, -1024, 40000),  # does not fit: SimpleITK's filter
        (8, (2, 30, 30), np.uint8, np.float64, -1024.0, 3071.0),  # fractional rescale: the filter
        (9, (1, 40, 40), np.uint8, np.uint8, 0, 255),
    ],
)
def test_equals_simpleitk_filters(
    seed: int, shape: tuple[int, int, int], label_dtype: type, hu_dtype: type, low: float, high: float
) -> None:
    mask, ct = random_pair(seed, shape, label_dtype, hu_dtype, low, high)
    assert_identical(label_statistics(mask, ct, Path("ct")), oracle(mask, ct))
    assert_identical(label_statistics(mask, None, Path("ct")), oracle(mask, None))


def test_even_counts_and_ties() -> None:
    # Every count 1..40, values drawn from a few levels: ties, gaps and split middles.
    rng = np.random.default_rng(11)
    labels = np.zeros((1, 41, 41), np.uint8)
    hu = rng.choice([-1000, -3, -2, 0, 1, 7, 1500], size=labels.shape).astype(np.int16)
    start = 0
    for value in range(1, 41):
        labels.ravel()[start : start + value] = value
        start += value
    mask, ct = image(labels, (0.8, 0.8, 1.0)), image(hu, (0.8, 0.8, 1.0))
    assert_identical(label_statistics(mask, ct, Path("ct")), oracle(mask, ct))


def test_empty_mask() -> None:
    mask = image(np.zeros((2, 5, 6), np.uint8), (1.0, 1.0, 1.0))
    ct = image(np.ones((2, 5, 6), np.int16), (1.0, 1.0, 1.0))
    found = label_statistics(mask, ct, Path("ct"))
    assert (found.voxels, found.size, found.slice_sizes, found.intensity) == ({}, {}, [{}, {}], {})


def test_not_a_ct() -> None:
    mask = image(np.ones((1, 4, 4), np.uint8), (1.0, 1.0, 1.0))
    rgb = sitk.Image([4, 4, 1], sitk.sitkVectorUInt8, 3)
    with pytest.raises(ValueError, match="ct.dcm: 3 components per pixel, not a CT"):
        label_statistics(mask, rgb, Path("ct.dcm"))


@pytest.mark.parametrize("tag_name", sorted(REAL_TAGS))
def test_real_pairs(tag_name: str) -> None:
    # The numbers measure writes for the real samples are the filters' doubles.
    ct = sitk.ReadImage(str(DATA / REAL_TAGS[tag_name]))
    mask = itk_tag.read(DATA / tag_name, reference=DATA / REAL_TAGS[tag_name])
    mask.CopyInformation(ct)
    expected = oracle(mask, ct)
    assert_identical(label_statistics(mask, ct, Path("ct")), expected)
    rows = measure_file(DATA / tag_name, reference="auto", labels="alberta")
    assert expected.intensity is not None
    for row in rows:
        value = row["label"]
        if value in expected.voxels:
            hu = expected.intensity[value]
            assert (row["voxels"], repr(row["area_cm2"])) == (
                expected.voxels[value],
                repr(expected.slice_sizes[0][value] / 100.0),
            )
            assert [row[f"hu_{name}"] for name in ("mean", "sd", "min", "max", "median")] == [
                hu.mean, hu.sd, hu.minimum, hu.maximum, hu.median,
            ]  # fmt: skip
        else:
            assert row["voxels"] == 0 and row["hu_mean"] is None


def test_freed_memory_is_kept_between_files() -> None:
    # glibc returned the heap's freed top after each CT slice and faulted it back in
    # for the next: ~1,000 page faults per JPEG Lossless slice before the runner set
    # the thresholds (batch/allocator.py). A fresh process: the setting is for good.
    code = f"""
import resource, itk_tag, SimpleITK
from itk_tag.batch.allocator import keep_freed_memory
from itk_tag.batch.reference import _reader
path = {str(DATA / "barbell2-10.dcm")!r}
def faults():
    for _ in range(3):
        _reader(path).Execute()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        _reader(path).Execute()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20
print(keep_freed_memory(), faults())
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    kept, faults = result.stdout.split()
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert kept == "True" and float(faults) < 50, result.stdout
    else:
        assert kept == "False"
