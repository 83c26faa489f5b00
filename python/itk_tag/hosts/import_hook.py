"""The import hook: gives SimpleITK and ITK Python their ``.tag`` path when they are imported.

Installed by ``import itk_tag`` and, at the first ``import SimpleITK`` or
``import itk``, by the startup hook ``_itk_tag_autoload`` (run by the wheel's
``itk-tag-autoload.pth``). For each host it applies one rule
(:func:`itk_tag.hosts.plugins.served_build`): a native build where one serves
that host's ITK, the Python-level path (:mod:`itk_tag.hosts.dispatch`)
everywhere else.

* SimpleITK's ITK reads ``ITK_AUTOLOAD_PATH`` once, while its extension
  module is loaded. Where a build serves it, the hook sets the variable (to
  the plugin folder, whose entry library picks the build) only for the time
  of that load, then restores it, so it does not leak into child processes or
  other ITK programs. When the package has been imported and SimpleITK has no
  TagImageIO (not served, or the load failed), ``ReadImage`` / ``WriteImage``
  are wrapped.
* ITK Python registers factories itself (:mod:`itk_tag.hosts.itk_python`);
  after ``import itk`` the hook wraps ``imread`` / ``imwrite`` when no build
  serves it.
* 3D Slicer's core (``slicer_core``, from the slicer-core wheel; ``import
  slicer`` imports it): where a build serves its ITK, the variable is set
  while the package is imported, and ITK's factories are set up before it is
  restored (:mod:`itk_tag.hosts.slicer_python` says why). Nothing is wrapped
  where none serves: Slicer's readers are not Python functions.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    import importlib.abc

from . import dispatch, plugins, slicer_python

EXTENSION_MODULE = "SimpleITK._SimpleITK"
AUTOLOAD_VARIABLE = "ITK_AUTOLOAD_PATH"


class ItkTagWarning(UserWarning):
    """itk-tag could not make a host read .tag files (kept for code that filters it)."""


failure: Optional[str] = None
"""Why a host got no ``.tag`` path in this process, if it got none (``itk-tag doctor`` reports it)."""


@contextmanager
def autoload_path(folder: Path) -> Iterator[None]:
    """ITK_AUTOLOAD_PATH lists ``folder`` (first, unless already listed) inside the block only."""
    before = os.environ.get(AUTOLOAD_VARIABLE)
    # Listed twice, the folder would be loaded twice (ITK says "already loaded").
    if str(folder) not in (before or "").split(os.pathsep):
        os.environ[AUTOLOAD_VARIABLE] = os.pathsep.join(p for p in (str(folder), before) if p)
    try:
        yield
    finally:
        if before is None:
            del os.environ[AUTOLOAD_VARIABLE]
        else:
            os.environ[AUTOLOAD_VARIABLE] = before


def finish_simpleitk(simpleitk: ModuleType) -> None:
    """After ``import SimpleITK``: the Python-level path unless the native TagImageIO is there."""
    if not plugins.simpleitk_reads_tag(simpleitk):
        dispatch.wrap_simpleitk(simpleitk)


def finish_itk(itk: ModuleType) -> None:
    """After ``import itk``: the Python-level path unless a native build serves its ITK."""
    from . import itk_python

    if itk_python.verdict().build is None:
        dispatch.wrap_itk(itk)


# The import system needs only the methods, not the importlib.abc base
# classes, whose import (importlib.resources, ...) costs ~30 ms.
class _AutoloadingLoader:
    """Wraps SimpleITK's extension loader: loads it with our plugin folder set."""

    def __init__(self, loader: importlib.abc.Loader, folder: Path) -> None:
        self._loader = loader
        self._folder = folder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        with autoload_path(self._folder):
            return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with autoload_path(self._folder):
            self._loader.exec_module(module)


@dataclass(frozen=True)
class _SlicerCoreTarget:
    """The ITK of a slicer_core package that a native build serves, and the plugin folder for it."""

    folder: Path
    library: Path
    """Its ``libITKCommon``."""
    namespace: str

    def load_plugins(self) -> None:
        """Has that ITK, once loaded, set up its factories while ITK_AUTOLOAD_PATH lists the folder;
        a failure is kept in :data:`failure`.
        """
        with autoload_path(self.folder):
            try:
                slicer_python.initialize_factories(self.library, self.namespace)
            except OSError as error:  # slicer_core must import whatever happens here
                global failure
                failure = f"{slicer_python.PACKAGE}: {error}"


