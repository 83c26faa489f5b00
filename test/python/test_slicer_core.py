"""3D Slicer's own reader stack on ``.tag`` files: the ``slicer-core`` wheels (Slicer's MRML,
vtkITK and module logics, without Qt) 5.12.4.0 (Slicer 5.12's core) and 5.13.31053.0 (Slicer's
main branch), each in a Python of its own beside this checkout's itk-tag (scripts/slicer_core.sh).

Each read is what Slicer's "Add Data" runs for a volume: a ``vtkMRMLVolumeArchetypeStorageNode``
reading into a ``vtkMRMLLabelMapVolumeNode`` of a real ``vtkMRMLScene`` (``ReadData``), with
Single File on. The image must be itk_tag's: dimensions, voxels, and IJKToRAS = the tag's LPS
geometry with x and y negated.

* Through the plugin folder exported (``ITK_AUTOLOAD_PATH=$(itk-tag plugin-path)``, startup hook
  off): the real samples, the generated cases and the malformed table (``ReadData`` returns 0).
* With zero steps: nothing exported, no ``import itk_tag`` (the startup hook, armed for
  ``slicer_core``); not with ``ITK_TAG_NO_AUTOLOAD=1``; nothing native with ``ITK_TAG_NATIVE=0``;
  SimpleITK and ITK Python in the same process as usual.

Every host runs in a child process: a signal fails the test.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import itk_tag
import malformed_cases
import numpy as np
import pytest
from conftest import DATA, REAL_TAGS, SLICER_CORE_VERSIONS, Install, slicer_core_python
from itk_tag.hosts import slicer_python
from malformed_cases import UNREADABLE
from test_hosts import all_test_files
from test_malformed import permission_wrapper, run_child

VERSIONS = SLICER_CORE_VERSIONS
TIME_LIMIT = 600
ISOLATED = ("PYTHONPATH", "VIRTUAL_ENV", "ITK_AUTOLOAD_PATH", "ITK_TAG_NO_AUTOLOAD", "ITK_TAG_NATIVE")
"""Variables a child does not inherit from the test run."""

# A child of a slicer-core Python: runs argv[1], then reads each path of argv[3] (JSON) with Slicer's
# archetype storage node, one JSON line per file, announced before the read so that a crash names
# its file; then runs argv[2] with the process report as `report`, and prints the report.
READ = r"""
import hashlib, json, os, sys
exec(sys.argv[1], {})
import slicer
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkCommonMath import vtkMatrix4x4

def read(path):
    scene = slicer.vtkMRMLScene()
    node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(path)
    storage.SetSingleFile(1)
    node.SetAndObserveStorageNodeID(storage.GetID())
    result = {"path": path, "ok": storage.ReadData(node)}
    if result["ok"]:
        image = node.GetImageData()
        voxels = vtk_to_numpy(image.GetPointData().GetScalars())
        matrix = vtkMatrix4x4()
        node.GetIJKToRASMatrix(matrix)
        result.update(
            dimensions=list(image.GetDimensions()),
            dtype=str(voxels.dtype),
            sha256=hashlib.sha256(voxels.tobytes()).hexdigest(),
            ijk_to_ras=[[matrix.GetElement(i, j) for j in range(4)] for i in range(4)],
        )
    return result

report = {
    "autoload_path": os.environ.get("ITK_AUTOLOAD_PATH"),
    "itk_tag_imported": "itk_tag" in sys.modules,
}
for path in json.loads(sys.argv[3]):
    print(json.dumps({"reading": path}), flush=True)
    print(json.dumps(read(path)), flush=True)
with open("/proc/self/maps") as maps:
    # The entry library, and each build by its folder (old-slicer_itk, ...).
    paths = {line.split(None, 5)[-1].strip() for line in maps if "libIOTag" in line}
    report["native_loaded"] = sorted("/".join(path.split("/")[-2:]) for path in paths)
