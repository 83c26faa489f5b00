"""``itk-tag qc``: the overlay pictures pixel by pixel, the report's numbers against ``measure``'s
CSV, the flags on a cohort made to raise each of them, resuming.

Expectations come from the inputs, not through itk_tag: the CT's HU from pydicom (rescale
applied), the labels from the tag's bytes, where a voxel is in the patient from the DICOM's or
the tag's geometry. The browser side of the report is test_qc_browser.py.
"""

from __future__ import annotations

import csv
import html.parser
import os
import re
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from conftest import DATA, REAL_TAGS
from PIL import Image
from tag_samples import (
    finish_cli,
    hounsfield,
    raw_tag,
    run_cli,
    start_cli,
    write_cohort,
    write_dicom_series,
    write_tag,
)

ALBERTA_RGB = {1: (255, 0, 0), 2: (0, 255, 0), 5: (255, 255, 0), 7: (0, 255, 255)}
ALPHA = 0.4  # the fill's opacity (docs/cli.md)
BARE = r" \(\d+ without a reference image: areas only, no HU\)"


def grey(hu: np.ndarray, width: float, level: float) -> np.ndarray:
    """The window as docs/cli.md states it: 0 at L - W/2, 255 at L + W/2, rounded."""
    return np.rint(np.clip((hu - (level - width / 2)) / width * 255, 0, 255)).astype(np.uint8)


def border(labels: np.ndarray) -> np.ndarray:
    """Labelled pixels with a 4-neighbour of another value, or on the picture's edge."""
    padded = np.pad(labels.astype(np.int64), 1, constant_values=-1)
    centre = padded[1:-1, 1:-1]
    neighbours = (padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:])
    return (labels != 0) & np.logical_or.reduce([n != centre for n in neighbours])


def png_pixels(png: Path) -> np.ndarray:
    """(rows, columns, 3) uint8: the overlay, its slice above its text band."""
    return np.asarray(Image.open(png).convert("RGB"))


def assert_overlay(pixels: np.ndarray, labels: np.ndarray, background: np.ndarray) -> None:
    """Label colours exactly where ``labels`` is non-zero, ``background`` grey everywhere else."""
    assert pixels.shape[:2] == labels.shape
    outside = labels == 0
    for channel in range(3):
        assert np.array_equal(pixels[..., channel][outside], background[outside]), channel
    edge = border(labels)
    for value in np.unique(labels[labels != 0]):
        rgb = np.asarray(ALBERTA_RGB.get(int(value), (0, 0, 0)), dtype=float)
        inside = labels == value
        if int(value) in ALBERTA_RGB:
            assert (pixels[inside & edge] == rgb).all(), f"outline of label {value}"
        fill = inside & ~edge
        want = (1 - ALPHA) * background[fill].astype(float)[:, None] + ALPHA * rgb[None, :]
        if int(value) in ALBERTA_RGB:
            assert np.abs(pixels[fill].astype(float) - want).max() <= 1.0, f"fill of label {value}"
        # Never grey: a label is always visible.
        assert (pixels[inside].max(axis=1) != pixels[inside].min(axis=1)).all()


