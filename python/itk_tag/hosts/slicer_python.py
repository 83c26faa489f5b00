"""3D Slicer's core in a Python process (the ``slicer-core`` wheel): the plugin folder loaded into its ITK.

``slicer-core`` (PyPI; Slicer's MRML, vtkITK and module logics, without Qt)
carries a shared ITK: on Linux ``slicer_core/third_party.libs/libITKCommon-5.4.so``,
ITK 5.4.5, libstdc++ old ABI, namespace ``slicer_itk`` in 5.12.4.0 and
5.13.31053.0 (build ``old-slicer_itk``). Slicer's volume reader
(``vtkMRMLVolumeArchetypeStorageNode`` -> ``vtkITKArchetypeImageSeriesReader``)
asks ITK's ImageIO factories for a reader, and ITK loads the libraries of
``ITK_AUTOLOAD_PATH`` once, in ``ObjectFactoryBase::Initialize()``, at the
first use of any factory -- for slicer-core the first read, not the import
(measured: the variable set only while ``slicer_core`` is imported reads no
``.tag``).

So the import hook (:mod:`itk_tag.hosts.import_hook`) sets the variable to
the plugin folder while ``slicer_core`` is imported and, still inside, calls
that ``Initialize()`` (exported by Slicer's ``libITKCommon``; a no-op once
ITK's factories are set up) through :func:`initialize_factories`; then it
restores the variable, so that it does not leak into child processes. It does
this only where :func:`served` names a build: a slicer-core whose ITK the
builds do not serve (another ITK version; Windows and macOS, where itk-tag has
no native builds and slicer-core no ``libITKCommon-*.so``) gets nothing native.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Optional

from .plugins import Verdict, served_build

PACKAGE = "slicer_core"
"""The top-level package of the slicer-core wheel (``slicer/slicer_core.py`` imports it)."""
LIBRARY_PATTERN = "libITKCommon-*.so*"


def itk_library(package: Path) -> Optional[Path]:
    """Slicer core's ``libITKCommon`` inside its package folder (the Linux wheel keeps it in
    ``third_party.libs/``), or None when there is none (not a Linux wheel).
    """
    found = sorted(package.glob(LIBRARY_PATTERN)) + sorted(package.glob(f"*/{LIBRARY_PATTERN}"))
    return found[0] if found else None


def served(package: Path) -> tuple[Optional[Path], Verdict]:
    """(its ``libITKCommon``, the served rule's verdict on it) for the slicer_core package folder
    ``package``; never raises (:func:`itk_tag.hosts.plugins.served_build`).
    """
    library = itk_library(package)
    if library is None:
        return None, Verdict(None, f"no {LIBRARY_PATTERN} in {package}: no native build serves it")
    return library, served_build(library)


def initialize_symbol(namespace: str) -> str:
    """The mangled name of ``<namespace>::ObjectFactoryBase::Initialize()`` (Itanium C++ ABI)."""
    return f"_ZN{len(namespace)}{namespace}17ObjectFactoryBase10InitializeEv"


def initialize_factories(library: Path, namespace: str) -> None:
    """Calls ``ObjectFactoryBase::Initialize()`` of the already loaded ITK ``library``, whose ITK
    namespace is ``namespace``: ITK sets up its factories now, loading ``ITK_AUTOLOAD_PATH`` as it
    is set at this moment; a no-op when they are set up already. OSError when the library is not
    loaded in this process or does not export the function.
    """
    # RTLD_NOLOAD: the library slicer_core loaded, never a second copy.
    handle = ctypes.CDLL(str(library), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    symbol = initialize_symbol(namespace)
    try:
        function = handle[symbol]
    except AttributeError as error:
        raise OSError(f"{library} exports no {symbol}") from error
    function.restype = None
    function.argtypes = []
    function()
