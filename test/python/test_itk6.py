"""ITK Python 6 (``itk==6.0b2``, PyPI's pre-release) beside itk-tag, in a venv of its own.

A 5.x build registered into ITK 6 crashed ``itk.imread`` of any file; no native
build serves ITK 6, so it must get the Python-level path: the same image as
the native reader under ITK 5.4.7 (this test venv), a ``.tag`` writer that
round-trips, no crash for any other file, and SimpleITK 2.5.7 in the same venv
still served natively. ``pip install`` of the wheel must keep itk 6.0b2.
Every host runs in a child process; a signal fails the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import SimpleITK
from conftest import DATA, Install, run_python
from test_hosts import ITK_FACTS, all_test_files
from test_parity import (
    ITK,
    PATHS,
    REFERENCE,
    check_path,
    child_code,
    corpus,
    format_errors,
    outcomes,
    run_path,
)

ITK6 = "6.0b2"


def checked(result: object, what: str) -> str:
    code = result.returncode  # type: ignore[attr-defined]
    assert code >= 0, f"{what}: the host died of signal {-code}\n{result.stderr[-3000:]}"  # type: ignore[attr-defined]
    assert code == 0, f"{what}: exit code {code}\n{result.stderr[-3000:]}"  # type: ignore[attr-defined]
    return result.stdout  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def itk6(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Install:
    """A venv with itk 6.0b2 from PyPI, then the itk-tag wheel installed with its dependencies."""
    root = tmp_path_factory.mktemp("itk6") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
    python = root / "bin" / "python"
    for what in ([f"itk=={ITK6}"], [str(wheel)]):
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *what],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"pip install {what} failed:\n{done.stderr[-5000:]}"
    site = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    return Install(python, site)


def test_pip_install_keeps_itk_6(itk6: Install) -> None:
    code = "import importlib.metadata as m; print(m.version('itk'), m.version('itk-tag'))"
    out = checked(itk6.run("-c", code), "versions")
    assert out.split() == [ITK6, "0.1.0"]


def test_itk6_reads_any_other_file_without_a_crash(itk6: Install, tmp_path: Path) -> None:
    nrrd = tmp_path / "x.nrrd"
    image = SimpleITK.GetImageFromArray(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    SimpleITK.WriteImage(image, str(nrrd))
    code = (
        f"import itk\nimage = itk.imread({str(nrrd)!r})\n"
        "print(itk.Version.GetITKVersion(), type(image).__name__)"
    )
    out = checked(itk6.run("-c", code), "itk.imread of a .nrrd")
    assert out.split() == ["6.0.0", "itkImageUC3"]


def test_itk6_reads_tag_as_the_native_reader_under_itk_5(itk6: Install, generated: dict) -> None:
    for path in all_test_files(generated):
        script = ITK_FACTS.format(path=str(path))
        native = json.loads(checked(run_python(script), f"ITK 5.4 reading {path}").splitlines()[-1])
        python = json.loads(checked(itk6.run("-c", script), f"ITK 6 reading {path}").splitlines()[-1])
        assert python == native, path


def test_itk6_writes_tag(itk6: Install, tmp_path: Path, generated: dict) -> None:
    real = [DATA / "sandbox-test01.dcm.tag", DATA / "barbell2-10.tag"]
    for source in [*real, *(path for _, path in generated.values())]:
        target = tmp_path / source.name
        code = f"import itk\nitk.imwrite(itk.imread({str(source)!r}), {str(target)!r})"
        checked(itk6.run("-c", code), f"itk.imwrite of {source.name}")
        again = ITK_FACTS.format(path=str(target))
        before = json.loads(checked(run_python(ITK_FACTS.format(path=str(source))), "").splitlines()[-1])
        assert json.loads(checked(itk6.run("-c", again), "").splitlines()[-1]) == before
        if source.parent == DATA:
            assert target.read_bytes() == source.read_bytes()


def test_simpleitk_beside_itk6_is_still_served_natively(itk6: Install) -> None:
    code = f"""
import itk, SimpleITK as sitk
image = sitk.ReadImage({str(DATA / "barbell2-10.tag")!r})
print("TagImageIO" in sitk.ImageFileReader().GetRegisteredImageIOs(), image.GetSize()[0])
mark = "__itk_tag_dispatch__"
print(getattr(sitk.ReadImage, mark, False), getattr(itk.imread, mark, False))
"""
    assert checked(itk6.run("-c", code), "SimpleITK beside itk 6").split() == ["True", "512", "False", "True"]


def test_doctor_says_which_path_serves_each_host(itk6: Install) -> None:
    report = json.loads(checked(itk6.run("-m", "itk_tag", "doctor", "--json"), "itk-tag doctor"))
    hosts = {host["name"]: host for host in report["hosts"]}
    assert report["ok"] is True, report
    assert hosts["SimpleITK"]["path"] == "native"
    assert hosts["SimpleITK"]["serves"].startswith("native build old-itk")
    assert hosts["itk (ITK Python)"]["path"] == "python"
    assert "ITK 6.0.0 is not one the native builds were tested against" in hosts["itk (ITK Python)"]["serves"]
    assert report["problems"] == []


def test_itk6_in_the_parity_table(itk6: Install, generated: dict, tmp_path: Path) -> None:
    """issue 24: ITK Python 6 (the Python path) gives native ITK Python 5.4.7's image and metadata
    (ITK_original_* included) for the whole corpus, and the format layer's error for each malformed file.
    """
    files = corpus(generated, tmp_path)
    paths = [str(file) for _, file, _ in files]
    reports = {name: run_path(read_path, paths) for read_path in PATHS if (name := read_path.name) in
               (REFERENCE, "itk_tag.read_array")}  # fmt: skip
    result = itk6.run("-c", child_code(ITK, paths), timeout=600)
    checked(result, "ITK 6 reading the corpus")
    found = outcomes(result.stdout)
    assert sorted(found) == sorted(paths), result.stderr[-3000:]
    errors = format_errors(reports, files)
    problems = check_path("ITK Python 6", found, reports[REFERENCE], errors, files, "ITK Python, Python path")
    assert not problems, "\n".join(problems)
