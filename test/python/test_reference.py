"""Pairing a tag with the image it was drawn on: comparison of the grids, and
putting the mask on the image's exact grid (one DICOM slice, a DICOM series,
a volume whose slices run the other way)."""

from __future__ import annotations

from pathlib import Path

import itk_tag
import numpy as np
import pytest
import SimpleITK
from conftest import DATA, REAL_TAGS
from tag_samples import body_labels, raw_label_counts, write_dicom_series, write_tag


def label_statistics(image: SimpleITK.Image, mask: SimpleITK.Image) -> dict[int, int]:
    statistics = SimpleITK.LabelStatisticsImageFilter()
    statistics.Execute(image, mask)
    return {int(label): int(statistics.GetCount(label)) for label in statistics.GetLabels() if label}


@pytest.mark.parametrize("tag_name", sorted(REAL_TAGS))
def test_real_pairs_agree_within_tolerance(tag_name: str) -> None:
    result = itk_tag.check(DATA / tag_name)
    assert result.ok, result.report()
    assert result.reference == DATA / REAL_TAGS[tag_name]
    origin = next(c for c in result.comparisons if c.name == "origin")
    assert 0 < origin.deviation < 1e-4  # the 4-decimal rounding, nothing more
    assert not result.reversed_slices


@pytest.mark.parametrize("tag_name", sorted(REAL_TAGS))
def test_read_with_reference_takes_the_dicom_grid_exactly(tag_name: str) -> None:
    dicom = SimpleITK.ReadImage(str(DATA / REAL_TAGS[tag_name]))
    mask = itk_tag.read(DATA / tag_name, reference="auto")
    assert mask.GetOrigin() == dicom.GetOrigin()
    assert mask.GetSpacing() == dicom.GetSpacing()
    assert mask.GetDirection() == dicom.GetDirection()
    assert label_statistics(dicom, mask) == raw_label_counts(DATA / tag_name)


@pytest.mark.parametrize("tag_name", sorted(REAL_TAGS))
def test_read_without_reference_is_refused_next_to_the_dicom(tag_name: str) -> None:
    # Why --reference exists: the tag's 4-decimal grid is not the DICOM's grid for ITK.
    dicom = SimpleITK.ReadImage(str(DATA / REAL_TAGS[tag_name]))
    mask = itk_tag.read(DATA / tag_name)
    with pytest.raises(RuntimeError, match="Inputs do not occupy the same physical space"):
        label_statistics(dicom, mask)


def test_barbell2_flipped_slice_axis_does_not_fail_the_pair() -> None:
    result = itk_tag.check(DATA / "barbell2-10.tag")
    assert result.ok
    assert result.grid.direction[8] == -1.0  # GDCM's slice axis, the tag's is +1
    assert any("one slice" in note for note in result.notes)


def test_read_metadata_are_the_header_keywords() -> None:
    mask = itk_tag.read(DATA / "sandbox-test01.dcm.tag", reference="auto")
    assert mask.GetPixelID() == SimpleITK.sitkUInt8
    assert mask.GetMetaData("uid") == "EE9DCED7"
    assert mask.GetMetaData("chksum") == "09E62542"
    assert mask.GetMetaData("x") == "512"


def test_explicit_reference_path_and_none(tmp_path: Path) -> None:
    tag = tmp_path / "renamed.tag"
    tag.write_bytes((DATA / "barbell2-10.tag").read_bytes())
    with pytest.raises(itk_tag.ReferenceImageError, match="renamed.dcm"):
        itk_tag.read(tag, reference="auto")
    aligned = itk_tag.read(tag, reference=DATA / "barbell2-10.dcm")
    assert aligned.GetOrigin()[2] == pytest.approx(293.100037, abs=1e-9)
    assert itk_tag.read(tag, reference="none").GetOrigin() == (-207.0, -58.0, 293.1)


def test_a_shifted_tag_is_refused_and_forced(tmp_path: Path) -> None:
    dicom = DATA / "sandbox-test01.dcm"
    voxels = np.zeros((1, 512, 512), dtype=np.uint8)
    voxels[0, 100:110, 200:230] = 1
    tag = write_tag(
        tmp_path / "shifted.tag", voxels, (-175.1475 + 0.01, -339.6475, -166.8), (0.7051, 0.7051, 1.5)
    )
    result = itk_tag.check(tag, dicom)
    assert not result.ok
    assert [c.name for c in result.comparisons if not c.ok] == ["origin"]
    assert "origin" in result.report() and "FAIL" in result.report()
    with pytest.raises(itk_tag.GeometryMismatchError, match="origin"):
        itk_tag.read(tag, reference=dicom)
    forced = itk_tag.read(tag, reference=dicom, force=True)
    assert forced.GetOrigin() == SimpleITK.ReadImage(str(dicom)).GetOrigin()
    loose = itk_tag.check(tag, dicom, itk_tag.Tolerance(origin=0.02))
    assert loose.ok


