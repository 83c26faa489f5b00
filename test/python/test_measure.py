"""itk_tag.measure and ``itk-tag measure``: every number checked against one
computed here from the DICOM's pixels (pydicom, rescale applied) and the
tag's bytes, never through itk_tag."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import itk_tag
import numpy as np
import pydicom
import pytest
from conftest import DATA, REAL_TAGS, run_python
from itk_tag.batch.measure import COLUMNS
from tag_samples import body_labels, hounsfield, raw_tag, run_cli, write_dicom_series, write_tag

ALBERTA = {1: "muscle", 2: "IMAT", 5: "VAT", 7: "SAT"}
BROKEN = {
    "broken-truncated.tag": b"x:32 y:32 z:1 type:BYTE\n\f" + bytes(100),
    "broken-no-z.tag": b"x:32 y:32 type:BYTE\n\f" + bytes(32 * 32),
    "broken-mni.tag": b"MNI Tag Point File\nVolumes = 1;\nPoints =\n 1 2 3;\n",
}


def expected_rows(
    tag: Path, hu: np.ndarray | None, pixel_spacing: tuple[float, float], slice_spacing: float | None
) -> dict[int, dict[str, object]]:
    """The rows measure must give, from the tag's bytes and the CT's HU (z, y, x) in the tag's order."""
    voxels, _ = raw_tag(tag)
    area = pixel_spacing[0] * pixel_spacing[1] / 100.0  # cm² per voxel
    rows = {}
    for value in sorted({int(v) for v in np.unique(voxels) if v} | set(ALBERTA)):
        inside = voxels == value
        count = int(inside.sum())
        row: dict[str, object] = {
            "label": value,
            "name": ALBERTA.get(value, f"Label {value}"),
            "slices": voxels.shape[0],
            "voxels": count,
            "slice_areas_cm2": [int(plane.sum()) * area for plane in inside],
            "area_cm2": count * area,
            "volume_cm3": count * area * slice_spacing / 10.0 if slice_spacing is not None else None,
        }
        values = hu[inside] if hu is not None and count else None
        row["hu"] = (
            None
            if values is None
            else (values.mean(), values.std(ddof=1), values.min(), values.max(), float(np.median(values)))
        )
        rows[value] = row
    return rows


def assert_rows(rows: list[dict[str, object]], expected: dict[int, dict[str, object]]) -> None:
    assert [row["label"] for row in rows] == list(expected)
    for row in rows:
        want = expected[row["label"]]  # type: ignore[index]
        assert (row["name"], row["slices"], row["voxels"]) == (want["name"], want["slices"], want["voxels"])
        assert row["area_cm2"] == pytest.approx(want["area_cm2"], rel=1e-12)
        assert row["slice_areas_cm2"] == pytest.approx(want["slice_areas_cm2"], rel=1e-12)
        if want["volume_cm3"] is None:
            assert row["volume_cm3"] is None
        else:
            assert row["volume_cm3"] == pytest.approx(want["volume_cm3"], rel=1e-9)
        statistics = [row[f"hu_{name}"] for name in ("mean", "sd", "min", "max", "median")]
        if want["hu"] is None:
            assert statistics == [None] * 5
        else:
            mean, sd, low, high, median = want["hu"]  # type: ignore[misc]
            assert statistics[0] == pytest.approx(mean, rel=1e-9)
            assert statistics[1] == pytest.approx(sd, rel=1e-9)
            assert statistics[2:] == [low, high, median]  # exact: whole-number HU


@pytest.fixture(scope="module")
def real() -> itk_tag.Measurements:
    return itk_tag.measure(DATA, reference="auto", labels="alberta")


@pytest.mark.parametrize("tag_name", sorted(REAL_TAGS))
def test_real_pairs_equal_pixels_and_bytes(real: itk_tag.Measurements, tag_name: str) -> None:
    assert real.ok and real.summary() == "2 measured, 0 failed"
    dicom = DATA / REAL_TAGS[tag_name]
    rows = [row for row in real.rows if row["file"] == str(DATA / tag_name)]
    assert {row["reference"] for row in rows} == {str(dicom)}
    spacing = tuple(float(v) for v in pydicom.dcmread(dicom, stop_before_pixels=True).PixelSpacing)
    # Both samples: row direction +x, column direction +y, as the tag's dir_h, dir_v.
    assert_rows(rows, expected_rows(DATA / tag_name, hounsfield(dicom)[np.newaxis], spacing, None))


def test_real_numbers_are_body_composition(real: itk_tag.Measurements) -> None:
    # sliceOmatic's Alberta protocol thresholds muscle at -29..150 HU: the HU are the CT's.
    muscle = [row for row in real.rows if row["name"] == "muscle"]
    assert [(row["hu_min"], row["hu_max"]) for row in muscle] == [(-29.0, 150.0)] * 2
    imat = [row for row in real.rows if row["name"] == "IMAT"]
    assert [(row["voxels"], row["area_cm2"], row["hu_mean"]) for row in imat] == [(0, 0.0, None)] * 2


