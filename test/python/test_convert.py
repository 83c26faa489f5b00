"""itk_tag.convert / convert_file: formats, alignment to the DICOM, Slicer
segmentations, the .tag writer, and the rules for outputs (atomic, no overwrite)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import itk_tag
import numpy as np
import pytest
import SimpleITK
import slicerio
from conftest import DATA, REAL_TAGS
from itk_tag.batch.writers import atomic_output
from tag_samples import body_labels, raw_label_counts, write_tag


def label_statistics(image: SimpleITK.Image, mask: SimpleITK.Image) -> dict[int, int]:
    statistics = SimpleITK.LabelStatisticsImageFilter()
    statistics.Execute(image, mask)
    return {int(label): int(statistics.GetCount(label)) for label in statistics.GetLabels() if label}


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real samples converted with --reference auto, to .nrrd and to .seg.nrrd."""
    out = tmp_path_factory.mktemp("converted")
    before = tree_digest(DATA)
    for output_format in ("nrrd", "seg.nrrd"):
        report = itk_tag.convert(
            DATA,
            out / output_format.replace(".", "-"),
            format=output_format,
            reference="auto",
            labels="alberta",
        )
        assert report.ok and report.count("written") == 2, [o.message() for o in report.failed]
    assert tree_digest(DATA) == before  # inputs are never modified
    return {"nrrd": out / "nrrd", "seg.nrrd": out / "seg-nrrd"}


def output_stem(tag_name: str) -> str:
    return tag_name.removesuffix(".tag").removesuffix(".dcm")


@pytest.mark.parametrize("output_format", ["nrrd", "seg.nrrd"])
@pytest.mark.parametrize("tag_name", sorted(REAL_TAGS))
def test_aligned_outputs_pass_label_statistics_with_the_dicom(
    converted: dict[str, Path], tag_name: str, output_format: str
) -> None:
    dicom = SimpleITK.ReadImage(str(DATA / REAL_TAGS[tag_name]))
    mask = SimpleITK.ReadImage(str(converted[output_format] / f"{output_stem(tag_name)}.{output_format}"))
    assert label_statistics(dicom, mask) == raw_label_counts(DATA / tag_name)


@pytest.mark.parametrize("output_format", ["nrrd", "seg.nrrd"])
@pytest.mark.parametrize("tag_name", sorted(REAL_TAGS))
def test_outputs_without_reference_are_refused_next_to_the_dicom(
    tmp_path: Path, tag_name: str, output_format: str
) -> None:
    # Why --reference exists: on the tag's own 4-decimal grid, ITK rejects the pair.
    output = tmp_path / f"mask.{output_format}"
    itk_tag.convert_file(DATA / tag_name, output)
    dicom = SimpleITK.ReadImage(str(DATA / REAL_TAGS[tag_name]))
    with pytest.raises(RuntimeError, match="Inputs do not occupy the same physical space"):
        label_statistics(dicom, SimpleITK.ReadImage(str(output)))


@pytest.mark.parametrize("tag_name", sorted(REAL_TAGS))
def test_seg_nrrd_reads_back_with_slicerio(converted: dict[str, Path], tag_name: str) -> None:
    names = {1: "muscle", 2: "IMAT", 5: "VAT", 7: "SAT"}
    segmentation = slicerio.read_segmentation(
        str(converted["seg.nrrd"] / f"{output_stem(tag_name)}.seg.nrrd")
    )
    counts = raw_label_counts(DATA / tag_name)
    segments = segmentation["segments"]
    assert [s["labelValue"] for s in segments] == sorted(counts)
    assert [s["name"] for s in segments] == [names[v] for v in sorted(counts)]
    assert all(len(s["color"]) == 3 for s in segments)
    voxels = segmentation["voxels"]
    assert {v: int((voxels == v).sum()) for v in counts} == counts

    dicom = SimpleITK.ReadImage(str(DATA / REAL_TAGS[tag_name]))
    matrix = np.asarray(segmentation["ijkToLPS"])
    np.testing.assert_array_equal(matrix[:3, 3], dicom.GetOrigin())
    expected = np.asarray(dicom.GetDirection()).reshape(3, 3) * np.asarray(dicom.GetSpacing())
    np.testing.assert_array_equal(matrix[:3, :3], expected)


