"""A real cohort's layouts (issue 23): every mask finds its CT, or fails loudly; the wide table with SMI.

The cohort is built from the real samples (test/data), copied and renamed as
study folders are; pydicom gives each CT its patient ID, and moves one copy's
origin to make "another patient's CT" in the same folder. Expected numbers come
from the tag's bytes and the DICOM's PixelSpacing (pydicom), never through itk_tag.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import itk_tag
import pydicom
import pytest
from conftest import DATA
from itk_tag.batch.pairing import folder_index, forget, load_pairs
from itk_tag.errors import ReferenceImageError, UsageError
from tag_samples import raw_tag, run_cli

SANDBOX = ("sandbox-test01.dcm.tag", "sandbox-test01.dcm")
BARBELL = ("barbell2-10.tag", "barbell2-10.dcm")


def copy_ct(source: str, destination: Path, patient: str, shift_mm: float = 0.0) -> Path:
    """A copy of a real CT slice with its own PatientID (and its origin moved by ``shift_mm`` along x)."""
    dataset = pydicom.dcmread(DATA / source)
    dataset.PatientID = patient
    if shift_mm:
        x, y, z = (float(v) for v in dataset.ImagePositionPatient)
        dataset.ImagePositionPatient = [x + shift_mm, y, z]
    dataset.SOPInstanceUID = pydicom.uid.generate_uid()
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    destination.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(destination, enforce_file_format=True)
    return destination


def copy_tag(source: str, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / source, destination)
    return destination


@pytest.fixture
def cohort(tmp_path: Path) -> Path:
    """Six masks: four whose CT can be found (four layouts), two that cannot (duplicates, no CT)."""
    root = tmp_path / "cohort"
    # p001: same-name pair.
    copy_ct(SANDBOX[1], root / "p001" / "ct.dcm", "P001")
    copy_tag(SANDBOX[0], root / "p001" / "ct.dcm.tag")
    # p002: L3.tag beside a differently named single DICOM.
    copy_ct(BARBELL[1], root / "p002" / "IM-0042.dcm", "P002")
    copy_tag(BARBELL[0], root / "p002" / "L3.tag")
    # p003: two DICOMs, one of them another patient's CT (origin 40 mm away).
    copy_ct(SANDBOX[1], root / "p003" / "IM-0001.dcm", "P999", shift_mm=40.0)
    copy_ct(SANDBOX[1], root / "p003" / "IM-0002.dcm", "P003")
    copy_tag(SANDBOX[0], root / "p003" / "L3.tag")
    # p004: the same slice twice (a copy left in the folder): cannot tell.
    copy_ct(BARBELL[1], root / "p004" / "IM-0001.dcm", "P004")
    copy_ct(BARBELL[1], root / "p004" / "IM-0001 copy.dcm", "P004")
    copy_tag(BARBELL[0], root / "p004" / "L3.tag")
    # p005: no CT at all.
    copy_tag(BARBELL[0], root / "p005" / "L3.tag")
    # p006: masks/ and a parallel dicom/ tree, paired by pairs.csv.
    copy_tag(SANDBOX[0], root / "masks" / "p006.tag")
    copy_ct(SANDBOX[1], root / "dicom" / "p006" / "CT000123.dcm", "P006")
    (root / "pairs.csv").write_text("tag,reference\nmasks/p006.tag,dicom/p006/CT000123.dcm\n")
    return root


FOUND = {
    "p001/ct.dcm.tag": "p001/ct.dcm",
    "p002/L3.tag": "p002/IM-0042.dcm",
    "p003/L3.tag": "p003/IM-0002.dcm",
    "masks/p006.tag": "dicom/p006/CT000123.dcm",
}
TAG_OF = {"p001": SANDBOX, "p002": BARBELL, "p003": SANDBOX, "p006": SANDBOX}


def muscle_area_cm2(tag: Path, dicom: Path) -> float:
    """Label 1's area from the tag's bytes and the DICOM's PixelSpacing (pydicom)."""
    voxels, _ = raw_tag(tag)
    row, column = (float(v) for v in pydicom.dcmread(dicom).PixelSpacing)
    return int((voxels == 1).sum()) * row * column / 100.0


