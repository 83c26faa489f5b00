"""The pure-Python format layer (itk_tag.format) against the C++ one, on one corpus.

Headers: test/data, the malformed table, the fuzz seeds and fuzz/regressions, read
from files by both readers (C++ ``TagHeader::Read`` through the plugin library,
Python ``itk_tag.format.read_header``); both accept with equal fields and voxels, or
both reject with the same message. Then the seeded differential fuzz run
(fuzz/differential.py, in a child process: a crash fails the test). Writer: for
generated images the pure writer's bytes equal those SimpleITK writes through the
native plugin (in a child process), refusals included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import malformed_cases
import numpy as np
import pytest
from conftest import DATA
from itk_tag import format as tag_format
from itk_tag.hosts import native as _native

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "fuzz"))

import differential  # noqa: E402
import make_corpus  # noqa: E402

CORPUS = {
    **make_corpus.seeds(),
    **{f"regression-{p.name}": p.read_bytes() for p in (ROOT / "fuzz/regressions").iterdir()},
}


def _native_view(path: Path) -> tuple[str, object]:
    try:
        fields = _native.read_header_fields(path)
    except tag_format.TagFileError as error:
        return "reject", differential.native_problem(error)
    except OSError as error:
        return "oserror", type(error).__name__
    columns = fields["direction"]
    return "accept", (
        tuple(fields["size"]),
        fields["component_type"],
        tuple(fields["origin"]),
        tuple(fields["spacing"]),
        tuple(float(columns[col][row]) for row in range(3) for col in range(3)),
        fields["header_size"],
        fields["file_size"],
        [tuple(pair) for pair in fields["keywords"]],
    )


def _python_view(path: Path) -> tuple[str, object]:
    try:
        header = tag_format.read_header(path)
    except tag_format.TagFileError as error:
        return "reject", str(error)
    except OSError as error:
        return "oserror", type(error).__name__
    assert header.path == os.fspath(path)
    return "accept", (
        header.size,
        str(header.dtype),
        header.origin,
        header.spacing,
        header.direction,
        header.header_size,
        header.file_size,
        list(header.keywords.items()),
    )


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_file_reads_alike(name: str, tmp_path: Path) -> None:
    path = tmp_path / "case.tag"
    path.write_bytes(CORPUS[name])
    native, python = _native_view(path), _python_view(path)
    assert python == native
    if native[0] == "accept":
        voxels, _ = tag_format.read_array(path)
        expected = np.empty_like(voxels)
        _native.read_voxels_into(path, expected.ctypes.data, expected.nbytes)
        assert np.array_equal(voxels, expected)
        assert tag_format.looks_like_tag(path)


@pytest.mark.parametrize("case", malformed_cases.cases(), ids=lambda case: case.name)
def test_malformed_case_reads_alike(case: malformed_cases.MalformedCase, tmp_path: Path) -> None:
    path = malformed_cases.write_case(case, tmp_path)
    try:
        native, python = _native_view(path), _python_view(path)
    finally:
        os.chmod(path, 0o700)
    assert python == native
    if os.geteuid() != 0 or case.kind != malformed_cases.UNREADABLE:
        assert tag_format.looks_like_tag(path) == case.claimed
    if native[0] == "reject":
        assert case.problem.lower() in str(python[1]).lower()


def test_missing_path_raises_as_native(tmp_path: Path) -> None:
    for function in (tag_format.read_header, tag_format.read_array, _native.read_header_fields):
        with pytest.raises(FileNotFoundError):
            function(tmp_path / "missing.tag")
    assert not tag_format.looks_like_tag(tmp_path / "missing.tag")


def test_header_cap_applies_to_the_bytes_given() -> None:
    # More bytes than the 64 KiB a reader reads change nothing, in either parser.
    content = b"* " + b"a" * 66000 + b"\nx:1 y:1 z:1\n\f\x00"
    for length in (65536, 70000, len(content)):
        agree, native, python = differential.compare(content[:length], len(content))
        assert agree, (native, python)
        assert "not a sliceOmatic tag file" in str(native[1])


def test_pure_read_of_changed_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.tag"
    path.write_bytes(b"x:4 y:3 z:1\n\f" + bytes(12))
    header = tag_format.read_header(path)
    path.write_bytes(b"x:4 y:3 z:1\n\f" + bytes(11))
    with pytest.raises(
        tag_format.TagFileError,
        match="truncated data: the header announces 4x3x1 voxels \\(12 bytes\\) but only 11",
    ):
        tag_format.read_voxels_into(path, header, np.empty(header.shape, np.uint8))
    path.write_bytes(b"x:2 y:3 z:1\n\f" + bytes(12))
    with pytest.raises(tag_format.TagFileError, match="changed while it was being read"):
        tag_format.read_voxels_into(path, header, np.empty(header.shape, np.uint8))


def test_differential_fuzz() -> None:
    """At least 100,000 mutated headers, both parsers agreeing, within 90 s (printed: count, seed)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "differential.py"), "--count", "100000", "--seconds", "90"]
        + ["--seed", os.environ.get("ITK_TAG_FUZZ_SEED", "15")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(result.stdout[-5000:], result.stderr[-3000:])
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]


# ------------------------------------------------------------------ the writer

