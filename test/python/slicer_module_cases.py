"""The cases the SliceOmaticTag module runs on Slicer's real code, and what each must give.

Shared by test_slicer_module.py (Linux, slicer-core venvs) and test_wine.py's
Slicer test (Windows CPython under wine): both write the same files, run
slicer_module_driver.py on them in a Python that has only Slicer's core, and
check its results here. Expectations come from itk-tag's own format reader in
the test process (voxels, LPS geometry turned to RAS) and from the real files.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import malformed_cases
import numpy as np
from conftest import DATA, GENERATED, REAL_TAGS
from itk_tag.format import read_array, read_header
from voxel_facts import facts

MATRIX_TOLERANCE = 1e-9
"""IJKToRAS entries: the tag's header turned to RAS, or the CT's matrix; exact up to float rounding."""
MISMATCHED = ("barbell2-10.tag", "sandbox-test01.dcm")
"""A tag and a CT of another scan: the CT must not be used, with a warning."""


def ras_matrix(path: Path) -> list[float]:
    """The IJKToRAS of a tag's grid (header in LPS; x and y rows negated), row by row (12 values)."""
    header = read_header(path)
    axes = (
        np.diag([-1.0, -1.0, 1.0]) @ np.asarray(header.direction).reshape(3, 3) * np.asarray(header.spacing)
    )
    origin = np.diag([-1.0, -1.0, 1.0]) @ np.asarray(header.origin)
    return np.column_stack([axes, origin]).ravel().tolist()


