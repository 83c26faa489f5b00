"""itk-tag inside the PyPI hosts: ITK Python and SimpleITK (no import needed with the
startup hook; the SimpleITK reads here import itk_tag first, which works with it off
too). Each check runs in a fresh process."""

from __future__ import annotations

import hashlib
from pathlib import Path

import itk_tag
import numpy as np
import pytest
from conftest import DATA, REAL_TAGS, run_python

ITK_FACTS = """
import hashlib, json, numpy as np
import itk
image = itk.imread({path!r})
array = itk.array_view_from_image(image)
print(json.dumps({{
    "type": type(image).__name__,
    "size": [int(v) for v in image.GetLargestPossibleRegion().GetSize()],
    "origin": list(image.GetOrigin()),
    "spacing": list(image.GetSpacing()),
    "direction": np.asarray(itk.array_from_matrix(image.GetDirection())).ravel().tolist(),
    "sha256": hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest(),
    "metadata": {{k: image[k] for k in image.GetMetaDataDictionary().GetKeys() if not k.startswith("ITK_")}},
}}))
"""

SITK_FACTS = """
import hashlib, json
import itk_tag
import SimpleITK as sitk
image = sitk.ReadImage({path!r})
array = sitk.GetArrayViewFromImage(image)
print(json.dumps({{
    "type": image.GetPixelIDTypeAsString(),
    "size": list(image.GetSize()),
    "origin": list(image.GetOrigin()),
    "spacing": list(image.GetSpacing()),
    "direction": list(image.GetDirection()),
    "sha256": hashlib.sha256(array.tobytes()).hexdigest(),
    "metadata": {{k: image.GetMetaData(k) for k in image.GetMetaDataKeys() if not k.startswith("ITK_")}},
}}))
"""

NUMPY_FACTS = """
import hashlib, json
import itk_tag
array, header = itk_tag.read_array({path!r})
print(json.dumps({{
    "type": str(array.dtype),
    "size": list(header.size),
    "origin": list(header.origin),
    "spacing": list(header.spacing),
    "direction": list(header.direction),
    "sha256": hashlib.sha256(array.tobytes()).hexdigest(),
    "metadata": header.keywords,
}}))
"""

EXPECTED_TYPE = {
    ("itk", "uint8"): "itkImageUC3",
    ("itk", "uint16"): "itkImageUS3",
    ("sitk", "uint8"): "8-bit unsigned integer",
    ("sitk", "uint16"): "16-bit unsigned integer",
    ("numpy", "uint8"): "uint8",
    ("numpy", "uint16"): "uint16",
}


def expected_facts(path: Path) -> dict[str, object]:
    """Geometry and voxels computed here from the file's own header text and bytes."""
    data = path.read_bytes()
    end = data.index(b"\f")
    fields = {}
    for line in data[:end].decode().splitlines():
        for token in line.split("*")[0].replace(",", " ").split():
            key, value = token.split(":", 1)
            fields[key.lower()] = value
    h = np.array([float(fields.get(f"dir_h_{a}", d)) for a, d in zip("xyz", (1, 0, 0))])
    v = np.array([float(fields.get(f"dir_v_{a}", d)) for a, d in zip("xyz", (0, 1, 0))])
    h, v = h / np.linalg.norm(h), v / np.linalg.norm(v)
    n = np.cross(h, v)
    return {
        "dtype": "uint16" if fields.get("type", "BYTE").upper() == "SHORT" else "uint8",
        "size": [int(fields[k]) for k in "xyz"],
        "origin": [float(fields.get(k, 0)) for k in ("org_x", "org_y", "org_z")],
        "spacing": [float(fields.get(k, 1)) for k in ("inc_x", "inc_y", "epais")],
        "direction": np.column_stack([h, v, n / np.linalg.norm(n)]).ravel().tolist(),
        "sha256": hashlib.sha256(data[end + 1 :]).hexdigest(),
        "metadata": fields,
    }


def all_test_files(generated: dict) -> list[Path]:
    return [DATA / name for name in REAL_TAGS] + [path for _, path in generated.values()]


def check_facts(facts: dict, expected: dict, host: str) -> None:
    assert facts["type"] == EXPECTED_TYPE[(host, expected["dtype"])]
    assert facts["size"] == expected["size"]
    np.testing.assert_allclose(facts["origin"], expected["origin"], atol=1e-12)
    np.testing.assert_allclose(facts["spacing"], expected["spacing"], atol=1e-12)
    np.testing.assert_allclose(facts["direction"], expected["direction"], atol=1e-12)
    assert facts["sha256"] == expected["sha256"]
    assert facts["metadata"] == expected["metadata"]


@pytest.mark.parametrize("host,script", [("itk", ITK_FACTS), ("sitk", SITK_FACTS), ("numpy", NUMPY_FACTS)])
def test_every_reader_gives_the_file_contents(generated: dict, host: str, script: str) -> None:
    for path in all_test_files(generated):
        result = run_python(script.format(path=str(path)))
        assert result.returncode == 0, result.stderr
        check_facts(result.json(), expected_facts(path), host)
        assert "ncompatible" not in result.stderr, result.stderr


def test_itk_python_write_round_trip(tmp_path: Path, generated: dict) -> None:
    sources = [DATA / "sandbox-test01.dcm.tag", generated["short"][1], generated["oblique"][1]]
    for source in sources:
        target = tmp_path / source.name
        code = f"""
import itk
image = itk.imread({str(source)!r})
itk.imwrite(image, {str(target)!r})
print(itk.imread({str(target)!r}).__class__.__name__)
"""
        result = run_python(code)
        assert result.returncode == 0, result.stderr
        assert expected_facts(target) == expected_facts(source)
        if source == DATA / "sandbox-test01.dcm.tag":
            assert target.read_bytes() == source.read_bytes()