hook = sys.modules.get("_itk_tag_autoload")
report["hook"] = getattr(hook, "status", None)
importer = sys.modules.get("itk_tag.hosts.import_hook")
report["hook_failure"] = getattr(importer, "failure", None)
exec(sys.argv[2], {"report": report})
print(json.dumps(report), flush=True)
"""


@pytest.fixture(scope="module", params=VERSIONS)
def slicer_core(request: pytest.FixtureRequest) -> Install:
    """A Python with slicer-core==VERSION and this checkout's itk-tag (scripts/slicer_core.sh)."""
    python = slicer_core_python(request.param)
    code = "import sysconfig, slicer_core, itk_tag\nprint(sysconfig.get_path('purelib'), itk_tag.__file__)"
    found = Install(python, python.parent).run("-c", code)
    assert found.returncode == 0, found.stderr
    site, package = map(Path, found.stdout.split())
    assert package.is_relative_to(site), f"itk_tag comes from {package}, not from {site}"
    return Install(python, site)


def plugin_folder(install: Install) -> str:
    done = install.run("-m", "itk_tag", "plugin-path")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def read_in_slicer(
    install: Install,
    paths: list[Path],
    env: dict[str, str] | None = None,
    before: str = "",
    after: str = "",
    wrapper: list[str] | None = None,
) -> tuple[dict[str, dict], dict]:
    """Reads ``paths`` in one child of ``install``: (each file's result by path, the process report).

    The child gets this process's environment less PYTHONPATH and itk-tag's variables, plus ``env``.
    ``before`` runs in it before ``import slicer``, ``after`` after the reads, with the report as
    ``report``. A signal, a hang or a file the child never finished fails the test, naming that
    file; so does an ITK warning about the plugin's version on stderr.
    """
    unset = [arg for name in ISOLATED for arg in ("-u", name)]
    assignments = [f"{name}={value}" for name, value in (env or {}).items()]
    child = run_child(
        [*(wrapper or []), "env", *unset, *assignments, str(install.python), "-c", READ, before, after]
        + [json.dumps([str(p) for p in paths])],
        timeout=TIME_LIMIT,
    )
    assert not child.timed_out and child.returncode == 0, child.describe()
    lines = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
    results = {line["path"]: line for line in lines if "ok" in line}
    missing = [str(p) for p in paths if str(p) not in results]
    assert not missing, f"no result for {missing}\n{child.describe()}"
    assert "ncompatible" not in child.stderr, child.stderr
    return results, lines[-1]


def expected_ijk_to_ras(path: Path) -> np.ndarray:
    """IJKToRAS of a tag: its LPS geometry (itk_tag.read_header) with x and y negated."""
    header = itk_tag.read_header(path)
    matrix = np.eye(4)
    matrix[:3, :3] = np.asarray(header.direction).reshape(3, 3) * np.asarray(header.spacing)
    matrix[:3, 3] = header.origin
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ matrix


def check_read(result: dict, path: Path) -> None:
    """Slicer's image is itk_tag's: dimensions, voxels (x fastest) and IJKToRAS."""
    assert result["ok"] == 1, f"ReadData failed for {path}"
    voxels, header = itk_tag.read_array(path)
    assert result["dimensions"] == list(header.size), path
    assert result["dtype"] == str(voxels.dtype), path
    assert result["sha256"] == hashlib.sha256(np.ascontiguousarray(voxels).tobytes()).hexdigest(), path
    np.testing.assert_allclose(result["ijk_to_ras"], expected_ijk_to_ras(path), rtol=0, atol=1e-9)


def good_cases(generated: dict) -> list[Path]:
    """Both real samples and every generated case."""
    return all_test_files(generated)


def test_reads_every_case_through_the_exported_plugin_folder(slicer_core: Install, generated: dict) -> None:
    exported = {"ITK_AUTOLOAD_PATH": plugin_folder(slicer_core), "ITK_TAG_NO_AUTOLOAD": "1"}
    paths = good_cases(generated)
    results, report = read_in_slicer(slicer_core, paths, exported)
    for path in paths:
        check_read(results[str(path)], path)
    assert report["native_loaded"] == ["old-slicer_itk/libIOTagImageIO.so", "plugins/libIOTagPlugin.so"]
    assert not report["itk_tag_imported"]


