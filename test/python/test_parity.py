"""One image whichever path reads it (issue 24): the parity table.

Every file of the conformance corpus -- the real samples (test/data), the
generated cases (conftest.GENERATED) and the malformed table
(malformed_cases.py, its files) -- is read by every path: native SimpleITK and
ITK Python, both on the Python path (``ITK_TAG_NATIVE=0``), ``itk_tag.read``
on both, and ``itk_tag.read_array``. Each path runs in a child process of its
own (a signal fails the test) and reports, per file, the pixel type, size,
voxels (SHA-256), origin, spacing, direction and the whole metadata
dictionary, or the error it raised.

Every path must give what native ITK Python gives, exactly (no tolerance),
except where :data:`METADATA_EXCEPTIONS` or :data:`ERROR_EXCEPTIONS` name the
difference and why. ITK Python 6 (test_itk6.py) and Windows under wine
(test_wine.py) are held to the same table with :func:`check_path`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import malformed_cases
import pytest
from conftest import DATA, REAL_TAGS, run_python
from malformed_cases import FILE

# The reading half of each child: ``read(path)`` and ``describe(image)``; numbers as JSON
# floats, so a difference in the last bit shows.
SIMPLEITK = """
import itk_tag
import SimpleITK as sitk

def read(path):
    return sitk.ReadImage(path)

def describe(image):
    voxels = sitk.GetArrayViewFromImage(image)
    return voxels, list(image.GetSize()), image.GetOrigin(), image.GetSpacing(), image.GetDirection(), {
        key: image.GetMetaData(key) for key in image.GetMetaDataKeys()
    }
"""

ITK = """
import numpy as np
import itk

def read(path):
    return itk.imread(path)

def entry(value):
    # Strings as they are; the typed entries ITK's ImageFileReader adds, as [python type, values].
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        return ["tuple", list(value)]
    return [type(value).__name__, np.asarray(itk.array_from_matrix(value)).tolist()]

def describe(image):
    voxels = itk.array_view_from_image(image)
    direction = np.asarray(itk.array_from_matrix(image.GetDirection())).ravel().tolist()
    keys = image.GetMetaDataDictionary().GetKeys()
    return voxels, [int(v) for v in image.GetLargestPossibleRegion().GetSize()], tuple(image.GetOrigin()), \\
        tuple(image.GetSpacing()), direction, {key: entry(image[key]) for key in keys}
"""

ITK_TAG_READ = SIMPLEITK.replace("sitk.ReadImage(path)", "itk_tag.read(path)")

READ_ARRAY = """
import itk_tag

def read(path):
    return itk_tag.read_array(path)

def describe(image):
    voxels, header = image
    return voxels, list(header.size), header.origin, header.spacing, header.direction, dict(header.keywords)
"""

CHILD = """
import hashlib, json, sys
{reader}
for path in {paths!r}:
    try:
        image = read(path)  # kept while its voxels (a view) are hashed
        voxels, size, origin, spacing, direction, metadata = describe(image)
        facts = {{
            "dtype": str(voxels.dtype), "size": size, "sha256": hashlib.sha256(voxels.tobytes()).hexdigest(),
            "origin": [float(v) for v in origin], "spacing": [float(v) for v in spacing],
            "direction": [float(v) for v in direction], "metadata": metadata,
        }}
    except Exception as error:
        facts = {{"raised": [cls.__name__ for cls in type(error).__mro__], "message": str(error)}}
    print(json.dumps({{"path": path, **facts}}), flush=True)
"""

PYTHON_PATH = {"ITK_TAG_NATIVE": "0"}


@dataclass(frozen=True)
class ReadPath:
    """One way to read a ``.tag``: the child's reading code and its environment."""

    name: str
    reader: str
    env: dict[str, str] = field(default_factory=dict)


PATHS = [
    ReadPath("ITK Python", ITK),
    ReadPath("ITK Python, Python path", ITK, PYTHON_PATH),
    ReadPath("SimpleITK", SIMPLEITK),
    ReadPath("SimpleITK, Python path", SIMPLEITK, PYTHON_PATH),
    ReadPath("itk_tag.read", ITK_TAG_READ),
    ReadPath("itk_tag.read, Python path", ITK_TAG_READ, PYTHON_PATH),
    ReadPath("itk_tag.read_array", READ_ARRAY),
]
REFERENCE = "ITK Python"
"""The path every other is held to: native ITK Python, the fullest metadata (typed entries)."""

ORIGINAL_KEYS = ("ITK_original_direction", "ITK_original_spacing")
ABSENT = object()

SIMPLEITK_TEXT = "[UNKNOWN_PRINT_CHARACTERISTICS]\n"

