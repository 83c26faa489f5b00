"""Reruns, measure's books and the messages of the command line (issue 18)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import itk_tag
import pytest
from conftest import DATA, REAL_TAGS
from itk_tag.errors import OutputOutdatedError
from tag_samples import body_labels, run_cli, write_tag


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """The real pairs, and a tag beside another patient's CT (540 mm away), in a folder."""
    tree = tmp_path / "tree"
    shutil.copytree(DATA, tree, ignore=shutil.ignore_patterns("*.nrrd", "*.json", "*.csv"))
    shutil.copy(DATA / "barbell2-10.dcm", tree / "other.dcm")
    write_tag(
        tree / "other.dcm.tag", body_labels((1, 512, 512)), (-207.0, -58.0, 835.0), (0.6758, 0.6758, 3.0)
    )
    return tree


def last_line(result) -> str:  # type: ignore[no-untyped-def]
    return result.stdout.strip().splitlines()[-1]


def test_a_rerun_with_other_options_is_reported_not_skipped(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert last_line(run_cli("convert", tree, "-o", out)) == "3 written, 0 failed"
    rerun = run_cli("convert", tree, "-o", out, "--reference", "auto")
    assert rerun.returncode == 1
    assert last_line(rerun) == "0 written, 3 failed"
    errors = [line for line in rerun.stderr.splitlines() if line.startswith("error: ")]
    other = [line for line in errors if "other.dcm.tag" in line]
    # The tag beside another patient's CT fails as it would today, old output or not.
    assert len(other) == 1 and "another patient" in other[0] and "--force" not in other[0]
    for line in set(errors) - set(other):
        assert "made with --reference none, this run has --reference auto" in line and "--overwrite" in line
    replaced = run_cli("convert", tree, "-o", out, "--reference", "auto", "--overwrite")
    assert last_line(replaced) == "2 written, 1 failed"
    same = run_cli("convert", tree, "-o", out, "--reference", "auto")
    assert last_line(same) == "0 written, 2 skipped (output exists; --overwrite replaces), 1 failed"
    labels = run_cli("convert", tree, "-o", out, "--reference", "auto", "--labels", "alberta")
    assert last_line(labels) == "0 written, 3 failed" and "labels" in labels.stderr


def test_seg_nrrd_records_its_options(tmp_path: Path) -> None:
    out = tmp_path / "x.seg.nrrd"
    itk_tag.convert_file(DATA / "barbell2-10.tag", out, reference="auto", labels="alberta")
    with pytest.raises(
        OutputOutdatedError, match="made with --reference auto, this run has --reference none"
    ):
        itk_tag.convert_file(DATA / "barbell2-10.tag", out, labels="alberta")
    with pytest.raises(FileExistsError):
        itk_tag.convert_file(DATA / "barbell2-10.tag", out, reference="auto", labels="alberta")


def test_measure_books_a_row_for_every_file(tree: Path, tmp_path: Path) -> None:
    # A mask without any label, beside its CT (with --reference auto, a mask without CT fails).
    raw = (DATA / "barbell2-10.tag").read_bytes()
    (tree / "empty.tag").write_bytes(raw[: raw.index(b"\f") + 1] + bytes(len(raw) - raw.index(b"\f") - 1))
    shutil.copy(DATA / "barbell2-10.dcm", tree / "empty.dcm")
    (tree / "broken.tag").write_bytes(b"x:32 y:32 type:BYTE\n\f" + bytes(32 * 32))
    table = tmp_path / "m.csv"
    result = run_cli("measure", tree, "--reference", "auto", "-o", table)
    assert result.returncode == 1
    with table.open() as file:
        rows = list(csv.DictReader(file))
    by_file = {Path(row["file"]).name: row for row in rows}
    assert by_file["broken.tag"]["status"] == "failed" and '"z" is missing' in by_file["broken.tag"]["reason"]
    assert (
        by_file["other.dcm.tag"]["status"] == "failed"
        and "another patient" in by_file["other.dcm.tag"]["reason"]
    )
    assert by_file["empty.tag"]["status"] == "no label" and by_file["empty.tag"]["voxels"] == "0"
    assert {row["status"] for row in rows if Path(row["file"]).name in REAL_TAGS} == {"measured"}
    assert last_line(result).startswith("3 measured, 2 failed")

    # A rerun resumes: measured files are kept, failed ones are tried again.
    (tree / "broken.tag").unlink()
    again = run_cli("measure", tree, "--reference", "auto", "-o", table)
    assert again.returncode == 1 and last_line(again).startswith("0 measured, 1 failed")
    assert last_line(again).endswith("; 3 kept from the earlier run")
    with table.open() as file:
        names = [Path(row["file"]).name for row in csv.DictReader(file)]
    assert "broken.tag" not in names and names.count("other.dcm.tag") == 1
    changed = run_cli("measure", tree, "-o", table)
    assert changed.returncode == 1 and "made with other options" in changed.stderr
    assert "--overwrite" in changed.stderr


def test_a_mistyped_reference_is_a_usage_error_before_any_work(tmp_path: Path) -> None:
    for command in ("convert", "measure"):
        out = tmp_path / ("out" if command == "convert" else "m.csv")
        result = run_cli(command, DATA, "--reference", tmp_path / "nonexist.dcm", "-o", out)
        assert result.returncode == 2, result.stderr
        assert f"usage: itk-tag {command}" in result.stderr and "nonexist.dcm: no such file" in result.stderr
        assert not out.exists()


def test_errors_print_the_usage_of_their_command(tmp_path: Path) -> None:
    result = run_cli("convert", DATA, "-o", tmp_path / "out", "--labels", "nonsense")
    assert result.returncode == 2 and "usage: itk-tag convert" in result.stderr
    result = run_cli("measure", DATA, "-o", tmp_path / "m.txt")
    assert result.returncode == 2 and "usage: itk-tag measure" in result.stderr


def test_no_python_api_wording_on_the_command_line(tmp_path: Path) -> None:
    shutil.copy(DATA / "barbell2-10.dcm", tmp_path / "case.dcm")
    write_tag(
        tmp_path / "case.dcm.tag", body_labels((1, 512, 512)), (-207.0, -58.0, 295.0), (0.6758, 0.6758, 3.0)
    )
    for args in (
        ["convert", tmp_path / "case.dcm.tag", "--reference", "auto", "-o", tmp_path / "x.nrrd"],
        ["convert", DATA / "barbell2-10.tag", "-o", tmp_path / "x.dcm"],
        ["check", tmp_path / "case.dcm.tag", "--json"],
    ):
        result = run_cli(*args)
        assert result.returncode != 0
        assert "=True" not in result.stderr and "='" not in result.stderr and "=None" not in result.stderr


def test_info_walks_a_folder_as_convert_does(tmp_path: Path) -> None:
    result = run_cli("info", DATA, "--json")
    assert result.returncode == 0, result.stderr
    described = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert sorted(Path(__import__("json").loads(line)["path"]).name for line in described) == sorted(
        REAL_TAGS
    )