def run_qc(*args: object) -> None:
    result = run_cli("qc", *args)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def real_qc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("qc") / "qc"
    result = run_cli("qc", DATA, "--reference", "auto", "--labels", "alberta", "-o", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"2 measured, 0 failed; 0 flagged; report: {out / 'index.html'}"
    return out


@pytest.mark.parametrize("tag_name", sorted(REAL_TAGS))
def test_real_overlay_pixels(real_qc: Path, tag_name: str) -> None:
    dicom = DATA / REAL_TAGS[tag_name]
    dataset = pydicom.dcmread(dicom, stop_before_pixels=True)
    # Both samples: rows run to the patient's left (+x), columns to posterior (+y): on screen,
    # the patient's left is right and anterior up with the array as it is (radiological view).
    assert [float(v) for v in dataset.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    voxels, _ = raw_tag(DATA / tag_name)
    name = tag_name.removesuffix(".tag").removesuffix(".dcm") + ".png"
    pixels = png_pixels(real_qc / "images" / name)
    assert pixels.shape[1] == 512
    assert_overlay(pixels[:512], voxels[0], grey(hounsfield(dicom), 400, 40))
    # The band under the slice is black with white text, and names the file.
    band = pixels[512:]
    assert band.shape[0] >= 24 and (band == 0).mean() > 0.8
    assert Image.open(real_qc / "images" / name).info["Title"] == tag_name


def test_window_option_sets_the_grey_levels(tmp_path: Path) -> None:
    run_qc(DATA / "barbell2-10.tag", "--reference", "auto", "--labels", "alberta", "--window", "1500/-600",
           "-o", tmp_path / "qc")  # fmt: skip
    voxels, _ = raw_tag(DATA / "barbell2-10.tag")
    pixels = png_pixels(tmp_path / "qc" / "images" / "barbell2-10.png")
    lung = grey(hounsfield(DATA / "barbell2-10.dcm"), 1500, -600)
    assert_overlay(pixels[:512], voxels[0], lung)
    assert Image.open(tmp_path / "qc" / "images" / "barbell2-10.png").info["itk-tag:shown"] == "W 1500 L -600"


def lps(origin: np.ndarray, spacing: tuple[float, float], dir_h: np.ndarray, dir_v: np.ndarray, shape):
    """(rows, columns, 3): the LPS position of every voxel of one slice."""
    j, i = np.mgrid[0 : shape[0], 0 : shape[1]]
    return origin + i[..., None] * spacing[0] * dir_h + j[..., None] * spacing[1] * dir_v


ORIENTATIONS = {
    "straight": ((1, 0, 0), (0, 1, 0)),
    "mirrored left-right": ((-1, 0, 0), (0, 1, 0)),
    "upside down": ((1, 0, 0), (0, -1, 0)),
    "oblique 30 degrees": ((0.8660254, 0.5, 0), (-0.5, 0.8660254, 0)),
    "oblique 120 degrees": ((-0.5, 0.8660254, 0), (-0.8660254, -0.5, 0)),
    "tilted gantry": ((1, 0, 0), (0, 0.9659258, -0.2588190)),
}


@pytest.mark.parametrize("name", sorted(ORIENTATIONS))
def test_patient_left_is_right_and_anterior_up(tmp_path: Path, name: str) -> None:
    dir_h, dir_v = (np.asarray(v, dtype=float) for v in ORIENTATIONS[name])
    shape, spacing, origin = (24, 32), (0.75, 0.75), np.array([-12.0, 8.0, 40.0])
    direction = np.column_stack([dir_h, dir_v, np.cross(dir_h, dir_v)]).ravel()
    write_dicom_series(tmp_path / "ct", (1, *shape), origin, (*spacing, 1.0), direction)
    x, y = (lps(origin, spacing, dir_h, dir_v, shape)[..., axis] for axis in (0, 1))
    voxels = np.zeros((1, *shape), dtype=np.uint8)
    # Label 7 on the patient's most anterior quarter (smallest y), 1 on the leftmost (largest x).
    voxels[0][y < y.min() + 0.25 * (y.max() - y.min())] = 7
    voxels[0][x > x.min() + 0.75 * (x.max() - x.min())] = 1
    write_tag(tmp_path / "ct.tag", voxels, origin, (*spacing, 1.0), dir_h, dir_v)
    run_qc(tmp_path / "ct.tag", "--reference", "auto", "--labels", "alberta", "--window", "4000/2000",
           "-o", tmp_path / "qc")  # fmt: skip
    pixels = png_pixels(tmp_path / "qc" / "images" / "ct.png")
    factor = -(-256 // min(shape))  # docs/cli.md: slices under 256 pixels are enlarged by a whole factor
    height = shape[0] * factor if pixels.shape[1] == shape[1] * factor else shape[1] * factor
    picture = pixels[:height].astype(int)
    red = (picture[..., 0] - picture[..., 1] > 60) & (picture[..., 1] == picture[..., 2])
    cyan = (picture[..., 1] - picture[..., 0] > 60) & (picture[..., 1] == picture[..., 2])
    # Every picture pixel is one voxel: the counts scale by the factor squared.
    assert red.sum() == (voxels == 1).sum() * factor**2 and cyan.sum() == (voxels == 7).sum() * factor**2
    assert np.nonzero(red)[1].mean() > 0.65 * picture.shape[1], "the patient's left is on the image's right"
    assert np.nonzero(cyan)[0].mean() < 0.35 * picture.shape[0], "anterior is up"


def test_reversed_series_shows_the_slice_with_most_labels(tmp_path: Path) -> None:
    # A series whose slices run against the tag's dir_h x dir_v: the mask is flipped onto it.
    shape, spacing, origin = (3, 20, 30), (0.7, 0.7, 2.5), (10.0, 20.0, 30.0)
    top = (origin[0], origin[1], origin[2] + 2 * spacing[2])
    write_dicom_series(tmp_path / "case", shape, top, spacing, (1, 0, 0, 0, 1, 0, 0, 0, -1))
    voxels = np.zeros(shape, dtype=np.uint8)
    voxels[0, 2:5, 2:5] = 1
    voxels[2, 5:15, 5:25] = 1  # the tag's third slice (z = origin + 5 mm) has the most
    voxels[1, 1:3, 1:3] = 7
    tag = write_tag(tmp_path / "case.tag", voxels, origin, spacing)
    run_qc(tag, "--reference", "auto", "--labels", "alberta", "--window", "4000/2000", "-o", tmp_path / "qc")
    png = tmp_path / "qc" / "images" / "case.png"
    assert Image.open(png).info["itk-tag:shown"] == "slice 3 of 3, W 4000 L 2000"
    files = sorted(
        (tmp_path / "case").iterdir(), key=lambda f: float(pydicom.dcmread(f).ImagePositionPatient[2])
    )
    hu = hounsfield(files[2])  # z = 35: the tag's third slice
    factor = Image.open(png).width // shape[2]
    pixels = png_pixels(png)[: shape[1] * factor : factor, ::factor]
    labels = voxels[2]
    background = grey(hu, 4000, 2000)
    assert np.array_equal(pixels[labels == 0][:, 0], background[labels == 0])
    assert (pixels[labels == 1][:, 0] > pixels[labels == 1][:, 1]).all()
    flags = list(csv.DictReader((tmp_path / "qc" / "flags.csv").open()))
    assert [(f["flag"], f["reason"]) for f in flags] == [
        ("multi-slice", "3 slices; the picture shows slice 3 of 3, W 4000 L 2000")
    ]


def test_without_a_ct_the_mask_is_drawn_on_black(tmp_path: Path) -> None:
    run_qc(DATA / "barbell2-10.tag", "--labels", "alberta", "-o", tmp_path / "qc")
    voxels, _ = raw_tag(DATA / "barbell2-10.tag")
    png = tmp_path / "qc" / "images" / "barbell2-10.png"
    assert_overlay(png_pixels(png)[:512], voxels[0], np.zeros((512, 512), dtype=np.uint8))
    assert Image.open(png).info["itk-tag:shown"] == "no CT"


class Cells(html.parser.HTMLParser):
    """The report's table: per row, its data-file and the data-v and text of each cell."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, object]] = []
        self.heads: list[str] = []
        self._where = ""
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "th":
            self._where, self._text = "th", ""
        elif tag == "tr" and values.get("data-file"):
            self.rows.append({"file": values["data-file"], "cells": []})
        elif tag == "td" and self.rows and self._where != "th":
            self.rows[-1]["cells"].append({"v": values.get("data-v"), "class": values.get("class") or ""})
            self._where, self._text = "td", ""

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "th" and self._where == "th":
            self.heads.append(" ".join(self._text.split()))
            self._where = ""
        elif tag == "td" and self._where == "td":
            self.rows[-1]["cells"][-1]["text"] = self._text.strip()
            self._where = ""


def report_table(page: Path) -> Cells:
    parser = Cells()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_page_numbers_are_measure_s(real_qc: Path, tmp_path: Path) -> None:
    result = run_cli("measure", DATA, "--reference", "auto", "--labels", "alberta", "-o", tmp_path / "m.csv")
    assert result.returncode == 0, result.stderr
    with (tmp_path / "m.csv").open(newline="", encoding="utf-8") as file:
        measured = list(csv.DictReader(file))
    # qc keeps measure's table beside the page: the same bytes.
    assert (real_qc / "measurements.csv").read_bytes() == (tmp_path / "m.csv").read_bytes()
    table = report_table(real_qc / "index.html")
    names = ["muscle", "IMAT", "VAT", "SAT"]
    assert [h for h in table.heads if h.endswith(("cm²", "HU"))] == [
        f"{n} {u}" for n in names for u in ("cm²", "HU")
    ]
    assert [row["file"] for row in table.rows] == sorted({row["file"] for row in measured})
    compared = 0
    for row in table.rows:
        areas = [c for c in row["cells"] if "area" in c["class"]]
        hus = [c for c in row["cells"] if "hu" in c["class"].split()]
        for name, area, hu in zip(names, areas, hus):
            want = next(m for m in measured if m["file"] == row["file"] and m["name"] == name)
            assert area["v"] == want["area_cm2"] and hu["v"] == want["hu_mean"], (row["file"], name)
            assert area["text"] == (f"{float(want['area_cm2']):.2f}" if want["area_cm2"] else "")
            assert hu["text"] == (f"{float(want['hu_mean']):.1f}" if want["hu_mean"] else "")
            compared += 1
    assert compared == 8


def copy_pair(tag: str, folder: Path, name: str = "ct", dicom: str | None = None) -> Path:
    """A real tag and a DICOM (its own, or ``dicom``) in ``folder`` as name.dcm.tag beside name.dcm."""
    folder.mkdir(parents=True)
    shutil.copyfile(DATA / (dicom or REAL_TAGS[tag]), folder / f"{name}.dcm")
    shutil.copyfile(DATA / tag, folder / f"{name}.dcm.tag")
    return folder / f"{name}.dcm.tag"


def rewrite(tag: Path, change) -> None:
    """Change a real tag's voxels in place (its header kept byte for byte)."""
    data = tag.read_bytes()
    start = data.index(b"\f") + 1
    voxels = np.frombuffer(data[start:], dtype=np.uint8).reshape(512, 512).copy()
    change(voxels)
    tag.write_bytes(data[:start] + voxels.tobytes())


def trim(rows: int):
    """Take the first ``rows`` rows of muscle away: clean masks that differ a little."""

    def change(voxels: np.ndarray) -> None:
        first = int(np.nonzero((voxels == 1).any(axis=1))[0][0])
        voxels[first : first + rows][voxels[first : first + rows] == 1] = 0

    return change


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, set[str]]]:
    """A cohort with clean masks and one of each problem; the flags each file must get."""
    root = tmp_path_factory.mktemp("cohort") / "cohort"
    expected: dict[str, set[str]] = {}
    # Balanced, so that the median lies between the two patients' muscle areas.
    for number in range(5):
        tag = copy_pair("barbell2-10.tag", root / f"b{number}")
        rewrite(tag, trim(number))
        expected[str(tag)] = set()
    for number in range(7):
        tag = copy_pair("sandbox-test01.dcm.tag", root / f"s{number}")
        rewrite(tag, trim(number))
        expected[str(tag)] = set()
    for number in range(2):
        tag = copy_pair("barbell2-10.tag", root / f"empty{number}")
        rewrite(tag, lambda voxels: voxels.fill(0))
        expected[str(tag)] = {"empty"}
    tag = copy_pair("barbell2-10.tag", root / "other-ct", dicom="sandbox-test01.dcm")
    expected[str(tag)] = {"geometry"}
    tag = copy_pair("barbell2-10.tag", root / "outlier")

    def grow(voxels: np.ndarray) -> None:
        voxels[voxels == 7] = 1  # the subcutaneous fat drawn as muscle: twice the muscle area

    rewrite(tag, grow)
    expected[str(tag)] = {"area-outlier"}
    tag = copy_pair("barbell2-10.tag", root / "unknown")
    rewrite(tag, lambda voxels: voxels.__setitem__((slice(0, 4), slice(0, 4)), 9))
    expected[str(tag)] = {"unknown-label"}
    (root / "broken").mkdir()
    (root / "broken" / "cut.tag").write_bytes(b"x:32 y:32 z:1 type:BYTE\n\f" + bytes(100))
    expected[str(root / "broken" / "cut.tag")] = {"failed"}
    return root, expected


@pytest.fixture(scope="module")
def cohort_qc(cohort: tuple[Path, dict[str, set[str]]]) -> Path:
    root, _ = cohort
    out = root.parent / "qc"
    result = run_cli("qc", root, "--reference", "auto", "--labels", "alberta", "-o", out, "--jobs", "2")
    assert result.returncode == 1, result.stderr  # the broken file and the one on another CT failed
    assert result.stdout.strip() == f"16 measured, 2 failed; 6 flagged; report: {out / 'index.html'}"
    return out


def test_flags_fire_on_problems_and_on_no_clean_mask(cohort, cohort_qc: Path) -> None:
    _, expected = cohort
    with (cohort_qc / "flags.csv").open(newline="", encoding="utf-8") as file:
        flags = list(csv.DictReader(file))
    assert list(flags[0]) == ["file", "flag", "label", "reason"]
    found: dict[str, set[str]] = {file: set() for file in expected}
    for flag in flags:
        found[flag["file"]].add(flag["flag"])
    assert found == expected
    by_flag = {flag["flag"]: flag for flag in flags}
    assert "not drawn on" in by_flag["geometry"]["reason"]
    assert by_flag["area-outlier"]["label"] == "1" and "k = 3.5" in by_flag["area-outlier"]["reason"]
    assert by_flag["unknown-label"]["label"] == "9"
    assert "truncated" in by_flag["failed"]["reason"]
    # The page says the same, states k, and shows every flag.
    page = (cohort_qc / "index.html").read_text(encoding="utf-8")
    assert "k = 3.5" in page
    table = report_table(cohort_qc / "index.html")
    on_page = {row["file"]: set(row["cells"][-1]["v"].split()) for row in table.rows}
    assert on_page == expected


def test_resume_keeps_what_was_done(cohort, cohort_qc: Path, tmp_path: Path) -> None:
    root, _ = cohort
    out = tmp_path / "qc"
    shutil.copytree(cohort_qc, out)
    page = (out / "index.html").read_text(encoding="utf-8")
    removed = out / "images" / "b1" / "ct.png"
    removed.unlink()
    result = run_cli("qc", root, "--reference", "auto", "--labels", "alberta", "-o", out)
    assert result.returncode == 1, result.stderr
    # The picture removed and the two failed files are done again; the rest kept.
    assert result.stdout.strip().startswith("1 measured, 2 failed; 15 kept from the earlier run; 6 flagged")
    assert removed.exists()
    assert (out / "index.html").read_text(encoding="utf-8").replace(str(out), "") == page.replace(
        str(cohort_qc), ""
    )
    other = run_cli(
        "qc", root, "--reference", "auto", "--labels", "alberta", "--window", "1500/-600", "-o", out
    )
    assert other.returncode == 1 and "made with other options (window 400/40 -> 1500/-600)" in other.stderr


def test_a_folder_that_is_not_a_qc_folder_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "qc").mkdir()
    (tmp_path / "qc" / "notes.txt").write_text("mine")
    result = run_cli("qc", DATA, "-o", tmp_path / "qc")
    assert result.returncode == 1 and "not an itk-tag qc folder" in result.stderr
    assert sorted(p.name for p in (tmp_path / "qc").iterdir()) == ["notes.txt"]
    bad = run_cli("qc", DATA, "-o", tmp_path / "x", "--window", "400")
    assert bad.returncode == 2 and "W/L" in bad.stderr