def test_seg_nrrd_carries_uid_and_chksum(converted: dict[str, Path]) -> None:
    segmentation = slicerio.read_segmentation(str(converted["seg.nrrd"] / "sandbox-test01.seg.nrrd"))
    assert (segmentation["uid"], segmentation["chksum"]) == ("EE9DCED7", "09E62542")


def test_tag_to_seg_nrrd_to_tag_round_trip(tmp_path: Path) -> None:
    source = DATA / "sandbox-test01.dcm.tag"
    segmentation = tmp_path / "mask.seg.nrrd"
    back = tmp_path / "back.tag"
    itk_tag.convert_file(source, segmentation, labels="alberta")
    itk_tag.convert_file(segmentation, back)
    header = itk_tag.read_header(back)
    assert (header.keywords["uid"], header.keywords["chksum"]) == ("EE9DCED7", "09E62542")
    original, original_header = itk_tag.read_array(source)
    np.testing.assert_array_equal(itk_tag.read_array(back)[0], original)
    assert header.origin == original_header.origin and header.spacing == original_header.spacing
    assert back.read_bytes() == source.read_bytes()  # the C++ writer writes sliceOmatic's layout


def test_seg_nrrd_renumbered_in_slicer_keeps_tag_values(tmp_path: Path) -> None:
    segmentation_path = tmp_path / "mask.seg.nrrd"
    itk_tag.convert_file(DATA / "barbell2-10.tag", segmentation_path)
    # Slicer may renumber label values when it saves; the segment tag keeps the tag's.
    segmentation = slicerio.read_segmentation(str(segmentation_path))
    voxels = segmentation["voxels"]
    renumbered = np.zeros_like(voxels)
    for index, segment in enumerate(segmentation["segments"], start=1):
        renumbered[voxels == segment["labelValue"]] = index
        segment["labelValue"] = index
    segmentation["voxels"] = renumbered
    slicerio.write_segmentation(str(tmp_path / "edited.seg.nrrd"), segmentation)
    itk_tag.convert_file(tmp_path / "edited.seg.nrrd", tmp_path / "edited.tag")
    np.testing.assert_array_equal(
        itk_tag.read_array(tmp_path / "edited.tag")[0], itk_tag.read_array(DATA / "barbell2-10.tag")[0]
    )


@pytest.mark.parametrize("output_format", ["nrrd", "nii.gz", "nii", "mha", "seg.nrrd", "tag"])
def test_every_format_holds_the_voxels_and_grid(tmp_path: Path, output_format: str) -> None:
    voxels = body_labels((3, 20, 30), seed=1)
    tag = write_tag(
        tmp_path / "in" / "case.tag",
        voxels,
        (-10.5, 4.25, 100.0),
        (0.75, 0.8, 2.5),
        extra={"uid": "0BADF00D"},
    )
    output = tmp_path / f"case.{output_format}"
    assert itk_tag.convert_file(tag, output) is None
    image = SimpleITK.ReadImage(str(output))
    np.testing.assert_array_equal(SimpleITK.GetArrayFromImage(image), voxels)
    own = itk_tag.read(tag)
    np.testing.assert_allclose(image.GetOrigin(), own.GetOrigin(), atol=1e-4)  # NIfTI: float32
    np.testing.assert_allclose(image.GetSpacing(), own.GetSpacing(), rtol=1e-6)
    np.testing.assert_allclose(image.GetDirection(), own.GetDirection(), atol=1e-6)
    if output_format in ("nrrd", "mha", "tag", "seg.nrrd"):
        assert image.GetMetaData("uid") == "0BADF00D"


