"""Where the itk-tag plugin libraries are, for hosts that load ITK_AUTOLOAD_PATH."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from . import _abi, _native


def installed_simpleitk_abi() -> str | None:
    """libstdc++ ABI of the installed SimpleITK extension, or None without SimpleITK."""
    spec = importlib.util.find_spec("SimpleITK")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        for library in sorted(Path(folder).glob("_SimpleITK*.so")):
            return _abi.library_abi(library)
    return None


def plugin_path(abi: str | None = None) -> Path:
    """Folder to put on ITK_AUTOLOAD_PATH so that an ITK program reads .tag files.

    ``abi`` is the libstdc++ string ABI of the host: ``"old"`` for hosts built
    with ``_GLIBCXX_USE_CXX11_ABI=0`` (the SimpleITK wheels), ``"new"`` for the
    others (ITK 5.4 C++ programs built with a current GCC, 3D Slicer on Linux).
    By default, the ABI of the installed SimpleITK, else ``"new"``.
    """
    return _native.plugin_library(abi or installed_simpleitk_abi() or "new").parent