def _slicer_core_target(spec: importlib.machinery.ModuleSpec) -> Optional[_SlicerCoreTarget]:
    """What to give the slicer_core package of ``spec``, or None where no build serves its ITK
    (or finding out failed: kept in :data:`failure`).
    """
    if not spec.submodule_search_locations:
        return None
    try:
        library, verdict = slicer_python.served(Path(next(iter(spec.submodule_search_locations))))
        if library is None or verdict.build is None:
            return None
        return _SlicerCoreTarget(plugins.plugin_path(), library, verdict.build.split("-", 1)[1])
    except Exception as error:  # slicer_core must import whatever happens here
        global failure
        failure = f"{slicer_python.PACKAGE}: {type(error).__name__}: {error}"
        return None


class _SlicerCoreLoader:
    """Wraps slicer_core's loader: imports it with our plugin folder set, and has its ITK load it then."""

    def __init__(self, loader: importlib.abc.Loader, target: _SlicerCoreTarget) -> None:
        self._loader = loader
        self._target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # Set during the whole import too, in case a slicer-core sets up ITK's factories while importing.
        with autoload_path(self._target.folder):
            self._loader.exec_module(module)
            self._target.load_plugins()


class _FinishingLoader:
    """Wraps a host package's loader: runs ``finish`` on the package once it is imported."""

    def __init__(self, loader: importlib.abc.Loader, finish: object) -> None:
        self._loader = loader
        self._finish = finish

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Optional[ModuleType]:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        # ITK Python replaces its module in sys.modules with a lazy one while it executes.
        finished = sys.modules.get(module.__name__, module)
        try:
            self._finish(finished)  # type: ignore[operator]
        except Exception as error:  # the host must import whatever happens here
            global failure
            failure = f"{module.__name__}: {type(error).__name__}: {error}"


_FINISH = {"SimpleITK": finish_simpleitk, "itk": finish_itk}


class HostFinder:
    """Finds nothing itself: wraps the loaders of SimpleITK, its extension, ITK Python and slicer_core."""

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]], target: Optional[ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        """The spec the path finder gives, its loader wrapped for the four names above."""
        if fullname not in _FINISH and fullname not in (EXTENSION_MODULE, slicer_python.PACKAGE):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        if fullname == slicer_python.PACKAGE:
            target = _slicer_core_target(spec)
            if target is not None:
                spec.loader = _SlicerCoreLoader(spec.loader, target)  # type: ignore[assignment]
        elif fullname in _FINISH:
            spec.loader = _FinishingLoader(spec.loader, _FINISH[fullname])  # type: ignore[assignment]
        elif spec.origin is not None:
            if plugins.served_build(spec.origin).build is not None:
                folder = plugins.plugin_path()
                spec.loader = _AutoloadingLoader(spec.loader, folder)  # type: ignore[assignment]
        return spec


def startup_hook_status() -> str:
    """What itk-tag's startup hook (``itk-tag-autoload.pth``) did in this process."""
    hook = sys.modules.get("_itk_tag_autoload")
    if hook is None:
        return "not run: Python did not process itk-tag-autoload.pth (python -S, or not in a site folder)"
    return str(getattr(hook, "status", "unknown"))


def install() -> None:
    """Installs the import hook once; a host imported before it gets its path now."""
    if not any(isinstance(finder, HostFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, HostFinder())
    simpleitk = sys.modules.get("SimpleITK")
    # hasattr: not while SimpleITK itself is being imported (its finishing loader then runs).
    if simpleitk is not None and hasattr(simpleitk, "ImageFileReader"):
        finish_simpleitk(simpleitk)
    itk = sys.modules.get("itk")
    if itk is not None and hasattr(itk, "imread"):
        finish_itk(itk)
    # Imported before this hook: its ITK reads the folder if its factories are not set up yet.
    core = sys.modules.get(slicer_python.PACKAGE)
    if core is not None and core.__spec__ is not None and hasattr(core, "vtkMRMLScene"):
        target = _slicer_core_target(core.__spec__)
        if target is not None:
            target.load_plugins()
