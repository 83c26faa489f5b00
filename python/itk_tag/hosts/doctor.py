"""``itk-tag doctor``: what this Python environment has, and whether each host reads ``.tag`` files.

Each host (SimpleITK, ITK Python, 3D Slicer's core from the slicer-core
wheel, itk-tag's own numpy reader) reads the bundled sample
(:mod:`itk_tag.hosts.sample`) in a child process, so a host that crashes (a
plugin built for another ABI, say) is reported, not suffered. The SimpleITK
and slicer-core children do *not* import itk_tag: they check what users get
from ``import SimpleITK`` or ``import slicer`` alone, through the startup hook.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import signal
import site
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import import_hook, plugins, sample, slicer_python
from . import native as _native

HOOK_FILE = "itk-tag-autoload.pth"
HOOK_MODULE = "_itk_tag_autoload"
CHILD_TIMEOUT_SECONDS = 300

# Run with `python -c PROBE HOST SAMPLE IMPORT_ITK_TAG`; prints one JSON line.
# No itk_tag import unless asked: that is what the check is about. "path" is
# the path that served the read: the native TagImageIO, the Python-level
# wrapper (itk_tag.hosts.dispatch marks it), or itk_tag's own format layer.
PROBE = r"""
import hashlib, json, sys
host, path, import_itk_tag = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
result = {}
wrapped = lambda function: bool(getattr(function, "__itk_tag_dispatch__", False))
try:
    if import_itk_tag:
        import itk_tag
    if host == "SimpleITK":
        import SimpleITK as sitk
        v = sitk.Version
        result["itk_version"] = f"{v.ITKMajorVersion()}.{v.ITKMinorVersion()}.{v.ITKPatchVersion()}"
        native = "TagImageIO" in sitk.ImageFileReader().GetRegisteredImageIOs()
        result["path"] = "native" if native else ("python" if wrapped(sitk.ReadImage) else None)
        image = sitk.ReadImage(path)
        voxels = sitk.GetArrayViewFromImage(image)
        geometry = (image.GetSize(), image.GetOrigin(), image.GetSpacing(), image.GetDirection())
    elif host == "itk":
        import itk, numpy
        result["itk_version"] = itk.Version.GetITKVersion()
        result["path"] = "python" if wrapped(itk.imread) else None
        image = itk.imread(path)
        result["path"] = result["path"] or "native"
        voxels = itk.array_view_from_image(image)
        matrix = numpy.asarray(itk.array_from_matrix(image.GetDirection())).ravel()
        size = image.GetLargestPossibleRegion().GetSize()
        geometry = ([size[i] for i in range(3)], image.GetOrigin(), image.GetSpacing(), matrix)
    elif host == "slicer_core":
        # What Slicer's "Add Data" runs for a volume: the archetype storage node, into a labelmap.
        import slicer
        from vtkmodules.util.numpy_support import vtk_to_numpy
        scene = slicer.vtkMRMLScene()
        node = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode")
        storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
        storage.SetFileName(path)
        storage.SetSingleFile(1)
        node.SetAndObserveStorageNodeID(storage.GetID())
        if not storage.ReadData(node):
            raise RuntimeError(f"vtkMRMLVolumeArchetypeStorageNode.ReadData failed for {path}")
        result["path"] = "native"
        voxels = vtk_to_numpy(node.GetImageData().GetPointData().GetScalars())
        rows = [[0.0] * 3 for _ in range(3)]
        node.GetIJKToRASDirections(rows)
        x, y, z = node.GetOrigin()
        # RAS to LPS: x and y change sign.
        lps = [[-v for v in rows[0]], [-v for v in rows[1]], rows[2]]
        geometry = (node.GetImageData().GetDimensions(), (-x, -y, z), node.GetSpacing(), sum(lps, []))
    else:
        import itk_tag
        result["path"] = "python"
        voxels, header = itk_tag.read_array(path)
        geometry = (header.size, header.origin, header.spacing, header.direction)
    result["facts"] = {
        "size": [int(v) for v in geometry[0]],
        "origin": [float(v) for v in geometry[1]],
        "spacing": [float(v) for v in geometry[2]],
        "direction": [float(v) for v in geometry[3]],
        "dtype": str(voxels.dtype),
        "sha256": hashlib.sha256(voxels.tobytes()).hexdigest(),
    }