def test_anisotropic_pixels_are_drawn_square(tmp_path: Path) -> None:
    voxels = np.zeros((1, 20, 30), dtype=np.uint8)
    voxels[0, 4:8, 10:14] = 1  # 4 x 4 voxels of 0.5 mm across, 1 mm down: 2 mm x 4 mm
    write_tag(tmp_path / "m.tag", voxels, spacing=(0.5, 1.0, 1.0))
    run_qc(tmp_path / "m.tag", "--labels", "alberta", "-o", tmp_path / "qc")
    pixels = png_pixels(tmp_path / "qc" / "images" / "m.png").astype(int)
    # 30 columns of 0.5 mm and 20 rows of 1 mm: 0.5 mm pixels, 30 x 40, enlarged 9 times (>= 256).
    assert pixels.shape[1] == 270
    picture = pixels[: 40 * 9]  # the legend's swatch below is red too
    red = (picture[..., 0] - picture[..., 1] > 60) & (picture[..., 1] == picture[..., 2])
    rows, columns = np.nonzero(red)
    assert (columns.max() - columns.min() + 1, rows.max() - rows.min() + 1) == (4 * 9, 8 * 9)


def test_interrupted_run_writes_its_report_and_resumes(tmp_path: Path) -> None:
    cohort = write_cohort(tmp_path / "tags", 60, 20)
    out = tmp_path / "qc"
    process = start_cli(["qc", str(cohort), "--labels", "alberta", "-j", "2", "-o", str(out)])
    deadline = time.monotonic() + 60
    while not list(out.glob("images/*/*.png")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    status, stdout, stderr = finish_cli(process, "SIGINT")
    last = stdout.strip().splitlines()[-1]
    match = re.fullmatch(
        rf"(\d+) measured, 0 failed{BARE}, (\d+) not done \(interrupted\); \d+ flagged; report: .*", last
    )
    assert status == 130 and match, (status, stdout, stderr)
    done = int(match.group(1))
    assert 0 < done < 60 and done + int(match.group(2)) == 60
    assert not [p for p in out.rglob(".*") if p.is_file()], "no temporary file survives"
    with (out / "measurements.csv").open(newline="", encoding="utf-8") as file:
        measured = {row["file"] for row in csv.DictReader(file)}
    assert len(measured) == done == len(list(out.glob("images/*/*.png")))
    assert f"<b>{60 - done}</b>not done" in (out / "index.html").read_text(encoding="utf-8")
    again = run_cli("qc", cohort, "--labels", "alberta", "-o", out)
    assert again.returncode == 0, again.stderr
    assert re.match(
        rf"{60 - done} measured, 0 failed{BARE}; {done} kept from the earlier run; ", again.stdout
    )
    assert len(list(out.glob("images/*/*.png"))) == 60


def test_a_long_strip_stays_a_picture_of_bounded_size(tmp_path: Path) -> None:
    voxels = np.zeros((1, 1, 6000), dtype=np.uint8)
    voxels[0, 0, :3000] = 1
    write_tag(tmp_path / "strip.tag", voxels)
    run_qc(tmp_path / "strip.tag", "--labels", "alberta", "-o", tmp_path / "qc")
    with Image.open(tmp_path / "qc" / "images" / "strip.png") as picture:
        assert picture.width == 4096 and picture.height < 100