def test_label_files_json_and_csv(tmp_path: Path) -> None:
    (tmp_path / "labels.json").write_text(
        json.dumps({"1": "liver", "5": {"name": "spleen", "color": "#FF8000"}})
    )
    (tmp_path / "labels.csv").write_text("value,name,color\n1,liver,#102030\n5,spleen\n")
    voxels = body_labels((1, 16, 16), seed=2)
    tag = write_tag(tmp_path / "case.tag", voxels)
    for labels in ("labels.json", "labels.csv"):
        out = tmp_path / f"{labels}.seg.nrrd"
        itk_tag.convert_file(tag, out, labels=tmp_path / labels)
        segments = {s["labelValue"]: s for s in slicerio.read_segmentation(str(out))["segments"]}
        assert segments[1]["name"] == "liver" and segments[5]["name"] == "spleen"
        assert segments[2]["name"] == "Label 2" and segments[7]["name"] == "Label 7"
    json_segments = slicerio.read_segmentation(str(tmp_path / "labels.json.seg.nrrd"))["segments"]
    assert next(s for s in json_segments if s["labelValue"] == 5)["color"] == pytest.approx(
        [1.0, 128 / 255, 0.0]
    )


def test_bad_label_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "one-row.csv").write_text("1;muscle\n")  # read as a header row: no label at all
    with pytest.raises(ValueError, match="one-row.csv: no label rows"):
        itk_tag.convert(DATA, tmp_path / "out", labels=tmp_path / "one-row.csv")
    (tmp_path / "labels.csv").write_text("value,name\none,liver\n")
    with pytest.raises(ValueError, match="labels.csv:2: label value 'one' is not an integer"):
        itk_tag.convert(DATA, tmp_path / "out", labels=tmp_path / "labels.csv")


def test_outputs_are_not_overwritten_unless_asked(tmp_path: Path) -> None:
    tag = write_tag(tmp_path / "case.tag", body_labels((1, 8, 8)))
    output = tmp_path / "case.nrrd"
    output.write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        itk_tag.convert_file(tag, output)
    assert output.read_bytes() == b"keep me"
    report = itk_tag.convert(tag, tmp_path, format="nrrd")
    # Not an output of itk-tag: reported with the flag that replaces it, never skipped as done (issue 23).
    assert (report.count("skipped"), report.ok) == (0, False)
    assert "not a readable nrrd file" in report.failed[0].reason and "--overwrite" in report.failed[0].reason
    assert output.read_bytes() == b"keep me"
    itk_tag.convert_file(tag, output, overwrite=True)
    assert output.read_bytes().startswith(b"NRRD")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.nrrd", "case.tag"]


def test_labels_beyond_a_short_are_refused(tmp_path: Path) -> None:
    image = SimpleITK.GetImageFromArray(np.full((1, 4, 4), 70000, dtype=np.uint32))
    source = tmp_path / "big.nrrd"
    SimpleITK.WriteImage(image, str(source))
    with pytest.raises(ValueError, match="outside 0..65535"):
        itk_tag.convert_file(source, tmp_path / "out" / "big.tag")
    assert not (tmp_path / "out").exists()


def test_failing_writer_leaves_no_file(tmp_path: Path) -> None:
    # Two slices stacked along -z: a .tag can only store dir_h x dir_v, so the C++ writer refuses.
    image = SimpleITK.GetImageFromArray(np.ones((2, 4, 4), dtype=np.uint8))
    image.SetDirection((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0))
    SimpleITK.WriteImage(image, str(tmp_path / "flipped.nrrd"))
    with pytest.raises(ValueError, match="slice direction"):
        itk_tag.convert_file(tmp_path / "flipped.nrrd", tmp_path / "out" / "flipped.tag")
    assert list((tmp_path / "out").iterdir()) == []


def test_interrupted_write_leaves_no_file(tmp_path: Path) -> None:
    destination = tmp_path / "mask.nrrd"
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(destination, "nrrd") as temporary:
            temporary.write_bytes(b"NRRD0004\nhalf of a file")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_temporary_names_are_ascii(tmp_path: Path) -> None:
    # ITK's Windows writers open narrow paths: a non-ASCII temporary name came out garbled
    # and was left behind (test_wine.py::test_cli shows it on a Windows Python).
    destination = tmp_path / "Bäuchle 体 01.nrrd"
    with atomic_output(destination, "nrrd") as temporary:
        assert temporary.name.isascii() and temporary.name.endswith(".nrrd"), temporary.name
        assert temporary.name.startswith(".B_uchle _ 01.nrrd."), temporary.name
        SimpleITK.WriteImage(SimpleITK.Image(2, 2, SimpleITK.sitkUInt8), str(temporary))
    assert [p.name for p in tmp_path.iterdir()] == [destination.name]