def test_convert_finds_every_findable_ct_and_fails_the_others(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = run_cli(
        "convert",
        cohort,
        "--reference",
        "auto",
        "--pairs",
        cohort / "pairs.csv",
        "--format",
        "nrrd",
        "-o",
        out,
    )
    assert done.returncode == 1, done.stderr
    assert "4 written" in done.stdout and "2 failed" in done.stdout, done.stdout
    for tag in FOUND:
        name = Path(tag).name.removesuffix(".tag").removesuffix(".dcm") + ".nrrd"
        assert (out / Path(tag).parent / name).is_file(), tag
    assert not (out / "p004").exists() and not (out / "p005").exists()
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, done.stderr
    duplicates = next(line for line in errors if "p004" in line)
    assert "IM-0001.dcm" in duplicates and "IM-0001 copy.dcm" in duplicates and "duplicates" in duplicates
    missing = next(line for line in errors if "p005" in line)
    assert "L3, L3.dcm, L3.DCM" in missing and "no DICOM image in" in missing and "--pairs" in missing


def test_the_written_mask_lies_on_the_ct_it_found(cohort: Path, tmp_path: Path) -> None:
    import SimpleITK as sitk  # noqa: N813

    out = tmp_path / "L3.nrrd"
    itk_tag.convert_file(cohort / "p003" / "L3.tag", out, reference="auto")
    mask, ct = sitk.ReadImage(str(out)), sitk.ReadImage(str(cohort / "p003" / "IM-0002.dcm"))
    assert mask.GetOrigin() == ct.GetOrigin() and mask.GetSpacing()[:2] == ct.GetSpacing()[:2]


def test_measure_fails_masks_without_ct_and_writes_the_wide_table_with_smi(
    cohort: Path, tmp_path: Path
) -> None:
    subjects = tmp_path / "subjects.csv"
    subjects.write_text(
        "patient_id,height_cm,sex,age\nP001,180,F,61\nP002,165.5,M,70\nP003,,M,55\nP006,172,F,48\n"
    )
    table, wide = tmp_path / "m.csv", tmp_path / "wide.csv"
    done = run_cli(
        "measure", cohort, "--reference", "auto", "--pairs", cohort / "pairs.csv", "--labels", "alberta",
        "-o", table, "--wide", wide, "--subjects", subjects,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "4 measured" in done.stdout and "2 failed" in done.stdout, done.stdout
    assert f"note: 1 of 6 masks have no SMI (the reason is in {wide})" in done.stderr
    rows = list(csv.DictReader(table.open()))
    failed = {row["file"]: row["reason"] for row in rows if row["status"] == "failed"}
    assert {Path(file).parent.name for file in failed} == {"p004", "p005"}
    reasons = {Path(file).parent.name: reason for file, reason in failed.items()}
    assert "no reference image found" in reasons["p005"]
    assert "duplicates, cannot tell which one it was drawn on" in reasons["p004"]
    assert "no reference image found" not in reasons["p004"] and reasons["p004"].count("--pairs") == 1
    measured = [row for row in rows if row["status"] == "measured"]
    assert all(row["hu_mean"] for row in measured if row["voxels"] != "0")  # never empty HU with a CT
    by_patient = {row["patient_id"]: row for row in measured}
    assert set(by_patient) == {"P001", "P002", "P003", "P006"}
    assert {row["spacing_from"] for row in measured} == {"reference"}

    wide_rows = list(csv.DictReader(wide.open()))
    assert len(wide_rows) == 6  # one per mask, failed ones included
    header = list(wide_rows[0])
    for column in (
        "patient_id",
        "muscle_area_cm2",
        "muscle_hu_mean",
        "muscle_hu_sd",
        "sat_area_cm2",
        "imat_hu_sd",
    ):
        assert column in header
    assert header[-4:] == ["sex", "age", "height_m", "smi_cm2_m2"]
    wide_of = {Path(row["file"]).relative_to(cohort).as_posix(): row for row in wide_rows}
    heights = {"p001/ct.dcm.tag": 1.80, "p002/L3.tag": 1.655, "masks/p006.tag": 1.72}
    for tag, dicom in FOUND.items():
        row = wide_of[tag]
        assert row["status"] == "measured" and Path(row["reference"]) == cohort / dicom
        area = muscle_area_cm2(cohort / tag, cohort / dicom)
        assert float(row["muscle_area_cm2"]) == pytest.approx(area, rel=1e-9)
        if tag in heights:
            assert float(row["smi_cm2_m2"]) == pytest.approx(area / heights[tag] ** 2, rel=1e-9)
            assert float(row["height_m"]) == pytest.approx(heights[tag])
    assert wide_of["p001/ct.dcm.tag"]["sex"] == "F" and wide_of["p001/ct.dcm.tag"]["age"] == "61"
    no_height = wide_of["p003/L3.tag"]
    assert no_height["status"] == "measured" and no_height["smi_cm2_m2"] == ""
    assert "no height for patient_id P003" in no_height["reason"]
    for folder in ("p004", "p005"):
        row = wide_of[f"{folder}/L3.tag"]
        assert row["status"] == "failed" and row["muscle_area_cm2"] == "" and row["smi_cm2_m2"] == ""

    # A resumed run keeps the measured rows (read back as text) and writes the same wide table.
    before = wide.read_text()
    again = run_cli(
        "measure", cohort, "--reference", "auto", "--pairs", cohort / "pairs.csv", "--labels", "alberta",
        "-o", table, "--wide", wide, "--subjects", subjects,
    )  # fmt: skip
    assert again.returncode == 1 and "4 kept from the earlier run" in again.stdout, again.stdout
    assert wide.read_text() == before


def test_reference_columns_come_from_the_ct(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    ct = copy_ct(BARBELL[1], folder / "IM-7.dcm", "ABC123")
    dataset = pydicom.dcmread(ct)
    copy_tag(BARBELL[0], folder / "L3.tag")
    rows = itk_tag.measure(folder, reference="auto", labels="alberta").rows
    assert {row["patient_id"] for row in rows} == {"ABC123"}
    expected_thickness = float(dataset.SliceThickness) if "SliceThickness" in dataset else None
    expected_kvp = float(dataset.KVP) if "KVP" in dataset else None
    assert {row["slice_thickness_mm"] for row in rows} == {expected_thickness}
    assert {row["kvp"] for row in rows} == {expected_kvp}
    assert {row["study_date"] for row in rows} == {dataset.get("StudyDate") or None}
    bare = itk_tag.measure(folder / "L3.tag", labels="alberta").rows
    assert {row["patient_id"] for row in bare} == {None} and {row["spacing_from"] for row in bare} == {"tag"}


def test_python_api_wide_table(cohort: Path, tmp_path: Path) -> None:
    subjects = tmp_path / "s.csv"
    subjects.write_text("patient_id,height_m\nP002,1.7\n")
    result = itk_tag.measure(cohort / "p002", reference="auto", labels="alberta", subjects=subjects)
    table = result.wide()
    assert isinstance(table, itk_tag.WideTable) and len(table.rows) == 1
    row = table.rows[0]
    area = muscle_area_cm2(cohort / "p002" / "L3.tag", cohort / "p002" / "IM-0042.dcm")
    assert row["smi_cm2_m2"] == pytest.approx(area / 1.7**2, rel=1e-12)
    assert table.columns.index("muscle_area_cm2") < table.columns.index("smi_cm2_m2")
    again = itk_tag.wide_table(result.rows, result.options.label_table)  # type: ignore[union-attr]
    assert "smi_cm2_m2" not in again.columns and again.rows[0]["muscle_area_cm2"] == row["muscle_area_cm2"]
    json_path = tmp_path / "w.json"
    table.write(json_path)
    assert json.loads(json_path.read_text())[0]["smi_cm2_m2"] == pytest.approx(row["smi_cm2_m2"])


def test_subjects_need_a_muscle_label_and_plausible_heights(tmp_path: Path, cohort: Path) -> None:
    subjects = tmp_path / "s.csv"
    subjects.write_text("patient_id,height_m\nP002,1.7\n")
    with pytest.raises(UsageError, match="muscle"):
        itk_tag.measure(cohort / "p002", reference="auto", subjects=subjects)  # no label table
    subjects.write_text("patient_id,height_m\nP002,172\n")
    with pytest.raises(UsageError, match="not a person's height"):
        itk_tag.measure(cohort / "p002", reference="auto", labels="alberta", subjects=subjects)
    subjects.write_text("id,height\nP002,1.7\n")
    with pytest.raises(UsageError, match="patient_id and height_m or height_cm"):
        itk_tag.measure(cohort / "p002", reference="auto", labels="alberta", subjects=subjects)


def test_pairs_alone_fail_the_tags_they_do_not_list(cohort: Path, tmp_path: Path) -> None:
    result = itk_tag.measure(cohort, pairs=cohort / "pairs.csv", labels="alberta")
    statuses = {Path(o.source).relative_to(cohort).as_posix(): o for o in result.outcomes}
    assert statuses["masks/p006.tag"].status == "measured"
    assert statuses["p001/ct.dcm.tag"].status == "failed"
    assert "not listed in --pairs" in statuses["p001/ct.dcm.tag"].reason
    with pytest.raises(UsageError, match="--pairs"):
        itk_tag.measure(cohort, pairs=cohort / "pairs.csv", reference=cohort / "p001" / "ct.dcm")
    (tmp_path / "bad.csv").write_text("mask,ct\nx,y\n")
    with pytest.raises(UsageError, match="tag and reference"):
        load_pairs(tmp_path / "bad.csv")


def test_pairs_written_from_another_folder_say_how_paths_are_read(cohort: Path) -> None:
    """A new user's mistake: rows written from the cohort's parent, not the CSV's folder."""
    (cohort / "from-parent.csv").write_text(
        "tag,reference\ncohort/masks/p006.tag,cohort/dicom/p006/CT000123.dcm\n"
    )
    result = itk_tag.measure(cohort / "masks", pairs=cohort / "from-parent.csv", labels="alberta")
    (outcome,) = result.outcomes
    assert outcome.status == "failed"
    assert "1 of its 1 tags do not exist: its paths are taken relative to its own folder" in outcome.reason


def test_subjects_and_pairs_saved_by_excel_with_semicolons(cohort: Path, tmp_path: Path) -> None:
    """Excel where the decimal mark is a comma saves CSV with ';' (and heights like 1,72)."""
    (cohort / "pairs;.csv").write_text("tag;reference\nmasks/p006.tag;dicom/p006/CT000123.dcm\n")
    subjects = tmp_path / "s.csv"
    subjects.write_bytes("\ufeffpatient_id;height_m;sex\r\nP006;1,72;F\r\n".encode())
    result = itk_tag.measure(
        cohort / "masks",
        pairs=cohort / "pairs;.csv",
        labels="alberta",
        subjects=subjects,
        wide=tmp_path / "w.csv",
    )
    (row,) = result.wide().rows
    assert row["height_m"] == 1.72 and row["sex"] == "F"
    assert row["smi_cm2_m2"] == pytest.approx(row["muscle_area_cm2"] / 1.72**2)


def test_multi_slice_tag_takes_the_series_slices_it_spans(tmp_path: Path) -> None:
    """A 3-slice tag in a folder of a 6-slice series (and nothing named after it) takes slices 2 to 4."""
    from conftest import TagSpec
    from tag_samples import write_dicom_series

    folder = tmp_path / "series"
    direction = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    write_dicom_series(folder, (6, 5, 7), (-10.0, 20.0, 30.0), (0.8, 0.9, 2.5), direction)
    spec = TagSpec("abdomen", (7, 5, 3), origin=(-10.0, 20.0, 35.0), spacing=(0.8, 0.9, 2.5))
    tag = spec.write(folder)
    check = itk_tag.check(tag)
    assert check.ok and [p.name for p in check_files(tag)] == ["IM0002.dcm", "IM0003.dcm", "IM0004.dcm"]
    rows = itk_tag.measure(tag, reference="auto").rows
    assert all(row["status"] == "measured" and row["hu_mean"] is not None for row in rows if row["voxels"])


def check_files(tag: Path) -> tuple[Path, ...]:
    from itk_tag.batch.pairing import find_reference
    from itk_tag.batch.reference import DEFAULT_TOLERANCE
    from itk_tag.format import read_header

    found = find_reference(tag, read_header(tag), DEFAULT_TOLERANCE)
    assert isinstance(found, tuple)
    return found


def check_files_or_one(tag: Path) -> Path:
    from itk_tag.batch.pairing import find_reference
    from itk_tag.batch.reference import DEFAULT_TOLERANCE
    from itk_tag.format import read_header

    found = find_reference(tag, read_header(tag), DEFAULT_TOLERANCE)
    assert isinstance(found, Path)
    return found


def test_folder_headers_are_read_once(cohort: Path) -> None:
    forget()
    first = folder_index(cohort / "p003")
    assert folder_index(cohort / "p003") is first  # kept
    assert [entry.path.name for entry in first.entries] == ["IM-0001.dcm", "IM-0002.dcm"]
    shutil.copy(cohort / "p003" / "IM-0002.dcm", cohort / "p003" / "IM-0003.dcm")
    assert len(folder_index(cohort / "p003").entries) == 3  # the folder changed: read again
    with pytest.raises(ReferenceImageError, match="duplicates"):
        check_files(cohort / "p003" / "L3.tag")
    # A file rewritten in place (the folder's own time may not change): read again too.
    copy_ct(SANDBOX[1], cohort / "p003" / "IM-0003.dcm", "P003", shift_mm=25.0)
    assert check_files_or_one(cohort / "p003" / "L3.tag").name == "IM-0002.dcm"


def test_an_empty_file_in_an_outputs_place_is_reported_not_skipped(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    target = out / "ct.nrrd"
    out.mkdir()
    target.write_bytes(b"")
    args = ("convert", cohort / "p001", "--reference", "auto", "--format", "nrrd", "-o", out)
    done = run_cli(*args)
    assert done.returncode == 1, done.stdout
    assert "0 skipped" in done.stdout or "skipped" not in done.stdout
    assert "empty file (0 bytes)" in done.stderr and "--overwrite" in done.stderr
    assert target.stat().st_size == 0  # not replaced without the flag
    assert run_cli(*args, "--overwrite").returncode == 0 and target.stat().st_size > 0
    again = run_cli(*args)
    assert again.returncode == 0 and "1 skipped" in again.stdout  # a whole output of ours: skipped


@pytest.mark.parametrize("damage", ["truncated", "text", "another program's"])
def test_a_broken_output_is_reported_with_the_flag(cohort: Path, tmp_path: Path, damage: str) -> None:
    import SimpleITK as sitk  # noqa: N813

    out = tmp_path / "out"
    args = ("convert", cohort / "p001", "--reference", "auto", "--format", "nrrd", "-o", out)
    assert run_cli(*args).returncode == 0
    target = out / "ct.nrrd"
    if damage == "truncated":
        target.write_bytes(target.read_bytes()[:-200])
    elif damage == "text":
        target.write_text("hello")
    else:
        sitk.WriteImage(sitk.Image(4, 4, 1, sitk.sitkUInt8), str(target))
    done = run_cli(*args)
    assert done.returncode == 1 and "1 failed" in done.stdout, done.stdout + done.stderr
    assert "--overwrite replaces it" in done.stderr


def test_an_empty_table_in_measures_place_is_reported(cohort: Path, tmp_path: Path) -> None:
    table = tmp_path / "m.csv"
    table.write_bytes(b"")
    done = run_cli("measure", cohort / "p001", "--reference", "auto", "-o", table)
    assert done.returncode == 1 and "empty file (0 bytes)" in done.stderr and "--overwrite" in done.stderr


def test_resume_refusal_names_the_options_as_typed(cohort: Path, tmp_path: Path) -> None:
    table = tmp_path / "m.csv"
    assert run_cli("measure", cohort / "p001", "--reference", "auto", "-o", table).returncode == 0
    done = run_cli("measure", cohort / "p001", "-o", table)
    assert done.returncode == 1
    assert (
        "made with --reference auto, --pairs or --reference PATH; this run has --reference none"
        in done.stderr
    )
    assert "ct.dcm" not in done.stderr.split("made with")[1]  # no path the user did not type
    out = tmp_path / "out"
    assert run_cli("convert", cohort / "p001", "--reference", "auto", "-o", out).returncode == 0
    done = run_cli("convert", cohort / "p001", "-o", out)
    assert "made with --reference auto, this run has --reference none" in done.stderr, done.stderr


def test_check_walks_folders(cohort: Path) -> None:
    done = run_cli("check", cohort, "--json")
    assert done.returncode == 1  # p004, p005, and masks/p006 (no --pairs) have no findable CT
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert {Path(r["tag"]).relative_to(cohort).as_posix() for r in reports} == {
        "p001/ct.dcm.tag", "p002/L3.tag", "p003/L3.tag",
    }  # fmt: skip
    assert all(report["ok"] for report in reports)
    assert "p005" in done.stderr and "usage" not in done.stderr
    paired = run_cli("check", cohort / "masks", "--pairs", cohort / "pairs.csv")
    assert paired.returncode == 0 and "same grid" in paired.stdout, paired.stderr


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_no_raw_itk_warning_for_a_folder_without_series(cohort: Path, tmp_path: Path, jobs: str) -> None:
    # ITK's GDCMSeriesFileNames warns "No Series were found" for a folder without DICOM; with -j 2
    # in the worker processes.
    args = ("convert", cohort / "p001", cohort / "p002", "--reference", cohort / "masks", "-j", jobs)
    done = run_cli(*args, "-o", tmp_path / "o")
    assert done.returncode == 1 and done.stderr.count("no DICOM series") == 2  # no raw warning: run_cli


def test_info_and_measure_agree_on_units(tmp_path: Path) -> None:
    tag = DATA / BARBELL[0]
    described = json.loads(run_cli("info", tag, "--json", "--labels", "alberta").stdout)
    rows = itk_tag.measure(tag, labels="alberta").rows
    areas = {row["label"]: row["area_cm2"] for row in rows if row["voxels"]}
    assert described["spacing_from"] == "tag"
    for label in described["labels"]:
        assert label["area_cm2"] == pytest.approx(areas[label["value"]], rel=1e-12)
        assert label["volume_cm3"] is None  # one slice: no volume, as measure
    text = run_cli("info", tag).stdout
    assert "area cm²" in text and "tag header's spacing" in text


def test_plugin_path_on_an_install_without_plugin(tmp_path: Path) -> None:
    """A pure install has no entry library: simulated by a copy of the package without its native part."""
    package = Path(itk_tag.__file__).parent
    copy = tmp_path / "site" / "itk_tag"
    shutil.copytree(
        package, copy, ignore=shutil.ignore_patterns("*.so", "*.dll", "*.dylib", "itk-tag-builds")
    )
    env = {**os.environ, "PYTHONPATH": str(copy.parent), "ITK_TAG_NO_AUTOLOAD": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "itk_tag", "plugin-path"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "no native ITK plugin" in done.stderr and not done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "itk_tag", "slicer", "install", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    # slicer install works on a pure install (the module, issue 22; test_wine.py installs it so):
    # here no Slicer, so a usage error naming the folder, no traceback
    assert done.returncode == 2 and "not a 3D Slicer installation" in done.stderr
    assert "Traceback" not in done.stderr and "no native ITK plugin" not in done.stderr


def test_another_patients_ct_alone_is_named_with_why_it_is_not_the_one(tmp_path: Path) -> None:
    folder = tmp_path / "p"
    copy_ct(SANDBOX[1], folder / "IM-0001.dcm", "P999", shift_mm=40.0)
    copy_ct(BARBELL[1], folder / "IM-0002.dcm", "P998")  # another size of pixel, another plane
    tag = copy_tag(SANDBOX[0], folder / "L3.tag")
    with pytest.raises(ReferenceImageError) as failure:
        itk_tag.measure_file(tag, reference="auto")
    message = str(failure.value)
    assert "none of the 2 DICOM images in" in message
    assert "IM-0001.dcm (40 mm from the tag's slice)" in message
    assert "IM-0002.dcm (pixel spacing" in message
