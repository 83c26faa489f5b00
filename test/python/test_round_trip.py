"""Every keyword through every round trip (issue 24): ``.tag`` -> each output format -> ``.tag``.

The corpus: the two real samples beside their DICOM, and a copy of
sandbox-test01 carrying every kind of keyword the writer keeps (uid, chksum,
bin, dim_x, dim_y, one unknown), written by the writer itself. Each is
converted with ``itk_tag.convert`` (what ``itk-tag convert`` runs) to every
output format, with and without ``--reference auto``, and the outputs back
to ``.tag``. Through a format that carries everything the ``.tag`` comes
back byte for byte; a format that cannot carry a field is named in
:data:`LOSSES` with what it does instead (docs/cli.md, "Header keywords in
other formats"), and the test holds it to exactly that.

The conversions of one run happen in one child process (:data:`ROUND_TRIP`):
on Linux with the native builds and on the Python path (``ITK_TAG_NATIVE=0``);
test_wine.py runs the same child on Windows.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import itk_tag
import numpy as np
import pytest
import SimpleITK
from conftest import DATA, REAL_TAGS, run_python
from itk_tag.format import read_array, write_tag

FORMATS = ("nrrd", "seg.nrrd", "mha", "nii.gz", "dcm")
REFERENCES = ("none", "auto")
KEYWORDS_TAG = "keywords.dcm.tag"
"""The copy of sandbox-test01 with every kind of kept keyword (its DICOM beside it as keywords.dcm)."""
EXTRA_KEYWORDS = {"uid": "EE9DCED7", "chksum": "09E62542", "bin": "256", "dim_x": "12", "dim_y": "7",
                  "zz_unknown": "kept"}  # fmt: skip

ROUND_TRIP = """
import json, sys, traceback
import itk_tag
source, out, formats, references = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4].split(",")
report = {{}}
for output_format in formats:
    for reference in references:
        there = f"{{out}}/{{output_format}}-{{reference}}"
        back = f"{{there}}-back"
        run = {{}}
        ref = None if reference == "none" else reference
        for step, args, settings in (
            ("there", (source, there), dict(format=output_format, reference=ref, labels="alberta")),
            ("back", (there, back), dict(format="tag")),
        ):
            try:
                done = itk_tag.convert(*args, **settings)
            except itk_tag.UsageError as error:
                run[step] = f"UsageError: {{error}}"
                break
            except Exception:
                run["traceback"] = traceback.format_exc()
                break
            run[step] = done.summary()
            run[step + " failed"] = [o.reason for o in done.outcomes if o.status == "failed"]
        report[f"{{output_format}} {{reference}}"] = run