METADATA_EXCEPTIONS: dict[str, dict[str, tuple[object, str]]] = {
    "SimpleITK": dict.fromkeys(
        ORIGINAL_KEYS,
        (
            SIMPLEITK_TEXT,
            "SimpleITK's GetMetaData gives, for an entry that is no string (a std::vector<double>, an "
            "itk::Matrix), the text ITK's MetaDataObject::Print writes",
        ),
    ),
    "SimpleITK, Python path": dict.fromkeys(
        ORIGINAL_KEYS,
        (
            ABSENT,
            "SimpleITK's Python API sets only string entries; the text native SimpleITK shows "
            f"({SIMPLEITK_TEXT!r}) set as a string would be written verbatim by WriteImage: a .mha header "
            "then loses every entry after it (measured with SimpleITK 2.5.7), where the typed entries "
            "are written as numbers (MetaImage) or not at all (NRRD)",
        ),
    ),
    **{
        name: dict.fromkeys(
            ORIGINAL_KEYS,
            (
                ABSENT,
                "itk_tag.read makes the image for any grid (the tag's, or its reference's) and gives it "
                "the header keywords only, on every path",
            ),
        )
        for name in ("itk_tag.read", "itk_tag.read, Python path")
    },
    "itk_tag.read_array": dict.fromkeys(
        ORIGINAL_KEYS, (ABSENT, "read_array gives the header's keywords: no ITK image is made")
    ),
}
"""Where a path's metadata differs from the reference's: path -> key -> (its value or ABSENT, why)."""

NATIVE_HOSTS = ("ITK Python", "SimpleITK")

ERROR_EXCEPTIONS: dict[str, str] = dict.fromkeys(
    NATIVE_HOSTS,
    "ITK's ImageFileReader hands a file only to an ImageIO whose CanReadFile claims it: for a file "
    "TagImageIO does not claim (malformed_cases: claimed=False) the host reports that no ImageIO "
    "reads it, naming the file, not the tag reader's problem",
)
"""Where a path's error for a malformed file is not the format layer's message: path -> why."""


def corpus(generated: dict, folder: Path) -> list[tuple[str, Path, malformed_cases.MalformedCase | None]]:
    """(name, path, malformed case or None) of every file of the conformance corpus."""
    files: list[tuple[str, Path, malformed_cases.MalformedCase | None]] = [
        (name, DATA / name, None) for name in sorted(REAL_TAGS)
    ]
    files += [(name, path, None) for name, (_, path) in sorted(generated.items())]
    folder.mkdir(parents=True, exist_ok=True)
    for case in malformed_cases.cases():
        if case.kind == FILE:  # folders and unreadable files: test_malformed.py
            files.append((case.name, malformed_cases.write_case(case, folder), case))
    return files


def child_code(reader: str, paths: list[str]) -> str:
    """The code of a child that reads ``paths`` with ``reader`` and prints one JSON line per file."""
    return CHILD.format(reader=reader, paths=paths)


def children_code(readers: dict[str, str], paths: list[str]) -> str:
    """One process that runs the child of each reader in turn (where a process start costs seconds:
    wine); each report line starts with the reader's name and a tab.
    """
    lines = ["import contextlib, io, sys"]
    for name, reader in readers.items():
        code = child_code(reader, paths)
        lines += [
            "out = io.StringIO()",
            f"with contextlib.redirect_stdout(out):\n    exec({code!r}, {{}})",
            f"for line in out.getvalue().splitlines():\n    print({name!r} + chr(9) + line)",
        ]
    return "\n".join(lines) + "\n"


def split_reports(stdout: str) -> dict[str, dict[str, dict]]:
    """The reports of :func:`children_code` per reader name."""
    by_reader: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        name, tab, rest = line.partition("\t")
        if tab:
            by_reader.setdefault(name, []).append(rest)
    return {name: outcomes("\n".join(lines)) for name, lines in by_reader.items()}


def outcomes(stdout: str) -> dict[str, dict]:
    """The child's report per path."""
    found = {}
    for line in stdout.splitlines():
        if line.startswith('{"path"'):
            report = json.loads(line)
            found[report.pop("path")] = report
    return found


def run_path(read_path: ReadPath, paths: list[str]) -> dict[str, dict]:
    """Reads ``paths`` in one child of this venv; fails on a signal or a file not reported."""
    result = run_python(child_code(read_path.reader, paths), env=read_path.env, timeout=600)
    assert result.returncode >= 0, f"{read_path.name}: killed by signal {-result.returncode}\n{result.stderr}"
    assert result.returncode == 0, f"{read_path.name}: exit code {result.returncode}\n{result.stderr[-3000:]}"
    found = outcomes(result.stdout)
    assert sorted(found) == sorted(paths), f"{read_path.name}: files not reported\n{result.stderr[-3000:]}"
    return found


def expected_metadata(path_name: str, reference: dict[str, object]) -> dict[str, object]:
    """The reference's metadata as ``path_name`` must give it (METADATA_EXCEPTIONS applied)."""
    expected = dict(reference)
    for key, (value, _) in METADATA_EXCEPTIONS.get(path_name, {}).items():
        if value is ABSENT:
            expected.pop(key, None)
        elif key in expected:
            expected[key] = value
    return expected


