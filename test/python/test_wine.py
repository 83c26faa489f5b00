"""Windows (wine): the pure wheel in a real Windows CPython 3.13 under Debian's wine 8 gives
the Linux results (issue 16).

Wine is not Windows: this shows the pure package's code paths on a Windows Python with
Windows wheels of numpy, SimpleITK and ITK (path handling, file sharing, DLL loading), not
Windows itself. Each scenario is one Windows Python process (each start costs seconds) running
wine_driver.py; the same driver runs on Linux at the same time, on a copy of the same files,
and the results must agree: voxels, geometry within 1e-4 mm, the CSV's numbers.

The sample pairs are copied under names with spaces and non-ASCII letters; the Windows
process sees them through drive Z: with backslashes. Skipped only with ITK_TAG_WINE=0.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import DATA
from wine import DISABLE_VARIABLE, WindowsPython, set_up, windows_path

DRIVER = Path(__file__).with_name("wine_driver.py")
TOLERANCE_MM = 1e-4
# The sample pairs under the names a Windows user may give them: .tag beside its DICOM.
PAIRS = {
    "sandbox-test01.dcm.tag": "Bäuchle 体 01.dcm.tag",
    "sandbox-test01.dcm": "Bäuchle 体 01.dcm",
    "barbell2-10.tag": "barbell2-10.tag",
    "barbell2-10.dcm": "barbell2-10.dcm",
}
FOLDER = "Données patient 1"

pytestmark = pytest.mark.skipif(
    os.environ.get(DISABLE_VARIABLE) == "0", reason=f"Windows (wine) tests disabled by {DISABLE_VARIABLE}=0"
)


@pytest.fixture(scope="module")
def windows_exe() -> Path:
    return set_up()


def samples(root: Path) -> Path:
    """The sample pairs in ``root / FOLDER`` under PAIRS' names; returns ``root``."""
    (root / FOLDER).mkdir(parents=True)
    for source, name in PAIRS.items():
        shutil.copyfile(DATA / source, root / FOLDER / name)
    return root


def run_both(scenario: str, tmp_path: Path, windows_exe: Path, wheel: Path) -> tuple[dict, dict]:
    """The scenario's results on Linux and on Windows (wine), run side by side."""
    python = WindowsPython(windows_exe, tmp_path / "windows python")
    python.install(wheel)
    linux_root, windows_root = samples(tmp_path / "linux"), samples(tmp_path / "windows")
    windows = python.start(
        windows_path(DRIVER),
        scenario,
        windows_path(windows_root),
        windows_path(tmp_path / "windows.json"),
        cwd=tmp_path,
    )
    linux = subprocess.run(
        [sys.executable, str(DRIVER), scenario, str(linux_root), str(tmp_path / "linux.json")],
        capture_output=True,
        timeout=600,
    )
    _, err = windows.communicate(timeout=900)
    assert linux.returncode == 0, linux.stderr.decode(errors="replace")
    message = err.decode("utf-8", "replace")
    assert windows.returncode == 0, f"Windows (wine): exit {windows.returncode}\n{message}"
    results = []
    for side in ("linux", "windows"):
        result = json.loads((tmp_path / f"{side}.json").read_text(encoding="ascii"))
        assert "ok" in result, f"{side}: {result.get('traceback')}"
        results.append(result["ok"])
    return results[0], results[1]


def assert_close(name: str, linux: Any, windows: Any) -> None:
    """Equal, except that geometry (lists of floats) may differ by TOLERANCE_MM."""
    if isinstance(linux, dict) and isinstance(windows, dict):
        assert linux.keys() == windows.keys(), name
        for key in linux:
            assert_close(f"{name}/{key}", linux[key], windows[key])
    elif isinstance(linux, list) and isinstance(windows, list) and linux and isinstance(linux[0], float):
        assert len(linux) == len(windows), name
        assert all(abs(a - b) <= TOLERANCE_MM for a, b in zip(linux, windows)), (name, linux, windows)
    else:
        assert linux == windows, (name, linux, windows)


def ok(result: dict[str, Any], key: str) -> Any:
    assert "ok" in result[key], f"{key}: {result[key].get('traceback')}"
    return result[key]["ok"]