def test_multi_slice_series(tmp_path: Path) -> None:
    spacing = (0.7, 0.8, 2.5)
    folder = tmp_path / "case"
    # Slope 2, intercept -1000: stored values are not HU, the rows must be.
    write_dicom_series(
        folder, (3, 20, 30), (10.0, 20.0, 30.0), spacing, (1, 0, 0, 0, 1, 0, 0, 0, 1),
        extra={"0028|1052": "-1000", "0028|1053": "2"},
    )  # fmt: skip
    voxels = body_labels((3, 20, 30), seed=3)
    voxels[1, :, :] = np.where(voxels[1] == 2, 0, voxels[1])  # label 2 absent from one slice
    tag = write_tag(tmp_path / "case.tag", voxels, (10.0, 20.0, 30.0), spacing)
    rows = itk_tag.measure_file(tag, reference="auto", labels="alberta")

    files = sorted(folder.iterdir(), key=lambda f: float(pydicom.dcmread(f).ImagePositionPatient[2]))
    hu = np.stack([hounsfield(f) for f in files])
    positions = [float(pydicom.dcmread(f).ImagePositionPatient[2]) for f in files]
    row_spacing, column_spacing = (float(v) for v in pydicom.dcmread(files[0]).PixelSpacing)
    expected = expected_rows(tag, hu, (column_spacing, row_spacing), positions[1] - positions[0])
    assert_rows(rows, expected)
    assert all(row["reference"] == str(folder) and row["slices"] == 3 for row in rows)
    assert next(row for row in rows if row["label"] == 2)["slice_areas_cm2"][1] == 0.0


