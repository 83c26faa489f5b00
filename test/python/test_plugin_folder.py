"""The wheel's one plugin folder on ITK_AUTOLOAD_PATH, in every kind of host:
C++ programs on ITKs of both libstdc++ ABIs and both namespaces (``itk``,
3D Slicer's ``slicer_itk``), SimpleITK, ITK Python, both Pythons in one
process, and plastimatch. Each host runs in a child process: a signal fails
the test instead of the run."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

import itk_tag
import numpy as np
import pytest
from conftest import DATA, REAL_TAGS, run_python
from hosts import HOSTS, Host, host_program
from itk_tag.hosts import plugins
from test_hosts import SITK_FACTS, check_facts, expected_facts

FOLDER = itk_tag.plugin_path()
EXPORTED = {"ITK_AUTOLOAD_PATH": str(FOLDER)}


@functools.cache
def fnv1a_uint16(path: Path) -> str:
    """FNV-1a 64 of the voxels as little-endian uint16 (what the host program prints)."""
    facts = expected_facts(path)
    data = path.read_bytes()
    dtype = "<u2" if facts["dtype"] == "uint16" else "u1"
    count = int(np.prod(facts["size"]))
    voxels = np.frombuffer(data[data.index(b"\f") + 1 :], dtype=dtype, count=count)
    value = 14695981039346656037
    for byte in voxels.astype("<u2").tobytes():
        value = ((value ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def run_host(
    program: Path, path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(EXPORTED if env is None else env)}
    return subprocess.run(
        [str(program), str(path)], capture_output=True, text=True, env=full_env, timeout=120
    )


def test_the_folder_holds_one_library_and_builds_itk_does_not_scan() -> None:
    libraries = sorted(p.name for p in FOLDER.iterdir() if p.is_file() and ".so" in p.name)
    assert libraries == ["libIOTagPlugin.so"]
    builds = sorted(p.name for p in (FOLDER / "itk-tag-builds").iterdir())
    assert builds == ["new-itk", "new-slicer_itk", "old-itk", "old-slicer_itk"]
    for build in builds:
        abi, namespace = build.split("-", 1)
        library = FOLDER / "itk-tag-builds" / build / "libIOTagImageIO.so"
        facts = plugins.describe_library(library)
        assert (facts.abi, facts.itk_version) == (abi, "itk version 5.2.1")
        # Its ITK is hidden; the type names of its classes tell the namespace.
        assert (b"N10slicer_itk11ImageIOBaseE" in library.read_bytes()) == (namespace == "slicer_itk")


def test_the_entry_library_needs_no_libstdcxx() -> None:
    needed = subprocess.run(
        ["readelf", "-d", str(FOLDER / "libIOTagPlugin.so")], capture_output=True, text=True
    )
    assert "libstdc++" not in needed.stdout and "libc.so" in needed.stdout


def test_describe_the_installed_hosts() -> None:
    import importlib.util

    itk_common = importlib.util.find_spec("itk._ITKCommonPython")
    sitk = importlib.util.find_spec("SimpleITK._SimpleITK")
    assert itk_common and itk_common.origin and sitk and sitk.origin
    itk_facts = plugins.describe_library(itk_common.origin)
    assert (itk_facts.abi, itk_facts.namespace) == ("new", "itk")
    assert itk_facts.itk_version.startswith("itk version 5.4.")
    sitk_facts = plugins.describe_library(sitk.origin)
    assert (sitk_facts.abi, sitk_facts.namespace) == ("old", "itk")
    assert sitk_facts.itk_version.startswith("itk version 5.4.")


def cases(generated: dict) -> list[Path]:
    return [DATA / name for name in REAL_TAGS] + [path for _, path in generated.values()]


@pytest.mark.parametrize("host", HOSTS, ids=[h.name for h in HOSTS])
def test_cxx_host_reads_every_case(host: Host, generated: dict) -> None:
    program = host_program(host)
    for path in cases(generated):
        result = run_host(program, path)
        assert result.returncode == 0, f"{path}: rc={result.returncode}\n{result.stderr}"
        facts = json.loads(result.stdout)
        expected = expected_facts(path)
        assert facts["io"] == "TagImageIO"
        assert facts["component"] == ("unsigned_short" if expected["dtype"] == "uint16" else "unsigned_char")
        assert facts["size"] == expected["size"]
        np.testing.assert_allclose(facts["origin"], expected["origin"], atol=1e-12)
        np.testing.assert_allclose(facts["spacing"], expected["spacing"], atol=1e-12)
        np.testing.assert_allclose(facts["direction"], expected["direction"], atol=1e-12)
        assert facts["fnv1a"] == fnv1a_uint16(path)
        # Same ITK version as the builds (5.2.1): ITK has nothing to warn about.
        assert "did not return" not in result.stderr and "ncompatible" not in result.stderr, result.stderr


@pytest.mark.parametrize("host", HOSTS, ids=[h.name for h in HOSTS])
def test_cxx_host_survives_a_malformed_file(host: Host, tmp_path: Path) -> None:
    broken = tmp_path / "broken.tag"
    broken.write_bytes(b"x:4 y:3 type:BYTE\n\f" + bytes(12))
    result = run_host(host_program(host), broken)
    assert result.returncode == 1, f"rc={result.returncode}\n{result.stderr}"
    assert '"z" is missing' in result.stderr and str(broken) in result.stderr


@pytest.mark.parametrize("prelude", ["", "import itk_tag"], ids=["exported-only", "with-import"])
def test_simpleitk_reads_through_the_exported_folder(prelude: str, generated: dict) -> None:
    # The startup hook off: the exported folder (and, with the import, the import hook) alone.
    script = SITK_FACTS.replace("import itk_tag\n", prelude + "\n")
    for path in cases(generated):
        result = run_python(script.format(path=str(path)), env={**EXPORTED, "ITK_TAG_NO_AUTOLOAD": "1"})
        assert result.returncode == 0, result.stderr
        check_facts(result.json(), expected_facts(path), "sitk")
        assert result.stderr == "", result.stderr


def test_itk_python_with_the_folder_exported(generated: dict) -> None:
    path = generated["oblique"][1]
    code = f"import itk; print(list(itk.imread({str(path)!r}).GetLargestPossibleRegion().GetSize()))"
    result = run_python(code, env=EXPORTED)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[6, 5, 3]"


def test_simpleitk_survives_a_malformed_file_through_the_folder(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tag"
    broken.write_bytes(b"x:4 y:3 type:BYTE\n\f" + bytes(12))
    code = f"""