def test_a_tag_of_another_size_is_refused_even_with_force(tmp_path: Path) -> None:
    tag = write_tag(tmp_path / "small.tag", np.ones((1, 4, 5), np.uint8), (-175.1475, -339.6475, -166.8))
    with pytest.raises(itk_tag.GeometryMismatchError, match="size"):
        itk_tag.read(tag, reference=DATA / "sandbox-test01.dcm", force=True)


SERIES_DIRECTION = (0.8660254, -0.5, 0.0, 0.5, 0.8660254, 0.0, 0.0, 0.0, 1.0)


def make_series_pair(
    tmp_path: Path, epais: float = 2.5, extra: dict[str, str] | None = None
) -> tuple[Path, Path, SimpleITK.Image]:
    shape, origin, spacing = (5, 24, 32), (-10.123456, 20.654321, 30.25), (0.68359375, 0.7, 2.5)
    volume = write_dicom_series(tmp_path / "case", shape, origin, spacing, SERIES_DIRECTION, extra)
    axes = np.asarray(SERIES_DIRECTION).reshape(3, 3)
    tag = write_tag(
        tmp_path / "case.tag",
        body_labels(shape, seed=3),
        origin,
        (*spacing[:2], epais),
        axes[:, 0],
        axes[:, 1],
    )
    return tag, tmp_path / "case", volume


@pytest.mark.parametrize(
    "extra",
    [{}, {"0018|0088": "-2.5"}],  # SpacingBetweenSlices < 0, as in barbell2-10.dcm
    ids=["plain", "negative-spacing-between-slices"],
)
def test_dicom_series_folder_is_found_and_matched(tmp_path: Path, extra: dict[str, str]) -> None:
    tag, folder, _ = make_series_pair(tmp_path, extra=extra)
    files = SimpleITK.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder))
    series = SimpleITK.ReadImage(files)
    result = itk_tag.check(tag)
    assert result.ok, result.report()
    assert result.reference == folder
    mask = itk_tag.read(tag, reference="auto")
    assert (mask.GetOrigin(), mask.GetSpacing(), mask.GetDirection()) == (
        series.GetOrigin(),
        series.GetSpacing(),
        series.GetDirection(),
    )
    assert label_statistics(series, mask) == raw_label_counts(tag)
    np.testing.assert_array_equal(SimpleITK.GetArrayFromImage(mask), itk_tag.read_array(tag)[0])


def test_series_with_other_slice_spacing_is_refused(tmp_path: Path) -> None:
    tag, folder, _ = make_series_pair(tmp_path, epais=3.0)
    result = itk_tag.check(tag, folder)
    assert not result.ok
    failed = [c for c in result.comparisons if not c.ok]
    assert [c.name for c in failed] == ["slice 4 position"]
    assert failed[0].deviation == pytest.approx(2.0, abs=1e-3)


def test_reference_whose_slices_run_the_other_way_flips_the_mask(tmp_path: Path) -> None:
    # A volume stored top slice first (slice axis -z), and a tag drawn on it
    # whose header, as always, runs its slices along dir_h x dir_v (+z).
    shape = (4, 6, 8)
    reference = SimpleITK.Image(8, 6, 4, SimpleITK.sitkInt16)
    reference.SetOrigin((1.5, -2.25, 40.0))
    reference.SetSpacing((0.5, 0.5, 3.0))
    reference.SetDirection((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0))
    reference_path = tmp_path / "volume.nrrd"
    SimpleITK.WriteImage(reference, str(reference_path))
    voxels = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    tag = write_tag(tmp_path / "volume.tag", voxels, (1.5, -2.25, 31.0), (0.5, 0.5, 3.0))

    result = itk_tag.check(tag, reference_path)
    assert result.ok and result.reversed_slices, result.report()
    mask = itk_tag.read(tag, reference=reference_path)
    own = itk_tag.read(tag)
    for index in [(0, 0, 0), (7, 5, 3), (3, 2, 1)]:
        point = mask.TransformIndexToPhysicalPoint(index)
        assert mask[index] == own[own.TransformPhysicalPointToIndex(point)]
    assert label_statistics(reference, mask) == {v: 1 for v in range(1, 192)}


def test_folder_with_two_series_picks_the_one_with_the_tag_slice_count(tmp_path: Path) -> None:
    tag, folder, _ = make_series_pair(tmp_path)
    write_dicom_series(folder / "other", (3, 24, 32), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), SERIES_DIRECTION)
    for path in (folder / "other").iterdir():
        path.rename(folder / f"other-{path.name}")
    assert itk_tag.check(tag).ok


def test_check_reports_missing_reference(tmp_path: Path) -> None:
    tag = write_tag(tmp_path / "alone.dcm.tag", np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(
        itk_tag.ReferenceImageError, match=r"no alone\.dcm beside the tag, and no DICOM image in"
    ):
        itk_tag.check(tag)