def test_python_api_simpleitk_and_itk(tmp_path: Path, windows_exe: Path, pure_wheel: Path) -> None:
    linux, windows = run_both("api", tmp_path, windows_exe, pure_wheel)
    assert windows["platform"] == "win32"
    # sitk.ReadImage with no import: the startup hook armed, and imported itk_tag for SimpleITK.
    assert windows["hook"] == "armed" and windows["itk_tag imported by the hook"]
    readers = ("sitk", "read_header", "read_array", "read", "itk.imread")
    read_keys = [k for k in linux if k.split(" ")[0] in readers]
    assert len(read_keys) == 2 * 6, read_keys
    for key in read_keys:
        assert_close(key, ok(linux, key), ok(windows, key))

    # The round trip writes the same bytes, and reads back the same image.
    assert ok(windows, "round trip")["same"] and ok(linux, "round trip")["same"]
    assert ok(windows, "round trip")["file"] == ok(linux, "round trip")["file"]
    assert windows["after round trip"] == ["round trip é.tag"]

    # Drive letter, backslashes, forward slashes, relative paths: the same image each time.
    assert windows["spelled"]["absolute"].startswith("Z:\\")
    assert {spelling: ok(windows["spellings"], spelling) for spelling in windows["spellings"]} == {
        spelling: True for spelling in windows["spellings"]
    }

    # os.replace over an existing output.
    assert ok(windows, "over existing") == ok(linux, "over existing")
    assert windows["after over existing"] == ["existing.tag", "round trip é.tag"]

    # An output another process holds open (Python's open(): no FILE_SHARE_DELETE).
    held = windows["held open"]
    assert held["holder"] == "open"
    if "error" in held["while held"]:
        # Refused: a clear error naming the output; the held file untouched; no temporary left.
        assert "held open.tag" in held["while held"]["message"], held["while held"]
        assert held["content after"] == "held by another process"
    else:
        assert held["while held"]["ok"] == ok(linux, "over existing")
    assert windows["after held open"] == ["existing.tag", "held open.tag", "round trip é.tag"]
    assert ok(held, "after close") == ok(linux, "over existing")


def csv_rows(text: str) -> list[dict[str, Any]]:
    """The CSV's rows; numbers as floats, paths with forward slashes."""
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        parsed: dict[str, Any] = {}
        for key, value in row.items():
            try:
                parsed[key] = float(value)
            except ValueError:
                parsed[key] = value.replace("\\", "/")
        rows.append(parsed)
    return rows