except Exception as error:
    result["error"] = f"{type(error).__name__}: {error}"
hook = sys.modules.get("_itk_tag_autoload")
result["hook"] = getattr(hook, "status", None) if hook else None
importer = sys.modules.get("itk_tag.hosts.import_hook")
result["hook_failure"] = getattr(importer, "failure", None) if importer else None
print(json.dumps(result), flush=True)
"""


@dataclass
class Problem:
    """Something that stops a host from reading .tag files, and the line that fixes it."""

    problem: str
    fix: str


@dataclass
class Host:
    """One host and how it read the sample."""

    name: str
    version: Optional[str] = None
    itk_version: Optional[str] = None
    abi: Optional[str] = None
    """libstdc++ string ABI of its ITK library (new or old)."""
    serves: Optional[str] = None
    """What the served rule (:func:`~itk_tag.hosts.plugins.served_build`) says of its ITK."""
    path: Optional[str] = None
    """The path that read the sample: ``"native"``, ``"python"`` (itk-tag's pure-Python layer), or None."""
    reads: bool = False
    how: str = ""
    """The steps that read the sample (``import SimpleITK``, ``import itk_tag`` first, ...)."""
    error: Optional[str] = None
    crash: Optional[str] = None
    hook: Optional[str] = None
    """What the startup hook did in the host's process."""


@dataclass
class Diagnosis:
    """Everything ``itk-tag doctor`` found; ``ok`` when every host found reads the sample."""

    python: str
    itk_tag: str
    site_folder: str
    plugin_folder: Optional[str]
    builds: dict[str, str]
    startup_hook: str
    itk_autoload_path: Optional[str]
    sample: str
    hosts: list[Host] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every host found reads the sample and nothing is broken."""
        return all(host.reads for host in self.hosts) and not self.problems

    def to_dict(self) -> dict[str, Any]:
        """The diagnosis as JSON-ready data (``ok`` included)."""
        return {**asdict(self), "ok": self.ok}

    def report(self) -> str:
        """The diagnosis as lines of text: environment, hosts, then each problem with its fix."""
        lines = [
            f"python             {self.python}",
            f"itk-tag            {self.itk_tag}",
            f"installed in       {self.site_folder}",
            f"plugin folder      {self.plugin_folder or 'missing'}",
            *(f"  build {name:<14} {where}" for name, where in self.builds.items()),
            f"startup hook       {self.startup_hook}",
            f"ITK_AUTOLOAD_PATH  {'(not set)' if self.itk_autoload_path is None else self.itk_autoload_path}",
            f"sample             {self.sample}",
            "hosts:",
        ]
        for host in self.hosts:
            about = ", ".join(
                part
                for part in (
                    host.version and f"version {host.version}",
                    host.itk_version and f"ITK {host.itk_version}",
                    host.abi and f"libstdc++ ABI {host.abi}",
                )
                if part
            )
            verdict = f"reads the sample ({host.how})" if host.reads else "does NOT read the sample"
            lines.append(f"  {host.name:<18} {verdict}" + (f"; {about}" if about else ""))
            if host.path or host.serves:
                served = f"; {host.serves}" if host.serves else ""
                lines.append(f"    path: {PATHS.get(host.path or '', 'none')}{served}")
            if host.crash:
                lines.append(f"    crashed: {host.crash}")
            elif host.error:
                lines.append(f"    error: {host.error}")
        lines += [f"note: {note}" for note in self.notes]
        for problem in self.problems:
            lines += [f"problem: {problem.problem}", f"  fix: {problem.fix}"]
        lines.append("ok: every host reads .tag files" if self.ok else "NOT ok: see the problems above")
        return "\n".join(lines)


PATHS = {
    "native": "a native build (the C++ TagImageIO)",
    "python": "the Python path (itk-tag's pure-Python format layer)",
}


def _reinstall() -> str:
    return f"{sys.executable} -m pip install --force-reinstall --no-deps itk-tag"


def _version(distribution: str) -> Optional[str]:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _package_folder(name: str) -> Optional[Path]:
    # find_spec of a top-level name imports nothing.
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _describe(host: Host, folder: Optional[Path], pattern: str) -> Host:
    """Fills ``host``'s ABI and what the served rule says of the ITK library in ``folder``."""
    for library in sorted(folder.glob(pattern)) if folder else []:
        verdict = plugins.served_build(library)
        host.serves = f"native build {verdict.build} ({verdict.reason})" if verdict.build else verdict.reason
        described = verdict.host
        if described is None and not plugins.native_allowed():  # ITK_TAG_NATIVE=0: not read for the verdict
            try:
                described = plugins.describe_library(library)
            except OSError:
                pass  # no entry library (a pure install): the verdict says so
        if described is not None:
            host.abi = described.abi
        break
    return host


SLICER_CORE_HOST = "slicer-core"


def _slicer_core_host(folder: Path, notes: list[str]) -> Optional[Host]:
    """The slicer-core host to probe, or None (and a note) where no native build serves its ITK:
    Slicer's readers are C++, so only a native build can give them ``.tag``.
    """
    host = Host(SLICER_CORE_HOST, _version("slicer-core"))
    library, verdict = slicer_python.served(folder)
    if library is not None:
        try:
            described = plugins.describe_library(library)
            host.abi = described.abi
            host.itk_version = described.itk_version.replace("itk version ", "") or None
        except OSError:
            pass  # no entry library (a pure install): the verdict says so
    if verdict.build is None:
        notes.append(
            f"slicer-core {host.version or '(unknown version)'}: no native build serves its ITK "
            f"({verdict.reason}), so "
            "Slicer's readers do not read .tag in this Python; itk_tag.read_array and `itk-tag convert` do"
        )
        return None
    host.serves = f"native build {verdict.build} ({verdict.reason})"
    return host


def _site_kind(folder: Path) -> Optional[str]:
    """'venv', 'system site', 'user site', or None: a folder whose .pth files Python does not run."""
    if str(folder) in {str(Path(p).resolve()) for p in site.getsitepackages()}:
        return "venv" if sys.prefix != sys.base_prefix else "system site"
    if site.ENABLE_USER_SITE and str(folder) == str(Path(site.getusersitepackages()).resolve()):
        return "user site"
    return None


def _builds(problems: list[Problem], notes: list[str]) -> dict[str, str]:
    if not _native.PLUGIN_ROOT.exists():
        notes.append(
            "this install has no native builds (the pure package): every Python host reads .tag through "
            "the Python path; C++ programs and 3D Slicer cannot read .tag from it"
        )
        return {}
    builds = {}
    for abi in _native.ABIS:
        for namespace in _native.NAMESPACES:
            name = f"{abi}-{namespace}"
            try:
                library = _native.plugin_library(abi, namespace)
                found = plugins.describe_library(library)
            except (OSError, ValueError) as error:
                builds[name] = f"missing: {error}"
                problem = (
                    f"the plugin build {name} (libstdc++ ABI, ITK namespace) is missing: {error}; Python "
                    "hosts use the Python path, but C++ programs and 3D Slicer need the builds"
                )
                problems.append(Problem(problem, _reinstall()))
                continue
            # A build's ITK is hidden: its namespace shows in no symbol, only its ABI does.
            builds[name] = f"{library} (libstdc++ ABI {found.abi})"
            if found.abi != abi:
                problems.append(
                    Problem(f"{library} is built for the {found.abi} ABI, not {abi}", _reinstall())
                )
    return builds


def _hook(
    status: str, site_folder: Path, kind: Optional[str], problems: list[Problem], notes: list[str]
) -> str:
    missing = [name for name in (HOOK_FILE, f"{HOOK_MODULE}.py") if not (site_folder / name).is_file()]
    if missing:
        problems.append(Problem(f"{', '.join(missing)} missing from {site_folder}", _reinstall()))
    elif kind is None:
        problems.append(
            Problem(
                f"itk_tag is imported from {site_folder}, which is not a site folder (PYTHONPATH?), so "
                "Python does not run its startup hook there",
                "pip install itk-tag into this Python (or `import itk_tag` before `import SimpleITK`)",
            )
        )
    if status.startswith("off:"):
        notes.append(
            f"the startup hook is {status}: SimpleITK reads .tag only after `import itk_tag` "
            "(unset ITK_TAG_NO_AUTOLOAD for no import)"
        )
    elif status.startswith("failed:"):
        problems.append(Problem(f"the startup hook {status}", _reinstall()))
    return status


def _autoload_path(notes: list[str]) -> Optional[str]:
    value = os.environ.get(import_hook.AUTOLOAD_VARIABLE)
    for entry in (value or "").split(os.pathsep):
        if entry and not Path(entry).is_dir():
            notes.append(f"ITK_AUTOLOAD_PATH names {entry}, which is not a folder")
    return value


def _start(host: str, import_itk_tag: bool) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PROBE, host, str(sample.PATH), "1" if import_itk_tag else "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen, host: Host, how: str) -> dict[str, Any]:
    """Waits for a probe; fills ``host`` (reads, how, error, crash) and returns the probe's answer."""
    try:
        stdout, stderr = process.communicate(timeout=CHILD_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        host.error = f"no answer after {CHILD_TIMEOUT_SECONDS} s"
        return {}
    if process.returncode < 0:
        name = signal.Signals(-process.returncode).name
        host.crash = f"{how}: the process died of {name}"
        return {}
    try:
        answer = json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        host.error = f"{how}: exit code {process.returncode}, {stderr.strip()[-500:] or 'no output'}"
        return {}
    host.itk_version = answer.get("itk_version") or host.itk_version
    host.hook = answer.get("hook")
    host.path = answer.get("path")
    wrong = sample.differences(answer["facts"]) if "facts" in answer else []
    if "facts" in answer and not wrong:
        host.reads, host.how, host.error = True, how, None
    else:
        host.error = f"{how}: " + (answer.get("error") or "wrong image: " + "; ".join(wrong))
    return answer


def _python_path_fix() -> str:
    return (
        f"run with {plugins.NATIVE_VARIABLE}=0 (every host then takes the Python path, no native code of "
        "itk-tag's), and report it with the output of `itk-tag doctor --json`"
    )


def _simpleitk_problem(host: Host, answer: dict[str, Any], problems: list[Problem]) -> None:
    autoload = os.environ.get(import_hook.AUTOLOAD_VARIABLE)
    if host.crash:
        fix = (
            f"unset ITK_AUTOLOAD_PATH (it is {autoload}; a plugin built for another ITK or libstdc++ ABI "
            "crashes SimpleITK)"
            if autoload
            else _python_path_fix()
        )
        problems.append(Problem(f"SimpleITK crashed: {host.crash}", fix))
        return
    hook = host.hook or "not run"
    if answer.get("hook_failure"):
        problems.append(Problem(f"SimpleITK got no .tag path: {answer['hook_failure']}", _reinstall()))
    elif hook.startswith("failed:"):
        problems.append(Problem(f"SimpleITK got no .tag path: the startup hook {hook}", _reinstall()))
    else:
        problems.append(
            Problem(
                f"SimpleITK does not read the sample: {host.error}",
                f"{_reinstall()}; if it still fails, report it with the output of `itk-tag doctor --json`",
            )
        )


def diagnose() -> Diagnosis:
    """Look at this Python environment and let each host read the sample (children run in parallel)."""
    problems: list[Problem] = []
    notes: list[str] = []
    # Before anything looks for SimpleITK (plugin_path does), which disarms the hook.
    hook_status = import_hook.startup_hook_status()
    package = Path(__file__).resolve().parents[1]  # itk_tag, not itk_tag/hosts
    site_folder = package.parent
    kind = _site_kind(site_folder)
    try:
        plugin_folder: Optional[str] = str(plugins.plugin_path())
    except (OSError, ValueError) as error:
        plugin_folder = None
        if _native.PLUGIN_ROOT.exists():  # else a pure install, which _builds notes
            notes.append(f"no plugin folder for ITK_AUTOLOAD_PATH: {error}")
    diagnosis = Diagnosis(
        python=f"{sys.version.split()[0]} {sys.executable}",
        itk_tag=f"{_version('itk-tag') or 'unknown version'} at {package}",
        site_folder=f"{site_folder} ({kind or 'not a site folder'})",
        plugin_folder=plugin_folder,
        builds=_builds(problems, notes),
        startup_hook=_hook(hook_status, site_folder, kind, problems, notes),
        itk_autoload_path=_autoload_path(notes),
        sample=str(sample.PATH),
        problems=problems,
        notes=notes,
    )

    simpleitk_folder, itk_folder = _package_folder("SimpleITK"), _package_folder("itk")
    probes: list[tuple[Host, subprocess.Popen, str]] = []
    if simpleitk_folder is not None:
        host = _describe(Host("SimpleITK", _version("SimpleITK")), simpleitk_folder, "_SimpleITK*")
        probes.append((host, _start("SimpleITK", False), "import SimpleITK"))
    # The itk-tag wheel adds files to an itk folder; ITK Python itself has its __init__.py.
    if itk_folder is not None and (itk_folder / "__init__.py").is_file():
        host = _describe(Host("itk (ITK Python)", _version("itk")), itk_folder, "_ITKCommonPython*")
        probes.append((host, _start("itk", False), "import itk"))
    slicer_core_folder = _package_folder(slicer_python.PACKAGE)
    if slicer_core_folder is not None:
        host = _slicer_core_host(slicer_core_folder, notes)
        if host is not None:
            probes.append((host, _start(slicer_python.PACKAGE, False), "import slicer"))
    probes.append((Host("itk_tag.read_array", _version("itk-tag")), _start("numpy", True), "import itk_tag"))

    for host, process, how in probes:
        answer = _finish(process, host, how)
        diagnosis.hosts.append(host)
        if host.reads:
            continue
        if host.name == "SimpleITK":
            if not host.crash and (host.hook or "not run").startswith(("off:", "not run")):
                # No startup hook (by choice, or not in a site folder): the import order rule applies.
                answer = _finish(_start("SimpleITK", True), host, "import itk_tag, then SimpleITK") or answer
            if not host.reads:
                _simpleitk_problem(host, answer, problems)
        elif host.name == SLICER_CORE_HOST:
            if not host.crash and (host.hook or "not run").startswith(("off:", "not run")):
                how = "import itk_tag, then slicer"
                answer = _finish(_start(slicer_python.PACKAGE, True), host, how) or answer
            if not host.reads:
                why = answer.get("hook_failure") or host.crash or host.error
                fix = _python_path_fix() if host.crash else _reinstall()
                problems.append(Problem(f"3D Slicer's core does not read the sample: {why}", fix))
        elif host.name.startswith("itk "):
            fix = (
                _python_path_fix()
                if host.crash
                else f"{_reinstall()} (after itk: itk-tag adds itk/Configuration/IOTagConfig.py to it)"
            )
            problems.append(Problem(f"ITK Python does not read the sample: {host.crash or host.error}", fix))
        else:
            problems.append(Problem(f"itk-tag's own reader fails: {host.crash or host.error}", _reinstall()))
    return diagnosis


def main(as_json: bool = False) -> int:
    """Print the diagnosis (text, or one JSON object); 0 when every host reads the sample, else 1."""
    diagnosis = diagnose()
    print(json.dumps(diagnosis.to_dict(), indent=2) if as_json else diagnosis.report(), flush=True)
    return 0 if diagnosis.ok else 1