def test_missing_reference_is_a_failed_file_and_none_gives_areas_only(tmp_path: Path) -> None:
    """Issue 23: with --reference auto, a tag without CT is a failure (row, summary, exit 1), never
    a row with empty HU and exit 0; --reference none asks for areas only."""
    tag = tmp_path / "alone.tag"
    shutil.copy(DATA / "barbell2-10.tag", tag)
    result = run_cli("measure", tag, "--reference", "auto", "--labels", "alberta", "-o", tmp_path / "m.json")
    assert result.returncode == 1, result.stderr
    assert f"error: {tag}: no reference image found: no alone, alone.dcm, alone.DCM" in result.stderr
    assert "--reference none: areas without HU" in result.stderr
    assert result.stdout.strip() == "0 measured, 1 failed"
    (failed,) = json.loads((tmp_path / "m.json").read_text())
    assert failed["status"] == "failed" and "no DICOM image in" in failed["reason"]
    result = run_cli("measure", tag, "--reference", "none", "--labels", "alberta", "-o", tmp_path / "m2.json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1 measured, 0 failed (1 without a reference image: areas only, no HU)"
    rows = json.loads((tmp_path / "m2.json").read_text())
    _, keywords = raw_tag(tag)
    spacing = (float(keywords["inc_x"]), float(keywords["inc_y"]))  # the tag's own 4 decimals
    assert_rows(rows, expected_rows(tag, None, spacing, None))
    assert {row["reference"] for row in rows} == {None}  # issue 24: JSON says null, not ""
    assert all(row["reason"] is None for row in rows)  # measured: no reason (null in JSON)

    none = itk_tag.measure(DATA / "barbell2-10.tag", labels="alberta")
    assert none.summary() == "1 measured, 0 failed (1 without a reference image: areas only, no HU)"
    assert [row["area_cm2"] for row in none.rows] == [row["area_cm2"] for row in rows]


def test_mismatched_reference_is_reported_like_convert(tmp_path: Path) -> None:
    shutil.copy(DATA / "barbell2-10.dcm", tmp_path / "case.dcm")
    write_tag(
        tmp_path / "case.dcm.tag", body_labels((1, 512, 512)), (-207.0, -58.0, 295.0), (0.6758, 0.6758, 3.0)
    )
    shutil.copy(DATA / "sandbox-test01.dcm", tmp_path / "good.dcm")
    shutil.copy(DATA / "sandbox-test01.dcm.tag", tmp_path / "good.dcm.tag")
    out = tmp_path / "m.csv"
    result = run_cli("measure", tmp_path, "--reference", "auto", "-o", out)
    assert result.returncode == 1
    converted = run_cli(
        "convert", tmp_path / "case.dcm.tag", "--reference", "auto", "-o", tmp_path / "x.nrrd"
    )
    error = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert error == [line for line in converted.stderr.splitlines() if line.startswith("error: ")]
    assert "origin" in error[0] and "--force" in error[0]
    assert result.stdout.strip() == "1 measured, 1 failed"
    with out.open() as file:
        books = list(csv.DictReader(file))
    # issue 18: the failed file has its row too, with the reason (the rows measured are as before)
    assert {row["file"] for row in books if row["status"] == "measured"} == {str(tmp_path / "good.dcm.tag")}
    failed = [f"error: {row['file']}: {row['reason']}" for row in books if row["status"] == "failed"]
    assert failed == error
    forced = run_cli(
        "measure", tmp_path / "case.dcm.tag", "--reference", "auto", "--force", "-o", tmp_path / "f.csv"
    )
    assert forced.returncode == 0, forced.stderr


def test_batch_with_broken_files_and_jobs(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    for name, content in BROKEN.items():
        (data / "more" / name).parent.mkdir(exist_ok=True)
        (data / "more" / name).write_bytes(content)
    out = tmp_path / "out" / "metrics.csv"
    result = run_cli("measure", data, "--reference", "auto", "--labels", "alberta", "-j", "2", "-o", out)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert sorted(errors) == sorted(line for line in errors if "broken-" in line) and len(errors) == 3
    assert result.stdout.strip() == "2 measured, 3 failed"
    with out.open() as file:
        books = list(csv.DictReader(file))
    # issue 18: each failed file has one row of status failed (the rows measured are as before)
    assert sorted(Path(row["file"]).name for row in books if row["status"] == "failed") == sorted(BROKEN)
    rows = [row for row in books if row["status"] == "measured"]
    assert list(rows[0]) == list(COLUMNS)
    assert [(row["file"], row["label"]) for row in rows] == [
        (str(data / tag), str(value)) for tag in sorted(REAL_TAGS) for value in ALBERTA
    ]  # input order: barbell2-10.tag, then sandbox-test01.dcm.tag
    reference = itk_tag.measure([data / name for name in sorted(REAL_TAGS)], reference="auto",
                                labels="alberta")  # fmt: skip
    for row, expected in zip(rows, reference.rows):
        assert float(row["area_cm2"]) == expected["area_cm2"]
        assert row["hu_mean"] == ("" if expected["hu_mean"] is None else repr(expected["hu_mean"]))
        assert row["slice_areas_cm2"] == ";".join(repr(v) for v in expected["slice_areas_cm2"])
    assert sorted(p.name for p in out.parent.iterdir()) == ["metrics.csv"]  # no temporary left


def test_output_rules(tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    out.write_text("keep me")
    kept = run_cli("measure", DATA, "-o", out)
    assert kept.returncode == 1 and "--overwrite" in kept.stderr and out.read_text() == "keep me"
    replaced = run_cli("measure", DATA, "-o", out, "--overwrite")
    assert replaced.returncode == 0 and out.read_text().startswith("file,reference,patient_id,")
    wrong = run_cli("measure", DATA, "-o", tmp_path / "m.txt")
    assert wrong.returncode == 2 and ".csv or .json" in wrong.stderr
    assert run_cli("measure", tmp_path / "missing", "-o", tmp_path / "n.csv").returncode == 2
    assert not (tmp_path / "m.txt").exists() and not (tmp_path / "n.csv").exists()


def test_dataframe_with_pandas_and_a_clear_error_without() -> None:
    pandas = pytest.importorskip("pandas")
    measurements = itk_tag.measure(DATA, reference="auto", labels="alberta")
    frame = measurements.to_dataframe()
    assert isinstance(frame, pandas.DataFrame) and len(frame) == len(measurements.rows) == 8
    assert frame["voxels"].tolist() == [row["voxels"] for row in measurements.rows]
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "import itk_tag\n"
        f"m = itk_tag.measure({str(DATA / 'barbell2-10.tag')!r})\n"
        "print(len(m.rows))\n"
        "try:\n    m.to_dataframe()\nexcept ImportError as error:\n    print(error)\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "3",
        "to_dataframe needs pandas (pip install pandas); .rows has the same",
    ]


def test_json_has_null_for_missing_values_and_resumes_from_it(tmp_path: Path) -> None:
    """issue 24: a missing value is null in JSON (it was ""); a run resumed from that table keeps its rows."""
    shutil.copy(DATA / "barbell2-10.tag", tmp_path / "alone.tag")
    (tmp_path / "broken.tag").write_bytes(b"x:1 y:1 z:1\f")
    out = tmp_path / "m.json"
    result = run_cli("measure", tmp_path, "-o", out)
    assert result.returncode == 1, result.stderr
    rows = json.loads(out.read_text())
    failed = next(row for row in rows if row["status"] == "failed")
    assert failed["reason"] and failed["file"].endswith("broken.tag")
    assert [failed[key] for key in ("reference", "label", "name", "hu_mean")] == [None] * 4
    measured = [row for row in rows if row["status"] == "measured"]
    assert measured and all(row["reference"] is None and row["reason"] is None for row in measured)
    assert '""' not in out.read_text()
    again = run_cli("measure", tmp_path, "-o", out)
    assert again.returncode == 1, again.stderr
    assert "kept from the earlier run" in again.stdout
    assert json.loads(out.read_text()) == rows
