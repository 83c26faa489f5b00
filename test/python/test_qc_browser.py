"""The qc report in a real browser: Debian's Chromium, headless, driven by Selenium (browser.py)
in a child process, the page opened from disk (``file://``) as a person opens it.

``ITK_TAG_UPDATE_DOCS=1`` also copies the screenshot of the real samples' report to
docs/qc-report.png (the picture README.md shows).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA
from tag_samples import run_cli

BROWSER = Path(__file__).with_name("browser.py")
ROOT = Path(__file__).resolve().parents[2]


def open_in_chromium(page: Path, *args: str) -> dict:
    """Run browser.py on ``page`` in a child process (bounded); its JSON result."""
    for program in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        assert Path(program).exists(), (
            f"{program} missing: scripts/test.sh installs chromium and chromium-driver"
        )
    done = subprocess.run(
        [sys.executable, str(BROWSER), str(page), *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"browser.py ended with {done.returncode}:\n{done.stderr}"
    return json.loads(done.stdout)


def errors(console: list[dict]) -> list[dict]:
    return [entry for entry in console if entry.get("level") in ("SEVERE", "ERROR")]


def test_real_samples_report_loads_sorts_filters(tmp_path: Path) -> None:
    out = tmp_path / "qc"
    result = run_cli("qc", DATA, "--reference", "auto", "--labels", "alberta", "-o", out)
    assert result.returncode == 0, result.stderr
    shot = tmp_path / "report.png"
    seen = open_in_chromium(out / "index.html", "--screenshot", str(shot))
    assert errors(seen["console"]) == [], seen["console"]
    barbell, sandbox = str(DATA / "barbell2-10.tag"), str(DATA / "sandbox-test01.dcm.tag")
    assert seen["initial"] == [barbell, sandbox]
    # muscle 137.86 and 116.52 cm²: sorting by muscle area reorders the rows, both ways.
    assert seen["ascending"] == [sandbox, barbell] and seen["descending"] == [barbell, sandbox]
    assert seen["thumbnail_widths"] == [512, 512]
    # No file is flagged: "flagged only" hides every row; off again, all are back.
    assert seen["flagged_only"] == [] and seen["all_shown"] == [barbell, sandbox]
    # The viewport of a 1280 x 900 window; a blank page would have a colour or two.
    assert seen["screenshot"]["size"][0] == 1280 and seen["screenshot"]["colors"] > 1000
    if os.environ.get("ITK_TAG_UPDATE_DOCS") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "qc-report.png")


@pytest.fixture(scope="module")
def flagged_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A report of a few files, two of them flagged (an empty mask, a mask on another patient's CT)."""
    root = tmp_path_factory.mktemp("flagged")
    pairs = {
        "a": ("barbell2-10.tag", "barbell2-10.dcm"),
        "b": ("sandbox-test01.dcm.tag", "sandbox-test01.dcm"),
        "c": ("barbell2-10.tag", "sandbox-test01.dcm"),  # another patient's CT
        "d": ("sandbox-test01.dcm.tag", "sandbox-test01.dcm"),
    }
    for folder, (tag, dicom) in pairs.items():
        (root / "in" / folder).mkdir(parents=True)
        shutil.copyfile(DATA / tag, root / "in" / folder / "ct.dcm.tag")
        shutil.copyfile(DATA / dicom, root / "in" / folder / "ct.dcm")
    empty = root / "in" / "d" / "ct.dcm.tag"
    data = empty.read_bytes()
    start = data.index(b"\f") + 1
    empty.write_bytes(data[:start] + bytes(len(data) - start))
    result = run_cli("qc", root / "in", "--reference", "auto", "--labels", "alberta", "-o", root / "qc")
    assert result.returncode == 1, result.stderr
    return root / "qc", {folder: str(root / "in" / folder / "ct.dcm.tag") for folder in pairs}


def test_flagged_only_shows_the_flagged_files(flagged_report: tuple[Path, dict[str, str]]) -> None:
    page, files = flagged_report
    seen = open_in_chromium(page / "index.html", "--sort", "status")
    assert errors(seen["console"]) == [], seen["console"]
    assert seen["initial"] == [files[k] for k in "abcd"]
    assert seen["flagged_only"] == [files["c"], files["d"]]
    assert seen["all_shown"] == [files[k] for k in "abcd"]
    # status: "failed" < "measured"; ties keep the files' order.
    assert seen["ascending"] == [files[k] for k in "cabd"]
    assert seen["descending"] == [files[k] for k in "abdc"]
    # The failed file has no picture; the others' load.
    assert seen["thumbnail_widths"] == [512, 512, 512]