def format_message(reference: dict, case: malformed_cases.MalformedCase) -> str:
    """The format layer's message for a malformed file (read_array's), checked against the case."""
    assert "TagFileError" in reference["raised"], reference
    assert case.problem.lower() in reference["message"].lower(), reference
    return reference["message"]


def check_path(
    path_name: str,
    found: dict[str, dict],
    reference: dict[str, dict],
    format_errors: dict[str, str],
    files: list[tuple[str, Path, malformed_cases.MalformedCase | None]],
    like: str | None = None,
) -> list[str]:
    """The differences of one path's reports from the reference path's (issue 24's table), as text.

    ``like``: the path of PATHS whose exceptions apply (default: ``path_name``'s own).
    ``format_errors``: read_array's message per malformed file path. A valid
    file must give the reference's image and metadata (with the path's
    METADATA_EXCEPTIONS); a malformed one a RuntimeError (TagFileError is one)
    with the format layer's message in it, or, for a native host and a file
    TagImageIO does not claim, the host's own error naming the file
    (ERROR_EXCEPTIONS).
    """
    like = like or path_name
    problems = []
    for name, file, case in files:
        got, want = found[str(file)], reference[str(file)]
        if case is None:
            if "raised" in got:
                problems.append(f"{path_name}: {name}: raised {got['raised'][0]}: {got['message']}")
                continue
            expected = dict(want, metadata=expected_metadata(like, want["metadata"]))
            for key in expected:
                if got.get(key) != expected[key]:
                    problems.append(f"{path_name}: {name}: {key} {got.get(key)!r} != {expected[key]!r}")
            continue
        if "raised" not in got:
            problems.append(f"{path_name}: {name}: malformed file read without an error")
            continue
        if "RuntimeError" not in got["raised"]:
            problems.append(f"{path_name}: {name}: raised {got['raised'][0]}, not a RuntimeError")
        message = format_errors[str(file)]
        native_unclaimed = like in ERROR_EXCEPTIONS and not case.claimed
        if native_unclaimed:
            if str(file) not in got["message"]:
                problems.append(f"{path_name}: {name}: the error does not name the file: {got['message']}")
        elif message not in got["message"]:
            problems.append(f"{path_name}: {name}: {got['message']!r} does not hold {message!r}")
    return problems


@pytest.fixture(scope="module")
def corpus_files(generated: dict, tmp_path_factory: pytest.TempPathFactory) -> list:
    return corpus(generated, tmp_path_factory.mktemp("parity-malformed"))


@pytest.fixture(scope="module")
def reports(corpus_files: list) -> dict[str, dict[str, dict]]:
    """Every path's reports, each path in one child process."""
    paths = [str(file) for _, file, _ in corpus_files]
    return {read_path.name: run_path(read_path, paths) for read_path in PATHS}


def format_errors(reports: dict[str, dict[str, dict]], files: list) -> dict[str, str]:
    """read_array's message for each malformed file (the format layer's wording)."""
    found = reports["itk_tag.read_array"]
    return {str(file): format_message(found[str(file)], case) for _, file, case in files if case is not None}


@pytest.mark.parametrize("path_name", [p.name for p in PATHS if p.name != REFERENCE])
def test_every_path_reads_the_same_image(reports: dict, corpus_files: list, path_name: str) -> None:
    errors = format_errors(reports, corpus_files)
    problems = check_path(path_name, reports[path_name], reports[REFERENCE], errors, corpus_files)
    assert not problems, "\n".join(problems)


def test_the_reference_path_gives_the_file_and_reader_entries(reports: dict, corpus_files: list) -> None:
    """Native ITK Python: every header keyword, and ITK's two reader entries equal to the header's."""
    reference = reports[REFERENCE]
    read_array = reports["itk_tag.read_array"]
    for name, file, case in corpus_files:
        if case is not None:
            continue
        got = reference[str(file)]
        keywords = {k: v for k, v in got["metadata"].items() if k not in ORIGINAL_KEYS}
        assert keywords == read_array[str(file)]["metadata"], name
        assert got["metadata"]["ITK_original_spacing"] == ["tuple", got["spacing"]], name
        matrix = got["metadata"]["ITK_original_direction"]
        assert matrix == ["itkMatrixD33", [got["direction"][i : i + 3] for i in (0, 3, 6)]], name


def test_itk_python_pixel_type_keeps_the_metadata(corpus_files: list) -> None:
    """``itk.imread(path, itk.F)``: the Python path's cast image has the native reader's metadata
    (it had none before issue 24)."""
    paths = [str(file) for _, file, case in corpus_files if case is None]
    as_float = ITK.replace("itk.imread(path)", "itk.imread(path, itk.F)")
    native = run_path(ReadPath("ITK Python, float", as_float), paths)
    python = run_path(ReadPath("ITK Python, float, Python path", as_float, PYTHON_PATH), paths)
    assert python == native
    assert all(report["dtype"] == "float32" and report["metadata"] for report in native.values())