import SimpleITK as sitk
try:
    sitk.ReadImage({str(broken)!r})
except RuntimeError as error:
    print("RuntimeError", '"z" is missing' in str(error))
    print(error)
"""
    result = run_python(code, env=EXPORTED)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "RuntimeError True"
    # The source file is named relative to the repository, not by the build machine's path.
    assert ": src/itkTagImageIO/itkTagHeader.cxx:" in result.stdout, result.stdout


@pytest.mark.skipif(shutil.which("plastimatch") is None, reason="Debian's plastimatch is not installed")
def test_plastimatch_converts_a_tag(tmp_path: Path, generated: dict) -> None:
    import SimpleITK

    for path in [DATA / "barbell2-10.tag", generated["oblique"][1]]:
        output = tmp_path / f"{path.stem}.nrrd"
        result = subprocess.run(
            ["plastimatch", "convert", "--input", str(path), "--output-img", str(output)],
            capture_output=True, text=True, env={**os.environ, **EXPORTED}, timeout=300,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        image = SimpleITK.ReadImage(str(output))
        expected = expected_facts(path)
        assert list(image.GetSize()) == expected["size"]
        np.testing.assert_allclose(image.GetOrigin(), expected["origin"], atol=1e-4)
        np.testing.assert_allclose(image.GetSpacing(), expected["spacing"], atol=1e-4)
        np.testing.assert_allclose(image.GetDirection(), expected["direction"], atol=1e-4)
        voxels, _ = itk_tag.read_array(path)
        assert np.array_equal(SimpleITK.GetArrayFromImage(image).astype(np.int64), voxels.astype(np.int64))


def test_an_unserved_itk_gets_one_line_and_an_inert_factory() -> None:
    program = host_program(HOSTS[0]).parent / "itkTagUnservedHost"
    result = subprocess.run(
        [str(program), str(FOLDER), str(DATA / "barbell2-10.tag")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "registered: itk-tag plugin, inactive: this program's ITK is not one it serves",
        "ImageIO for the tag: none",
    ]
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("itk-tag: "), result.stderr
    assert "itk version 4.13.3" in lines[0] and "ITK 5.2 to 5.4" in lines[0]


def test_an_incomplete_folder_is_skipped_not_a_crash(tmp_path: Path) -> None:
    partial = tmp_path / "plugins"
    shutil.copytree(FOLDER, partial)
    shutil.rmtree(partial / "itk-tag-builds" / "old-itk")
    result = run_host(
        host_program(HOSTS[0]), DATA / "barbell2-10.tag", env={"ITK_AUTOLOAD_PATH": str(partial)}
    )
    assert result.returncode == 1, f"rc={result.returncode}\n{result.stderr}"
    assert result.stderr.startswith(f"itk-tag: the plugin in {partial} is incomplete"), result.stderr
    assert "Could not create IO object" in result.stderr
    code = "import SimpleITK as s; print('TagImageIO' in s.ImageFileReader().GetRegisteredImageIOs())"
    imported = run_python(code, env={"ITK_AUTOLOAD_PATH": str(partial), "ITK_TAG_NO_AUTOLOAD": "1"})
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "False"
