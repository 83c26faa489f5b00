"""The Python-level path (``ITK_TAG_NATIVE=0``: no native build handed to any host) against the
native one, in this venv's real hosts (ITK Python 5.4.7, SimpleITK 2.5.7): the same images,
the same ``.tag`` bytes written, the same command-line outputs. Each host runs in a child
process (the malformed table's Python-path rows are in test_malformed.py)."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import SimpleITK
from conftest import DATA, REAL_TAGS, run_python
from tag_samples import run_cli
from test_hosts import ITK_FACTS, NUMPY_FACTS, SITK_FACTS, all_test_files

PYTHON_PATH = {"ITK_TAG_NATIVE": "0"}

WHICH_PATH = """
import itk, SimpleITK as sitk
mark = "__itk_tag_dispatch__"
itk.imread({path!r}), sitk.ReadImage({path!r})
print(getattr(itk.imread, mark, False), getattr(sitk.ReadImage, mark, False),
      "TagImageIO" in sitk.ImageFileReader().GetRegisteredImageIOs())
"""


def facts(script: str, path: Path, env: dict[str, str] | None = None) -> dict:
    result = run_python(script.format(path=str(path)), env=env)
    assert result.returncode == 0, f"exit code {result.returncode}: {result.stderr[-3000:]}"
    return json.loads(result.stdout.splitlines()[-1])


def test_the_switch_takes_every_host_off_native() -> None:
    path = DATA / "barbell2-10.tag"
    for env, expected in ((None, "False False True"), (PYTHON_PATH, "True True False")):
        result = run_python(WHICH_PATH.format(path=str(path)), env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == expected.split()


@pytest.mark.parametrize("script", [ITK_FACTS, SITK_FACTS, NUMPY_FACTS], ids=["itk", "sitk", "numpy"])
def test_python_path_reads_as_native(generated: dict, script: str) -> None:
    for path in all_test_files(generated):
        assert facts(script, path, PYTHON_PATH) == facts(script, path), path


WRITE = """
import itk_tag, itk, SimpleITK as sitk
sitk.WriteImage(sitk.ReadImage({source!r}), {target!r} + ".sitk.tag")
itk.imwrite(itk.imread({source!r}), {target!r} + ".itk.tag")
image = sitk.ReadImage({source!r})[:, :, 0]  # 2D: org_z and epais come from the tag's metadata
sitk.WriteImage(image, {target!r} + ".2d.tag")
"""


def test_python_path_writes_the_native_bytes(tmp_path: Path, generated: dict) -> None:
    for source in all_test_files(generated):
        written = {}
        for name, env in (("native", None), ("python", PYTHON_PATH)):
            target = tmp_path / f"{source.stem}.{name}"
            result = run_python(WRITE.format(source=str(source), target=str(target)), env=env)
            assert result.returncode == 0, f"{name}: {result.stderr[-3000:]}"
            kinds = ("sitk", "itk", "2d")
            written[name] = {kind: Path(f"{target}.{kind}.tag").read_bytes() for kind in kinds}
        assert written["python"] == written["native"], source
        if source.parent == DATA:
            assert written["python"]["sitk"] == source.read_bytes()


def image_facts(path: Path) -> tuple:
    image = SimpleITK.ReadImage(str(path))
    metadata = {key: image.GetMetaData(key) for key in image.GetMetaDataKeys()}
    voxels = SimpleITK.GetArrayFromImage(image)
    geometry = image.GetSize(), image.GetOrigin(), image.GetSpacing(), image.GetDirection()
    return geometry, voxels.tobytes(), metadata


def without_date(data: bytes) -> bytes:
    return re.sub(rb"\n# on [^\n]*\n", b"\n", data, count=1)


@pytest.mark.parametrize("output_format", ["nrrd", "seg.nrrd", "nii.gz"])
def test_python_path_converts_as_native(tmp_path: Path, output_format: str) -> None:
    outputs = {}
    for name, env in (("native", {}), ("python", PYTHON_PATH)):
        out = tmp_path / name
        command = ["convert", DATA, "--reference", "auto", "--format", output_format, "-o", out]
        result = run_cli(*command, env={**os.environ, **env})
        assert result.returncode == 0, result.stdout + result.stderr
        outputs[name] = sorted(out.rglob(f"*.{output_format}"))
    assert [p.name for p in outputs["python"]] == [p.name for p in outputs["native"]]
    assert len(outputs["native"]) == len(REAL_TAGS)
    for python, native in zip(outputs["python"], outputs["native"]):
        if output_format == "seg.nrrd":  # pynrrd writes the time of writing in a comment line
            assert without_date(python.read_bytes()) == without_date(native.read_bytes())
        else:
            assert image_facts(python) == image_facts(native)


def test_python_path_converts_to_tag_as_native(tmp_path: Path) -> None:
    labels = tmp_path / "labels.nrrd"
    SimpleITK.WriteImage(SimpleITK.ReadImage(str(DATA / "barbell2-10.tag")), str(labels))
    written = {}
    for name, env in (("native", {}), ("python", PYTHON_PATH)):
        target = tmp_path / f"{name}.tag"
        result = run_cli("convert", labels, "-o", target, env={**os.environ, **env})
        assert result.returncode == 0, result.stdout + result.stderr
        written[name] = target.read_bytes()
    assert written["python"] == written["native"] == (DATA / "barbell2-10.tag").read_bytes()


def test_python_path_measures_as_native(tmp_path: Path) -> None:
    rows = {}
    for name, env in (("native", {}), ("python", PYTHON_PATH)):
        table = tmp_path / f"{name}.csv"
        command = ["measure", DATA, "--reference", "auto", "--labels", "alberta", "-o", table]
        result = run_cli(*command, env={**os.environ, **env})
        assert result.returncode == 0, result.stdout + result.stderr
        with table.open(newline="") as file:
            rows[name] = list(csv.DictReader(file))
    assert rows["python"] == rows["native"]
    assert len(rows["native"]) >= 2
    assert np.isfinite([float(row["hu_mean"]) for row in rows["native"] if row["hu_mean"]]).all()
