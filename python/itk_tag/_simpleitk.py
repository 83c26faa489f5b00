"""Makes SimpleITK load the itk-tag plugin.

The hook is installed by ``import itk_tag`` and, at the first ``import
SimpleITK``, by the startup hook ``_itk_tag_autoload`` (run by the wheel's
``itk-tag-autoload.pth``). SimpleITK's ITK reads ``ITK_AUTOLOAD_PATH`` once,
while its extension module is loaded. An import hook sets the variable (to the
plugin folder, whose entry library picks the build for SimpleITK's libstdc++
ABI) only for the time of that load, then restores it, so it does not leak
into child processes or other ITK programs.
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


failure: str | None = None
"""Why the import hook could not give SimpleITK the plugin in this process, if it could not."""


class _SimpleITKFinder:
    """Wraps the loader of SimpleITK's extension module in an :class:`_AutoloadingLoader`.

    When the plugin cannot be found, SimpleITK is imported without it (it then
    cannot read .tag files): the reason goes to :data:`failure`, and to an
    ItkTagWarning unless ``quiet`` (armed by the startup hook, which must
    never disturb a program that did not ask for itk_tag).
    """

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        global failure
        if fullname != EXTENSION_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or spec.origin is None:
            return spec
        try:
            folder = _native.entry_library().parent
            for abi in _native.ABIS:  # what the entry library itself requires (itkTagPluginEntry.c)
                _native.plugin_library(abi)
        except (OSError, ValueError) as error:
            failure = f"{type(error).__name__}: {error}"
            if not self.quiet:
                message = f"SimpleITK cannot read .tag files in this process: {failure}"
                warnings.warn(message, ItkTagWarning, stacklevel=2)
            return spec
        spec.loader = _AutoloadingLoader(spec.loader, folder)
        return spec


def startup_hook_status() -> str:
    """What itk-tag's startup hook (``itk-tag-autoload.pth``) did in this process."""
    hook = sys.modules.get("_itk_tag_autoload")
    if hook is None:
        return "not run: Python did not process itk-tag-autoload.pth (python -S, or not in a site folder)"
    return str(getattr(hook, "status", "unknown"))


def simpleitk_reads_tag(simpleitk: ModuleType) -> bool:
    """True when the imported SimpleITK has the TagImageIO registered."""
    return "TagImageIO" in simpleitk.ImageFileReader().GetRegisteredImageIOs()


def install() -> None:
    """Installs the import hook once; warns if SimpleITK was imported before it and cannot read .tag.

    Installed by the startup hook (which imports itk_tag at ``import SimpleITK``),
    the hook is quiet: it reports failures only to ``itk-tag doctor``.
    """
    if not any(isinstance(finder, _SimpleITKFinder) for finder in sys.meta_path):
        quiet = bool(getattr(sys.modules.get("_itk_tag_autoload"), "importing_itk_tag", False))
        sys.meta_path.insert(0, _SimpleITKFinder(quiet))
    simpleitk = sys.modules.get("SimpleITK")
    if simpleitk is not None and hasattr(simpleitk, "ImageFileReader") and not simpleitk_reads_tag(simpleitk):
        reason = failure or f"the startup hook is {startup_hook_status()}"
        warnings.warn(
            f"SimpleITK was imported before itk_tag and without itk-tag's plugin ({reason}), so SimpleITK "
            "cannot read .tag files in this process: import itk_tag before SimpleITK (or start Python with "
            "ITK_AUTOLOAD_PATH set to the folder printed by `itk-tag plugin-path`); "
            "`itk-tag doctor` tells more.",
            ItkTagWarning,
            stacklevel=3,
        )