def test_itk_namespace_has_the_io() -> None:
    result = run_python(
        f"""
import itk
io = itk.TagImageIO.New()
print(io.GetNameOfClass(), hasattr(itk, "TagImageIOFactory"))
image = itk.imread({str(DATA / "barbell2-10.tag")!r}, imageio=itk.TagImageIO.New())
print(image.GetLargestPossibleRegion().GetSize()[0])
"""
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["TagImageIO", "True", "512"]


def test_simpleitk_reads_writes_and_lists_the_io(tmp_path: Path) -> None:
    source = DATA / "sandbox-test01.dcm.tag"
    target = tmp_path / "copy.tag"
    code = f"""
import os
before = os.environ.get("ITK_AUTOLOAD_PATH")
import itk_tag
import SimpleITK as sitk
assert os.environ.get("ITK_AUTOLOAD_PATH") == before, os.environ.get("ITK_AUTOLOAD_PATH")
assert "TagImageIO" in sitk.ImageFileReader().GetRegisteredImageIOs()
image = sitk.ReadImage({str(source)!r}, imageIO="TagImageIO")
assert image.GetMetaData("uid") == "EE9DCED7"
sitk.WriteImage(image, {str(target)!r})
print("ok")
"""
    result = run_python(code, env={"ITK_AUTOLOAD_PATH": "/nonexistent-user-folder"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert result.stderr == ""
    assert target.read_bytes() == source.read_bytes()


def test_simpleitk_leaves_autoload_path_unset() -> None:
    code = """
import os
os.environ.pop("ITK_AUTOLOAD_PATH", None)
import itk_tag, SimpleITK
print("ITK_AUTOLOAD_PATH" in os.environ)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("first", ["itk", "sitk"])
@pytest.mark.parametrize("plugin", ["import itk_tag", "exported folder"])
def test_both_hosts_in_one_process(first: str, plugin: str) -> None:
    # Slicer 5.12's situation: ITK Python's and SimpleITK's ITKs in one process,
    # SimpleITK given the plugin by itk_tag or by `export ITK_AUTOLOAD_PATH=$(itk-tag plugin-path)`.
    path = str(DATA / "barbell2-10.tag")
    read_itk = f"import itk; a = itk.array_from_image(itk.imread({path!r}))"
    read_sitk = f"import SimpleITK as sitk; b = sitk.GetArrayFromImage(sitk.ReadImage({path!r}))"
    if plugin == "import itk_tag":
        read_sitk = "import itk_tag; " + read_sitk
        env = {"ITK_TAG_NO_AUTOLOAD": "1"}
    else:
        env = {"ITK_TAG_NO_AUTOLOAD": "1", "ITK_AUTOLOAD_PATH": str(itk_tag.plugin_path())}
    steps = [read_itk, read_sitk] if first == "itk" else [read_sitk, read_itk]
    result = run_python(
        "\n".join(steps) + "\nimport numpy as np; print(np.array_equal(a, b), np.unique(a).tolist())", env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True [0, 1, 5, 7]"


@pytest.mark.parametrize("hook", ["on", "off"])
def test_simpleitk_imported_first(hook: str) -> None:
    # With the startup hook, SimpleITK imported first has the plugin all the same; without
    # it, `import itk_tag` gives it the Python-level path, without a warning.
    code = f"""
import warnings
import SimpleITK as sitk
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import itk_tag
print([str(w.message) for w in caught])
try:
    print(sitk.ReadImage({str(DATA / "barbell2-10.tag")!r}).GetSize())
except RuntimeError as error:
    print("RuntimeError")
"""
    result = run_python(code, env={"ITK_TAG_NO_AUTOLOAD": "1" if hook == "off" else "0"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["[]", "(512, 512, 1)"]


@pytest.mark.parametrize(
    "reader",
    [
        "import itk; itk.imread(path)",
        "import itk_tag, SimpleITK as sitk; sitk.ReadImage(path)",
        "import itk_tag; itk_tag.read_array(path)",
    ],
)
def test_broken_header_raises_runtime_error_with_file_name(tmp_path: Path, reader: str) -> None:
    path = tmp_path / "broken.tag"
    path.write_bytes(b"x:4 y:3 type:BYTE\n\f" + bytes(12))
    code = f"""
path = {str(path)!r}
try:
    {reader}
except RuntimeError as error:
    print("RuntimeError:", error)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert "RuntimeError:" in result.stdout
    assert str(path) in result.stdout
    assert '"z" is missing' in result.stdout


@pytest.mark.parametrize("host", ["itk", "sitk"])
def test_nrrd_still_reads_with_the_plugin_present(tmp_path: Path, host: str) -> None:
    nrrd = tmp_path / "image.nrrd"
    code = f"""
import itk_tag, SimpleITK as sitk, itk, numpy as np
sitk.WriteImage(sitk.GetImageFromArray(np.arange(24, dtype=np.int16).reshape(2, 3, 4)), {str(nrrd)!r})
if {host!r} == "itk":
    array = itk.array_from_image(itk.imread({str(nrrd)!r}))
else:
    array = sitk.GetArrayFromImage(sitk.ReadImage({str(nrrd)!r}))
print(int(array.sum()), array.shape)
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "276 (2, 3, 4)"
