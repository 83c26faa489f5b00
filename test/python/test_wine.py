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
import slicer_module_cases as slicer_cases
from conftest import DATA
from itk_tag.hosts.slicer import module_path
from test_parity import (
    ITK,
    ITK_TAG_READ,
    PATHS,
    REFERENCE,
    SIMPLEITK,
    check_path,
    children_code,
    corpus,
    format_errors,
    run_path,
    split_reports,
)
from test_round_trip import FORMATS, REFERENCES, ROUND_TRIP_CODE, check_round_trips, write_corpus
from wine import DISABLE_VARIABLE, WindowsPython, set_up, set_up_slicer, windows_path

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


def test_slicer_module_on_slicer_core(tmp_path: Path, windows_exe: Path, pure_wheel: Path) -> None:
    """The README's two Windows commands, then Slicer's reader and writer calls: the Windows
    CPython runs `python -m itk_tag slicer install` on a folder laid out as a Windows Slicer
    (the pure wheel unzipped: what `pip install itk-tag` gives on Windows), then the module it
    installed on slicer-core's Windows wheel (5.13.31053.0, vtk 9.6.2): the same cases and
    checks as on Linux (test_slicer_module.py)."""
    site = set_up_slicer()
    home = tmp_path / "Slicer 5.13.0"
    (home / "bin").mkdir(parents=True)
    (home / "Slicer.exe").write_bytes(b"MZ")
    (home / "bin" / "SlicerLauncherSettings.ini").write_text(
        "[EnvironmentVariables]\nITK_AUTOLOAD_PATH=<APPLAUNCHER_SETTINGS_DIR>/../lib/Slicer-5.13/ITKFactories\n"
    )
    modules = home / "lib" / "Slicer-5.13" / "qt-scripted-modules"
    modules.mkdir(parents=True)
    installer = WindowsPython(windows_exe, tmp_path / "windows itk-tag")
    installer.install(pure_wheel)
    install = installer.start("-m", "itk_tag", "slicer", "install", windows_path(home), cwd=tmp_path)
    out, err = install.communicate(timeout=600)
    assert install.returncode == 0, err.decode("utf-8", "replace")[-5000:]
    assert b"SliceOmaticTag module installed" in out and b"the native plugin is for Linux" in out
    assert (modules / "SliceOmaticTag.py").read_bytes() == (module_path() / "SliceOmaticTag.py").read_bytes()

    files = slicer_cases.write_inputs(tmp_path / "in", skip_unreadable=True)
    plan = slicer_cases.plan(files, tmp_path / "out", spell=windows_path)
    (tmp_path / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
    python = WindowsPython(windows_exe, tmp_path / "windows python", extra=[site])
    driver = Path(__file__).with_name("slicer_module_driver.py")
    run = python.start(
        windows_path(driver),
        windows_path(modules),
        windows_path(tmp_path / "plan.json"),
        windows_path(tmp_path / "results.json"),
        cwd=tmp_path,
    )
    _, err = run.communicate(timeout=1200)
    message = err.decode("utf-8", "replace")[-5000:]
    assert run.returncode == 0, f"Windows (wine): exit {run.returncode}\n{message}"
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert results["format_file"].startswith(windows_path(modules / "SliceOmaticTagLib"))
    assert [case["name"] for case in results["cases"]] == [case["name"] for case in plan["cases"]]

    def local(path: str) -> Path:
        return Path(path.removeprefix("Z:").replace("\\", "/"))

    assert slicer_cases.check(results, files, local) == []


def test_parity_table(tmp_path: Path, windows_exe: Path, pure_wheel: Path, generated: dict) -> None:
    """issue 24: on Windows (the Python path) ITK Python, SimpleITK and itk_tag.read give, for the
    whole corpus, the image and metadata of native ITK Python on Linux (with the Python path's
    exceptions of test_parity.py), and the format layer's error for each malformed file.
    One Windows process reads the corpus with the three readers.
    """
    files = corpus(generated, tmp_path / "malformed")
    paths = [str(file) for _, file, _ in files]
    reports = {p.name: run_path(p, paths) for p in PATHS if p.name in (REFERENCE, "itk_tag.read_array")}
    errors = format_errors(reports, files)
    spelled = {windows_path(Path(path)): path for path in paths}
    readers = {
        "ITK Python": ("ITK Python, Python path", ITK),
        "SimpleITK": ("SimpleITK, Python path", SIMPLEITK),
        "itk_tag.read": ("itk_tag.read, Python path", ITK_TAG_READ),
    }
    script = tmp_path / "parity.py"
    script.write_text(children_code({name: code for name, (_, code) in readers.items()}, list(spelled)))
    python = WindowsPython(windows_exe, tmp_path / "windows python")
    python.install(pure_wheel)
    process = python.start(windows_path(script), cwd=tmp_path)
    out, err = process.communicate(timeout=900)
    message = err.decode("utf-8", "replace")
    assert process.returncode == 0, f"Windows (wine): exit {process.returncode}\n{message[-3000:]}"
    found = split_reports(out.decode("utf-8"))
    assert sorted(found) == sorted(readers), message[-3000:]
    problems = []
    for name, (like, _) in readers.items():
        reports_here = {}
        for windows, report in found[name].items():
            if "message" in report:  # the file as Linux names it, for the comparison
                report["message"] = report["message"].replace(windows, spelled[windows])
            reports_here[spelled[windows]] = report
        assert sorted(reports_here) == sorted(paths), f"{name}: files not reported\n{message[-3000:]}"
        problems += check_path(f"{name} (Windows)", reports_here, reports[REFERENCE], errors, files, like)
    assert not problems, "\n".join(problems)


def test_round_trip_table(tmp_path: Path, windows_exe: Path, pure_wheel: Path) -> None:
    """issue 24: on Windows (the Python path) every round trip of test_round_trip.py gives back what
    it gives on Linux: the same bytes through every format that carries them, LOSSES otherwise.
    """
    corpus = write_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    args = [windows_path(corpus), windows_path(tmp_path) + "\\out", ",".join(FORMATS), ",".join(REFERENCES)]
    script = tmp_path / "round trip.py"
    script.write_text("import sys\nsys.argv[1:] = " + repr(args) + "\n" + ROUND_TRIP_CODE, encoding="utf-8")
    python = WindowsPython(windows_exe, tmp_path / "windows python")
    python.install(pure_wheel)
    process = python.start(windows_path(script), cwd=tmp_path)
    stdout, err = process.communicate(timeout=900)
    message = err.decode("utf-8", "replace")
    assert process.returncode == 0, f"Windows (wine): exit {process.returncode}\n{message[-3000:]}"
    report = json.loads(stdout.decode("utf-8").strip().splitlines()[-1])
    problems = check_round_trips(corpus, out, report)
    assert not problems, "\n".join(problems)


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