def test_tag_written_from_a_nifti_label_image(tmp_path: Path) -> None:
    voxels = body_labels((2, 10, 12), seed=5).astype(np.int16)
    image = SimpleITK.GetImageFromArray(voxels)
    image.SetOrigin((1.0, 2.0, 3.0))
    image.SetSpacing((0.5, 0.5, 4.0))
    SimpleITK.WriteImage(image, str(tmp_path / "labels.nii.gz"))
    report = itk_tag.convert(tmp_path, tmp_path / "tags", format="tag")
    assert report.ok and report.count("written") == 1
    back, header = itk_tag.read_array(tmp_path / "tags" / "labels.tag")
    np.testing.assert_array_equal(back, voxels)
    assert back.dtype == np.uint8 and header.spacing == (0.5, 0.5, 4.0)


def test_folder_tree_is_mirrored_and_dcm_suffix_dropped(tmp_path: Path) -> None:
    for relative in ("a/one.tag", "a/b/two.dcm.tag", "three.tag"):
        write_tag(tmp_path / "in" / relative, body_labels((1, 8, 8)))
    (tmp_path / "in" / "a" / "notes.txt").write_text("not a tag")
    (tmp_path / "in" / "a" / "._one.tag").write_bytes(b"\0\5\26\7 macOS resource fork")
    report = itk_tag.convert(tmp_path / "in", tmp_path / "out", format="mha")
    assert report.ok, [o.message() for o in report.failed]
    found = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert found == ["a/b/two.mha", "a/one.mha", "three.mha"]


def test_two_inputs_for_one_output_fail_the_second(tmp_path: Path) -> None:
    write_tag(tmp_path / "in" / "x.tag", body_labels((1, 8, 8)))
    write_tag(tmp_path / "in" / "x.dcm.tag", body_labels((1, 8, 8)))
    report = itk_tag.convert(tmp_path / "in", tmp_path / "out")
    assert (report.count("written"), report.count("failed")) == (1, 1)
    assert "is also the output of" in report.failed[0].reason


def test_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(itk_tag.UsageError, match="no such file"):
        itk_tag.convert(tmp_path / "missing.tag", tmp_path / "out")
    with pytest.raises(itk_tag.UsageError, match="is a directory, so the output must be a folder"):
        itk_tag.convert(DATA, tmp_path / "one.nrrd")
    with pytest.raises(itk_tag.UsageError, match="one input file"):
        itk_tag.convert([DATA / "barbell2-10.tag", DATA / "sandbox-test01.dcm.tag"], tmp_path / "one.nrrd")
    with pytest.raises(itk_tag.UsageError, match="no .tag files"):
        itk_tag.convert(tmp_path, tmp_path / "out")
    with pytest.raises(itk_tag.UsageError, match="contradicts"):
        itk_tag.convert(DATA / "barbell2-10.tag", tmp_path / "one.nrrd", format="mha")
    with pytest.raises(ValueError, match="unknown format"):
        itk_tag.convert(DATA, tmp_path / "out", format="png")


def test_the_folder_walk_finds_each_file_once_and_skips_the_output(tmp_path: Path) -> None:
    from itk_tag.batch.runner import input_files

    tags = tmp_path / "tags"
    for name in ("a/x.tag", "b/y.tag", "out/old.tag"):
        write_tag(tags / name, np.zeros((1, 4, 4), np.uint8))
    (tags / "b" / "link.tag").symlink_to(tags / "a" / "x.tag")  # the same file again
    (tags / "linked").symlink_to(tags / "a", target_is_directory=True)  # not entered
    found = input_files(
        [tags, tags / "a" / "x.tag"],
        lambda path: path.suffix == ".tag",
        skip=(tags / "out").resolve(),
    )
    assert found == [(tags / "a" / "x.tag", Path("a")), (tags / "b" / "y.tag", Path("b"))]