# Each image: (name, numpy dtype, shape (z, y, x) or (y, x), origin, spacing, direction row by row, metadata).
_I3 = [1, 0, 0, 0, 1, 0, 0, 0, 1]
_ROTATION = [0.866, -0.3536, 0.3535, 0.5, 0.6124, -0.6124, 0.0, 0.7071, 0.7071]
_ODD_METADATA = {
    "uid": "0BADF00D",
    "chksum": "ABCDEF01",
    "zeta": "last",
    "bin": "256",
    "future_key": "a:b",
    "UPPER": "skipped",
    "spaced": "two words",
    "comma": "a,b",
    "star": "a*b",
    "empty": "",
    "accent": "caf\u00e9",
    "x": "999",
    "org_x": "5",
    "dim_x": "2.8420",
    "wide": "w" * 30,
}
WRITER_CASES = [
    ("byte", "uint8", (2, 3, 4), (0, 0, 0), (1, 1, 1), _I3, {}),
    ("short", "uint16", (2, 3, 7), (1.5, -2.25, 3), (1.25, 1.25, 1.25), _I3, {}),
    (
        "oblique-multi-slice",
        "uint8",
        (3, 5, 6),
        (-10.12345, 5.5, 100),
        (0.8, 0.9, 3.0),
        _ROTATION,
        {"uid": "1"},
    ),
    (
        "two-d",
        "uint8",
        (3, 4),
        (-1.0, 2.0),
        (0.7105, 0.7105),
        [1, 0, 0, 1],
        {"org_z": "-250.5", "epais": "5"},
    ),
    ("two-d-no-metadata", "uint16", (3, 4), (0.0, 0.0), (2.0, 3.0), [0, 1, 1, 0], {}),
    ("odd-metadata", "uint8", (1, 2, 2), (123456789.123, -0.00001, 1e-5), (1, 1, 1), _I3, _ODD_METADATA),
    ("one-slice-free-axis", "uint8", (1, 2, 2), (0, 0, 0), (1, 1, 1), [1, 0, 0, 0, 1, 0, 0, 0, -1], {}),
    ("flipped-slice-axis", "uint8", (2, 2, 2), (0, 0, 0), (1, 1, 1), [1, 0, 0, 0, 1, 0, 0, 0, -1], {}),
    ("spacing-rounds-to-zero", "uint8", (1, 2, 2), (0, 0, 0), (0.00004, 1, 1), _I3, {}),
    ("header-too-long", "uint8", (1, 2, 2), (0, 0, 0), (1, 1, 1), _I3, {"long": "v" * 70000}),
    ("float-voxels", "float32", (1, 2, 2), (0, 0, 0), (1, 1, 1), _I3, {}),
]

_SITK_WRITER = r"""
import json, sys
import itk_tag  # noqa: F401 - SimpleITK reads and writes .tag through the native plugin
import numpy as np
import SimpleITK as sitk

results = {}
for name, dtype, shape, origin, spacing, direction, metadata, path in json.loads(sys.argv[1]):
    voxels = (np.arange(int(np.prod(shape)), dtype=np.uint64) * 9973 + 7).astype(dtype).reshape(shape)
    image = sitk.GetImageFromArray(voxels)
    image.SetOrigin(origin)
    image.SetSpacing(spacing)
    image.SetDirection(direction)
    for key, value in metadata.items():
        image.SetMetaData(key, value)
    try:
        sitk.WriteImage(image, path)
        results[name] = None
    except RuntimeError as error:
        results[name] = str(error)
print(json.dumps(results))
"""


def _voxels(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    return (np.arange(int(np.prod(shape)), dtype=np.uint64) * 9973 + 7).astype(dtype).reshape(shape)


def _run_sitk_writer(cases: list[list[object]]) -> dict[str, str | None]:
    result = subprocess.run(
        [sys.executable, "-c", _SITK_WRITER, json.dumps(cases)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_writer_bytes_equal_the_native_writer(tmp_path: Path) -> None:
    cases = [[*case, str(tmp_path / f"native-{case[0]}.tag")] for case in WRITER_CASES]
    native_errors = _run_sitk_writer(cases)
    for name, dtype, shape, origin, spacing, direction, metadata in WRITER_CASES:
        path = tmp_path / f"pure-{name}.tag"
        native_path = tmp_path / f"native-{name}.tag"
        try:
            tag_format.write_tag(path, _voxels(dtype, shape), origin, spacing, direction, metadata)
        except tag_format.TagFileError as error:
            assert native_errors[name] is not None, f"{name}: only the pure writer refused: {error}"
            problem = str(error).split(": ", 1)[1]
            assert problem in native_errors[name], (name, str(error), native_errors[name])
            assert not path.exists() and not native_path.exists()
            continue
        assert native_errors[name] is None, f"{name}: only the native writer refused: {native_errors[name]}"
        assert path.read_bytes() == native_path.read_bytes(), name
    assert sorted(os.listdir(tmp_path)) == sorted(
        p.name for p in tmp_path.iterdir() if "itk-tag-tmp" not in p.name
    ), "a temporary file was left"


@pytest.mark.parametrize("name", ["sandbox-test01.dcm.tag", "barbell2-10.tag"])
def test_real_sample_rewrites_byte_identical(name: str, tmp_path: Path) -> None:
    voxels, header = tag_format.read_array(DATA / name)
    copy = tmp_path / name
    tag_format.write_tag(copy, voxels, header.origin, header.spacing, header.direction, header.keywords)
    assert copy.read_bytes() == (DATA / name).read_bytes()


def test_writer_is_atomic_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "keep.tag"
    target.write_bytes(b"old")
    with pytest.raises(tag_format.TagFileError, match="2D or 3D"):
        tag_format.write_tag(target, np.zeros((1, 1, 1, 1), np.uint8), [0] * 4, [1] * 4, [0] * 16, {})
    with pytest.raises(OSError):
        tag_format.write_tag(
            tmp_path / "no-folder" / "a.tag", np.zeros((2, 2), np.uint8), (0, 0), (1, 1), (1, 0, 0, 1), {}
        )
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tag"]


def test_format_room_imports_nothing_else_of_itk_tag() -> None:
    for path in (ROOT / "python/itk_tag/format").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert "from .." not in source and "import itk_tag" not in source, path.name
