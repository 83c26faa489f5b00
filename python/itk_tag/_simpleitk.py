"""Makes SimpleITK load the itk-tag plugin.

SimpleITK's ITK reads ``ITK_AUTOLOAD_PATH`` once, while its extension module
is loaded. An import hook sets the variable (to the plugin folder, whose entry
library picks the build for SimpleITK's libstdc++ ABI) only for the time of
that load, then restores it, so it does not leak into child processes.
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import importlib.abc

from . import _native

EXTENSION_MODULE = "SimpleITK._SimpleITK"
AUTOLOAD_VARIABLE = "ITK_AUTOLOAD_PATH"


class ItkTagWarning(UserWarning):
    """itk-tag could not make a host read .tag files."""


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


# The import system needs only the methods, not the importlib.abc base
# classes, whose import (importlib.resources, ...) costs ~30 ms.
class _AutoloadingLoader:
    """Wraps SimpleITK's extension loader: loads it with our plugin folder set."""

    def __init__(self, loader: importlib.abc.Loader, folder: Path) -> None:
        self._loader = loader
        self._folder = folder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        with autoload_path(self._folder):
            return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with autoload_path(self._folder):
            self._loader.exec_module(module)


class _SimpleITKFinder:
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != EXTENSION_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or spec.origin is None:
            return spec
        spec.loader = _AutoloadingLoader(spec.loader, _native.entry_library().parent)
        return spec


def simpleitk_reads_tag(simpleitk: ModuleType) -> bool:
    """True when the imported SimpleITK has the TagImageIO registered."""
    return "TagImageIO" in simpleitk.ImageFileReader().GetRegisteredImageIOs()


def install() -> None:
    """Installs the import hook once; warns if SimpleITK was imported before it."""
    if not any(isinstance(finder, _SimpleITKFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SimpleITKFinder())
    simpleitk = sys.modules.get("SimpleITK")
    if simpleitk is not None and hasattr(simpleitk, "ImageFileReader") and not simpleitk_reads_tag(simpleitk):
        warnings.warn(
            "SimpleITK was imported before itk_tag, so SimpleITK cannot read .tag files in this "
            "process: import itk_tag before SimpleITK (or start Python with ITK_AUTOLOAD_PATH set "
            "to the folder printed by `itk-tag plugin-path`).",
            ItkTagWarning,
            stacklevel=3,
        )