def test_without_the_folder_it_reads_no_tag(slicer_core: Install) -> None:
    paths = [DATA / name for name in REAL_TAGS]
    results, report = read_in_slicer(slicer_core, paths, {"ITK_TAG_NO_AUTOLOAD": "1"})
    assert [results[str(p)]["ok"] for p in paths] == [0, 0]
    assert report["native_loaded"] == [] and not report["itk_tag_imported"]


def test_a_malformed_file_fails_the_read_without_a_crash(slicer_core: Install, tmp_path: Path) -> None:
    exported = {"ITK_AUTOLOAD_PATH": plugin_folder(slicer_core), "ITK_TAG_NO_AUTOLOAD": "1"}
    cases = malformed_cases.cases()
    files = {case.name: malformed_cases.write_case(case, tmp_path) for case in cases}
    ordinary = [files[case.name] for case in cases if case.kind != UNREADABLE]
    results, _ = read_in_slicer(slicer_core, ordinary, exported)
    unreadable = [files[case.name] for case in cases if case.kind == UNREADABLE]
    if unreadable:
        more, _ = read_in_slicer(slicer_core, unreadable, exported, wrapper=permission_wrapper())
        results.update(more)
    failed = {Path(path).stem: result["ok"] for path, result in results.items()}
    assert failed == {case.name: 0 for case in cases}


# Run in the child after the reads: SimpleITK and ITK Python in the same process, and a child process.
OTHER_HOSTS = r"""
import hashlib, subprocess, sys
import itk, SimpleITK as sitk
code = "import os; print(os.environ.get('ITK_AUTOLOAD_PATH'))"
report["child_autoload_path"] = subprocess.run(
    [sys.executable, "-c", code], capture_output=True, text=True, check=True
).stdout.strip()
report["simpleitk_tag_io"] = "TagImageIO" in sitk.ImageFileReader().GetRegisteredImageIOs()
mark = "__itk_tag_dispatch__"
report["wrapped"] = [getattr(sitk.ReadImage, mark, False), getattr(itk.imread, mark, False)]
digest = lambda array: hashlib.sha256(array.tobytes()).hexdigest()
report["reads"] = {
    path: [
        digest(sitk.GetArrayFromImage(sitk.ReadImage(path))),
        digest(itk.array_from_image(itk.imread(path))),
    ]
    for path in PATHS
}
"""


@pytest.mark.parametrize("before", ["", "import SimpleITK, itk"], ids=["slicer-first", "simpleitk-first"])
def test_zero_steps_reads_through_slicers_reader_stack(
    slicer_core: Install, generated: dict, tmp_path: Path, before: str
) -> None:
    """Nothing exported, no import itk_tag: the startup hook gives slicer_core the plugin folder, only
    while it is imported; SimpleITK and ITK Python in that process read as in any install, imported
    before or after it."""
    nrrd = tmp_path / "other.nrrd"
    import SimpleITK

    SimpleITK.WriteImage(
        SimpleITK.GetImageFromArray(np.arange(24, dtype=np.uint8).reshape(2, 3, 4)), str(nrrd)
    )
    paths = good_cases(generated)
    others = [DATA / "barbell2-10.tag", nrrd]
    after = f"PATHS = {[str(p) for p in others]!r}\n" + OTHER_HOSTS
    results, report = read_in_slicer(slicer_core, paths, before=before, after=after)
    for path in paths:
        check_read(results[str(path)], path)
    assert report["hook"] == "armed" and report["hook_failure"] is None
    assert report["itk_tag_imported"]  # by the startup hook, not by the child
    assert report["autoload_path"] is None and report["child_autoload_path"] == "None"
    assert "old-slicer_itk/libIOTagImageIO.so" in report["native_loaded"]
    assert report["simpleitk_tag_io"] and report["wrapped"] == [False, False]
    for path in others:
        voxels = itk_tag.read_array(path)[0] if path.suffix == ".tag" else np.arange(24, dtype=np.uint8)
        digest = hashlib.sha256(np.ascontiguousarray(voxels).tobytes()).hexdigest()
        assert report["reads"][str(path)] == [digest, digest], path