def test_cli(tmp_path: Path, windows_exe: Path, pure_wheel: Path) -> None:
    """info, check, convert (seg.nrrd, nrrd, nii.gz, mha, DICOM SEG), measure, doctor."""
    linux, windows = run_both("cli", tmp_path, windows_exe, pure_wheel)
    for command in (
        "info",
        "check",
        "convert",
        "measure",
        *(f"convert {f}" for f in ("nrrd", "nii.gz", "mha", "dcm")),
    ):
        assert windows[command]["exit"] == linux[command]["exit"] == 0, command
    assert_close("info", linux["info"]["json"], windows["info"]["json"])
    assert_close("check", linux["check"]["json"], windows["check"]["json"])
    # The same names (non-ASCII ones included), and no temporary file left.
    assert windows["listing"] == linux["listing"]
    outputs = [k for k in linux if k.startswith(("seg ", "image ", "dicom seg "))]
    assert len(outputs) == 2 * 5, outputs
    for key in outputs:
        assert_close(key, linux[key], windows[key])
    # An output another process holds open: replaced (Linux), or a clear error, the output
    # untouched and no temporary file left (Windows).
    assert linux["convert held"]["exit"] == 0
    held = windows["convert held"]
    assert held["holder"] == "open"
    if held["exit"] != 0:
        assert "barbell2-10.nrrd: cannot replace" in held["stderr"] and held["unchanged"], held
        assert "partial" not in held["stderr"], held  # the output's name, not the temporary file's
    assert windows["listing of nrrd"] == linux["listing of nrrd"]
    # Non-ASCII folders for ITK's own writers and readers (narrow paths on Windows: itk_paths.py).
    # Writing works for any name (the temporary one is ASCII); reading an ITK format works for
    # an ASCII file name in any folder, and fails clearly for a non-ASCII one.
    assert windows["convert nrrd é"]["exit"] == linux["convert nrrd é"]["exit"] == 0, windows[
        "convert nrrd é"
    ]
    assert windows["listing of sortie é"] == linux["listing of sortie é"]
    assert linux["convert to tag é"]["exit"] == 0 and len(linux["tags é"]) == 2
    assert windows["convert to tag é"]["exit"] == 1
    assert windows["convert to tag é"]["stderr"].count("\n") == 1, windows["convert to tag é"]
    assert "error: sortie é\\Bäuchle 体 01.nrrd: " in windows["convert to tag é"]["stderr"]
    assert windows["tags é"] == {"barbell2-10.tag": linux["tags é"]["barbell2-10.tag"]}
    linux_rows, windows_rows = csv_rows(linux["csv"]), csv_rows(windows["csv"])
    assert len(linux_rows) == len(windows_rows) > 0
    for linux_row, windows_row in zip(linux_rows, windows_rows):
        assert linux_row.keys() == windows_row.keys()
        for key, value in linux_row.items():
            other = windows_row[key]
            if isinstance(value, float):
                assert math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9) or (
                    math.isnan(value) and math.isnan(other)
                ), (key, value, other)
            else:
                assert value == other, (key, value, other)
    # doctor: every host it finds reads the sample (on Windows through the Python path).
    assert windows["doctor"]["exit"] == 0, windows["doctor"]
    assert windows["doctor"]["json"]["problems"] == [], windows["doctor"]["json"]["problems"]
    hosts = windows["doctor"]["json"]["hosts"]
    assert len(hosts) == 3 and all(host["reads"] and host["path"] == "python" for host in hosts), hosts
    # Its fix lines must be ones that work: no reinstall advice for a pure install.
    notes = windows["doctor"]["json"]["notes"]
    assert any("no native builds (the pure package)" in note for note in notes), notes
    assert not any("reinstall" in note for note in notes), notes


def test_qc(tmp_path: Path, windows_exe: Path, pure_wheel: Path) -> None:
    """``python -m itk_tag qc`` gives Linux's pictures, byte for byte, and Linux's numbers."""
    linux, windows = run_both("qc", tmp_path, windows_exe, pure_wheel)
    assert windows["qc"]["exit"] == linux["qc"]["exit"] == 0, windows["qc"]["stderr"]
    assert windows["listing"] == linux["listing"]
    pictures = [key for key in linux if key.startswith("png ")]
    assert len(pictures) == 2 and set(pictures) == {key for key in windows if key.startswith("png ")}
    # The same Pillow (scripts/wine.sh pins the version the Linux venv has): the same bytes.
    assert windows["pillow"] == linux["pillow"], "pin pillow in scripts/wine.sh to the Linux venv's version"
    for key in pictures:
        assert windows[key] == linux[key], key
    # The page's numbers and the table's agree, as test_cli's do (to 1e-9: two builds of SimpleITK).
    assert len(windows["page numbers"]) == len(linux["page numbers"]) == 16
    for linux_number, windows_number in zip(linux["page numbers"], windows["page numbers"]):
        assert (linux_number == windows_number == "") or math.isclose(
            float(linux_number), float(windows_number), rel_tol=1e-9, abs_tol=1e-9
        ), (linux_number, windows_number)
    for linux_row, windows_row in zip(
        csv_rows(linux["measurements.csv"]), csv_rows(windows["measurements.csv"])
    ):
        assert linux_row.keys() == windows_row.keys()
        for key, value in linux_row.items():
            if isinstance(value, float):
                assert math.isclose(value, windows_row[key], rel_tol=1e-9, abs_tol=1e-9), (key, value)
            elif key not in ("file", "reference"):
                assert value == windows_row[key], (key, value, windows_row[key])
    assert windows["flags.csv"].splitlines() == linux["flags.csv"].splitlines() == ["file,flag,label,reason"]