def write_inputs(folder: Path, skip_unreadable: bool) -> dict[str, Path]:
    """The generated tags, the real pairs (and an upper-case copy) and the malformed table in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {f"generated-{spec.name}": spec.write(folder) for spec in GENERATED}
    for tag, dicom in REAL_TAGS.items():
        files[tag] = Path(shutil.copyfile(DATA / tag, folder / tag))
        files[dicom] = Path(shutil.copyfile(DATA / dicom, folder / dicom))
    files["BARBELL2-10.TAG"] = Path(shutil.copyfile(DATA / "barbell2-10.tag", folder / "BARBELL2-10.TAG"))
    bad = folder / "malformed"
    bad.mkdir()
    for case in malformed_cases.cases():
        if case.kind == malformed_cases.UNREADABLE and skip_unreadable:
            continue
        files[f"malformed-{case.name}"] = malformed_cases.write_case(case, bad)
    return files


def plan(files: dict[str, Path], out: Path, spell: Callable[[Path], str] = str) -> dict[str, Any]:
    """The driver's plan; ``spell`` writes a path as the driver's Python sees it (Windows: Z:\\...)."""
    cases: list[dict[str, Any]] = []

    def add(name: str, file: Path, **extra: Any) -> None:
        case = {"name": name, "file": spell(file), **extra}
        if "volume" in case:
            case["volume"] = spell(case["volume"])
        cases.append(case)

    for spec in GENERATED:
        add(f"generated-{spec.name}", files[f"generated-{spec.name}"])
        add(f"generated-{spec.name}-labelmap", files[f"generated-{spec.name}"], properties={"labelmap": True})
    for tag, dicom in REAL_TAGS.items():
        add(tag, files[tag])
        add(f"{tag}-labelmap", files[tag], properties={"labelmap": True})
        add(f"{tag}-ct", files[tag], volume=files[dicom])
        add(f"{tag}-ct-named", files[tag], volume=files[dicom], properties={"referenceVolumeID": "<volume>"})
        add(f"{tag}-ct-labelmap", files[tag], volume=files[dicom], properties={"labelmap": True})
    add("alberta", files["barbell2-10.tag"], properties={"labels": "alberta"})
    add("upper-case", files["BARBELL2-10.TAG"])
    tag, dicom = MISMATCHED
    add("mismatched", files[tag], volume=files[dicom])
    for name, path in files.items():
        if name.startswith("malformed-"):
            add(name, path)
    return {"out": spell(out), "cases": cases}


def _close(actual: list[float], expected: list[float]) -> bool:
    return len(actual) == len(expected) and all(
        abs(a - b) <= MATRIX_TOLERANCE for a, b in zip(actual, expected)
    )


def check(results: dict[str, Any], files: dict[str, Path], local: Callable[[str], Path] = Path) -> list[str]:
    """Every way the driver's results differ from what each case must give ([] when all are right).

    ``local`` turns a path the driver reported back into this machine's path.
    """
    problems: list[str] = []
    by_name = {case["name"]: case for case in results["cases"]}
    expected_problems = {case.name: case.problem for case in malformed_cases.cases()}

    def expect(condition: bool, name: str, what: str) -> None:
        if not condition:
            problems.append(f"{name}: {what}: {json.dumps(by_name.get(name), default=str)[:1500]}")

    if results["module_title"] != "SliceOmatic Tag":
        problems.append(f"the module class did not set up its parent: {results['module_title']!r}")
    if results["itk_tag_imported"]:
        problems.append("the module imported itk_tag (it may use only its format folder)")
    if not results["no_shell"]:
        problems.append("slicer.app exists: not a Python with Slicer's core alone")
    for name, result in by_name.items():
        if name.startswith("malformed-"):
            problem = expected_problems[name.removeprefix("malformed-")]
            errors = [text for kind, text in result["messages"] if kind == "error"]
            expect(result["loaded"] is False, name, "a bad file was loaded")
            expect(
                any(problem.lower() in text.lower() for text in errors), name, f"no error naming {problem!r}"
            )
            expect(result["scene_unchanged"] and result["loaded_nodes"] == [], name, "the scene changed")
            continue
        source = _source(name, files)
        voxels, _ = read_array(source)
        expect(result["loaded"] is True and result["scene_unchanged"] is False, name, "not loaded")
        if not result["loaded"]:
            continue
        expect(result["confidence"] == 0.6 and result["can_load"], name, "confidence not 0.6 for a .tag")
        labelmap = name.endswith("-labelmap")
        expect(
            result["class"] == ("vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLSegmentationNode"),
            name,
            "wrong node class",
        )
        with_ct = "-ct" in name
        grid = result.get("volume_ijk_to_ras") if with_ct else ras_matrix(source)
        if voxels.any() or labelmap:
            expect(result["voxels"] == facts(voxels), name, "voxels are not the tag's labels")
            expect(_close(result["ijk_to_ras"], grid), name, "IJKToRAS is not the expected grid")
        if not labelmap:
            present = sorted(int(v) for v in np.unique(voxels) if v)
            expect(
                [int(s["label"]) for s in result["segments"]] == present, name, "not one segment per label"
            )
            expect(_close(result["reference_geometry"], grid), name, "reference geometry is not the grid")
            expect(result["reference_dimensions"] == list(voxels.shape[::-1]), name, "reference size")
            expect(
                result["reference_volume"] == (result.get("volume_id") if with_ct else None),
                name,
                "reference volume link",
            )
            names = [s["name"] for s in result["segments"]]
            if name == "alberta":
                expect(names == ["muscle", "VAT", "SAT"], name, "alberta names")
                expect(
                    [s["color"] for s in result["segments"]][0] == [1.0, 0.0, 0.0], name, "alberta colours"
                )
            else:
                expect(names == [f"Label {v}" for v in present], name, "default names")
        warnings = [text for kind, text in result["messages"] if kind == "warning"]
        if name == "mismatched":
            expect(any("not on its grid" in text for text in warnings), name, "no warning about the other CT")
        else:
            expect(result["messages"] == [], name, "unexpected messages")
        expect(result["written"] is True and result["write_messages"] == [], name, "not written")
        expect(result["write_confidence"] == 0.6, name, "writer does not prefer a node read from a .tag")
        expect(result["written_nodes"] == result["loaded_nodes"], name, "writtenNodes")
        expect(result["write_scene_unchanged"], name, "writing changed the scene")
        if result["written"]:
            problems += _round_trip(name, source, local(result["written_file"]))
    return problems


def _source(name: str, files: dict[str, Path]) -> Path:
    base = name
    for suffix in ("-ct-named", "-ct-labelmap", "-ct", "-labelmap"):
        base = base.removesuffix(suffix)
    named = {"alberta": "barbell2-10.tag", "upper-case": "BARBELL2-10.TAG", "mismatched": MISMATCHED[0]}
    return files[named.get(base, base)]


def _round_trip(name: str, source: Path, written: Path) -> list[str]:
    """A real sample comes back byte for byte; a generated tag with its voxels, geometry and keywords."""
    if source.name in REAL_TAGS or source.name == "BARBELL2-10.TAG":
        if written.read_bytes() != source.read_bytes():
            return [f"{name}: written back, {written} is not byte-identical to {source}"]
        return []
    before, header = read_array(source)
    after, written_header = read_array(written)
    problems = []
    if not np.array_equal(before, after) or before.dtype != after.dtype:
        problems.append(f"{name}: written voxels differ from {source}")
    for field in ("size", "origin", "spacing"):
        if not np.allclose(getattr(header, field), getattr(written_header, field), atol=1e-4):
            problems.append(f"{name}: written {field} differs")
    if not np.allclose(header.direction, written_header.direction, atol=1e-4):
        problems.append(f"{name}: written direction differs")
    extra = {k: v for k, v in header.keywords.items() if k in ("uid", "chksum")}
    if any(written_header.keywords.get(k) != v for k, v in extra.items()):
        problems.append(f"{name}: header keywords not carried: {extra}")
    return problems