@pytest.mark.parametrize(
    "env,before,reads",
    [
        ({"ITK_TAG_NO_AUTOLOAD": "1"}, "", False),
        ({"ITK_TAG_NATIVE": "0"}, "", False),
        ({"ITK_TAG_NO_AUTOLOAD": "1"}, "import itk_tag", True),
        ({"ITK_TAG_NO_AUTOLOAD": "1"}, "import slicer\nimport itk_tag", True),
    ],
    ids=["hook-off", "native-off", "hook-off-import-itk_tag-first", "hook-off-import-itk_tag-after-slicer"],
)
def test_without_the_hook_or_a_native_build(
    slicer_core: Install, env: dict[str, str], before: str, reads: bool
) -> None:
    """Hook off: no .tag (and nothing of itk-tag loaded) unless itk_tag is imported, before slicer
    or after it (before the first read). ITK_TAG_NATIVE=0 (as where no build serves): nothing
    native is loaded."""
    paths = [DATA / name for name in REAL_TAGS]
    results, report = read_in_slicer(slicer_core, paths, env, before=before)
    if reads:
        for path in paths:
            check_read(results[str(path)], path)
        return
    assert [results[str(p)]["ok"] for p in paths] == [0, 0]
    assert report["native_loaded"] == []
    assert report["itk_tag_imported"] == ("ITK_TAG_NO_AUTOLOAD" not in env)


def test_the_served_rule_for_slicer_core_libraries(slicer_core: Install, tmp_path: Path) -> None:
    """Its real ITK library is served by old-slicer_itk; the same library claiming ITK 6.0.0, or a
    package with no libITKCommon-*.so (the Windows and macOS wheels), by none."""
    found = slicer_core.run("-c", "import slicer_core; print(slicer_core.__path__[0])")
    assert found.returncode == 0, found.stderr
    library, verdict = slicer_python.served(Path(found.stdout.strip()))
    assert library is not None and library.name == "libITKCommon-5.4.so"
    assert verdict.build == "old-slicer_itk", verdict
    assert verdict.reason == "ITK 5.4.5, libstdc++ ABI old, namespace slicer_itk"

    (tmp_path / "ITK6" / "third_party.libs").mkdir(parents=True)
    data = library.read_bytes()
    assert data.count(b"itk version 5.4.5") == 1
    (tmp_path / "ITK6" / "third_party.libs" / library.name).write_bytes(
        data.replace(b"itk version 5.4.5", b"itk version 6.0.0")
    )
    _, verdict = slicer_python.served(tmp_path / "ITK6")
    assert verdict.build is None
    assert "ITK 6.0.0 is not one the native builds were tested against" in verdict.reason

    (tmp_path / "windows").mkdir()
    (tmp_path / "windows" / "ITKCommon-5.4.dll").write_bytes(b"MZ")
    _, verdict = slicer_python.served(tmp_path / "windows")
    assert verdict.build is None and "no libITKCommon-*.so*" in verdict.reason


def test_doctor_reports_slicer_core(slicer_core: Install) -> None:
    done = slicer_core.run("-m", "itk_tag", "doctor", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    hosts = {host["name"]: host for host in report["hosts"]}
    slicer = hosts["slicer-core"]
    assert slicer["reads"] and slicer["path"] == "native" and slicer["how"] == "import slicer"
    assert slicer["version"] in VERSIONS and slicer["itk_version"] == "5.4.5" and slicer["abi"] == "old"
    assert (
        slicer["serves"] == "native build old-slicer_itk (ITK 5.4.5, libstdc++ ABI old, namespace slicer_itk)"
    )
    assert report["ok"] is True and report["problems"] == []