print(json.dumps(report))
"""
ROUND_TRIP_CODE = ROUND_TRIP.format()

LOSSES = {
    "nii.gz": (
        "NIfTI has no metadata fields: the carried keywords (uid, chksum, bin, dim_x, dim_y, unknown "
        "ones) are lost, and with --reference a one-slice tag's epais too (the .tag gets the "
        "reference's z spacing, 1 for a single DICOM slice)"
    ),
    "dcm": "convert reads no DICOM SEG (a SEG is an output only): no .tag comes back",
}
"""What a format that cannot carry every field does instead (docs/cli.md says the same)."""

NO_SEG_WITHOUT_REFERENCE = "references the DICOM images the tags were drawn on"
NO_SEG_READER = "UsageError: no label images found in"


def write_corpus(folder: Path) -> Path:
    """The real samples beside their DICOM, and the keyword-rich copy (see KEYWORDS_TAG)."""
    folder.mkdir(parents=True)
    for tag, dicom in REAL_TAGS.items():
        shutil.copyfile(DATA / tag, folder / tag)
        shutil.copyfile(DATA / dicom, folder / dicom)
    voxels, header = read_array(DATA / "sandbox-test01.dcm.tag")
    metadata = {**header.keywords, **EXTRA_KEYWORDS}
    write_tag(folder / KEYWORDS_TAG, voxels, header.origin, header.spacing, header.direction, metadata)
    shutil.copyfile(DATA / "sandbox-test01.dcm", folder / "keywords.dcm")
    return folder


def come_back(folder: Path) -> dict[str, str]:
    """Each tag of the corpus and the name its round trip writes it back under."""
    return {tag.name: tag.name.removesuffix(".dcm.tag").removesuffix(".tag") + ".tag" for tag in
            sorted(folder.glob("*.tag"))}  # fmt: skip


def reference_z_spacing(dicom: Path) -> float:
    image = SimpleITK.ReadImage(str(dicom))
    return image.GetSpacing()[2] if image.GetDimension() == 3 else 1.0


def expected_back(original: Path, output_format: str, reference: str) -> bytes:
    """The bytes the round trip must give back: the original, or what LOSSES says of the format."""
    if output_format != "nii.gz":
        return original.read_bytes()
    voxels, header = read_array(original)
    keywords = {k: v for k, v in header.keywords.items() if k not in EXTRA_KEYWORDS}
    spacing = header.spacing
    if reference == "auto":
        dicom = original.with_name(original.name.removesuffix(".tag"))
        if not dicom.exists():
            dicom = original.with_name(original.name.removesuffix(".tag") + ".dcm")
        spacing = (spacing[0], spacing[1], reference_z_spacing(dicom))
    folder = original.parent / "expected"
    folder.mkdir(exist_ok=True)
    target = folder / f"{original.name}.{output_format}.{reference}.tag"
    write_tag(target, voxels, header.origin, spacing, header.direction, keywords)
    return target.read_bytes()


def check_round_trips(corpus: Path, out: Path, report: dict[str, dict]) -> list[str]:
    """The differences from the round-trip table, as text (empty when it holds)."""
    problems = []
    names = come_back(corpus)
    for output_format in FORMATS:
        for reference in REFERENCES:
            key = f"{output_format} {reference}"
            run = report[key]
            if "traceback" in run:
                problems.append(f"{key}: {run['traceback']}")
                continue
            if output_format == "dcm":
                if reference == "none":
                    wanted = {"there": f"UsageError: --format dcm (a DICOM SEG) {NO_SEG_WITHOUT_REFERENCE}"}
                else:
                    wanted = {"there": f"{len(names)} written, 0 failed", "back": NO_SEG_READER}
                got = {step: run.get(step, "")[: len(text)] for step, text in wanted.items()}
                if got != wanted:
                    problems.append(f"{key}: {run}")
                continue
            if run["there failed"] or run["back failed"]:
                problems.append(f"{key}: {run['there failed']} {run['back failed']}")
                continue
            for original, name in names.items():
                back = out / f"{output_format}-{reference}-back" / name
                want = expected_back(corpus / original, output_format, reference)
                if not back.is_file():
                    problems.append(f"{key}: {original}: no {name} came back")
                elif back.read_bytes() != want:
                    got, wanted = (data.split(b"\f")[0].decode() for data in (back.read_bytes(), want))
                    problems.append(f"{key}: {original}: came back as\n{got}\nnot\n{wanted}")
    return problems


def run_round_trips(tmp_path: Path, env: dict[str, str] | None) -> tuple[Path, Path, dict]:
    corpus = write_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    args = [str(corpus), str(out), ",".join(FORMATS), ",".join(REFERENCES)]
    code = "import sys\nsys.argv[1:] = " + repr(args) + "\n" + ROUND_TRIP_CODE
    result = run_python(code, env=env, timeout=900)
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.stderr[-3000:]}"
    return corpus, out, result.json()  # type: ignore[return-value]


@pytest.mark.parametrize("path", ["native", "Python path"])
def test_every_keyword_through_every_round_trip(tmp_path: Path, path: str) -> None:
    env = {"ITK_TAG_NATIVE": "0"} if path == "Python path" else None
    corpus, out, report = run_round_trips(tmp_path, env)
    problems = check_round_trips(corpus, out, report)
    assert not problems, "\n".join(problems)


def test_the_one_slice_thickness_travels_as_an_epais_field(tmp_path: Path) -> None:
    """issue 24: sandbox-test01 (epais 1.5) on its one-slice DICOM's grid (z spacing 1): the outputs
    keep the DICOM's grid and say the thickness in an ``epais`` field; without a reference, none.
    """
    corpus, out, report = run_round_trips(tmp_path, None)
    for reference, field in (("auto", "1.5000"), ("none", None)):
        nrrd = out / f"nrrd-{reference}" / "sandbox-test01.nrrd"
        image = SimpleITK.ReadImage(str(nrrd))
        assert image.GetSpacing()[2] == (1.0 if reference == "auto" else 1.5)
        assert (image.GetMetaData("epais") if image.HasMetaDataKey("epais") else None) == field
        text = (out / f"seg.nrrd-{reference}" / "sandbox-test01.seg.nrrd").read_bytes().split(b"\n\n")[0]
        assert (b"epais:=1.5000" in text) == (field is not None)
    voxels, _ = read_array(corpus / "sandbox-test01.dcm.tag")
    assert np.array_equal(read_array(out / "nii.gz-auto-back" / "sandbox-test01.tag")[0], voxels)


@pytest.mark.parametrize("reference", REFERENCES)
def test_tag_to_tag_on_the_reference_grid_is_the_same_file(tmp_path: Path, reference: str) -> None:
    """issue 24: ``convert a.tag --reference auto -o b.tag`` wrote epais:1.0000 for a one-slice tag."""
    corpus = write_corpus(tmp_path / "corpus")
    for tag in sorted(corpus.glob("*.tag")):
        target = tmp_path / "out" / tag.name
        report = itk_tag.convert(tag, target, reference=None if reference == "none" else reference)
        assert report.summary() == "1 written, 0 failed", report.outcomes
        assert target.read_bytes() == tag.read_bytes(), tag.name
